"""storage.stories: the clustering state, and which story an incoming article belongs to.

`place()` runs inside the transaction that records the article (`storage.articles`): it looks
the article up by identical text, then by MinHash LSH bands (near-duplicates), then by its
strongest terms and names (rewrites), lets `monitor.pipeline.stories.decide` choose, and writes
the story's new profile and its lookup keys. Every lookup is an indexed
range read capped per key, so its cost does not grow with the number of stories in the window.

Concurrency: on SQLite writers are serialised by the database (BEGIN IMMEDIATE). On PostgreSQL
`lock()` takes one transaction-scoped advisory lock before the first placement, so two workers
that see two copies of a story at once decide one after the other, the second seeing the first's
story; fetching, extraction, matching and fingerprints, the costly parts, stay parallel.
"""

from __future__ import annotations

import functools
import hashlib
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa

from monitor.pipeline import stories as algo
from monitor.pipeline.fingerprint import Fingerprint, jaccard
from monitor.storage import Store
from monitor.storage.tables import (
    UTCDateTime,
    article,
    article_band,
    story,
    story_key,
)

PER_KEY = 10  # stories read per lookup key (the most recently active ones)
CANDIDATES = 20  # stories scored per article at most (those sharing the most keys)
BAND_ROWS = 60  # copies read per LSH lookup at most
_LOCK = (0x6D6F6E69, 0x73746F72)  # ("moni", "stor"): the advisory lock of story placement


@dataclass(frozen=True, slots=True)
class Placement:
    """Where an article went: its story, why, the score, and the article it repeats word for
    word (`same_as`), if any."""

    story_id: int
    reason: str  # new | same-text | near-duplicate | rewrite
    score: float | None = None
    same_as: int | None = None


@functools.lru_cache(maxsize=200_000)
def key_of(name: str) -> int:
    """A stable signed 64-bit key for a term or name ("t:…", "e:…")."""
    digest = hashlib.blake2b(name.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little", signed=True) or 1


_SAME_TEXT = (
    sa.select(article.c.id, article.c.story_id)
    .join(story, story.c.id == article.c.story_id)
    .where(
        article.c.text_hash == sa.bindparam("hash"), story.c.last_seen_at >= sa.bindparam("since")
    )
    .order_by(article.c.id)
    .limit(1)
)
_BANDS = (
    sa.select(article.c.id, article.c.story_id, article.c.signature)
    .join(article_band, article_band.c.article_id == article.c.id)
    .where(
        article_band.c.key.in_(sa.bindparam("keys", expanding=True)),
        article_band.c.seen_at >= sa.bindparam("since"),
    )
    .distinct()
    .limit(BAND_ROWS)
)
_OPEN = story.insert().returning(story.c.id)
_LATER = sa.case(
    (story.c.last_seen_at < sa.bindparam("now"), sa.bindparam("now")),
    else_=story.c.last_seen_at,
)
_JOIN = (
    story.update()
    .where(story.c.id == sa.bindparam("story"))
    .values(last_seen_at=_LATER, article_count=story.c.article_count + 1)
)
_JOIN_WITH_PROFILE = _JOIN.values(profile=sa.bindparam("profile"))


def _per_key(slot: int) -> sa.Select[tuple[int]]:
    return (
        sa.select(story_key.c.story_id)
        .where(story_key.c.key == sa.bindparam(f"k{slot}"))
        .where(story_key.c.seen_at >= sa.bindparam("since"))
        .order_by(story_key.c.seen_at.desc())
        .limit(PER_KEY)
    )


def _candidates_statement() -> sa.Select[tuple[int, str]]:
    # One statement: for each key the PER_KEY stories most recently active under it; the
    # CANDIDATES stories found under the most keys, with their profiles.
    hits = sa.union_all(
        *(_per_key(i).subquery().select() for i in range(algo.INDEX_KEYS))
    ).subquery()
    best = (
        sa.select(hits.c.story_id)
        .group_by(hits.c.story_id)
        .order_by(sa.func.count().desc(), hits.c.story_id.desc())
        .limit(CANDIDATES)
        .subquery()
    )
    return sa.select(story.c.id, story.c.profile).join(best, best.c.story_id == story.c.id)


_CANDIDATES = _candidates_statement()


def lock(conn: sa.Connection) -> None:
    """Serialise story placement across workers until this transaction ends (PostgreSQL)."""
    if conn.dialect.name == "postgresql":
        conn.execute(
            sa.text("SELECT pg_advisory_xact_lock(:a, :b)"), {"a": _LOCK[0], "b": _LOCK[1]}
        )


def place(
    conn: sa.Connection, fp: Fingerprint, *, title: str, now: datetime, window_s: float
) -> Placement:
    """Join the article to a story or open one, inside `conn`'s transaction, and update the
    clustering state. Call `lock()` first in the transaction, and `index()` once the article
    row exists."""
    since = now - timedelta(seconds=window_s)
    same = conn.execute(_SAME_TEXT, {"hash": fp.text_hash, "since": since}).first()
    if same is not None:  # the very same text: nothing new for the profile
        conn.execute(_JOIN, {"story": same.story_id, "now": now})
        return Placement(int(same.story_id), "same-text", 1.0, int(same.id))

    vec = algo.vectors(fp)
    joined: int | None = None
    reason, score = "new", None
    profiles: dict[int, algo.Profile] = {}
    copy = _near_duplicate(conn, fp, since)
    if copy is not None:
        joined, score, reason = copy[0], copy[1], "near-duplicate"
    else:
        profiles = _candidate_profiles(conn, vec, since)
        choice, best = algo.decide(vec, profiles)
        if profiles and math.isfinite(best):
            score = best
        if choice is not None:
            joined, reason = choice, "rewrite"

    if joined is None:
        profile = algo.merge(None, vec)
        row = {
            "title": title[:500],
            "first_seen_at": now,
            "last_seen_at": now,
            "article_count": 1,
            "profile": profile.to_json(),
        }
        joined = int(conn.execute(_OPEN, row).scalar_one())
    else:
        old = profiles.get(joined)
        if old is None:
            current = conn.scalar(sa.select(story.c.profile).where(story.c.id == joined))
            old = algo.Profile.from_json(current) if current else None
        profile = algo.merge(old, vec)
        conn.execute(
            _JOIN_WITH_PROFILE, {"story": joined, "now": now, "profile": profile.to_json()}
        )
    _upsert_keys(conn, joined, vec.index_keys(), now)
    return Placement(joined, reason, score)


def index(conn: sa.Connection, article_id: int, fp: Fingerprint, now: datetime) -> None:
    """File a stored article under its LSH band keys, so later copies find it."""
    seen = _db_time(conn, now)
    rows = [(k, article_id, seen) for k in sorted(set(fp.bands))]
    if rows:
        _many(
            conn,
            "INSERT INTO article_band (key, article_id, seen_at) VALUES ({0}, {0}, {0}) "
            "ON CONFLICT DO NOTHING",
            rows,
        )


def _near_duplicate(
    conn: sa.Connection, fp: Fingerprint, since: datetime
) -> tuple[int, float] | None:
    """The story of the most similar copy at or above the near-duplicate threshold."""
    if not fp.bands:
        return None
    best: tuple[int, float] | None = None
    for row in conn.execute(_BANDS, {"keys": list(fp.bands), "since": since}):
        similarity = jaccard(fp.signature, row.signature or b"")
        if algo.near_duplicate(similarity) and (best is None or similarity > best[1]):
            best = (int(row.story_id), similarity)
    return best


def _candidate_profiles(
    conn: sa.Connection, vec: algo.Vectors, since: datetime
) -> dict[int, algo.Profile]:
    keys = [key_of(k) for k in vec.index_keys()]
    if not keys:
        return {}
    params: dict[str, object] = {f"k{i}": k for i, k in enumerate(keys)}
    params.update({f"k{i}": 0 for i in range(len(keys), algo.INDEX_KEYS)})  # 0 is never a key
    params["since"] = since
    return {
        int(r.id): algo.Profile.from_json(r.profile)
        for r in conn.execute(_CANDIDATES, params)
        if r.profile
    }


def _upsert_keys(conn: sa.Connection, story_id: int, names: Sequence[str], now: datetime) -> None:
    seen = _db_time(conn, now)
    rows = [(key, story_id, seen) for key in sorted({key_of(n) for n in names})]
    if rows:
        _many(
            conn,
            "INSERT INTO story_key (key, story_id, seen_at) VALUES ({0}, {0}, {0}) "
            "ON CONFLICT (key, story_id) DO UPDATE SET seen_at = excluded.seen_at",
            rows,
        )


def _many(conn: sa.Connection, sql: str, rows: Sequence[tuple[object, ...]]) -> None:
    """executemany through the DB-API: these run dozens of rows per article, and building
    SQLAlchemy parameters for each costs more than the database's work. `{0}` is the marker."""
    conn.exec_driver_sql(sql.format("%s" if conn.dialect.name == "postgresql" else "?"), rows)


def _db_time(conn: sa.Connection, when: datetime) -> object:
    """`when` as the store's date-time type writes it on this database."""
    process = _time_processor(conn.dialect)
    return process(when) if process else when


@functools.cache
def _time_processor(dialect: sa.Dialect) -> Callable[[datetime], object] | None:
    return UTCDateTime().bind_processor(dialect)


@dataclass(frozen=True, slots=True)
class StoryArticle:
    id: int
    source: str
    title: str
    url: str
    reason: str
    score: float | None
    fetched_at: datetime


@dataclass(frozen=True, slots=True)
class StoryView:
    """A story as `monitor stories` shows it: its articles in the order they were stored, and
    how many alerts it has queued."""

    id: int
    title: str
    first_seen_at: datetime
    last_seen_at: datetime
    articles: tuple[StoryArticle, ...]
    alerts: int


def recent(store: Store, *, limit: int = 20, min_articles: int = 1) -> list[StoryView]:
    """The most recently active stories, newest first, with their articles."""
    from monitor.storage.tables import alert

    with store.read() as conn:
        heads = conn.execute(
            sa.select(story.c.id, story.c.title, story.c.first_seen_at, story.c.last_seen_at)
            .where(story.c.article_count >= min_articles)
            .order_by(story.c.last_seen_at.desc(), story.c.id.desc())
            .limit(limit)
        ).all()
        ids = [h.id for h in heads]
        members: dict[int, list[StoryArticle]] = {i: [] for i in ids}
        for r in conn.execute(
            sa.select(
                article.c.story_id,
                article.c.id,
                article.c.source,
                article.c.title,
                article.c.url,
                article.c.story_reason,
                article.c.story_score,
                article.c.fetched_at,
            )
            .where(article.c.story_id.in_(ids))
            .order_by(article.c.id)
        ):
            members[r.story_id].append(
                StoryArticle(
                    r.id, r.source, r.title, r.url, r.story_reason, r.story_score, r.fetched_at
                )
            )
        alerts: dict[int, int] = dict(
            conn.execute(
                sa.select(alert.c.story_id, sa.func.count())
                .where(alert.c.story_id.in_(ids))
                .group_by(alert.c.story_id)
            ).all()
        )
    return [
        StoryView(
            h.id,
            h.title,
            h.first_seen_at,
            h.last_seen_at,
            tuple(members[h.id]),
            int(alerts.get(h.id, 0)),
        )
        for h in heads
    ]
