"""deliver: one alert through one channel → an Outcome, and when to try again after a failure.

Sending is at least once: a channel's answer is recorded only after it returns, so a crash
between the far end's confirmation and the store's update means one repeat, carrying the same
idempotency key, never a loss.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog

from monitor.channels import Channel
from monitor.errors import ChannelError
from monitor.model import AlertMessage

log = structlog.get_logger("monitor.deliver")


@dataclass(frozen=True, slots=True)
class Outcome:
    ok: bool
    detail: str
    duration_ms: int
    permanent: bool = False
    retry_after: float | None = None


async def send(channel: Channel, message: AlertMessage) -> Outcome:
    """Send and classify; a channel that raises something unexpected is a retryable failure."""
    started = time.perf_counter()

    def ms() -> int:
        return int((time.perf_counter() - started) * 1000)

    try:
        detail = await channel.send(message)
    except ChannelError as exc:
        return Outcome(False, str(exc), ms(), exc.permanent, exc.retry_after)
    except Exception as exc:  # a bug in a channel must not stop delivery of the others
        log.exception("channel crashed", channel=channel.name, alert=message.alert_id)
        return Outcome(False, f"{channel.name}: internal error: {exc!r}"[:500], ms())
    return Outcome(True, detail, ms())


def retry_at(
    now: datetime,
    attempts: int,
    outcome: Outcome,
    *,
    max_attempts: int,
    backoff_s: float,
    max_backoff_s: float,
    rng: random.Random | None = None,
) -> datetime | None:
    """When to try again after the `attempts`-th failed try, or None for a dead letter.

    Exponential backoff with full jitter on the upper half; never sooner than Retry-After.
    """
    if outcome.permanent or attempts >= max_attempts:
        return None
    rng = rng or random.Random()
    ceiling = min(max_backoff_s, backoff_s * 2 ** min(attempts - 1, 30))
    delay = ceiling / 2 + rng.random() * ceiling / 2
    if outcome.retry_after is not None:
        delay = max(delay, outcome.retry_after)
    return now + timedelta(seconds=delay)
