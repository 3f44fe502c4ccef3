"""channels.webhook: POSTs the alert as JSON, signed, with an idempotency key.

Receivers verify `X-Monitor-Signature: t=<unix seconds>,v1=<hex>` where the hex digest is
HMAC-SHA256(secret, "<t>.<body>"), and drop repeats by the `Idempotency-Key` header (delivery is
at least once). The body follows `monitor/channels/webhook.schema.json`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any, Literal

import httpx
from pydantic import Field, SecretStr

from monitor.channels.base import Channel, ChannelSettings, http_failure
from monitor.http import describe
from monitor.model import AlertMessage
from monitor.units import Duration

SCHEMA = "monitor.alert/1"


class WebhookSettings(ChannelSettings):
    kind: Literal["webhook"]
    url: str = Field(pattern=r"^https?://", description="where to POST the alert")
    secret: SecretStr | None = Field(default=None, description="HMAC-SHA256 signing key")
    headers: dict[str, str] = Field(default_factory=dict, description="extra request headers")
    timeout: Duration = 15.0


def payload(message: AlertMessage) -> dict[str, Any]:
    return {
        "schema": SCHEMA,
        "id": message.alert_id,
        "idempotency_key": message.idempotency_key,
        "watchlist": message.watchlist,
        "severity": str(message.severity),
        "rules": list(message.rules),
        "title": message.title,
        "url": message.url,
        "source": message.source,
        "published": message.published.isoformat() if message.published else None,
        "snippet": message.snippet,
        "story": {
            "id": message.story_id,
            "sources": [{"source": s, "url": u} for s, u in message.sources],
        },
        "created_at": message.created_at.isoformat() if message.created_at else None,
    }


def sign(secret: str, timestamp: int, body: bytes) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={digest.hexdigest()}"


class WebhookChannel(Channel):
    """JSON POST; any 2xx is success, 408/425/429/5xx are retried, other answers are final."""

    kind = "webhook"
    Settings = WebhookSettings
    settings: WebhookSettings

    async def send(self, message: AlertMessage) -> str:
        body = json.dumps(payload(message), ensure_ascii=False).encode()
        headers = {
            **self.settings.headers,
            "Content-Type": "application/json",
            "Idempotency-Key": message.idempotency_key,
        }
        if self.settings.secret is not None:
            secret = self.settings.secret.get_secret_value()
            headers["X-Monitor-Signature"] = sign(secret, int(time.time()), body)
        try:
            response = await self.client.post(
                self.settings.url, content=body, headers=headers, timeout=self.settings.timeout
            )
        except httpx.HTTPError as exc:
            raise self.error(describe(exc, self.settings.timeout)) from None
        if not response.is_success:
            raise http_failure(self, response)
        return f"HTTP {response.status_code}"
