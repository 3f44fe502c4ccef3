"""storage.views: what the web view's pages read. A page of recent stories with their reports
and alerts, one story whole (reports, rule matches with their hits, alerts with every delivery
attempt), and the outbox. Each page is a handful of indexed queries whatever the store holds.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from monitor.model import RuleMatch
from monitor.storage import Store
from monitor.storage.alerts import stored_matches
from monitor.storage.tables import alert, article, delivery_attempt, rule_match, story

REPORTS_SHOWN = 5  # reports listed per story on the list page
REPORTS_MAX = 500  # reports on a story's page at most


@dataclass(frozen=True, slots=True)
class Report:
    id: int
    source: str
    title: str
    url: str
    reason: str  # how it joined: new | same-text | near-duplicate | rewrite | split
    score: float | None
    fetched_at: datetime
    published_at: datetime | None = None
    same_as: int | None = None
    extraction: str = "feed"
    pruned: bool = False


@dataclass(frozen=True, slots=True)
class AlertLine:
    id: int
    article_id: int
    watchlist: str
    channel: str
    kind: str
    severity: str
    rules: tuple[str, ...]
    status: str
    attempts: int
    created_at: datetime
    sent_at: datetime | None
    last_error: str | None
    irrelevant: bool


@dataclass(frozen=True, slots=True)
class Attempt:
    at: datetime
    ok: bool
    detail: str
    duration_ms: int


@dataclass
class StoryCard:
    """A story on the list page."""

    id: int
    title: str
    first_seen_at: datetime
    last_seen_at: datetime
    article_count: int
    muted: bool
    reports: list[Report] = field(default_factory=list)
    alerts: Counter[str] = field(default_factory=Counter)  # by status
    watchlists: set[str] = field(default_factory=set)
    irrelevant: int = 0


@dataclass
class StoryPage:
    """One story whole."""

    id: int
    title: str
    first_seen_at: datetime
    last_seen_at: datetime
    article_count: int
    muted_at: datetime | None
    reports: list[Report]
    matches: dict[int, tuple[RuleMatch, ...]]  # by article id, most severe first
    alerts: list[AlertLine]
    attempts: dict[int, list[Attempt]]  # by alert id
    continues: tuple[int, str] | None = None  # the earlier story it continues: (id, title)
    continued_by: list[tuple[int, str]] = field(default_factory=list)  # later ones, oldest first


def _report(r: Any) -> Report:
    return Report(
        r.id,
        r.source,
        r.title,
        r.url,
        r.story_reason,
        r.story_score,
        r.fetched_at,
        r.published_at,
        r.same_as_id,
        r.extraction,
        r.pruned_at is not None,
    )


_REPORT_COLUMNS = (
    article.c.id,
    article.c.story_id,
    article.c.source,
    article.c.title,
    article.c.url,
    article.c.story_reason,
    article.c.story_score,
    article.c.fetched_at,
    article.c.published_at,
    article.c.same_as_id,
    article.c.extraction,
    article.c.pruned_at,
)


def stories(
    store: Store, *, offset: int = 0, limit: int = 50, alerted: bool = False
) -> tuple[list[StoryCard], int]:
    """A page of stories, most recently active first, and how many there are in all."""
    cond: list[sa.ColumnElement[bool]] = []
    counting = sa.select(sa.func.count()).select_from(story)
    if alerted:
        # Walk the stories newest first, probing the alert table's (story, …) index for each:
        # a page stops after `limit` alerted ones.
        cond.append(sa.exists().where(alert.c.story_id == story.c.id))
        counting = sa.select(sa.func.count(sa.distinct(alert.c.story_id)))
    with store.read() as conn:
        total = int(conn.scalar(counting) or 0)
        heads = conn.execute(
            sa.select(
                story.c.id,
                story.c.title,
                story.c.first_seen_at,
                story.c.last_seen_at,
                story.c.article_count,
                story.c.muted_at,
            )
            .where(*cond)
            .order_by(story.c.last_seen_at.desc(), story.c.id.desc())
            .offset(offset)
            .limit(limit)
        ).all()
        cards = {
            h.id: StoryCard(
                h.id,
                h.title,
                h.first_seen_at,
                h.last_seen_at,
                h.article_count,
                h.muted_at is not None,
            )
            for h in heads
        }
        ids = list(cards)
        if ids:
            # The first few reports of each story: its lowest article ids, read off the
            # story_id index (a story of 500 reports costs no more than one of 5).
            ranked = (
                sa.select(
                    *_REPORT_COLUMNS,
                    sa.func.row_number()
                    .over(partition_by=article.c.story_id, order_by=article.c.id)
                    .label("n"),
                )
                .where(article.c.story_id.in_(ids))
                .subquery()
            )
            for r in conn.execute(sa.select(ranked).where(ranked.c.n <= REPORTS_SHOWN)):
                cards[r.story_id].reports.append(_report(r))
            for r in conn.execute(
                sa.select(
                    alert.c.story_id,
                    alert.c.status,
                    alert.c.watchlist,
                    alert.c.irrelevant_at,
                ).where(alert.c.story_id.in_(ids))
            ):
                card = cards[r.story_id]
                card.alerts[r.status] += 1
                card.watchlists.add(r.watchlist)
                card.irrelevant += r.irrelevant_at is not None
    return [cards[h.id] for h in heads], total


def story_page(store: Store, story_id: int) -> StoryPage | None:
    with store.read() as conn:
        head = conn.execute(sa.select(story).where(story.c.id == story_id)).first()
        if head is None:
            return None
        rows = conn.execute(
            sa.select(*_REPORT_COLUMNS, article.c.summary, article.c.text)
            .where(article.c.story_id == story_id)
            .order_by(article.c.id)
            .limit(REPORTS_MAX)
        ).all()
        reports = [_report(r) for r in rows]
        earlier = conn.execute(
            sa.select(story.c.id, story.c.title).where(story.c.id == head.continues_id)
        ).first()
        later = conn.execute(
            sa.select(story.c.id, story.c.title)
            .where(story.c.continues_id == story_id)
            .order_by(story.c.id)
        ).all()
        fields = {r.id: {"title": r.title, "summary": r.summary, "text": r.text} for r in rows}
        stored: dict[int, list[Any]] = {}
        if fields:
            for m in conn.execute(
                sa.select(rule_match)
                .where(rule_match.c.article_id.in_(list(fields)))
                .order_by(rule_match.c.article_id, rule_match.c.id)
            ):
                stored.setdefault(m.article_id, []).append(m)
        matches = {i: stored_matches(found, fields[i]) for i, found in stored.items()}
        alerts = [
            AlertLine(
                a.id,
                a.article_id,
                a.watchlist,
                a.channel,
                a.kind,
                a.severity,
                tuple(x for x in a.rules.split(",") if x),
                a.status,
                a.attempts,
                a.created_at,
                a.sent_at,
                a.last_error,
                a.irrelevant_at is not None,
            )
            for a in conn.execute(
                sa.select(alert).where(alert.c.story_id == story_id).order_by(alert.c.id)
            )
        ]
        attempts: dict[int, list[Attempt]] = {}
        if alerts:
            for t in conn.execute(
                sa.select(delivery_attempt)
                .where(delivery_attempt.c.alert_id.in_([a.id for a in alerts]))
                .order_by(delivery_attempt.c.at, delivery_attempt.c.id)
            ):
                attempts.setdefault(t.alert_id, []).append(
                    Attempt(t.at, bool(t.ok), t.detail, t.duration_ms)
                )
    # The story's own row is read whole (`select(story)`): a column the story gains shows by
    # adding a field here and a line in story.html.
    return StoryPage(
        id=head.id,
        title=head.title,
        first_seen_at=head.first_seen_at,
        last_seen_at=head.last_seen_at,
        article_count=head.article_count,
        muted_at=head.muted_at,
        reports=reports,
        matches=matches,
        alerts=alerts,
        attempts=attempts,
        continues=(int(earlier.id), str(earlier.title)) if earlier is not None else None,
        continued_by=[(int(i), str(t)) for i, t in later],
    )


@dataclass(frozen=True, slots=True)
class OutboxLine:
    id: int
    story_id: int
    title: str
    watchlist: str
    channel: str
    kind: str
    severity: str
    status: str
    attempts: int
    created_at: datetime
    next_attempt_at: datetime
    last_error: str | None


def outbox(
    store: Store, *, status: str | None = None, limit: int = 100
) -> tuple[list[OutboxLine], dict[str, int]]:
    """The newest alerts (of one status, if given), with their titles; and counts by status."""
    query = (
        sa.select(
            alert.c.id,
            alert.c.story_id,
            article.c.title,
            alert.c.watchlist,
            alert.c.channel,
            alert.c.kind,
            alert.c.severity,
            alert.c.status,
            alert.c.attempts,
            alert.c.created_at,
            alert.c.next_attempt_at,
            alert.c.last_error,
        )
        .join(article, article.c.id == alert.c.article_id)
        .order_by(alert.c.id.desc())
        .limit(limit)
    )
    if status:
        query = query.where(alert.c.status == status)
    with store.read() as conn:
        lines = [OutboxLine(**r._mapping) for r in conn.execute(query)]
        counts = {
            str(s): int(n)
            for s, n in conn.execute(
                sa.select(alert.c.status, sa.func.count()).group_by(alert.c.status)
            )
        }
    return lines, counts
