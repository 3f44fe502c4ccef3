"""storage.articles: seen entries, stored articles, and recording what an article led to.

`record()` writes the entry, the article, its story, its rule matches and the alerts (the outbox)
in one transaction: after a crash either all of it exists or none of it, and the entry is
polled again.
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
class Recorded:
    entry_was_new: bool
    article_id: int | None = None
    story_id: int | None = None
    article_was_new: bool = False
    alert_ids: tuple[int, ...] = ()


def unseen(store: Store, feed_id: int, guids: Sequence[str]) -> set[str]:
    """The guids of this feed not stored yet: one indexed query before any expensive work."""
    if not guids:
        return set()
    with store.read() as conn:
        seen = set(
            conn.scalars(
                sa.select(entry.c.guid).where(entry.c.feed_id == feed_id, entry.c.guid.in_(guids))
            )
        )
    return set(guids) - seen


def find(store: Store, canonical_url: str) -> Article | None:
    """The stored article with this canonical URL, if another feed brought it already."""
    with store.read() as conn:
        row = conn.execute(
            sa.select(article).where(article.c.canonical_url == canonical_url)
        ).first()
    return _article(row) if row is not None else None


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
    """Store an entry and all it led to, atomically; storing the same entry again is a no-op."""
    for _ in range(3):
        try:
            with store.write() as conn:
                return _record(
                    conn, feed_id, guid, item, text_hash, matches, alerts, now, story_window_s
                )
        except _LostRace:
            continue  # another worker stored this URL a moment ago: the next try joins its row
    raise RuntimeError(f"could not store {item.canonical_url}: kept losing insert races")


class _LostRace(Exception):
    pass


def _record(
    conn: sa.Connection,
    feed_id: int,
    guid: str,
    item: Article,
    text_hash: str,
    matches: Sequence[RuleMatch],
    alerts: Sequence[AlertSpec],
    now: datetime,
    story_window_s: float,
) -> Recorded:
    if not insert_new(conn, entry, [{"feed_id": feed_id, "guid": guid, "seen_at": now}]):
        return Recorded(entry_was_new=False)
    found = conn.execute(
        sa.select(article.c.id, article.c.story_id).where(
            article.c.canonical_url == item.canonical_url
        )
    ).first()
    article_was_new = found is None
    if found is None:
        story_id = stories.assign(
            conn, title=item.title, text_hash=text_hash, now=now, window_s=story_window_s
        )
        ids = insert_new(conn, article, [_article_row(item, text_hash, story_id, now)])
        if not ids:
            raise _LostRace
        article_id = ids[0]
    else:
        article_id, story_id = found.id, found.story_id
    conn.execute(
        entry.update()
        .where(entry.c.feed_id == feed_id, entry.c.guid == guid)
        .values(article_id=article_id)
    )
    insert_new(conn, rule_match, [_match_row(article_id, m, now) for m in matches])
    alert_ids = insert_new(
        conn, alert, [_alert_row(story_id, article_id, spec, now) for spec in alerts]
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
