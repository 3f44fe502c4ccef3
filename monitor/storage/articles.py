"""storage.articles: seen entries, stored articles, and recording what new entries led to.

`record_many()` writes a feed's new entries in one transaction: an entry, its article, its
story, its rule matches and its alerts (the outbox) are stored together or not at all, and an
entry that was not stored is simply polled again (when one fails, the transaction is rolled
back and written again with each entry in its own savepoint, so it fails alone). An edited
entry (same feed and guid, new content) updates its article and never alerts twice. The
statements are built once at import: on SQLite, building a statement costs more than running it.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import sqlalchemy as sa
import structlog
from sqlalchemy.dialects import postgresql, sqlite

from monitor.model import AlertSpec, Article, RuleMatch, Severity
from monitor.pipeline import stories as algo
from monitor.pipeline.fingerprint import Fingerprint, fingerprint
from monitor.storage import Prepared, Store, feedback, insert_new, stories
from monitor.storage.tables import alert, article, entry, rule_match

log = structlog.get_logger("monitor.storage")


@dataclass(frozen=True, slots=True)
class NewEntry:
    """A new (or edited) feed entry made into an article, with what it matched and the alerts
    it asks for. `fingerprint` is computed from the article when not given; `entry_hash` is the
    fingerprint of the entry as the feed wrote it (`FeedItems.fingerprints()`), which notices
    later edits."""

    guid: str
    item: Article
    fingerprint: Fingerprint | None = None
    matches: Sequence[RuleMatch] = ()
    alerts: Sequence[AlertSpec] = ()
    entry_hash: str | None = None
    edited: bool = False


@dataclass(frozen=True, slots=True)
class Recorded:
    entry_was_new: bool
    article_id: int | None = None
    story_id: int | None = None
    article_was_new: bool = False
    alert_ids: tuple[int, ...] = ()
    error: str | None = None  # set when the entry could not be stored (it is polled again)
    reason: str | None = None  # how the article joined its story (see storage.stories.Placement)
    edited: bool = False  # an edit of a stored entry updated its article


@dataclass(frozen=True, slots=True)
class Changes:
    """Which of a feed's entries need work: new ones, and stored ones whose content changed."""

    new: set[str]
    edited: set[str]


_SEEN = sa.select(entry.c.guid, entry.c.fingerprint).where(
    entry.c.feed_id == sa.bindparam("feed_id"),
    entry.c.guid.in_(sa.bindparam("guids", expanding=True)),
)
_BACKFILL = (
    entry.update()
    .where(entry.c.feed_id == sa.bindparam("f_id"), entry.c.guid == sa.bindparam("f_guid"))
    .values(fingerprint=sa.bindparam("f_hash"))
)
_BY_URLS = sa.select(article).where(
    article.c.canonical_url.in_(sa.bindparam("urls", expanding=True))
)
_BY_URL = sa.select(article.c.id, article.c.story_id).where(
    article.c.canonical_url == sa.bindparam("url")
)
_ENTRY = (
    sa.select(entry.c.article_id, article.c.story_id)
    .join(article, article.c.id == entry.c.article_id)
    .where(entry.c.feed_id == sa.bindparam("f_id"), entry.c.guid == sa.bindparam("f_guid"))
)
_QUEUED = sa.select(alert.c.watchlist, alert.c.channel, alert.c.severity).where(
    alert.c.story_id == sa.bindparam("story"), alert.c.kind.in_(["story", "escalation"])
)
_LINK_ENTRY = (
    entry.update()
    .where(entry.c.feed_id == sa.bindparam("f_id"), entry.c.guid == sa.bindparam("f_guid"))
    .values(article_id=sa.bindparam("a_id"))
)


def changes(store: Store, feed_id: int, hashes: Mapping[str, str]) -> Changes:
    """Which entries (guid → `entry_hash`) are new or edited: one indexed query before any
    expensive work. Entries stored before fingerprints existed get theirs now, unchanged."""
    if not hashes:
        return Changes(set(), set())
    with store.read() as conn:
        rows = conn.execute(_SEEN, {"feed_id": feed_id, "guids": list(hashes)})
        stored: dict[str, str | None] = {g: h for g, h in rows}
    edited = {g for g, h in stored.items() if h is not None and h != hashes[g]}
    missing = [g for g, h in stored.items() if h is None]
    if missing:
        with store.write() as conn:
            conn.execute(
                _BACKFILL, [{"f_id": feed_id, "f_guid": g, "f_hash": hashes[g]} for g in missing]
            )
    return Changes(set(hashes) - set(stored), edited)


def unseen(store: Store, feed_id: int, guids: Sequence[str]) -> set[str]:
    """The guids of this feed not stored yet."""
    if not guids:
        return set()
    with store.read() as conn:
        seen = {g for g, _ in conn.execute(_SEEN, {"feed_id": feed_id, "guids": list(guids)})}
    return set(guids) - seen


def find_many(store: Store, canonical_urls: Sequence[str]) -> dict[str, Article]:
    """Stored articles by canonical URL: links another feed brought already need no extraction."""
    if not canonical_urls:
        return {}
    with store.read() as conn:
        rows = conn.execute(_BY_URLS, {"urls": list(set(canonical_urls))})
        return {row.canonical_url: _article(row) for row in rows}


def find(store: Store, canonical_url: str) -> Article | None:
    return find_many(store, [canonical_url]).get(canonical_url)


def _article(row: sa.Row[tuple[object, ...]]) -> Article:
    m = row._mapping
    return Article(
        url=m["url"],
        canonical_url=m["canonical_url"],
        title=m["title"],
        text=m["text"],
        summary=m["summary"],
        source=m["source"],
        published=m["published_at"],
        language=m["language"],
        authors=tuple(a for a in m["authors"].split(",") if a),
        extraction=m["extraction"],
        extraction_error=m["extraction_error"],
    )


@dataclass(frozen=True, slots=True)
class FeedBatch:
    """One feed's new entries, as polled at `now`."""

    feed_id: int
    entries: Sequence[NewEntry]
    now: datetime


def record_many(
    store: Store,
    *,
    feed_id: int,
    entries: Sequence[NewEntry],
    now: datetime,
    story_window_s: float,
) -> list[Recorded]:
    """Store a feed's new entries and all they led to; storing an entry again is a no-op, and an
    edited entry updates its article without alerting again."""
    (done,) = record_feeds(store, [FeedBatch(feed_id, entries, now)], story_window_s=story_window_s)
    return done


def record_feeds(
    store: Store, batches: Sequence[FeedBatch], *, story_window_s: float
) -> list[list[Recorded]]:
    """`record_many` for several feeds in one transaction, in order: the pages every entry
    writes (the tails of the article, entry and alert tables and their indexes, the story
    lookup trees' upper levels) are written once per commit, not once per feed. An entry that
    fails still fails alone (see `_record_all`)."""
    prepared = [
        [
            new
            if new.fingerprint is not None
            else replace(
                new,
                fingerprint=fingerprint(new.item.title, new.item.text, language=new.item.language),
            )
            for new in feed.entries
        ]
        for feed in batches
    ]
    if not any(prepared):
        return [[] for _ in batches]
    try:
        return _record_all(store, batches, prepared, story_window_s, isolated=False)
    except _Isolate:
        # An entry failed: the transaction is rolled back, and the group recorded again with
        # each entry in its own savepoint, so that entry fails alone.
        return _record_all(store, batches, prepared, story_window_s, isolated=True)


class _Isolate(Exception):
    """An entry failed in a transaction without savepoints."""


def _record_all(
    store: Store,
    batches: Sequence[FeedBatch],
    prepared: Sequence[Sequence[NewEntry]],
    story_window_s: float,
    *,
    isolated: bool,
) -> list[list[Recorded]]:
    """Record the groups' entries in one transaction. Savepoints are not free (on SQLite each
    page an entry changes is first copied to the savepoint's journal), so the first attempt has
    none and gives up at the first failing entry (`_Isolate`); `isolated` puts each entry in
    its own savepoint."""
    with store.write() as conn:
        stories.lock(conn)
        batch = stories.Batch(conn, savepoints=isolated)
        done = [
            [
                _record_one(batch, feed.feed_id, new, feed.now, story_window_s)
                if isolated
                else _record_unguarded(batch, feed.feed_id, new, feed.now, story_window_s)
                for new in entries
            ]
            for feed, entries in zip(batches, prepared, strict=True)
        ]
    batch.publish()
    return done


def _record_unguarded(
    batch: stories.Batch, feed_id: int, new: NewEntry, now: datetime, story_window_s: float
) -> Recorded:
    batch.begin()
    try:
        done = _record_entry(batch, feed_id, new, now, story_window_s)
    except (_LostRace, sa.exc.SQLAlchemyError) as exc:
        raise _Isolate from exc
    batch.keep()
    return done


def _record_entry(
    batch: stories.Batch, feed_id: int, new: NewEntry, now: datetime, story_window_s: float
) -> Recorded:
    if new.edited:
        return _record_edit(batch, feed_id, new, now)
    return _record(batch, feed_id, new, now, story_window_s)


def _record_one(
    batch: stories.Batch, feed_id: int, new: NewEntry, now: datetime, story_window_s: float
) -> Recorded:
    for _ in range(3):
        batch.begin()  # a savepoint
        try:
            done = _record_entry(batch, feed_id, new, now, story_window_s)
        except _LostRace:
            batch.drop()
            continue  # another worker stored this URL a moment ago: the retry joins its row
        except sa.exc.SQLAlchemyError as exc:
            batch.drop()
            return Recorded(
                entry_was_new=False, error=str(exc.orig if hasattr(exc, "orig") else exc)
            )
        batch.keep()
        return done
    return Recorded(entry_was_new=False, error="kept losing insert races for this URL")


def record(
    store: Store,
    *,
    feed_id: int,
    guid: str,
    item: Article,
    matches: Sequence[RuleMatch],
    alerts: Sequence[AlertSpec],
    now: datetime,
    story_window_s: float,
    entry_hash: str | None = None,
    edited: bool = False,
) -> Recorded:
    """One entry; see `record_many`."""
    new = NewEntry(guid, item, None, matches, alerts, entry_hash, edited)
    (done,) = record_many(
        store, feed_id=feed_id, entries=[new], now=now, story_window_s=story_window_s
    )
    return done


class _LostRace(Exception):
    pass


class _Sql:
    """The statements every new entry runs, prepared for the DB-API cursor (see `Prepared`)."""

    def __init__(self, dialect: sa.Dialect) -> None:
        module: Any = postgresql if dialect.name == "postgresql" else sqlite
        self.entry = Prepared(
            module.insert(entry).on_conflict_do_nothing().returning(entry.c.id),
            dialect,
            ["feed_id", "guid", "seen_at", "fingerprint"],
        )
        self.article = Prepared(
            module.insert(article).on_conflict_do_nothing().returning(article.c.id),
            dialect,
            [c.name for c in article.c if c.name not in ("id", "updated_at", "pruned_at")],
        )
        self.by_url = Prepared(_BY_URL, dialect)
        self.link = Prepared(_LINK_ENTRY, dialect)

    @classmethod
    def of(cls, dialect: sa.Dialect) -> _Sql:
        key = (dialect.name, dialect.driver)
        found = _SQL.get(key)
        if found is None:
            found = _SQL[key] = cls(dialect)
        return found


_SQL: dict[tuple[str, str], _Sql] = {}


def _record(
    batch: stories.Batch, feed_id: int, new: NewEntry, now: datetime, story_window_s: float
) -> Recorded:
    conn = batch.conn
    sql = _Sql.of(conn.dialect)
    row = {"feed_id": feed_id, "guid": new.guid, "seen_at": now, "fingerprint": new.entry_hash}
    if not batch.rows(sql.entry.sql, sql.entry.params(row)):
        return Recorded(entry_was_new=False)
    item, fp = new.item, new.fingerprint
    assert fp is not None
    urls = batch.rows(sql.by_url.sql, sql.by_url.params({"url": item.canonical_url}))
    article_was_new = not urls
    reason: str | None = None
    if not urls:
        placed = stories.place(batch, fp, title=item.title, now=now, window_s=story_window_s)
        story_id, reason = placed.story_id, placed.reason
        ids = batch.rows(sql.article.sql, sql.article.params(_article_row(item, fp, placed, now)))
        if not ids:
            raise _LostRace
        article_id = int(ids[0][0])
        stories.index(batch, article_id, fp, now)
        if placed.vectors is not None:
            batch.vectors.put(article_id, placed.vectors)
        if reason in ("rewrite", "near-duplicate") and placed.size in algo.REPAIR_AT:
            story_id = _repair(batch, story_id, article_id, now)
    else:
        article_id, story_id = urls[0]
    link = {"f_id": feed_id, "f_guid": new.guid, "a_id": article_id}
    batch.run(sql.link.sql, sql.link.params(link))
    insert_new(conn, rule_match, [_match_row(article_id, m, now) for m in new.matches])
    report = article_was_new and reason != "same-text"
    alert_ids = _queue_alerts(conn, story_id, article_id, new.alerts, now, new_report=report)
    return Recorded(True, article_id, story_id, article_was_new, alert_ids, reason=reason)


def _record_edit(batch: stories.Batch, feed_id: int, new: NewEntry, now: datetime) -> Recorded:
    """An entry whose title or text changed: update its article and the entry's hash, add any
    new matches; alerts only where the story has none yet for that channel, or escalations."""
    conn = batch.conn
    row = conn.execute(_ENTRY, {"f_id": feed_id, "f_guid": new.guid}).first()
    if row is None or row.article_id is None:
        return Recorded(entry_was_new=False)
    conn.execute(_BACKFILL, {"f_id": feed_id, "f_guid": new.guid, "f_hash": new.entry_hash})
    item, fp = new.item, new.fingerprint
    assert fp is not None
    article_id, story_id = int(row.article_id), int(row.story_id)
    conn.execute(
        article.update()
        .where(article.c.id == article_id)
        .values(
            title=item.title,
            summary=item.summary,
            text=item.text,
            text_hash=fp.text_hash,
            signature=fp.signature or None,
            updated_at=now,
            extraction=item.extraction,
            extraction_error=item.extraction_error,
        )
    )
    stories.index(batch, article_id, fp, now)
    insert_new(conn, rule_match, [_match_row(article_id, m, now) for m in new.matches])
    alert_ids = _queue_alerts(conn, story_id, article_id, new.alerts, now, new_report=False)
    return Recorded(False, article_id, story_id, False, alert_ids, edited=True)


def _queue_alerts(
    conn: sa.Connection,
    story_id: int,
    article_id: int,
    specs: Sequence[AlertSpec],
    now: datetime,
    *,
    new_report: bool,
) -> tuple[int, ...]:
    """Queue what the story's alerts so far call for: its first alert on each channel, an
    escalation to a higher severity, or a follow-up the watchlist asked for."""
    if not specs or feedback.muted(conn, story_id):  # a muted story queues nothing
        return ()
    queued: dict[tuple[str, str], Severity] = {}
    for r in conn.execute(_QUEUED, {"story": story_id}):
        severity = Severity(r.severity)
        key = (r.watchlist, r.channel)
        if key not in queued or severity.rank > queued[key].rank:
            queued[key] = severity
    rows = []
    for spec in specs:
        follow = algo.follow_up(
            spec, queued.get((spec.watchlist, spec.channel)), article_id, new_report=new_report
        )
        if follow is not None:
            rows.append(_alert_row(story_id, article_id, spec, follow, now))
    return tuple(insert_new(conn, alert, rows))


def _repair(batch: stories.Batch, story_id: int, article_id: int, now: datetime) -> int:
    """Repair the story the article joined (`stories.repair`) and queue what a split calls for;
    the article's story afterwards. A repair refines, it is never needed: if one fails, its
    writes are undone in a savepoint of their own and the article is recorded as it joined."""
    batch.run("SAVEPOINT monitor_repair", ())
    try:
        split = stories.repair(batch, story_id, now)
        if split is not None:
            _alerts_after_split(batch.conn, split, article_id, now)
            if article_id in split.moved:
                story_id = split.new
    except Exception:  # any failure: the article must still be stored
        log.exception("story repair failed; the story is left as it was", story=story_id)
        batch.run("ROLLBACK TO SAVEPOINT monitor_repair", ())
    batch.run("RELEASE SAVEPOINT monitor_repair", ())
    return story_id


def _alerts_after_split(
    conn: sa.Connection, split: stories.Split, article_id: int, now: datetime
) -> None:
    """Alerts after a repair moved reports to a story of their own. Each alert follows the
    report that raised it, sent or not: it told of that report's event. Then each of the two
    stories gets a first alert on every (watchlist, channel) where either of them had an alert
    and it now has none, from its own earlier reports' best match there: the event that the
    wrong join had kept silent is heard, and the one whose alert left is heard again as itself.
    Only at a severity that (watchlist, channel) has already carried: routing (a channel's
    `min_severity`) is not known here, and what it let through once it lets through again.
    The article being recorded is left out: its own alerts are queued next, as for any
    article."""
    conn.execute(
        alert.update()
        .where(alert.c.story_id == split.old, alert.c.article_id.in_(split.moved))
        .values(story_id=split.new)
    )
    existing = conn.execute(
        sa.select(alert.c.story_id, alert.c.watchlist, alert.c.channel, alert.c.severity).where(
            alert.c.story_id.in_([split.old, split.new])
        )
    ).all()
    if not existing:
        return
    alerted = {(int(r.story_id), r.watchlist, r.channel) for r in existing}
    floor: dict[tuple[str, str], int] = {}  # the least severe alert each pair has carried
    for r in existing:
        rank = Severity(r.severity).rank
        floor[(r.watchlist, r.channel)] = min(rank, floor.get((r.watchlist, r.channel), rank))
    members = conn.execute(
        sa.select(article.c.id, article.c.story_id).where(
            article.c.story_id.in_([split.old, split.new]),
            article.c.id != article_id,
            article.c.same_as_id.is_(None),
        )
    ).all()
    story_of = {int(m.id): int(m.story_id) for m in members}
    matches = conn.execute(
        sa.select(rule_match)
        .where(rule_match.c.article_id.in_(list(story_of)))
        .order_by(rule_match.c.article_id, rule_match.c.id)
    ).all()
    rows = []
    muted = feedback.muted_among(conn, (split.old, split.new))
    for story_id in (split.old, split.new):
        if story_id in muted:
            continue
        best: dict[str, Any] = {}  # watchlist → its most severe match in this story (earliest)
        for m in matches:
            if story_of[int(m.article_id)] != story_id:
                continue
            found = best.get(m.watchlist)
            if found is None or Severity(m.severity).rank > Severity(found.severity).rank:
                best[m.watchlist] = m
        for (watchlist, channel), lowest in sorted(floor.items()):
            top = best.get(watchlist)
            if top is None or (story_id, watchlist, channel) in alerted:
                continue
            if Severity(top.severity).rank < lowest:
                continue
            rules = sorted(
                {
                    r.rule
                    for r in matches
                    if r.watchlist == watchlist and r.article_id == top.article_id
                }
            )
            spec = AlertSpec(
                watchlist=watchlist,
                channel=channel,
                severity=Severity(top.severity),
                rules=tuple(rules),
                snippet=top.snippet,
            )
            follow = algo.FollowUp("story", "", "pending")
            rows.append(_alert_row(story_id, top.article_id, spec, follow, now))
    insert_new(conn, alert, rows)


def _article_row(
    item: Article, fp: Fingerprint, placed: stories.Placement, now: datetime
) -> dict[str, object]:
    return {
        "canonical_url": item.canonical_url,
        "url": item.url,
        "source": item.source,
        "title": item.title,
        "summary": item.summary,
        "text": item.text,
        "text_hash": fp.text_hash,
        "language": item.language,
        "authors": ",".join(a.replace(",", " ") for a in item.authors),
        "published_at": item.published,
        "fetched_at": now,
        "extraction": item.extraction,
        "extraction_error": item.extraction_error,
        "story_id": placed.story_id,
        "story_reason": placed.reason,
        "story_score": None if placed.score is None else round(placed.score, 4),
        "same_as_id": placed.same_as,
        "signature": fp.signature or None,
    }


def _match_row(article_id: int, m: RuleMatch, now: datetime) -> dict[str, object]:
    hits = [{"term": h.term, "field": h.field, "start": h.start, "end": h.end} for h in m.hits]
    return {
        "article_id": article_id,
        "watchlist": m.watchlist,
        "rule": m.rule,
        "severity": str(m.severity),
        "hits": json.dumps(hits, ensure_ascii=False),
        "snippet": m.snippet,
        "created_at": now,
    }


def _alert_row(
    story_id: int, article_id: int, spec: AlertSpec, follow: algo.FollowUp, now: datetime
) -> dict[str, object]:
    return {
        "story_id": story_id,
        "article_id": article_id,
        "watchlist": spec.watchlist,
        "channel": spec.channel,
        "kind": follow.kind,
        "follow_key": follow.key,
        "severity": str(spec.severity),
        "rules": ",".join(spec.rules),
        "snippet": spec.snippet,
        # Random, stored once: every retry of this alert carries the same key.
        "idempotency_key": uuid.uuid4().hex,
        "status": follow.status,
        "attempts": 0,
        "next_attempt_at": now,
        "created_at": now,
    }
