"""storage.articles: seen entries, stored articles, and recording what new entries led to.

`record_many()` writes a feed's new entries in one transaction, each in its own savepoint: an
entry, its article, its story, its rule matches and its alerts (the outbox) are stored together
or not at all, and an entry that was not stored is simply polled again. The statements are
built once at import: on SQLite, building a statement costs more than running it.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from monitor.model import AlertSpec, Article, RuleMatch
from monitor.storage import Store, insert_new, stories
from monitor.storage.tables import alert, article, entry, rule_match


@dataclass(frozen=True, slots=True)
class NewEntry:
    """A new feed entry made into an article, with what it matched and the alerts to queue."""

    guid: str
    item: Article
    text_hash: str
    matches: Sequence[RuleMatch] = ()
    alerts: Sequence[AlertSpec] = ()


@dataclass(frozen=True, slots=True)
class Recorded:
    entry_was_new: bool
    article_id: int | None = None
    story_id: int | None = None
    article_was_new: bool = False
    alert_ids: tuple[int, ...] = ()
    error: str | None = None  # set when the entry could not be stored (it is polled again)


_SEEN = sa.select(entry.c.guid).where(
    entry.c.feed_id == sa.bindparam("feed_id"),
    entry.c.guid.in_(sa.bindparam("guids", expanding=True)),
)
_BY_URLS = sa.select(article).where(
    article.c.canonical_url.in_(sa.bindparam("urls", expanding=True))
)
_BY_URL = sa.select(article.c.id, article.c.story_id).where(
    article.c.canonical_url == sa.bindparam("url")
)
_LINK_ENTRY = (
    entry.update()
    .where(entry.c.feed_id == sa.bindparam("f_id"), entry.c.guid == sa.bindparam("f_guid"))
    .values(article_id=sa.bindparam("a_id"))
)


def unseen(store: Store, feed_id: int, guids: Sequence[str]) -> set[str]:
    """The guids of this feed not stored yet: one indexed query before any expensive work."""
    if not guids:
        return set()
    with store.read() as conn:
        seen = set(conn.scalars(_SEEN, {"feed_id": feed_id, "guids": list(guids)}))
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


def record_many(
    store: Store,
    *,
    feed_id: int,
    entries: Sequence[NewEntry],
    now: datetime,
    story_window_s: float,
) -> list[Recorded]:
    """Store a feed's new entries and all they led to; storing an entry again is a no-op."""
    if not entries:
        return []
    with store.write() as conn:
        return [_record_one(conn, feed_id, new, now, story_window_s) for new in entries]


def _record_one(
    conn: sa.Connection, feed_id: int, new: NewEntry, now: datetime, story_window_s: float
) -> Recorded:
    for _ in range(3):
        try:
            with conn.begin_nested():
                return _record(conn, feed_id, new, now, story_window_s)
        except _LostRace:
            continue  # another worker stored this URL a moment ago: the retry joins its row
        except sa.exc.SQLAlchemyError as exc:
            return Recorded(
                entry_was_new=False, error=str(exc.orig if hasattr(exc, "orig") else exc)
            )
    return Recorded(entry_was_new=False, error="kept losing insert races for this URL")


def record(
    store: Store,
    *,
    feed_id: int,
    guid: str,
    item: Article,
    text_hash: str,
    matches: Sequence[RuleMatch],
    alerts: Sequence[AlertSpec],
    now: datetime,
    story_window_s: float,
) -> Recorded:
    """One entry; see `record_many`."""
    new = NewEntry(guid, item, text_hash, matches, alerts)
    (done,) = record_many(
        store, feed_id=feed_id, entries=[new], now=now, story_window_s=story_window_s
    )
    return done


class _LostRace(Exception):
    pass


def _record(
    conn: sa.Connection, feed_id: int, new: NewEntry, now: datetime, story_window_s: float
) -> Recorded:
    if not insert_new(conn, entry, [{"feed_id": feed_id, "guid": new.guid, "seen_at": now}]):
        return Recorded(entry_was_new=False)
    item = new.item
    found = conn.execute(_BY_URL, {"url": item.canonical_url}).first()
    article_was_new = found is None
    if found is None:
        story_id = stories.assign(
            conn, title=item.title, text_hash=new.text_hash, now=now, window_s=story_window_s
        )
        ids = insert_new(conn, article, [_article_row(item, new.text_hash, story_id, now)])
        if not ids:
            raise _LostRace
        article_id = ids[0]
    else:
        article_id, story_id = found.id, found.story_id
    conn.execute(_LINK_ENTRY, {"f_id": feed_id, "f_guid": new.guid, "a_id": article_id})
    insert_new(conn, rule_match, [_match_row(article_id, m, now) for m in new.matches])
    alert_ids = insert_new(
        conn, alert, [_alert_row(story_id, article_id, spec, now) for spec in new.alerts]
    )
    return Recorded(True, article_id, story_id, article_was_new, tuple(alert_ids))


def _article_row(item: Article, text_hash: str, story_id: int, now: datetime) -> dict[str, object]:
    return {
        "canonical_url": item.canonical_url,
        "url": item.url,
        "source": item.source,
        "title": item.title,
        "summary": item.summary,
        "text": item.text,
        "text_hash": text_hash,
        "language": item.language,
        "authors": ",".join(a.replace(",", " ") for a in item.authors),
        "published_at": item.published,
        "fetched_at": now,
        "extraction": item.extraction,
        "extraction_error": item.extraction_error,
        "story_id": story_id,
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


def _alert_row(story_id: int, article_id: int, spec: AlertSpec, now: datetime) -> dict[str, object]:
    return {
        "story_id": story_id,
        "article_id": article_id,
        "watchlist": spec.watchlist,
        "channel": spec.channel,
        "severity": str(spec.severity),
        "rules": ",".join(spec.rules),
        "snippet": spec.snippet,
        # Random, stored once: every retry of this alert carries the same key.
        "idempotency_key": uuid.uuid4().hex,
        "status": "pending",
        "attempts": 0,
        "next_attempt_at": now,
        "created_at": now,
    }
