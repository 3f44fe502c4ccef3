"""channels.base: what every delivery channel is. One subclass per file, listed in the registry.

A channel declares its `kind`, a pydantic `Settings` (unknown keys forbidden, secrets as
`SecretStr`) and `send()`, which either returns a short receipt of what the far end answered or
raises `ChannelError` (`permanent=True` for failures that retrying cannot fix).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar

import httpx
from pydantic import BaseModel, ConfigDict

from monitor.errors import ChannelError
from monitor.http import retry_after_seconds
from monitor.model import AlertMessage, Severity


class ChannelSettings(BaseModel):
    """Keys every channel accepts."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: str
    min_severity: Severity = Severity.LOW


class Channel(ABC):
    kind: ClassVar[str]
    Settings: ClassVar[type[ChannelSettings]]

    def __init__(self, name: str, settings: ChannelSettings, client: httpx.AsyncClient) -> None:
        self.name = name
        self.settings = settings
        self.client = client

    @abstractmethod
    async def send(self, message: AlertMessage) -> str:
        """Deliver one alert; return what the far end said (e.g. "HTTP 200")."""

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


def http_failure(channel: Channel, response: httpx.Response) -> ChannelError:
    """Classify a non-2xx answer: 408/425/429 and 5xx are worth retrying, other 4xx are not."""
    status = response.status_code
    retryable = status in (408, 425, 429) or status >= 500
    body = response.text[:200].replace("\n", " ").strip()
    return channel.error(
        f"HTTP {status}" + (f": {body}" if body else ""),
        permanent=not retryable,
        status=status,
        retry_after=retry_after_seconds(response.headers.get("retry-after")),
    )
