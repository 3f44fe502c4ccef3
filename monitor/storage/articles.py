"""storage.articles: seen entries, stored articles and their rule matches.

Persistence only. Before any expensive work the pipeline asks which of a feed's entries are new
or edited (`changes`, one indexed query) and which links are stored articles already
(`find_many`); while it records a new entry it writes, in its transaction (`Tx`), the entry
(`add_entry`: a second insert of the same feed and guid is a no-op), the article (`add`: one
row per canonical URL), the link between them and the rule matches. What story the article
joins and which alerts follow are the pipeline's decisions (`monitor.pipeline.record`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from monitor.errors import Conflict
from monitor.model import Article, JoinReason, RuleMatch, Severity
from monitor.storage import Store
from monitor.storage.tables import article, entry, rule_match
from monitor.storage.tx import Statement, Tx, insert


@dataclass(frozen=True, slots=True)
class Changes:
    """Which of a feed's entries need work: new ones, and stored ones whose content changed."""

    new: set[str]
    edited: set[str]


@dataclass(frozen=True, slots=True)
class MatchRow:
    """A stored rule match, as a story repair weighs it."""

    article_id: int
    watchlist: str
    rule: str
    severity: Severity
    snippet: str


_SEEN = sa.select(entry.c.guid, entry.c.fingerprint).where(
    entry.c.feed_id == sa.bindparam("feed_id"),
    entry.c.guid.in_(sa.bindparam("guids", expanding=True)),
)
_ENTRY_HASH = (
    entry.update()
    .where(entry.c.feed_id == sa.bindparam("f_id"), entry.c.guid == sa.bindparam("f_guid"))
    .values(fingerprint=sa.bindparam("f_hash"))
)
_BY_URLS = sa.select(article).where(
    article.c.canonical_url.in_(sa.bindparam("urls", expanding=True))
)
_OF_ENTRY = (
    sa.select(entry.c.article_id, article.c.story_id)
    .join(article, article.c.id == entry.c.article_id)
    .where(entry.c.feed_id == sa.bindparam("f_id"), entry.c.guid == sa.bindparam("f_guid"))
)
_ADD_ENTRY = Statement(
    lambda dialect: insert(dialect, entry).on_conflict_do_nothing().returning(entry.c.id),
    ["feed_id", "guid", "seen_at", "fingerprint"],
)
_ADD = Statement(
    lambda dialect: insert(dialect, article).on_conflict_do_nothing().returning(article.c.id),
    [c.name for c in article.c if c.name not in ("id", "updated_at", "pruned_at")],
)
_BY_URL = Statement(
    sa.select(article.c.id, article.c.story_id).where(
        article.c.canonical_url == sa.bindparam("url")
    )
)
_LINK = Statement(
    entry.update()
    .where(entry.c.feed_id == sa.bindparam("f_id"), entry.c.guid == sa.bindparam("f_guid"))
    .values(article_id=sa.bindparam("a_id"))
)


def changes(store: Store, feed_id: int, hashes: Mapping[str, str]) -> Changes:
    """Which entries (guid → the hash of the entry as the feed wrote it) are new or edited:
    one indexed query before any expensive work. Entries stored before these hashes existed
    get theirs now, unchanged."""
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
                _ENTRY_HASH, [{"f_id": feed_id, "f_guid": g, "f_hash": hashes[g]} for g in missing]
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


# -- what recording an entry writes -----------------------------------------------------------


def add_entry(tx: Tx, feed_id: int, guid: str, now: datetime, entry_hash: str | None) -> bool:
    """Store the feed's entry; False when it was stored already (nothing is written)."""
    row = {"feed_id": feed_id, "guid": guid, "seen_at": now, "fingerprint": entry_hash}
    return bool(tx.rows(_ADD_ENTRY, row))


def by_url(tx: Tx, canonical_url: str) -> tuple[int, int] | None:
    """The stored article at this canonical URL, as (article id, story id)."""
    rows = tx.rows(_BY_URL, {"url": canonical_url})
    return (int(rows[0][0]), int(rows[0][1])) if rows else None


def add(
    tx: Tx,
    item: Article,
    *,
    text_hash: str,
    signature: bytes,
    story_id: int,
    reason: JoinReason,
    score: float | None,
    same_as: int | None,
    now: datetime,
    event_at: datetime | None = None,
) -> int:
    """Store the article in its story, first seen `now`, its event time `event_at` (`now` when
    not given); its id. Raises `Conflict` when another transaction
    stored the same canonical URL first (running the entry again finds that row)."""
    row = {
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
        "event_at": event_at or now,
        "extraction": item.extraction,
        "extraction_error": item.extraction_error,
        "story_id": story_id,
        "story_reason": reason,
        "story_score": None if score is None else round(score, 4),
        "same_as_id": same_as,
        "signature": signature or None,
    }
    ids = tx.rows(_ADD, row)
    if not ids:
        raise Conflict(f"another worker stored {item.canonical_url} a moment ago")
    return int(ids[0][0])


def link_entry(tx: Tx, feed_id: int, guid: str, article_id: int) -> None:
    tx.run(_LINK, {"f_id": feed_id, "f_guid": guid, "a_id": article_id})


def of_entry(tx: Tx, feed_id: int, guid: str) -> tuple[int, int] | None:
    """The article a stored entry brought, as (article id, story id)."""
    row = tx.execute(_OF_ENTRY, {"f_id": feed_id, "f_guid": guid}).first()
    if row is None or row.article_id is None:
        return None
    return int(row.article_id), int(row.story_id)


def edit(
    tx: Tx,
    feed_id: int,
    guid: str,
    entry_hash: str | None,
    article_id: int,
    item: Article,
    *,
    text_hash: str,
    signature: bytes,
    now: datetime,
) -> None:
    """An edited entry: its new hash, and its article's new title and text. An article the
    archive had pruned is whole again (`pruned_at` cleared), so the next prune takes the new
    text and matches too: the archive keeps an article for `archive.keep` from when it was
    first stored, edits or not."""
    tx.execute(_ENTRY_HASH, {"f_id": feed_id, "f_guid": guid, "f_hash": entry_hash})
    tx.execute(
        article.update()
        .where(article.c.id == article_id)
        .values(
            title=item.title,
            summary=item.summary,
            text=item.text,
            text_hash=text_hash,
            signature=signature or None,
            updated_at=now,
            extraction=item.extraction,
            extraction_error=item.extraction_error,
            pruned_at=None,
        )
    )


def add_matches(tx: Tx, article_id: int, matches: Sequence[RuleMatch], now: datetime) -> None:
    """Store what the article matched (a match stored already is kept as it was)."""
    rows = []
    for m in matches:
        hits = [{"term": h.term, "field": h.field, "start": h.start, "end": h.end} for h in m.hits]
        rows.append(
            {
                "article_id": article_id,
                "watchlist": m.watchlist,
                "rule": m.rule,
                "severity": str(m.severity),
                "hits": json.dumps(hits, ensure_ascii=False),
                "snippet": m.snippet,
                "created_at": now,
            }
        )
    tx.insert_new(rule_match, rows)


def matches_of(tx: Tx, article_ids: Sequence[int]) -> list[MatchRow]:
    """The stored matches of these articles, by article, in the order they were stored."""
    rows = tx.execute(
        sa.select(
            rule_match.c.article_id,
            rule_match.c.watchlist,
            rule_match.c.rule,
            rule_match.c.severity,
            rule_match.c.snippet,
        )
        .where(rule_match.c.article_id.in_(list(article_ids)))
        .order_by(rule_match.c.article_id, rule_match.c.id)
    )
    return [
        MatchRow(int(r.article_id), r.watchlist, r.rule, Severity(r.severity), r.snippet)
        for r in rows
    ]
