"""Pacing: digest schedules (with DST), quiet hours, the token bucket, and which alerts wait."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from monitor.channels.log import LogSettings
from monitor.channels.pacing import Bucket, RateLimitSettings, parse_schedule, take
from monitor.model import Severity
from monitor.pipeline.deliver import Outcome, hold, schedule


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "now", "expected"),
    [
        ("15m", utc(2026, 11, 23, 10, 7), utc(2026, 11, 23, 10, 15)),
        ("15m", utc(2026, 11, 23, 10, 15), utc(2026, 11, 23, 10, 30)),  # strictly after
        ("every 1h", utc(2026, 11, 23, 10, 59, 59), utc(2026, 11, 23, 11, 0)),
        # London is UTC+0 in winter, UTC+1 in summer: 08:00 local moves in UTC.
        ("daily 08:00 Europe/London", utc(2026, 11, 23, 7, 0), utc(2026, 11, 23, 8, 0)),
        ("daily 08:00 Europe/London", utc(2026, 7, 1, 6, 59), utc(2026, 7, 1, 7, 0)),
        ("daily 08:00 Europe/London", utc(2026, 7, 1, 7, 0), utc(2026, 7, 2, 7, 0)),
        # The night the clocks go forward (29 March 2026): 01:30 does not exist; it is 02:30 BST.
        ("daily 01:30 Europe/London", utc(2026, 3, 29, 0, 0), utc(2026, 3, 29, 1, 30)),
        ("daily 08:00 Europe/London", utc(2026, 3, 28, 9, 0), utc(2026, 3, 29, 7, 0)),
        ("weekdays 08:00,17:30", utc(2026, 11, 27, 18, 0), utc(2026, 11, 30, 8, 0)),  # Fri → Mon
        ("mon,thu 09:00 UTC", utc(2026, 11, 24, 9, 0), utc(2026, 11, 26, 9, 0)),
    ],
)
def test_digest_schedules(text: str, now: datetime, expected: datetime) -> None:
    assert parse_schedule(text).next_after(now) == expected


@pytest.mark.parametrize(
    "bad", ["", "fortnightly", "30s", "daily 25:00", "daily 08:00 Mars/Base", "funday 08:00", True]
)
def test_bad_schedules_say_what_is_expected(bad: object) -> None:
    with pytest.raises(ValueError):
        parse_schedule(bad)


def settings(**extra: object) -> LogSettings:
    return LogSettings.model_validate({"kind": "log", **extra})


def test_quiet_hours_overnight_and_their_end() -> None:
    quiet = settings(quiet_hours="22:00-07:00 Europe/London").quiet_hours
    assert quiet is not None
    assert quiet.contains(utc(2026, 11, 23, 23, 0)) and quiet.contains(utc(2026, 11, 24, 6, 59))
    assert not quiet.contains(utc(2026, 11, 24, 7, 0)) and not quiet.contains(utc(2026, 11, 23, 12))
    assert quiet.end_after(utc(2026, 11, 23, 23, 0)) == utc(2026, 11, 24, 7, 0)
    summer = quiet.end_after(utc(2026, 7, 1, 1, 0))  # 02:00 BST
    assert summer == utc(2026, 7, 1, 6, 0)  # 07:00 BST
    same_day = settings(quiet_hours={"start": "12:00", "end": "14:00"}).quiet_hours
    assert same_day is not None and same_day.contains(utc(2026, 11, 23, 13, 0))
    assert not same_day.contains(utc(2026, 11, 23, 14, 0))


def test_token_bucket_allows_a_burst_then_the_rate() -> None:
    limit = RateLimitSettings(per_minute=6, burst=3)  # one token every 10 s
    now = utc(2026, 11, 23, 12)
    granted, bucket, next_at = take(None, limit, now, 5)
    assert granted == 3 and next_at == now + timedelta(seconds=10)
    granted, bucket, next_at = take(bucket, limit, now + timedelta(seconds=5), 1)
    assert granted == 0 and next_at == now + timedelta(seconds=10)
    granted, bucket, _ = take(bucket, limit, now + timedelta(seconds=25), 5)
    assert granted == 2
    full = take(Bucket(0, now), limit, now + timedelta(hours=1), 10)[0]
    assert full == 3  # never more than the burst


def test_which_alerts_wait_and_until_when() -> None:
    night = utc(2026, 11, 23, 23, 0)
    day = utc(2026, 11, 23, 10, 7)
    plain = settings()
    assert hold(plain, Severity.LOW, night) is None
    digest = settings(digest="15m", digest_bypass="high")
    assert hold(digest, Severity.MEDIUM, day) == (utc(2026, 11, 23, 10, 15), "digest")
    assert hold(digest, Severity.HIGH, day) is None  # bypasses the digest
    quiet = settings(quiet_hours="22:00-07:00 Europe/London")
    assert hold(quiet, Severity.HIGH, night) == (utc(2026, 11, 24, 7, 0), "quiet hours")
    assert hold(quiet, Severity.CRITICAL, night) is None
    assert hold(quiet, Severity.LOW, day) is None
    both = settings(digest="daily 06:00 Europe/London", quiet_hours="22:00-07:00 Europe/London")
    # The 06:00 digest falls in quiet hours: it waits for their end.
    assert hold(both, Severity.LOW, night) == (utc(2026, 11, 24, 7, 0), "digest")
    none_bypass = settings(digest="15m", digest_bypass=None)
    assert hold(none_bypass, Severity.CRITICAL, day) is not None


def test_one_delay_for_the_message_and_its_channel() -> None:
    now = utc(2026, 11, 23, 12)
    transient = Outcome(False, "HTTP 503", 5, retry_after=2)
    retry, pause = schedule(now, 1, 1, transient, max_attempts=3, backoff_s=0.5, max_backoff_s=60)
    assert retry == pause and retry is not None and retry - now >= timedelta(seconds=2)
    # The channel's long failure streak sets the wait for a message tried for the first time.
    retry, pause = schedule(
        now, 1, 6, Outcome(False, "x", 1), max_attempts=9, backoff_s=1, max_backoff_s=600
    )
    assert retry is not None and retry - now >= timedelta(seconds=16)
    retry, pause = schedule(
        now, 3, 3, Outcome(False, "x", 1), max_attempts=3, backoff_s=1, max_backoff_s=9
    )
    assert retry is None and pause is not None  # a dead letter; the channel still waits
    retry, pause = schedule(
        now,
        1,
        1,
        Outcome(False, "HTTP 404", 1, permanent=True),
        max_attempts=3,
        backoff_s=1,
        max_backoff_s=9,
    )
    assert retry is None and pause is None
