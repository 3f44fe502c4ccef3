"""storage.alerts: the outbox. Alerts are claimed with a lease, marked sent only after the channel
confirmed, retried later when it did not, and parked as dead letters after the last try."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa

from monitor.model import AlertMessage, Severity
from monitor.storage import Store
from monitor.storage.tables import alert, article, delivery_attempt, story


@dataclass(frozen=True, slots=True)
class AlertRow:
    id: int
    story_id: int
    article_id: int
    watchlist: str
    channel: str
    severity: str
    rules: str
    snippet: str
    idempotency_key: str
    status: str
    attempts: int
    next_attempt_at: datetime
    last_error: str | None
    created_at: datetime
    sent_at: datetime | None


_COLUMNS = [alert.c[name] for name in AlertRow.__slots__]


def _row(r: sa.Row[tuple[object, ...]]) -> AlertRow:
    return AlertRow(**r._mapping)


def claim(
    store: Store,
    owner: str,
    now: datetime,
    *,
    channels: Collection[str],
    limit: int = 100,
    lease_s: float = 120.0,
) -> list[AlertRow]:
    """Lease pending alerts that are due, oldest first, for the channels this worker has."""
    if not channels:
        return []
    with store.write() as conn:
        ids = list(
            conn.scalars(
                sa.select(alert.c.id)
                .where(
                    alert.c.status == "pending",
                    alert.c.next_attempt_at <= now,
                    alert.c.channel.in_(list(channels)),
                    sa.or_(alert.c.lease_until.is_(None), alert.c.lease_until < now),
                )
                .order_by(alert.c.next_attempt_at, alert.c.id)
                .limit(limit)
                .with_for_update(skip_locked=True)
            )
        )
        if not ids:
            return []
        conn.execute(
            alert.update()
            .where(alert.c.id.in_(ids))
            .values(lease_owner=owner, lease_until=now + timedelta(seconds=lease_s))
        )
        rows = conn.execute(sa.select(*_COLUMNS).where(alert.c.id.in_(ids)).order_by(alert.c.id))
        return [_row(r) for r in rows]


def message(store: Store, row: AlertRow) -> AlertMessage:
    """Render an alert from the store as it is now (the story's sources as known at send time)."""
    with store.read() as conn:
        art = conn.execute(sa.select(article).where(article.c.id == row.article_id)).one()._mapping
        sources = conn.execute(
            sa.select(article.c.source, article.c.url)
            .where(article.c.story_id == row.story_id)
            .order_by(article.c.fetched_at, article.c.id)
            .limit(50)
        ).all()
        title = conn.scalar(sa.select(story.c.title).where(story.c.id == row.story_id))
    return AlertMessage(
        alert_id=row.id,
        idempotency_key=row.idempotency_key,
        watchlist=row.watchlist,
        severity=Severity(row.severity),
        title=art["title"] or title or "",
        url=art["url"],
        source=art["source"],
        published=art["published_at"],
        rules=tuple(r for r in row.rules.split(",") if r),
        snippet=row.snippet,
        story_id=row.story_id,
        sources=tuple((s.source, s.url) for s in sources),
        created_at=row.created_at,
    )


def mark_sent(store: Store, row: AlertRow, now: datetime, *, detail: str, duration_ms: int) -> None:
    with store.write() as conn:
        conn.execute(
            alert.update()
            .where(alert.c.id == row.id, alert.c.status == "pending")
            .values(
                status="sent",
                sent_at=now,
                attempts=alert.c.attempts + 1,
                last_error=None,
                lease_owner=None,
                lease_until=None,
            )
        )
        _attempt(conn, row.id, now, True, detail, duration_ms)


def mark_failed(
    store: Store,
    row: AlertRow,
    owner: str,
    now: datetime,
    *,
    error: str,
    retry_at: datetime | None,
    duration_ms: int,
) -> None:
    """Record a failed try: pending again at `retry_at`, or a dead letter when it is None."""
    values: dict[str, object] = {
        "attempts": alert.c.attempts + 1,
        "last_error": error[:1000],
        "lease_owner": None,
        "lease_until": None,
    }
    if retry_at is None:
        values["status"] = "dead"
    else:
        values["next_attempt_at"] = retry_at
    with store.write() as conn:
        # Only the lease holder may put an alert back: a late failure report from a worker whose
        # lease expired must not undo another worker's successful send.
        conn.execute(
            alert.update()
            .where(alert.c.id == row.id, alert.c.status == "pending", alert.c.lease_owner == owner)
            .values(**values)
        )
        _attempt(conn, row.id, now, False, error, duration_ms)


def _attempt(
    conn: sa.Connection, alert_id: int, now: datetime, ok: bool, detail: str, ms: int
) -> None:
    conn.execute(
        delivery_attempt.insert().values(
            alert_id=alert_id, at=now, ok=ok, detail=detail[:1000], duration_ms=ms
        )
    )


def listing(store: Store, *, status: str | None = None, limit: int = 50) -> list[AlertRow]:
    query = sa.select(*_COLUMNS).order_by(alert.c.id.desc()).limit(limit)
    if status:
        query = query.where(alert.c.status == status)
    with store.read() as conn:
        return [_row(r) for r in conn.execute(query)]


def counts(store: Store) -> dict[str, int]:
    with store.read() as conn:
        rows = conn.execute(sa.select(alert.c.status, sa.func.count()).group_by(alert.c.status))
        return {status: int(n) for status, n in rows}


def requeue(store: Store, now: datetime, *, ids: Sequence[int] = (), dead: bool = False) -> int:
    """Put dead (or failing) alerts back in the queue, due now, with a fresh set of attempts."""
    cond = [alert.c.status != "sent"]
    if ids:
        cond.append(alert.c.id.in_(list(ids)))
    elif dead:
        cond.append(alert.c.status == "dead")
    else:
        return 0
    with store.write() as conn:
        result = conn.execute(
            alert.update()
            .where(*cond)
            .values(
                status="pending",
                attempts=0,
                next_attempt_at=now,
                lease_owner=None,
                lease_until=None,
            )
        )
        return int(result.rowcount)


def titles(store: Store, article_ids: Collection[int]) -> dict[int, str]:
    if not article_ids:
        return {}
    with store.read() as conn:
        rows = conn.execute(
            sa.select(article.c.id, article.c.title).where(article.c.id.in_(list(article_ids)))
        )
        return {int(i): str(t) for i, t in rows}
