"""channels.webhook: POSTs each message as JSON, signed, with an idempotency key.

Receivers verify `X-Monitor-Signature: t=<unix seconds>,v1=<hex>` where the hex digest is
HMAC-SHA256(secret, "<t>.<body>") and `t` is recent, and drop repeats by the `Idempotency-Key`
header (delivery is at least once). Bodies follow `monitor/channels/webhook.schema.json`:
`monitor.alert/1`, `monitor.digest/1` (several alerts) or `monitor.notice/1` (about monitor).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any, Literal

from pydantic import Field, SecretStr, field_validator

from monitor.channels.base import Channel, ChannelSettings
from monitor.model import AlertMessage, DigestMessage, Message, NoticeMessage

SCHEMA = "monitor.alert/1"
DIGEST_SCHEMA = "monitor.digest/1"
NOTICE_SCHEMA = "monitor.notice/1"


class WebhookSettings(ChannelSettings):
    kind: Literal["webhook"]
    url: SecretStr = Field(description="where to POST the alert (a secret: it may hold a token)")
    secret: SecretStr | None = Field(default=None, description="HMAC-SHA256 signing key")
    headers: dict[str, SecretStr] = Field(
        default_factory=dict, description="extra request headers (secrets: kept out of logs)"
    )

    @field_validator("url")
    @classmethod
    def _http(cls, value: SecretStr) -> SecretStr:
        if not value.get_secret_value().startswith(("https://", "http://")):
            raise ValueError("expected an http(s) URL")
        return value


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def alert_body(message: AlertMessage) -> dict[str, Any]:
    return {
        "id": message.alert_id,
        "idempotency_key": message.idempotency_key,
        "watchlist": message.watchlist,
        "severity": str(message.severity),
        "rules": list(message.rules),
        "title": message.title,
        "url": message.url,
        "source": message.source,
        "published": _iso(message.published),
        "snippet": message.snippet,
        "story": {
            "id": message.story_id,
            "sources": [{"source": s, "url": u} for s, u in message.sources],
            **({"url": message.story_url} if message.story_url else {}),
        },
        "created_at": _iso(message.created_at),
        "kind": str(message.kind),
        "matches": [
            {
                "rule": m.rule,
                "severity": str(m.severity),
                "snippet": m.snippet,
                "hits": [
                    {
                        "term": h.term,
                        "field": h.field,
                        "start": h.start,
                        "end": h.end,
                        "text": h.text,
                    }
                    for h in m.hits
                ],
            }
            for m in message.matches
        ],
    }


def payload(message: Message) -> dict[str, Any]:
    """The JSON body for any message; `schema` names its shape and version."""
    if isinstance(message, AlertMessage):
        return {"schema": SCHEMA, **alert_body(message)}
    if isinstance(message, DigestMessage):
        return {
            "schema": DIGEST_SCHEMA,
            "id": message.digest_id,
            "idempotency_key": message.idempotency_key,
            "reason": str(message.reason),
            "severity": str(message.severity),
            "alerts": [alert_body(a) for a in message.alerts],
            "created_at": _iso(message.created_at),
        }
    assert isinstance(message, NoticeMessage)
    return {
        "schema": NOTICE_SCHEMA,
        "idempotency_key": message.idempotency_key,
        "severity": str(message.severity),
        "title": message.title,
        "text": message.text,
        "created_at": _iso(message.created_at),
    }


def sign(secret: str, timestamp: int, body: bytes) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={digest.hexdigest()}"


class WebhookChannel(Channel):
    """JSON POST; any 2xx is success, 408/425/429/5xx are retried, other answers are final."""

    kind = "webhook"
    Settings = WebhookSettings
    settings: WebhookSettings

    async def send(self, message: Message) -> str:
        body = json.dumps(payload(message), ensure_ascii=False).encode()
        headers = {
            **{k: v.get_secret_value() for k, v in self.settings.headers.items()},
            "Content-Type": "application/json",
            "Idempotency-Key": message.idempotency_key,
        }
        if self.settings.secret is not None:
            secret = self.settings.secret.get_secret_value()
            headers["X-Monitor-Signature"] = sign(secret, int(time.time()), body)
        return await self.post(self.settings.url.get_secret_value(), body, headers)
