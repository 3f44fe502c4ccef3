"""storage.channel_state: what all workers must agree on about a channel, in one row each.

The rate-limit bucket (so two workers do not each send a full burst), the failure streak (so the
whole channel backs off, and honours `Retry-After`, rather than each alert on its own), and
whether the operator was told that it is failing (so they are told once, not per alert).

Persistence only: the row is read locked and written back as the caller's function makes it
(`change`, `update_tokens`); the rules (how a failure counts, when to tell the operator, how
fast rate-limit tokens come back) are `pipeline.outbox`'s and `channels.pacing`'s.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import datetime
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


def change(
    store: Store, channel: str, now: datetime, update: Callable[[ChannelState], ChannelState]
) -> ChannelState:
    """Store what `update` makes of the channel's state, the row locked meanwhile, so that two
    workers failing at once count one streak (and one of them tells the operator); the state
    stored. (What a failure does to the state is `pipeline.outbox`'s.)"""
    with store.write() as conn:
        row = _locked(conn, channel, now)
        after = update(
            ChannelState(**{name: row._mapping[name] for name in ChannelState.__slots__})
        )
        conn.execute(
            channel_state.update()
            .where(channel_state.c.channel == channel)
            .values(
                failures=after.failures,
                failing_since=after.failing_since,
                last_error=None if after.last_error is None else after.last_error[:1000],
                paused_until=after.paused_until,
                notified_at=after.notified_at,
                updated_at=now,
            )
        )
        return after


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
