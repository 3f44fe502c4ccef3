"""storage.feeds: feed rows: syncing them with the config, claiming due ones, recording polls.

Which feed is due lives here (`next_poll_at`), not in the scheduler's memory, so restarts and
several workers agree. Workers claim feeds with a lease (`storage.leases`); a worker that dies
stops renewing it, and another takes the feed over when it runs out.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from monitor.model import FeedStatus
from monitor.storage import Store, insert_new, leases
from monitor.storage.tables import feed

_SYNC_LOCK = 0x6D6F6E66  # "monf": PostgreSQL advisory lock key for `sync`


@dataclass(frozen=True, slots=True)
class FeedSpec:
    """A feed as the config describes it."""

    name: str
    url: str
    interval_s: float


@dataclass(frozen=True, slots=True)
class FeedState:
    """A feed as the store knows it."""

    id: int
    name: str
    url: str
    config_url: str
    status: FeedStatus
    interval_s: float
    etag: str | None
    last_modified: str | None
    body_hash: str | None
    next_poll_at: datetime
    last_polled_at: datetime | None
    last_success_at: datetime | None
    last_new_entry_at: datetime | None
    last_status: int | None
    error_count: int
    last_error: str | None
    entries_seen: int
    entries_dropped: int
    lease_owner: str | None = None  # the worker polling it now ("host:pid")
    lease_until: datetime | None = None


@dataclass(frozen=True, slots=True)
class PollOutcome:
    """What one poll of a feed came to; the store applies it in one UPDATE."""

    next_poll_at: datetime
    status: int | None = None
    ok: bool = True
    error: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    body_hash: str | None = None
    moved_to: str | None = None
    gone: bool = False
    new_entries: int = 0
    changed: bool = False  # a body was parsed (validators and hash are replaced)
    dropped: int = 0  # entries of that body past fetch.max_entries
    polled_at: datetime | None = None  # when the poll happened, if it was recorded later


_COLUMNS = [feed.c[name] for name in FeedState.__slots__]


def _state(row: sa.Row[tuple[object, ...]]) -> FeedState:
    values = dict(row._mapping)
    values["status"] = FeedStatus(values["status"])
    return FeedState(**values)


def sync(store: Store, specs: Sequence[FeedSpec], now: datetime) -> None:
    """Make the feed table match the config: add new feeds, follow edits, mark removed ones.

    Safe when several workers start or reload at once: on PostgreSQL the syncs take turns (an
    advisory lock held to the end of the transaction; SQLite's writers queue anyway), and a new
    feed is inserted with ON CONFLICT DO NOTHING, so a name another worker added is no error."""
    with store.write() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _SYNC_LOCK})
        rows = {
            r.name: r
            for r in conn.execute(
                sa.select(feed.c.name, feed.c.config_url, feed.c.interval_s, feed.c.status)
            )
        }
        wanted = {s.name for s in specs}
        insert_new(
            conn,
            feed,
            [
                {
                    "name": spec.name,
                    "config_url": spec.url,
                    "url": spec.url,
                    "status": FeedStatus.ACTIVE,
                    "interval_s": spec.interval_s,
                    "next_poll_at": now,
                    "error_count": 0,
                    "entries_seen": 0,
                    "entries_dropped": 0,
                    "created_at": now,
                }
                for spec in specs
                if spec.name not in rows
            ],
        )
        for spec in specs:
            row = rows.get(spec.name)
            if row is None:
                continue
            if row.config_url != spec.url:
                # A new URL in the config starts the feed afresh (entries already seen stay seen).
                conn.execute(
                    feed.update()
                    .where(feed.c.name == spec.name)
                    .values(
                        config_url=spec.url,
                        url=spec.url,
                        status=FeedStatus.ACTIVE,
                        etag=None,
                        last_modified=None,
                        body_hash=None,
                        error_count=0,
                        last_error=None,
                        entries_dropped=0,
                        interval_s=spec.interval_s,
                        next_poll_at=now,
                    )
                )
            elif row.interval_s != spec.interval_s or row.status == FeedStatus.REMOVED:
                conn.execute(
                    feed.update()
                    .where(feed.c.name == spec.name)
                    .values(
                        interval_s=spec.interval_s,
                        status=FeedStatus.ACTIVE
                        if row.status == FeedStatus.REMOVED
                        else row.status,
                    )
                )
        gone = [
            name
            for name, row in rows.items()
            if name not in wanted and row.status != FeedStatus.REMOVED
        ]
        if gone:
            conn.execute(
                feed.update().where(feed.c.name.in_(gone)).values(status=FeedStatus.REMOVED)
            )


def claim(
    store: Store,
    owner: str,
    now: datetime,
    *,
    limit: int,
    lease_s: float,
    due_only: bool = True,
    exclude: Collection[int] = (),
) -> list[FeedState]:
    """Lease up to `limit` active feeds (due ones, or all with `due_only=False`) to `owner`,
    leaving out `exclude` (the feeds this cycle already polled)."""
    cond = [feed.c.status == FeedStatus.ACTIVE]
    if due_only:
        cond.append(feed.c.next_poll_at <= now)
    if exclude:
        cond.append(feed.c.id.not_in(list(exclude)))
    with store.write() as conn:
        ids = leases.claim(
            conn,
            feed,
            owner,
            now,
            where=cond,
            order_by=[feed.c.next_poll_at],
            limit=limit,
            lease_s=lease_s,
        )
        if not ids:
            return []
        rows = conn.execute(
            sa.select(*_COLUMNS).where(feed.c.id.in_(ids)).order_by(feed.c.next_poll_at)
        )
        return [_state(r) for r in rows]


_RECORDED = (
    "next_poll_at",
    "last_polled_at",
    "last_status",
    "last_success_at",
    "error_count",
    "last_error",
    "etag",
    "last_modified",
    "body_hash",
    "url",
    "status",
    "last_new_entry_at",
    "entries_seen",
    "entries_dropped",
)
_RECORD = (
    feed.update()
    .where(feed.c.id == sa.bindparam("feed_id"))
    .values(
        {name: sa.bindparam(f"v_{name}") for name in _RECORDED}
        | {"lease_owner": None, "lease_until": None}
    )
)


def record(store: Store, state: FeedState, outcome: PollOutcome, now: datetime) -> None:
    """Store one poll's outcome and release the lease."""
    record_many(store, [(state, outcome)], now)


def record_many(
    store: Store, polls: Sequence[tuple[FeedState, PollOutcome]], now: datetime
) -> None:
    """Store many polls' outcomes in one statement (a cycle of 304s is mostly this)."""
    if polls:
        with store.write() as conn:
            conn.execute(_RECORD, [_values(state, outcome, now) for state, outcome in polls])


def _values(state: FeedState, outcome: PollOutcome, now: datetime) -> dict[str, object]:
    changed = outcome.changed
    now = outcome.polled_at or now
    return {
        "feed_id": state.id,
        "v_next_poll_at": outcome.next_poll_at,
        "v_last_polled_at": now,
        "v_last_status": outcome.status,
        "v_last_success_at": now if outcome.ok else state.last_success_at,
        "v_error_count": 0 if outcome.ok else state.error_count + 1,
        "v_last_error": None if outcome.ok else (outcome.error or "")[:500],
        "v_etag": outcome.etag if changed else state.etag,
        "v_last_modified": outcome.last_modified if changed else state.last_modified,
        "v_body_hash": outcome.body_hash if changed else state.body_hash,
        "v_url": outcome.moved_to or state.url,
        "v_status": FeedStatus.RETIRED if outcome.gone else state.status,
        "v_last_new_entry_at": now if outcome.new_entries else state.last_new_entry_at,
        "v_entries_seen": state.entries_seen + outcome.new_entries,
        "v_entries_dropped": outcome.dropped if changed else state.entries_dropped,
    }


def release(store: Store, owner: str) -> None:
    """Give back every feed lease `owner` holds (on a clean shutdown)."""
    with store.write() as conn:
        leases.release(conn, feed, owner)


def all_feeds(store: Store) -> list[FeedState]:
    with store.read() as conn:
        return [_state(r) for r in conn.execute(sa.select(*_COLUMNS).order_by(feed.c.name))]


def reset(store: Store, name: str, now: datetime) -> bool:
    """Clear a feed's errors and retirement so it is polled again now."""
    with store.write() as conn:
        result = conn.execute(
            feed.update()
            .where(feed.c.name == name, feed.c.status != FeedStatus.REMOVED)
            .values(
                status=FeedStatus.ACTIVE,
                error_count=0,
                last_error=None,
                next_poll_at=now,
                etag=None,
                last_modified=None,
                body_hash=None,
                entries_dropped=0,
            )
        )
        return bool(result.rowcount)
