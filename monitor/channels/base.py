"""channels.base: what every delivery channel is. One subclass per file, listed in the registry.

A channel declares its `kind`, a pydantic `Settings` (unknown keys forbidden, secrets as
`SecretStr`) and `send()`, which delivers one `Message` (an alert, a digest of alerts, or an
operator notice) and either returns a short receipt of what the far end answered or raises
`ChannelError` (`permanent=True` for failures that retrying cannot fix). When and how often a
channel sends (digests, quiet hours, rate limit) is decided before `send()` from the settings
every channel shares.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar

import httpx
from pydantic import BaseModel, ConfigDict, Field

from monitor.channels.pacing import DigestSchedule, QuietHours, RateLimitSettings
from monitor.errors import ChannelError
from monitor.http import describe, retry_after_seconds
from monitor.model import Message, Severity
from monitor.units import Duration


class ChannelSettings(BaseModel):
    """Keys every channel accepts."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: str
    min_severity: Severity = Field(Severity.LOW, description="alerts below this are not sent here")
    digest: DigestSchedule | None = Field(
        None, description="combine alerts into one message: 15m, 'daily 08:00 Europe/London'"
    )
    digest_bypass: Severity | None = Field(
        Severity.CRITICAL, description="alerts at least this severe skip the digest; null: none"
    )
    quiet_hours: QuietHours | None = Field(
        None, description="'22:00-07:00 Europe/London': hold non-critical alerts until the end"
    )
    rate_limit: RateLimitSettings | None = Field(
        None, description="{per_minute, burst}: excess alerts ride in the next message"
    )
    concurrency: int = Field(1, ge=1, le=32, description="messages in flight at once")
    timeout: Duration = Field(15.0, description="the most one send may take")


class Channel(ABC):
    kind: ClassVar[str]
    Settings: ClassVar[type[ChannelSettings]]

    def __init__(self, name: str, settings: ChannelSettings, client: httpx.AsyncClient) -> None:
        self.name = name
        self.settings = settings
        self.client = client

    @abstractmethod
    async def send(self, message: Message) -> str:
        """Deliver one message; return what the far end said (e.g. "HTTP 200: ok")."""

    async def aclose(self) -> None:  # noqa: B027 - optional hook
        """Release connections the channel opened itself."""

    def error(
        self,
        message: str,
        *,
        permanent: bool = False,
        status: int | None = None,
        retry_after: float | None = None,
    ) -> ChannelError:
        return ChannelError(
            f"{self.name}: {message}",
            channel=self.name,
            permanent=permanent,
            status=status,
            retry_after=retry_after,
        )

    async def post(self, url: str, body: bytes, headers: dict[str, str]) -> str:
        """POST for the HTTP channels: a receipt for a 2xx answer, a sorted ChannelError else."""
        try:
            response = await self.client.post(
                url, content=body, headers=headers, timeout=self.settings.timeout
            )
        except httpx.HTTPError as exc:
            raise self.error(describe(exc, self.settings.timeout)) from None
        if not response.is_success:
            raise http_failure(self, response)
        return receipt(response)


def answer_text(response: httpx.Response, limit: int = 200) -> str:
    """The far end's answer body on one line, cut to `limit` characters."""
    return " ".join(response.text[:limit].split())


def receipt(response: httpx.Response) -> str:
    body = answer_text(response)
    return f"HTTP {response.status_code}" + (f": {body}" if body else "")


def http_failure(channel: Channel, response: httpx.Response) -> ChannelError:
    """Classify a non-2xx answer: 408/425/429 and 5xx are worth retrying, other 4xx are not."""
    status = response.status_code
    retryable = status in (408, 425, 429) or status >= 500
    return channel.error(
        receipt(response),
        permanent=not retryable,
        status=status,
        retry_after=retry_after_seconds(response.headers.get("retry-after")),
    )
