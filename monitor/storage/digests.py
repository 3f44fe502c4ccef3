"""storage.digests: messages of several alerts (digests) and operator notices, in the outbox.

Life of a digest: `open` (gathering held alerts; at most one per channel, a unique index) →
`pending` when it is due and a worker closes it for sending (its members are frozen from then
on, so every retry carries the same alerts under the same idempotency key) → `sent`, together
with every member alert in one transaction once the far end confirmed, or `dead` with them
after the last try. A notice is a digest without members, created `pending`.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from monitor.model import AlertStatus, DigestKind, DigestReason, DigestState
from monitor.storage import Store, insert_new, leases
from monitor.storage.alerts import COLUMNS as ALERT_COLUMNS
from monitor.storage.alerts import AlertRow, alert_row, attempts, failed_try, sent, settle
from monitor.storage.tables import alert, digest


@dataclass(frozen=True, slots=True)
class DigestRow:
    id: int
    channel: str
    kind: DigestKind
    reason: DigestReason
    status: DigestState
    idempotency_key: str
    due_at: datetime
    attempts: int
    next_attempt_at: datetime
    last_error: str | None
    title: str
    body: str
    created_at: datetime
    closed_at: datetime | None
    sent_at: datetime | None


_COLUMNS = [digest.c[name] for name in DigestRow.__slots__]


def _digest(r: sa.Row[tuple[object, ...]]) -> DigestRow:
    values = dict(r._mapping)
    values["kind"] = DigestKind(values["kind"])
    values["reason"] = DigestReason(values["reason"])
    values["status"] = DigestState(values["status"])
    return DigestRow(**values)


def hold(
    store: Store,
    owner: str | None,
    channel: str,
    alert_ids: Sequence[int],
    *,
    due: datetime,
    reason: DigestReason,
    now: datetime,
) -> int:
    """Put pending alerts into the channel's open digest (opened if there is none), which is then
    due no later than `due`. Returns the digest's id.

    The delivery loop holds the alerts it leased (`owner`); any other pending alert row can be
    held too with `owner=None` (e.g. a story's follow-up meant for the next digest)."""
    with store.write() as conn:
        return _hold(conn, owner, channel, alert_ids, due=due, reason=reason, now=now)


def gather_updates(store: Store, channel: str, *, due: datetime, now: datetime) -> int:
    """Story follow-ups waiting for the channel's next digest (status `digest`, queued by a
    watchlist with `updates: digest`) join its open digest, in one transaction. Returns how many
    joined."""
    with store.write() as conn:
        ids = list(
            conn.scalars(
                sa.select(alert.c.id).where(
                    alert.c.channel == channel, alert.c.status == AlertStatus.DIGEST
                )
            )
        )
        if ids:
            conn.execute(
                alert.update().where(alert.c.id.in_(ids)).values(status=AlertStatus.PENDING)
            )
            _hold(conn, None, channel, ids, due=due, reason=DigestReason.STORY_UPDATES, now=now)
        return len(ids)


def _hold(
    conn: sa.Connection,
    owner: str | None,
    channel: str,
    alert_ids: Sequence[int],
    *,
    due: datetime,
    reason: DigestReason,
    now: datetime,
) -> int:
    found = _open(conn, channel)
    if found is None:
        insert_new(
            conn,
            digest,
            [
                {
                    "channel": channel,
                    "kind": DigestKind.DIGEST,
                    "reason": reason,
                    "status": DigestState.OPEN,
                    "idempotency_key": uuid.uuid4().hex,
                    "due_at": due,
                    "attempts": 0,
                    "next_attempt_at": due,
                    "title": "",
                    "body": "",
                    "created_at": now,
                }
            ],
        )
        found = _open(conn, channel)
        assert found is not None, "an open digest exists after inserting one"
    digest_id, due_at = found
    if due < due_at:
        conn.execute(
            digest.update().where(digest.c.id == digest_id).values(due_at=due, next_attempt_at=due)
        )
    mine = alert.c.lease_owner.is_(None) if owner is None else alert.c.lease_owner == owner
    conn.execute(
        alert.update()
        .where(
            alert.c.id.in_(list(alert_ids)),
            alert.c.status == AlertStatus.PENDING,
            alert.c.digest_id.is_(None),
            mine,
        )
        .values(digest_id=digest_id, lease_owner=None, lease_until=None)
    )
    return digest_id


def _open(conn: sa.Connection, channel: str) -> tuple[int, datetime] | None:
    row = conn.execute(
        sa.select(digest.c.id, digest.c.due_at)
        .where(digest.c.channel == channel, digest.c.status == DigestState.OPEN)
        .with_for_update()
    ).first()
    return (int(row.id), row.due_at) if row is not None else None


def due(store: Store, channel: str, now: datetime) -> list[DigestRow]:
    """Digests of `channel` that could be sent now (for the rate limit to count first)."""
    with store.read() as conn:
        return [_digest(r) for r in conn.execute(_due_query(channel, now))]


def _due_query(channel: str, now: datetime) -> sa.Select[tuple[object, ...]]:
    return (
        sa.select(*_COLUMNS)
        .where(_due(channel, now), leases.free(digest, now))
        .order_by(digest.c.id)
    )


def _due(channel: str, now: datetime) -> sa.ColumnElement[bool]:
    return sa.and_(
        digest.c.channel == channel,
        sa.or_(
            sa.and_(digest.c.status == DigestState.OPEN, digest.c.due_at <= now),
            sa.and_(digest.c.status == DigestState.PENDING, digest.c.next_attempt_at <= now),
        ),
    )


def postpone(store: Store, ids: Sequence[int], until: datetime) -> None:
    """Push due digests back (no rate-limit token now, or their channel just paused), leases
    released; open ones keep gathering alerts, closed ones keep their members."""
    if ids:
        with store.write() as conn:
            conn.execute(
                digest.update()
                .where(
                    digest.c.id.in_(list(ids)),
                    digest.c.status.in_([DigestState.OPEN, DigestState.PENDING]),
                )
                .values(due_at=until, next_attempt_at=until, lease_owner=None, lease_until=None)
            )


def claim(
    store: Store, owner: str, now: datetime, *, channel: str, limit: int = 10, lease_s: float = 300
) -> list[DigestRow]:
    """Lease due digests; an open one is closed here, which freezes its members."""
    with store.write() as conn:
        ids = leases.claim(
            conn,
            digest,
            owner,
            now,
            where=[_due(channel, now)],
            order_by=[digest.c.id],
            limit=limit,
            lease_s=lease_s,
        )
        if not ids:
            return []
        conn.execute(
            digest.update()
            .where(digest.c.id.in_(ids), digest.c.status == DigestState.OPEN)
            .values(status=DigestState.PENDING, closed_at=now)
        )
        rows = conn.execute(sa.select(*_COLUMNS).where(digest.c.id.in_(ids)).order_by(digest.c.id))
        return [_digest(r) for r in rows]


def members(store: Store, digest_id: int) -> list[AlertRow]:
    with store.read() as conn:
        rows = conn.execute(
            sa.select(*ALERT_COLUMNS)
            .where(alert.c.digest_id == digest_id, alert.c.status == AlertStatus.PENDING)
            .order_by(alert.c.id)
        )
        return [alert_row(r) for r in rows]


def mark_sent(
    store: Store, row: DigestRow, now: datetime, *, detail: str, duration_ms: int
) -> list[int]:
    """The far end confirmed: the digest and all its pending members are sent, atomically.
    Returns the ids of the alerts marked."""
    with store.write() as conn:
        if not settle(conn, digest, [row.id], sent(digest, now)):
            return []
        ids = list(
            conn.scalars(
                sa.select(alert.c.id).where(
                    alert.c.digest_id == row.id, alert.c.status == AlertStatus.PENDING
                )
            )
        )
        if ids:
            conn.execute(alert.update().where(alert.c.id.in_(ids)).values(**sent(alert, now)))
            note = f"digest {row.id}: {detail}"
            attempts(conn, [(i, True, note, duration_ms) for i in ids], now)
        return ids


def mark_failed(
    store: Store,
    row: DigestRow,
    owner: str,
    now: datetime,
    *,
    error: str,
    retry_at: datetime | None,
    duration_ms: int,
) -> None:
    """A failed try: the digest is retried at `retry_at` with the same members, or it and its
    members become dead letters (`monitor alerts retry` takes the alerts out again)."""
    values = failed_try(digest, error, retry_at)
    with store.write() as conn:
        if not settle(conn, digest, [row.id], values, owner=owner):
            return
        member = sa.and_(alert.c.digest_id == row.id, alert.c.status == AlertStatus.PENDING)
        ids = list(conn.scalars(sa.select(alert.c.id).where(member)))
        update: dict[str, object] = {"attempts": alert.c.attempts + 1, "last_error": error[:1000]}
        if retry_at is None:
            update["status"] = AlertStatus.DEAD
        conn.execute(alert.update().where(member).values(**update))
        attempts(conn, [(i, False, f"digest {row.id}: {error}", duration_ms) for i in ids], now)


def notice(store: Store, channel: str, title: str, text: str, severity: str, now: datetime) -> int:
    """Queue an operator notice on `channel`, due now, retried like any message."""
    with store.write() as conn:
        return int(
            conn.execute(
                digest.insert()
                .values(
                    channel=channel,
                    kind=DigestKind.NOTICE,
                    reason=DigestReason.NOTICE,
                    status=DigestState.PENDING,
                    idempotency_key=uuid.uuid4().hex,
                    due_at=now,
                    attempts=0,
                    next_attempt_at=now,
                    title=title[:500],
                    body=json.dumps({"text": text, "severity": severity}),
                    created_at=now,
                )
                .returning(digest.c.id)
            ).scalar_one()
        )


def listing(store: Store, *, limit: int = 20) -> list[DigestRow]:
    with store.read() as conn:
        rows = conn.execute(sa.select(*_COLUMNS).order_by(digest.c.id.desc()).limit(limit))
        return [_digest(r) for r in rows]


def sizes(store: Store, ids: Sequence[int]) -> dict[int, int]:
    """How many alerts each digest holds."""
    if not ids:
        return {}
    with store.read() as conn:
        rows = conn.execute(
            sa.select(alert.c.digest_id, sa.func.count())
            .where(alert.c.digest_id.in_(list(ids)))
            .group_by(alert.c.digest_id)
        )
        return {int(i): int(n) for i, n in rows}
