"""storage.channel_state: what all workers must agree on about a channel, in one row each.

The rate-limit bucket (so two workers do not each send a full burst), the failure streak (so the
whole channel backs off, and honours `Retry-After`, rather than each alert on its own), and
whether the operator was told that it is failing (so they are told once, not per alert).
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypeVar

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from monitor.storage import Store
from monitor.storage.tables import channel_state

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class ChannelState:
    channel: str
    failures: int = 0
    failing_since: datetime | None = None
    last_error: str | None = None
    paused_until: datetime | None = None
    notified_at: datetime | None = None

    def paused(self, now: datetime) -> bool:
        return self.paused_until is not None and self.paused_until > now


_FIELDS = [channel_state.c[n] for n in ChannelState.__slots__]


def states(store: Store, names: Collection[str]) -> dict[str, ChannelState]:
    """Each channel's state; a channel that never failed nor was limited has no row yet."""
    with store.read() as conn:
        rows = conn.execute(sa.select(*_FIELDS).where(channel_state.c.channel.in_(list(names))))
        found = {r.channel: ChannelState(**r._mapping) for r in rows}
    return {name: found.get(name, ChannelState(name)) for name in names}


def _locked(conn: sa.Connection, channel: str, now: datetime) -> sa.Row[tuple[object, ...]]:
    """The channel's row, created if missing, locked until the transaction ends."""
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    conn.execute(
        dialect.insert(channel_state)
        .values(channel=channel, failures=0, updated_at=now)
        .on_conflict_do_nothing()
    )
    return conn.execute(
        sa.select(channel_state).where(channel_state.c.channel == channel).with_for_update()
    ).one()


@dataclass(frozen=True, slots=True)
class Tokens:
    """A channel's rate-limit bucket as stored: `tokens` left as of `at` (None: never limited)."""

    tokens: float | None = None
    at: datetime | None = None


def update_tokens(
    store: Store, channel: str, now: datetime, change: Callable[[Tokens], tuple[Tokens, T]]
) -> T:
    """Store what `change` makes of the channel's bucket, the row locked meanwhile, so two
    workers never spend the same tokens; what `change` returned beside the new bucket. (How
    many tokens a send costs and how fast they come back is `channels.pacing`'s.)"""
    with store.write() as conn:
        row = _locked(conn, channel, now)
        after, result = change(Tokens(row.tokens, row.tokens_at))
        conn.execute(
            channel_state.update()
            .where(channel_state.c.channel == channel)
            .values(tokens=after.tokens, tokens_at=after.at, updated_at=now)
        )
        return result


def failed(
    store: Store,
    channel: str,
    now: datetime,
    *,
    error: str,
    pause_until: datetime | None,
    notice_after: float,
) -> tuple[ChannelState, bool]:
    """Count a failed send. Returns the state and whether the operator must be told now: true
    once per failure streak, for the first worker to see it last longer than `notice_after`."""
    with store.write() as conn:
        row = _locked(conn, channel, now)
        since = row.failing_since or now
        due = row.notified_at is None and now - since >= timedelta(seconds=notice_after)
        values: dict[str, object] = {
            "failures": row.failures + 1,
            "failing_since": since,
            "last_error": error[:1000],
            "paused_until": pause_until,
            "updated_at": now,
        }
        if due:
            values["notified_at"] = now
        conn.execute(
            channel_state.update().where(channel_state.c.channel == channel).values(**values)
        )
        state = ChannelState(
            channel,
            row.failures + 1,
            since,
            error,
            pause_until,
            now if due else row.notified_at,
        )
        return state, due


def recovered(store: Store, channel: str, now: datetime) -> ChannelState | None:
    """A send went through: clear the streak. Returns the streak that ended, if there was one."""
    with store.write() as conn:
        row = conn.execute(
            sa.select(*_FIELDS).where(channel_state.c.channel == channel).with_for_update()
        ).first()
        if row is None or (row.failures == 0 and row.failing_since is None):
            return None
        conn.execute(
            channel_state.update()
            .where(channel_state.c.channel == channel)
            .values(
                failures=0,
                failing_since=None,
                paused_until=None,
                notified_at=None,
                updated_at=now,
            )
        )
        return ChannelState(**row._mapping)
