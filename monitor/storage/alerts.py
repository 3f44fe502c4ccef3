"""storage.alerts: the outbox. Alerts are claimed with a lease, marked sent only after the channel
confirmed, retried later when it did not, and parked as dead letters after the last try. Alerts
held for a digest point at it and leave the outbox with it (`storage.digests`)."""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from monitor.model import (
    AlertKind,
    AlertMessage,
    AlertStatus,
    DigestState,
    Hit,
    RuleMatch,
    Severity,
)
from monitor.storage import Store, leases
from monitor.storage.tables import alert, article, delivery_attempt, digest, rule_match, story

MAX_SOURCES = 50
_SPACES = re.compile(r"\s+")


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
    status: AlertStatus
    attempts: int
    next_attempt_at: datetime
    last_error: str | None
    created_at: datetime
    sent_at: datetime | None
    digest_id: int | None
    kind: AlertKind
    irrelevant_at: datetime | None = None  # someone marked it not relevant

    @property
    def level(self) -> Severity:
        return Severity(self.severity)


COLUMNS = [alert.c[name] for name in AlertRow.__slots__]


def alert_row(r: sa.Row[tuple[object, ...]]) -> AlertRow:
    values = dict(r._mapping)
    values["status"] = AlertStatus(values["status"])
    values["kind"] = AlertKind(values["kind"])
    return AlertRow(**values)


def claim(
    store: Store,
    owner: str,
    now: datetime,
    *,
    channels: Collection[str],
    limit: int = 100,
    lease_s: float = 120.0,
) -> list[AlertRow]:
    """Lease pending alerts that are due and not held for a digest, oldest first, for the
    channels this worker has."""
    if not channels:
        return []
    with store.write() as conn:
        ids = leases.claim(
            conn,
            alert,
            owner,
            now,
            where=[
                alert.c.status == AlertStatus.PENDING,
                alert.c.next_attempt_at <= now,
                alert.c.channel.in_(list(channels)),
                alert.c.digest_id.is_(None),
            ],
            order_by=[alert.c.next_attempt_at, alert.c.id],
            limit=limit,
            lease_s=lease_s,
        )
        if not ids:
            return []
        rows = conn.execute(sa.select(*COLUMNS).where(alert.c.id.in_(ids)).order_by(alert.c.id))
        return [alert_row(r) for r in rows]


def message(store: Store, row: AlertRow) -> AlertMessage:
    """Render an alert from the store as it is now (the story's sources as known at send time)."""
    return messages(store, [row])[0]


def messages(store: Store, rows: Sequence[AlertRow]) -> list[AlertMessage]:
    """Render several alerts with a few queries in all (not a few per alert)."""
    if not rows:
        return []
    article_ids = list({r.article_id for r in rows})
    story_ids = list({r.story_id for r in rows})
    with store.read() as conn:
        arts = {
            a.id: a
            for a in conn.execute(
                sa.select(
                    article.c.id,
                    article.c.title,
                    article.c.url,
                    article.c.source,
                    article.c.published_at,
                    article.c.summary,
                    article.c.text,
                ).where(article.c.id.in_(article_ids))
            )
        }
        sources: dict[int, list[tuple[str, str]]] = {}
        for s in conn.execute(
            sa.select(article.c.story_id, article.c.source, article.c.url)
            .where(article.c.story_id.in_(story_ids))
            .order_by(article.c.fetched_at, article.c.id)
        ):
            found = sources.setdefault(s.story_id, [])
            if len(found) < MAX_SOURCES:
                found.append((s.source, s.url))
        titles: dict[int, str] = dict(
            conn.execute(
                sa.select(story.c.id, story.c.title).where(story.c.id.in_(story_ids))
            ).all()
        )
        stored: dict[tuple[int, str], list[Any]] = {}
        for m in conn.execute(
            sa.select(
                rule_match.c.article_id,
                rule_match.c.watchlist,
                rule_match.c.rule,
                rule_match.c.severity,
                rule_match.c.snippet,
                rule_match.c.hits,
            )
            .where(rule_match.c.article_id.in_(article_ids))
            .order_by(rule_match.c.id)
        ):
            stored.setdefault((m.article_id, m.watchlist), []).append(m)
    out = []
    for row in rows:
        art = arts[row.article_id]
        fields = {"title": art.title, "summary": art.summary, "text": art.text}
        matched = stored_matches(stored.get((row.article_id, row.watchlist), []), fields)
        out.append(
            AlertMessage(
                alert_id=row.id,
                idempotency_key=row.idempotency_key,
                watchlist=row.watchlist,
                severity=Severity(row.severity),
                title=art.title or titles.get(row.story_id) or "",
                url=art.url,
                source=art.source,
                published=art.published_at,
                rules=tuple(r for r in row.rules.split(",") if r),
                snippet=row.snippet,
                story_id=row.story_id,
                sources=tuple(sources.get(row.story_id, ())),
                created_at=row.created_at,
                highlights=_highlights(row.snippet, matched),
                kind=row.kind,
                matches=matched,
            )
        )
    return out


def stored_matches(rows: Sequence[Any], fields: dict[str, str]) -> tuple[RuleMatch, ...]:
    """Stored rule matches (rows of `rule_match`), each hit with the characters it covers as
    written in `fields`, most severe first."""
    out = []
    for m in rows:
        try:
            decoded = json.loads(str(m.hits))
        except ValueError:
            decoded = []
        hits = []
        for h in decoded:
            field, start, end = (
                str(h.get("field", "")),
                int(h.get("start", 0)),
                int(h.get("end", 0)),
            )
            text = (fields.get(field) or "")[start:end]
            hits.append(Hit(str(h.get("term", "")), field, start, end, text))
        severity = Severity(str(m.severity))
        out.append(RuleMatch(str(m.watchlist), str(m.rule), severity, tuple(hits), str(m.snippet)))
    return tuple(sorted(out, key=lambda r: -r.severity.rank))


def _highlights(snippet: str, matches: Sequence[RuleMatch]) -> tuple[str, ...]:
    """The hit words as written in the article, those that appear in the snippet."""
    words = {_SPACES.sub(" ", h.text).strip() for m in matches for h in m.hits}
    return tuple(sorted(w for w in words if w and w in snippet))


def mark_sent(store: Store, row: AlertRow, now: datetime, *, detail: str, duration_ms: int) -> None:
    mark_sent_many(store, [(row, detail, duration_ms)], now)


def mark_sent_many(store: Store, done: Sequence[tuple[AlertRow, str, int]], now: datetime) -> None:
    """Record confirmed sends in one transaction (a confirmed send is final, whoever holds the
    lease: it must never be undone)."""
    if not done:
        return
    with store.write() as conn:
        settle(conn, alert, [row.id for row, _, _ in done], sent(alert, now))
        attempts(conn, [(row.id, True, detail, ms) for row, detail, ms in done], now)


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
    with store.write() as conn:
        settle(conn, alert, [row.id], failed_try(alert, error, retry_at), owner=owner)
        attempts(conn, [(row.id, False, error, duration_ms)], now)


def settle(
    conn: sa.Connection,
    table: sa.Table,
    ids: Sequence[int],
    values: dict[str, object],
    *,
    owner: str | None = None,
) -> int:
    """Apply a try's outcome (`sent` or `failed_try`) to pending outbox rows, alerts or
    digests (both vocabularies share "pending", "sent" and "dead"); how many changed. With
    `owner`, only while it still holds the lease: a late failure report from a worker whose
    lease ran out must not undo another worker's successful send."""
    cond = [table.c.id.in_(list(ids)), table.c.status == AlertStatus.PENDING]
    if owner is not None:
        cond.append(table.c.lease_owner == owner)
    return int(conn.execute(table.update().where(*cond).values(**values)).rowcount)


def sent(table: sa.Table, now: datetime) -> dict[str, object]:
    """The columns a confirmed send sets on an outbox row (an alert or a digest)."""
    return {
        "status": AlertStatus.SENT,
        "sent_at": now,
        "attempts": table.c.attempts + 1,
        "last_error": None,
        "lease_owner": None,
        "lease_until": None,
    }


def failed_try(table: sa.Table, error: str, retry_at: datetime | None) -> dict[str, object]:
    """The columns a failed try sets on an outbox row (an alert or a digest): one more attempt,
    the error, the lease given back, and the next try, or `dead` when there is none."""
    values: dict[str, object] = {
        "attempts": table.c.attempts + 1,
        "last_error": error[:1000],
        "lease_owner": None,
        "lease_until": None,
    }
    if retry_at is None:
        values["status"] = AlertStatus.DEAD
    else:
        values["next_attempt_at"] = retry_at
    return values


def release(store: Store, rows: Sequence[AlertRow], owner: str) -> None:
    """Give back leased alerts that were not tried (their channel paused): no attempt counted."""
    if rows:
        with store.write() as conn:
            leases.release(conn, alert, owner, [r.id for r in rows])


def attempts(
    conn: sa.Connection, rows: Sequence[tuple[int, bool, str, int]], now: datetime
) -> None:
    """Delivery attempts, one per alert tried: (alert id, ok, what the far end said, ms)."""
    if rows:
        conn.execute(
            delivery_attempt.insert(),
            [
                {"alert_id": i, "at": now, "ok": ok, "detail": detail[:1000], "duration_ms": ms}
                for i, ok, detail, ms in rows
            ],
        )


def listing(store: Store, *, status: AlertStatus | None = None, limit: int = 50) -> list[AlertRow]:
    query = sa.select(*COLUMNS).order_by(alert.c.id.desc()).limit(limit)
    if status:
        query = query.where(alert.c.status == status)
    with store.read() as conn:
        return [alert_row(r) for r in conn.execute(query)]


def counts(store: Store) -> dict[str, int]:
    with store.read() as conn:
        rows = conn.execute(sa.select(alert.c.status, sa.func.count()).group_by(alert.c.status))
        return {status: int(n) for status, n in rows}


def requeue(store: Store, now: datetime, *, ids: Sequence[int] = (), dead: bool = False) -> int:
    """Put dead (or failing) alerts back in the queue, due now, with a fresh set of attempts.

    An alert in a digest that is being sent stays there: the digest's retries must carry the
    same alerts under the same key. One waiting in an open digest is taken out and sent alone.
    """
    movable = sa.or_(
        alert.c.status == AlertStatus.DEAD,
        alert.c.digest_id.is_(None),
        alert.c.digest_id.in_(sa.select(digest.c.id).where(digest.c.status == DigestState.OPEN)),
    )
    cond = [alert.c.status != AlertStatus.SENT, movable]
    if ids:
        cond.append(alert.c.id.in_(list(ids)))
    elif dead:
        cond.append(alert.c.status == AlertStatus.DEAD)
    else:
        return 0
    with store.write() as conn:
        result = conn.execute(
            alert.update()
            .where(*cond)
            .values(
                status=AlertStatus.PENDING,
                attempts=0,
                next_attempt_at=now,
                digest_id=None,
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
