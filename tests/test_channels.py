"""Channels against real receivers: what arrives, how it is signed, how failures are sorted."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import hmac
import io
import json
import socket
import time
from datetime import UTC, datetime
from pathlib import Path

import jsonschema
import pytest
import structlog
from pydantic import ValidationError

from monitor import log
from monitor.channels.log import LogChannel, LogSettings
from monitor.channels.webhook import WebhookChannel, WebhookSettings
from monitor.errors import ChannelError
from monitor.http import build_client
from monitor.model import AlertMessage, Hit, RuleMatch, Severity
from tests.servers import Answer, Receiver
from tests.test_channels_conformance import DIGEST, NOTICE

MESSAGE = AlertMessage(
    alert_id=7,
    idempotency_key="0f3c9e",
    watchlist="iraq-conflict",
    severity=Severity.HIGH,
    title="Offensive on Falluja\r\nX-Injected: yes",
    url="https://e.org/a",
    source="wire",
    published=datetime(2026, 11, 23, 9, 30, tzinfo=UTC),
    rules=("offensive",),
    snippet="…the offensive on Falluja…",
    story_id=3,
    sources=(("wire", "https://e.org/a"), ("bbc", "https://bbc.example/b")),
    created_at=datetime(2026, 11, 23, 9, 31, tzinfo=UTC),
    kind="escalation",
    matches=(
        RuleMatch(
            "iraq-conflict",
            "offensive",
            Severity.HIGH,
            (
                Hit("offensive", "text", 4, 13, "offensive"),
                Hit("@cities: Falluja", "text", 17, 24, "Falluja"),
            ),
            "…the offensive on Falluja…",
        ),
    ),
)


def send_webhook(receiver: Receiver, **settings: object) -> str:
    async def go() -> str:
        async with build_client(timeout=5) as client:
            spec = WebhookSettings(kind="webhook", url=receiver.url("/hook"), **settings)  # type: ignore[arg-type]
            return await WebhookChannel("hook", spec, client).send(MESSAGE)

    return asyncio.run(go())


def test_webhook_posts_signed_json_with_an_idempotency_key(receiver: Receiver) -> None:
    assert send_webhook(receiver, secret="topsecret", headers={"X-Team": "desk"}) == "HTTP 200: ok"
    (post,) = receiver.posts
    body = json.loads(post.body)
    assert body == {
        "schema": "monitor.alert/1",
        "id": 7,
        "idempotency_key": "0f3c9e",
        "watchlist": "iraq-conflict",
        "severity": "high",
        "rules": ["offensive"],
        "title": "Offensive on Falluja\r\nX-Injected: yes",
        "url": "https://e.org/a",
        "source": "wire",
        "published": "2026-11-23T09:30:00+00:00",
        "snippet": "…the offensive on Falluja…",
        "story": {
            "id": 3,
            "sources": [
                {"source": "wire", "url": "https://e.org/a"},
                {"source": "bbc", "url": "https://bbc.example/b"},
            ],
            "continues": None,
        },
        "created_at": "2026-11-23T09:31:00+00:00",
        "kind": "escalation",
        "matches": [
            {
                "rule": "offensive",
                "severity": "high",
                "snippet": "…the offensive on Falluja…",
                "hits": [
                    {
                        "term": "offensive",
                        "field": "text",
                        "start": 4,
                        "end": 13,
                        "text": "offensive",
                    },
                    {
                        "term": "@cities: Falluja",
                        "field": "text",
                        "start": 17,
                        "end": 24,
                        "text": "Falluja",
                    },
                ],
            }
        ],
    }
    assert post.headers["idempotency-key"] == "0f3c9e"
    assert post.headers["x-team"] == "desk"
    assert "x-injected" not in post.headers  # untrusted text stays inside the JSON
    fields = dict(part.split("=", 1) for part in post.headers["x-monitor-signature"].split(","))
    digest = hmac.new(b"topsecret", f"{fields['t']}.".encode() + post.body, hashlib.sha256)
    assert hmac.compare_digest(fields["v1"], digest.hexdigest())


SCHEMA = json.loads(
    (Path(__file__).parents[1] / "monitor" / "channels" / "webhook.schema.json").read_text()
)


@pytest.mark.parametrize("kind", ["alert", "digest", "notice"])
def test_webhook_bodies_follow_the_published_schema(receiver: Receiver, kind: str) -> None:
    """Every body validates against webhook.schema.json, and the receiver can verify it."""
    message = {"alert": MESSAGE, "digest": DIGEST, "notice": NOTICE}[kind]

    async def go() -> str:
        async with build_client(timeout=5) as client:
            spec = WebhookSettings(kind="webhook", url=receiver.url("/hook"), secret="k" * 16)  # type: ignore[arg-type]
            return await WebhookChannel("hook", spec, client).send(message)

    asyncio.run(go())
    (post,) = receiver.posts
    body = json.loads(post.body)
    validator = jsonschema.Draft202012Validator(
        SCHEMA, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )
    validator.validate(body)
    assert body["schema"] == f"monitor.{kind}/1"
    assert post.headers["idempotency-key"] == body["idempotency_key"]
    fields = dict(p.split("=", 1) for p in post.headers["x-monitor-signature"].split(","))
    stamp, signature = fields["t"], fields["v1"]
    assert abs(int(time.time()) - int(stamp)) < 60
    assert hmac.compare_digest(
        signature,
        hmac.new(b"k" * 16, f"{stamp}.".encode() + post.body, hashlib.sha256).hexdigest(),
    )
    broken = {**body, "schema": "monitor.alert/2"}
    assert not validator.is_valid(broken)


def test_webhook_without_secret_is_unsigned(receiver: Receiver) -> None:
    send_webhook(receiver)
    assert "x-monitor-signature" not in receiver.posts[0].headers


@pytest.mark.parametrize(
    ("answer", "permanent", "retry_after"),
    [
        (Answer(500, b"boom"), False, None),
        (Answer(503, b"", {"Retry-After": "7"}), False, 7.0),
        (Answer(429, b"", {"Retry-After": "2"}), False, 2.0),
        (Answer(408), False, None),
        (Answer(404, b"no such hook"), True, None),
        (Answer(401), True, None),
    ],
)
def test_webhook_failures_are_sorted(
    receiver: Receiver, answer: Answer, permanent: bool, retry_after: float | None
) -> None:
    receiver.route("/hook", answer)
    with pytest.raises(ChannelError) as info:
        send_webhook(receiver)
    assert (info.value.permanent, info.value.retry_after, info.value.status) == (
        permanent,
        retry_after,
        answer.status,
    )
    assert f"HTTP {answer.status}" in str(info.value)


def test_webhook_timeout_and_refused_are_retryable(receiver: Receiver) -> None:
    receiver.route("/hook", Answer(200, b"late", delay=2))
    with pytest.raises(ChannelError, match=r"no answer within 0\.5s") as info:
        send_webhook(receiver, timeout=0.5)
    assert not info.value.permanent
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    receiver.base = f"http://127.0.0.1:{port}"  # nothing listens there
    with pytest.raises(ChannelError, match=r"cannot connect to 127\.0\.0\.1") as info:
        send_webhook(receiver)
    assert not info.value.permanent


def test_webhook_settings_are_checked() -> None:
    with pytest.raises(ValidationError):
        WebhookSettings(kind="webhook", url="ftp://e.org/hook")
    with pytest.raises(ValidationError):
        WebhookSettings.model_validate({"kind": "webhook", "url": "https://e.org", "secrte": "x"})
    settings = WebhookSettings(kind="webhook", url="https://e.org", secret="hunter22")  # type: ignore[arg-type]
    assert "hunter22" not in repr(settings) and "hunter22" not in str(settings.model_dump())


def test_log_channel_writes_one_line_and_masks_secrets() -> None:
    stream = io.StringIO()
    log.setup("info", "json", secrets={"0f3c9e-secret"}, stream=stream)
    try:
        channel = LogChannel("console", LogSettings(kind="log"), None)  # type: ignore[arg-type]
        message = dataclasses.replace(MESSAGE, snippet="leak 0f3c9e-secret")
        assert asyncio.run(channel.send(message)) == "logged"
        (line,) = stream.getvalue().splitlines()
        event = json.loads(line)
        assert (event["event"], event["alert"], event["channel"]) == ("alert", 7, "console")
        assert event["snippet"] == "leak ***"
        assert event["kind"] == "escalation"  # which alert of the story this is
    finally:
        structlog.reset_defaults()
