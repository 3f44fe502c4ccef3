"""deliver: one message through one channel → an Outcome; when to try again after a failure;
and whether an alert goes out now or waits for the channel's next digest. No I/O of its own.

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

from monitor.channels import Channel, ChannelSettings
from monitor.errors import ChannelError
from monitor.model import DigestReason, Message, Severity

log = structlog.get_logger("monitor.deliver")


@dataclass(frozen=True, slots=True)
class Outcome:
    ok: bool
    detail: str
    duration_ms: int
    permanent: bool = False
    retry_after: float | None = None


async def send(channel: Channel, message: Message) -> Outcome:
    """Send and classify; a channel that raises something unexpected is a retryable failure."""
    started = time.perf_counter()

    def ms() -> int:
        return int((time.perf_counter() - started) * 1000)

    try:
        detail = await channel.send(message)
    except ChannelError as exc:
        return Outcome(False, str(exc), ms(), exc.permanent, exc.retry_after)
    except Exception as exc:  # a bug in a channel must not stop delivery of the others
        log.exception("channel crashed", channel=channel.name, key=message.idempotency_key)
        return Outcome(
            False, channel.secrets(f"{channel.name}: internal error: {exc!r}")[:500], ms()
        )
    return Outcome(True, channel.secrets(detail), ms())


def backoff(
    step: int,
    outcome: Outcome,
    *,
    backoff_s: float,
    max_backoff_s: float,
    rng: random.Random | None = None,
) -> float:
    """Seconds to wait after the `step`-th failure in a row: exponential with jitter on the
    upper half, never less than the far end's Retry-After."""
    rng = rng or random.Random()
    ceiling = min(max_backoff_s, backoff_s * float(2 ** min(step - 1, 30)))
    delay = ceiling / 2 + rng.random() * ceiling / 2
    if outcome.retry_after is not None:
        delay = max(delay, outcome.retry_after)
    return delay


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
    """When to try again after the `attempts`-th failed try, or None for a dead letter."""
    return schedule(
        now,
        attempts,
        0,
        outcome,
        max_attempts=max_attempts,
        backoff_s=backoff_s,
        max_backoff_s=max_backoff_s,
        rng=rng,
    )[0]


def schedule(
    now: datetime,
    attempts: int,
    failures: int,
    outcome: Outcome,
    *,
    max_attempts: int,
    backoff_s: float,
    max_backoff_s: float,
    rng: random.Random | None = None,
) -> tuple[datetime | None, datetime | None]:
    """After a message's `attempts`-th failed try, its channel's `failures`-th in a row: when
    to retry the message (None: a dead letter) and until when the whole channel waits (None:
    the failure was about this message alone, a permanent answer). One delay serves both, as
    long as the longer of the two streaks says, so the message is due when the channel is."""
    delay = backoff(
        max(attempts, failures),
        outcome,
        backoff_s=backoff_s,
        max_backoff_s=max_backoff_s,
        rng=rng,
    )
    until = now + timedelta(seconds=delay)
    retry = None if outcome.permanent or attempts >= max_attempts else until
    return retry, None if outcome.permanent else until


def _at_least(severity: Severity, bar: Severity | None) -> bool:
    return bar is not None and severity.rank >= bar.rank


def hold(
    settings: ChannelSettings, severity: Severity, now: datetime
) -> tuple[datetime, DigestReason] | None:
    """When an alert must wait to go out together with others instead of now, and why:
    the channel's next digest, or the end of its quiet hours (a digest falling inside quiet
    hours waits for their end too). Alerts at or above the bypass severities go now."""
    due: datetime | None = None
    reason = DigestReason.DIGEST
    if settings.digest is not None and not _at_least(severity, settings.digest_bypass):
        due = settings.digest.next_after(now)
    quiet = settings.quiet_hours
    if quiet is not None and not _at_least(severity, quiet.bypass):
        if due is None and quiet.contains(now):
            due, reason = quiet.end_after(now), DigestReason.QUIET_HOURS
        elif due is not None and quiet.contains(due):
            due = quiet.end_after(due)
    return (due, reason) if due is not None else None
