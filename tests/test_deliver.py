"""deliver: classifying a send and scheduling retries."""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime

import httpx

from monitor.channels.base import Channel, ChannelSettings
from monitor.errors import ChannelError
from monitor.model import AlertMessage, Severity
from monitor.pipeline.deliver import Outcome, retry_at, send

NOW = datetime(2026, 11, 23, tzinfo=UTC)
MESSAGE = AlertMessage(
    alert_id=1,
    idempotency_key="k",
    watchlist="w",
    severity=Severity.HIGH,
    title="t",
    url="https://e.org",
    source="s",
    published=None,
    rules=("r",),
    snippet="",
    story_id=1,
)


class Flaky(Channel):
    kind = "flaky"
    Settings = ChannelSettings

    def __init__(self, behaviour: BaseException | None) -> None:
        super().__init__("flaky", ChannelSettings(kind="flaky"), httpx.AsyncClient())
        self.behaviour = behaviour

    async def send(self, message: AlertMessage) -> str:
        if self.behaviour is not None:
            raise self.behaviour
        return "HTTP 204"


def test_send_classifies_success_failure_and_crashes() -> None:
    ok = asyncio.run(send(Flaky(None), MESSAGE))
    assert (ok.ok, ok.detail) == (True, "HTTP 204")
    failed = asyncio.run(
        send(Flaky(ChannelError("flaky: HTTP 429", channel="flaky", retry_after=30)), MESSAGE)
    )
    assert (failed.ok, failed.permanent, failed.retry_after) == (False, False, 30)
    crashed = asyncio.run(send(Flaky(KeyError("bug")), MESSAGE))
    assert not crashed.ok and "internal error" in crashed.detail


def test_retry_schedule() -> None:
    rng = random.Random(1)
    transient = Outcome(False, "HTTP 503", 5)
    delays = [
        (
            retry_at(NOW, n, transient, max_attempts=10, backoff_s=30, max_backoff_s=3600, rng=rng)
            - NOW
        ).total_seconds()
        for n in range(1, 10)
    ]  # type: ignore[operator]
    assert 15 <= delays[0] <= 30 and 30 <= delays[1] <= 60 and 1800 <= delays[-1] <= 3600
    assert retry_at(NOW, 10, transient, max_attempts=10, backoff_s=30, max_backoff_s=3600) is None
    permanent = Outcome(False, "HTTP 404", 5, permanent=True)
    assert retry_at(NOW, 1, permanent, max_attempts=10, backoff_s=30, max_backoff_s=3600) is None
    limited = Outcome(False, "HTTP 429", 5, retry_after=900)
    when = retry_at(NOW, 1, limited, max_attempts=10, backoff_s=30, max_backoff_s=3600)
    assert when is not None and (when - NOW).total_seconds() >= 900
