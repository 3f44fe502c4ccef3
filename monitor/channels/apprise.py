"""channels.apprise: any service Apprise knows (Teams, Discord, Telegram, ntfy, Matrix,
Mattermost, Pushover, …) through one Apprise URL per channel.

Apprise reports success or failure per service with its log lines; the failure lines carry the
far end's HTTP status (`error=404`), which sorts a failure into retryable or final like the HTTP
channels do. Apprise does not expose `Retry-After`, so a 429 waits for the usual backoff. Apprise
is imported only when such a channel is configured (it loads a hundred service plugins).
"""

from __future__ import annotations

import re
import warnings
from typing import TYPE_CHECKING, Any, Literal

import httpx
from pydantic import Field, SecretStr, field_validator

from monitor.channels import render
from monitor.channels.base import Channel, ChannelSettings
from monitor.model import Message, Severity

if TYPE_CHECKING:
    import apprise as apprise_mod

_STATUS = re.compile(r"error=(\d{3})")
_TYPES = {
    Severity.LOW: "info",
    Severity.MEDIUM: "info",
    Severity.HIGH: "warning",
    Severity.CRITICAL: "failure",
}


def _instance(url: str) -> apprise_mod.Apprise | None:
    # Apprise's plugins import the deprecated imghdr on Python 3.11-3.12 when they first load.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import apprise

        found = apprise.Apprise()
        return found if found.add(url) else None


class AppriseSettings(ChannelSettings):
    kind: Literal["apprise"]
    url: SecretStr = Field(description="an Apprise URL: discord://…, tgram://…, ntfys://…, …")

    @field_validator("url")
    @classmethod
    def _understood(cls, value: SecretStr) -> SecretStr:
        if _instance(value.get_secret_value()) is None:
            raise ValueError(
                "Apprise does not understand this URL; see its wiki for the service's format"
            )
        return value


class AppriseChannel(Channel):
    """One Apprise URL; the message goes as a title and a plain-text body that Apprise formats
    for the service (escaping it where the service uses markup)."""

    kind = "apprise"
    Settings = AppriseSettings
    settings: AppriseSettings

    def __init__(self, name: str, settings: ChannelSettings, client: httpx.AsyncClient) -> None:
        super().__init__(name, settings, client)
        assert isinstance(settings, AppriseSettings)
        found = _instance(settings.url.get_secret_value())
        assert found is not None, "validated at load"
        self._apprise = found

    async def send(self, message: Message) -> str:
        result = await self._apprise.async_notify(
            body=render.text(message),
            title=render.subject(message, 250),
            notify_type=_TYPES[message.severity],
            body_format="text",
            timeout=self.settings.timeout,
            log_level="INFO",
        )
        services = list(result)
        lines = [_line(e) for r in services for e in r.logs()]
        detail = "; ".join(line for line in lines if line)[:500]
        names = ", ".join(sorted({r.name for r in services})) or "apprise"
        if result:
            return f"{names}: " + (detail or "sent")
        statuses = [int(m) for line in lines for m in _STATUS.findall(line)]
        status = statuses[-1] if statuses else None
        timed_out = any(r.status.name == "TIMEOUT" for r in services)
        if timed_out:
            detail = f"no answer within {self.settings.timeout:g}s" + (
                f" ({detail})" if detail else ""
            )
        permanent = status is not None and 400 <= status < 500 and status not in (408, 425, 429)
        raise self.error(f"{names}: {detail or 'failed'}", permanent=permanent, status=status)


def _line(entry: Any) -> str:
    return render.one_line(str(getattr(entry, "message", entry)), 300)
