"""channels.pacing: when a channel's messages may go out. Digest schedules, quiet hours and rate
limits as settings every channel accepts, and the time arithmetic behind them. No I/O.

    digest: 15m                              every 15 minutes, on the quarter hour (UTC)
    digest: daily 08:00 Europe/London        every day at 08:00 London time (DST followed)
    digest: weekdays 08:00,17:30 Europe/Paris
    digest: mon,thu 09:00                    (UTC when no zone is given)
    quiet_hours: 22:00-07:00 Europe/London   or {start, end, timezone, bypass}
    rate_limit: {per_minute: 6, burst: 3}
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    PlainValidator,
    WithJsonSchema,
    field_validator,
)

from monitor.model import Severity
from monitor.units import parse_duration

_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
UTC_ZONE = ZoneInfo("UTC")
_CLOCK = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")


def zone(name: str) -> ZoneInfo:
    """An IANA time zone by name, or a clear error."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"unknown time zone {name!r} (use an IANA name such as Europe/London)"
        ) from None


def clock(text: str) -> time:
    m = _CLOCK.match(text.strip())
    if not m:
        raise ValueError(f"{text!r} is not a time of day (use HH:MM, e.g. 08:00)")
    return time(int(m.group(1)), int(m.group(2)))


@dataclass(frozen=True, slots=True)
class Schedule:
    """When a digest is sent: every `every` seconds (aligned to the epoch), or at local `times`
    on `days` (0 = Monday) in `tz`."""

    text: str
    every: float | None = None
    times: tuple[time, ...] = ()
    days: frozenset[int] = frozenset(range(7))
    tz: ZoneInfo = UTC_ZONE

    def next_after(self, now: datetime) -> datetime:
        """The first send time strictly after `now` (UTC)."""
        if self.every is not None:
            step = self.every
            return datetime.fromtimestamp((math.floor(now.timestamp() / step) + 1) * step, UTC)
        local = now.astimezone(self.tz)
        for offset in range(8):
            day = local.date() + timedelta(days=offset)
            if day.weekday() not in self.days:
                continue
            for at in self.times:
                when = _local(day, at, self.tz)
                if when > now:
                    return when
        raise AssertionError("a schedule with days and times always has a next time")


def _local(day: date, at: time, tz: ZoneInfo) -> datetime:
    """A wall-clock time in `tz` as UTC. A time skipped by a DST change is taken an hour later."""
    when = datetime.combine(day, at, tzinfo=tz)
    back = when.astimezone(UTC).astimezone(tz)
    if back.replace(tzinfo=None) != when.replace(tzinfo=None):  # in the gap
        when = datetime.combine(day, at, tzinfo=tz) + timedelta(hours=1)
    return when.astimezone(UTC)


def parse_schedule(value: Any) -> Schedule:
    """`15m`, `every 1h`, `daily 08:00 Europe/London`, `weekdays 08:00,17:30`, `mon,thu 09:00`."""
    if isinstance(value, Schedule):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not value.strip():
        raise ValueError("expected a digest schedule such as 15m or 'daily 08:00 Europe/London'")
    text = " ".join(value.split())
    words = text.split(" ")
    if words[0] == "every":
        words = words[1:]
    if len(words) == 1 and not _CLOCK.match(words[0]) and words[0] not in ("daily", "weekdays"):
        try:
            every = parse_duration(words[0])
        except ValueError:
            every = 0.0
        if every < 60:
            raise ValueError(f"{text!r}: a digest interval must be a duration of at least 1m")
        return Schedule(text, every=every)
    if len(words) not in (2, 3):
        raise ValueError(
            f"{text!r} is not a digest schedule (use e.g. 15m, 'daily 08:00 Europe/London', "
            "'weekdays 08:00,17:30', 'mon,thu 09:00 UTC')"
        )
    days_word, times_word = words[0], words[1]
    tz = zone(words[2]) if len(words) == 3 else UTC_ZONE
    if days_word == "daily":
        days = frozenset(range(7))
    elif days_word == "weekdays":
        days = frozenset(range(5))
    else:
        names = days_word.split(",")
        unknown = [d for d in names if d not in _DAYS]
        if unknown:
            raise ValueError(
                f"{text!r}: {unknown[0]!r} is not daily, weekdays or a day (mon, tue, … sun)"
            )
        days = frozenset(_DAYS.index(d) for d in names)
    times = tuple(sorted({clock(t) for t in times_word.split(",")}))
    return Schedule(text, times=times, days=days, tz=tz)


DigestSchedule = Annotated[
    Schedule,
    PlainValidator(parse_schedule),
    PlainSerializer(lambda s: s.text, return_type=str),
    WithJsonSchema(
        {
            "type": "string",
            "description": "15m, 1h, 'daily 08:00 Europe/London', 'weekdays 08:00,17:30', "
            "'mon,thu 09:00 UTC'",
        }
    ),
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _quiet_shorthand(value: Any) -> Any:
    """`22:00-07:00 Europe/London` → {start, end, timezone}."""
    if not isinstance(value, str):
        return value
    words = value.split()
    span = words[0].split("-") if words else []
    if len(words) not in (1, 2) or len(span) != 2:
        raise ValueError(f"{value!r} is not quiet hours (use e.g. '22:00-07:00 Europe/London')")
    out = {"start": span[0], "end": span[1]}
    if len(words) == 2:
        out["timezone"] = words[1]
    return out


class QuietHoursSettings(_Strict):
    """Hours in which alerts below `bypass` wait for the end of the quiet time (or the next
    digest), instead of waking anyone."""

    start: str = Field(description="HH:MM, local time")
    end: str = Field(description="HH:MM, local time; before start means overnight")
    timezone: str = Field("UTC", description="IANA time zone of start and end")
    bypass: Severity = Field(Severity.CRITICAL, description="alerts at least this severe still go")

    @field_validator("start", "end")
    @classmethod
    def _clock(cls, value: str) -> str:
        clock(value)
        return value

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        zone(value)
        return value

    def _bounds(self, now: datetime) -> list[tuple[datetime, datetime]]:
        tz = zone(self.timezone)
        start, end = clock(self.start), clock(self.end)
        today = now.astimezone(tz).date()
        spans = []
        for offset in (-1, 0, 1):
            day = today + timedelta(days=offset)
            a = _local(day, start, tz)
            b = _local(day + timedelta(days=1) if end <= start else day, end, tz)
            spans.append((a, b))
        return spans

    def contains(self, now: datetime) -> bool:
        return any(a <= now < b for a, b in self._bounds(now))

    def end_after(self, now: datetime) -> datetime:
        """When the quiet time that contains `now` ends (`now` itself when it is not quiet)."""
        return next((b for a, b in self._bounds(now) if a <= now < b), now)


QuietHours = Annotated[QuietHoursSettings, BeforeValidator(_quiet_shorthand)]


class RateLimitSettings(_Strict):
    """A token bucket: `burst` messages at once, refilled at `per_minute`. Alerts over the limit
    are held and sent together in the channel's next message, never dropped."""

    per_minute: float = Field(gt=0, description="messages per minute, on average")
    burst: int = Field(1, ge=1, description="messages that may go out back to back")

    @property
    def interval(self) -> float:
        """Seconds for one token to come back."""
        return 60.0 / self.per_minute


@dataclass(frozen=True, slots=True)
class Bucket:
    tokens: float
    at: datetime


def refill(bucket: Bucket | None, limit: RateLimitSettings, now: datetime) -> float:
    """The tokens available at `now`; a channel never limited before starts full."""
    if bucket is None:
        return float(limit.burst)
    gained = max(0.0, (now - bucket.at).total_seconds()) / limit.interval
    return min(float(limit.burst), bucket.tokens + gained)


def take(
    bucket: Bucket | None, limit: RateLimitSettings, now: datetime, wanted: int
) -> tuple[int, Bucket, datetime]:
    """Take up to `wanted` tokens: how many were granted, the bucket after, and when the next
    whole token is available."""
    tokens = refill(bucket, limit, now)
    granted = min(wanted, int(tokens + 1e-9))
    left = tokens - granted
    wait = max(0.0, 1.0 - left) * limit.interval
    return granted, Bucket(left, now), now + timedelta(seconds=wait)


def describe(settings: Any) -> str:
    """A short human description of a channel's pacing, for `monitor test-channel`."""
    parts = []
    if getattr(settings, "digest", None) is not None:
        parts.append(f"digest {settings.digest.text}")
    if getattr(settings, "quiet_hours", None) is not None:
        q = settings.quiet_hours
        parts.append(f"quiet {q.start}-{q.end} {q.timezone}")
    if getattr(settings, "rate_limit", None) is not None:
        r = settings.rate_limit
        parts.append(f"at most {r.per_minute:g}/min (burst {r.burst})")
    return ", ".join(parts) or "immediate"


__all__ = [
    "Bucket",
    "DigestSchedule",
    "QuietHours",
    "QuietHoursSettings",
    "RateLimitSettings",
    "Schedule",
    "parse_schedule",
    "refill",
    "take",
]
