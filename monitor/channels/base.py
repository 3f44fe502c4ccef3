"""channels.base: what every delivery channel is. One subclass per file, listed in the registry.

A channel declares its `kind`, a pydantic `Settings` (unknown keys forbidden, secrets as
`SecretStr`) and `send()`, which delivers one `Message` (an alert, a digest of alerts, or an
operator notice) and either returns a short receipt of what the far end answered or raises
`ChannelError` (`permanent=True` for failures that retrying cannot fix). When and how often a
channel sends (digests, quiet hours, rate limit) is decided before `send()` from the settings
every channel shares.

A channel's URLs, secrets and custom headers are its `secrets`: every error and receipt it gives
is redacted with them, so none reaches a log line, a stored last error or a terminal. HTTP
channels follow no redirect to another origin (the body, its signature and custom headers would
go along), and only 307/308 to the same origin, which keep the method and body.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar

import httpx
from pydantic import BaseModel, ConfigDict, Field, SecretStr

from monitor import redact
from monitor.channels.pacing import DigestSchedule, QuietHours, RateLimitSettings
from monitor.errors import ChannelError, FetchError
from monitor.http import MAX_REDIRECTS, describe, read_body, retry_after_seconds
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
        self.secrets = redact.Secrets(secrets_of(settings))

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
            self.secrets(f"{self.name}: {message}"),
            channel=self.name,
            permanent=permanent,
            status=status,
            retry_after=retry_after,
        )

    async def post(self, url: str, body: bytes, headers: dict[str, str]) -> str:
        """POST for the HTTP channels: a receipt for a 2xx answer, a sorted ChannelError else.
        A 307/308 to the same origin is followed; any other redirect is a permanent failure
        that names where the far end points (its origin only)."""
        target = httpx.URL(url)
        for _ in range(MAX_REDIRECTS + 1):
            try:
                async with self.client.stream(
                    "POST",
                    target,
                    content=body,
                    headers=headers,
                    timeout=self.settings.timeout,
                    follow_redirects=False,
                ) as response:
                    if response.has_redirect_location:
                        location = response.url.join(response.headers["location"])
                        if response.status_code in (307, 308) and _origin(location) == _origin(
                            target
                        ):
                            target = location
                            continue
                        raise self.error(
                            f"HTTP {response.status_code}: the far end redirects to "
                            f"{redact.origin(str(location))}; channels follow no redirect to "
                            "another address (the message and its headers would go along): "
                            "put the new address in the channel's settings",
                            permanent=True,
                            status=response.status_code,
                        )
                    text = await _answer(response)
            except httpx.HTTPError as exc:
                raise self.error(describe(exc, self.settings.timeout)) from None
            if not response.is_success:
                raise http_failure(self, response, text)
            return self.secrets(receipt(response, text))
        raise self.error("too many redirects", permanent=True)


MAX_ANSWER = 65_536  # of a far end's answer, at most this much is read (a line of it is kept)


def secrets_of(settings: BaseModel) -> list[tuple[str, str]]:
    """Every secret in a channel's settings, for `redact.Secrets`: SecretStr values (a URL with
    its pieces) wherever they sit, and URLs, which are keys to the channel too."""
    found: list[tuple[str, str]] = []

    def walk(value: Any) -> None:
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
            found.extend(redact.of_url(value) if "://" in value else redact.plain(value))
        elif isinstance(value, str) and value.startswith(("http://", "https://")):
            found.extend(redact.of_url(value))
        elif isinstance(value, dict):
            for item in value.values():
                walk(item)
        elif isinstance(value, list | tuple):
            for item in value:
                walk(item)

    for name in type(settings).model_fields:
        walk(getattr(settings, name))
    return found


def _origin(url: httpx.URL) -> tuple[str, str, int | None]:
    return url.scheme, url.host, url.port


async def _answer(response: httpx.Response) -> str:
    """The start of the far end's answer as text; an answer that cannot be decoded is none."""
    try:
        raw = await read_body(response, MAX_ANSWER, cut=True)
    except FetchError:
        return ""
    try:
        return raw.decode(response.charset_encoding or "utf-8", errors="replace")
    except LookupError:
        return raw.decode("utf-8", errors="replace")


def answer_text(text: str, limit: int = 200) -> str:
    """The far end's answer body on one line, cut to `limit` characters."""
    return " ".join(text[:limit].split())


def receipt(response: httpx.Response, text: str) -> str:
    body = answer_text(text)
    return f"HTTP {response.status_code}" + (f": {body}" if body else "")


def http_failure(channel: Channel, response: httpx.Response, text: str) -> ChannelError:
    """Classify a non-2xx answer: 408/425/429 and 5xx are worth retrying, other 4xx are not."""
    status = response.status_code
    retryable = status in (408, 425, 429) or status >= 500
    return channel.error(
        receipt(response, text),
        permanent=not retryable,
        status=status,
        retry_after=retry_after_seconds(response.headers.get("retry-after")),
    )
