"""storage.stories: the clustering state, and which story an incoming article belongs to.

`place()` runs inside the transaction that records the article (`storage.articles`): it looks
the article up by identical text, then by MinHash LSH bands (near-duplicates), then by its
strongest terms and names (rewrites), lets `monitor.pipeline.stories.decide` choose, and writes
the story's new profile and its lookup keys. Every lookup is an indexed
range read capped per key, so its cost does not grow with the number of stories in the window.

Speed: the candidate lookup returns story ids with their revisions, and only the profiles
this process has not decoded at that revision are read and decoded (`_Profiles`, bounded); the
statements run on the DB-API cursor. None of this changes a decision
(`bench/stories_decisions.py` compares them).

Concurrency: on SQLite writers are serialised by the database (BEGIN IMMEDIATE). On PostgreSQL
`lock()` takes one transaction-scoped advisory lock before the first placement, so two workers
that see two copies of a story at once decide one after the other, the second seeing the first's
story; fetching, extraction, matching and fingerprints, the costly parts, stay parallel.
"""

from __future__ import annotations

import functools
import hashlib
import math
import time
import weakref
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Generic, TypeVar

import sqlalchemy as sa

from monitor import metrics
from monitor.pipeline import stories as algo
from monitor.pipeline.fingerprint import Fingerprint, fingerprint, jaccard
from monitor.storage import Prepared, Store
from monitor.storage.tables import (
    article,
    article_band,
    story,
    story_key,
)

PER_KEY = 10  # stories read per lookup key (the most recently active ones)
CANDIDATES = 20  # stories scored per article at most (those sharing the most keys)
BAND_ROWS = 60  # copies read per LSH lookup at most
PROFILES_KEPT = 10_000  # decoded profiles kept per store (`_Profiles`; ~12 KB each)
VECTORS_KEPT = 2_000  # recent articles' vectors kept per store for story repair (~7 KB each)
PAIRS_KEPT = 50_000  # pair scores of stories' members kept for the next repair (~170 B each)
PRUNE_SLICES = 64  # `prune` deletes in this many key ranges, one short transaction each
K = TypeVar("K")
V = TypeVar("V")
_LOCK = (0x6D6F6E69, 0x73746F72)  # ("moni", "stor"): the advisory lock of story placement


@dataclass(frozen=True, slots=True)
class Placement:
    """Where an article went: its story, why, the score, and the article it repeats word for
    word (`same_as`), if any; the story's size in distinct reports afterwards and the article's
    vectors (for `repair`)."""

    story_id: int
    reason: str  # new | same-text | near-duplicate | rewrite | split
    score: float | None = None
    same_as: int | None = None
    size: int = 1
    vectors: algo.Vectors | None = None


@dataclass(frozen=True, slots=True)
class Split:
    """A story repaired: `moved` (article ids, with their word-for-word copies) left `old` for
    the new story `new`."""

    old: int
    new: int
    moved: tuple[int, ...]


@functools.lru_cache(maxsize=200_000)
def key_of(name: str) -> int:
    """A stable signed 64-bit key for a term or name ("t:…", "e:…")."""
    digest = hashlib.blake2b(name.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little", signed=True) or 1


class _Profiles:
    """Decoded story profiles by story id, each with the story's `revision` when it was read:
    every change of a profile (a join, a split) raises the revision, so a story whose revision
    still matches has the profile kept here, whichever worker wrote it. Least recently used ones
    go first."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._kept: OrderedDict[int, tuple[int, algo.Profile]] = OrderedDict()

    def get(self, story_id: int, count: int) -> algo.Profile | None:
        found = self._kept.get(story_id)
        if found is None or found[0] != count:
            return None
        self._kept.move_to_end(story_id)
        return found[1]

    def update(self, profiles: Mapping[int, tuple[int, algo.Profile]]) -> None:
        kept = self._kept
        for story_id, entry in profiles.items():
            kept[story_id] = entry
            kept.move_to_end(story_id)
        while len(kept) > self.size:
            kept.popitem(last=False)


_CACHES: weakref.WeakKeyDictionary[sa.Engine, _Profiles] = weakref.WeakKeyDictionary()


def _profiles_of(engine: sa.Engine) -> _Profiles:
    found = _CACHES.get(engine)
    if found is None:
        found = _CACHES[engine] = _Profiles(PROFILES_KEPT)
    return found


class _Kept(Generic[K, V]):
    """Values learnt while recording, kept once their rows are: an entry's (until `keep()` or
    `drop()`), the transaction's (until `publish()` after the commit), and the store's, bounded,
    least recently added first. For values that never change once known (an article's vectors,
    two articles' pair score)."""

    def __init__(self, store: OrderedDict[K, V], size: int) -> None:
        self.store, self.size = store, size
        self.done: dict[K, V] = {}
        self.entry: dict[K, V] = {}

    def get(self, key: K) -> V | None:
        for kept in (self.entry, self.done, self.store):
            found = kept.get(key)
            if found is not None:
                return found
        return None

    def put(self, key: K, value: V) -> None:
        self.entry[key] = value

    def keep(self) -> None:
        self.done.update(self.entry)
        self.entry = {}

    def drop(self) -> None:
        self.entry = {}

    def publish(self) -> None:
        self.store.update(self.done)
        self.done = {}
        while len(self.store) > self.size:
            self.store.popitem(last=False)


_VECTORS: weakref.WeakKeyDictionary[sa.Engine, OrderedDict[int, algo.Vectors]] = (
    weakref.WeakKeyDictionary()
)
_PAIRS: weakref.WeakKeyDictionary[sa.Engine, OrderedDict[tuple[int, int], float]] = (
    weakref.WeakKeyDictionary()
)


class Batch:
    """The story placements of one transaction (`storage.articles.record_many`).

    It keeps what they learn until the transaction is over: the profiles read or written go to
    the store's in-memory cache only once the transaction has committed (`publish()`). Each
    entry is recorded in a savepoint (none when `savepoints` is false: the caller then rolls
    back the whole transaction if one fails): `begin()` before it, then `keep()` when it was
    stored or `drop()` when it was rolled back.
    """

    def __init__(self, conn: sa.Connection, *, savepoints: bool = True) -> None:
        self.conn = conn
        self.savepoints = savepoints
        self.sql = _Sql.of(conn)
        self.cursor = conn.connection.cursor()
        self._errors: type[Exception] = conn.dialect.loaded_dbapi.Error
        self.cache = _profiles_of(conn.engine)
        self.profiles: dict[int, tuple[int, algo.Profile]] = {}  # learnt in this transaction
        self._profiles: dict[int, tuple[int, algo.Profile]] = {}
        # For story repair: stored articles' vectors and members' pair scores.
        engine = conn.engine
        self.vectors = _Kept(_VECTORS.setdefault(engine, OrderedDict()), VECTORS_KEPT)
        self.pairs = _Kept(_PAIRS.setdefault(engine, OrderedDict()), PAIRS_KEPT)
        self._open = False

    def begin(self) -> None:
        """Start an entry: a savepoint (issued on the DB-API cursor: SQLAlchemy's costs more
        than the rest of the entry's statements)."""
        self._profiles = {}
        self.vectors.drop()
        self.pairs.drop()
        if self.savepoints:
            self.run("SAVEPOINT monitor_entry", ())
        self._open = True

    def keep(self) -> None:
        """The entry is stored: release its savepoint, keep what it learnt."""
        if self.savepoints:
            self.run("RELEASE SAVEPOINT monitor_entry", ())
        self._open = False
        self.profiles.update(self._profiles)
        self._profiles = {}
        self.vectors.keep()
        self.pairs.keep()

    def drop(self) -> None:
        """The entry failed: undo its writes, forget what it learnt."""
        self.run("ROLLBACK TO SAVEPOINT monitor_entry", ())
        self.run("RELEASE SAVEPOINT monitor_entry", ())
        self._open = False
        self._profiles = {}
        self.vectors.drop()
        self.pairs.drop()

    def publish(self) -> None:
        """After the commit: what this transaction read and wrote is now everyone's."""
        self.cache.update(self.profiles)
        self.profiles.clear()
        self.vectors.publish()
        self.pairs.publish()

    def profile(self, story_id: int, count: int) -> algo.Profile | None:
        for kept in (self._profiles, self.profiles):
            found = kept.get(story_id)
            if found is not None:
                return found[1] if found[0] == count else None
        return self.cache.get(story_id, count)

    def learn(self, story_id: int, count: int, profile: algo.Profile) -> None:
        self._profiles[story_id] = (count, profile)

    def rows(self, sql: str, params: Sequence[object]) -> list[tuple[Any, ...]]:
        try:
            self.cursor.execute(sql, params)
            return list(self.cursor.fetchall())
        except self._errors as exc:
            raise self._wrap(sql, params, exc) from exc

    def run(self, sql: str, params: Sequence[object]) -> None:
        try:
            self.cursor.execute(sql, params)
        except self._errors as exc:
            raise self._wrap(sql, params, exc) from exc

    def many(self, sql: str, rows: Sequence[Sequence[object]]) -> None:
        if not rows:
            return
        try:
            self.cursor.executemany(sql, rows)
        except self._errors as exc:
            raise self._wrap(sql, rows, exc) from exc

    def _wrap(self, sql: str, params: Sequence[Any], exc: Exception) -> sa.exc.StatementError:
        # The DB-API's error as SQLAlchemy would have raised it (callers catch those).
        return sa.exc.DBAPIError.instance(sql, params, exc, self._errors)


_SAME_TEXT = (
    sa.select(article.c.id, article.c.story_id, article.c.title)
    .join(story, story.c.id == article.c.story_id)
    .where(
        article.c.text_hash == sa.bindparam("hash"), story.c.last_seen_at >= sa.bindparam("since")
    )
    .order_by(article.c.id)
    .limit(5)
)
_LATER = sa.case(
    (story.c.last_seen_at < sa.bindparam("now"), sa.bindparam("now")),
    else_=story.c.last_seen_at,
)
_JOIN = (
    story.update()
    .where(story.c.id == sa.bindparam("story"))
    .values(
        last_seen_at=_LATER,
        article_count=story.c.article_count + 1,
        revision=story.c.revision + 1,
    )
)
_JOIN_WITH_PROFILE = _JOIN.values(profile=sa.bindparam("profile"))


def _per_key(slot: int) -> sa.Select[tuple[int]]:
    return (
        sa.select(story_key.c.story_id)
        .where(story_key.c.key == sa.bindparam(f"k{slot}"))
        .where(story_key.c.seen_at >= sa.bindparam("since"))
        # Stories active at the same instant (one batch) in a stated order, the index's.
        .order_by(story_key.c.seen_at.desc(), story_key.c.story_id.desc())
        .limit(PER_KEY)
    )


def _candidates_statement() -> sa.Select[tuple[int, int]]:
    # One statement: for each key the PER_KEY stories most recently active under it; the
    # CANDIDATES stories found under the most keys, with their revisions.
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
    return sa.select(story.c.id, story.c.revision).join(best, best.c.story_id == story.c.id)


_CANDIDATES = _candidates_statement()


class _Sql:
    """The statements of story placement for one database."""

    def __init__(self, dialect: sa.Dialect) -> None:
        pg = dialect.name == "postgresql"
        self.mark = "%s" if pg else "?"
        self.same_text = Prepared(_SAME_TEXT, dialect)
        self.candidates = Prepared(_CANDIDATES, dialect)
        self.join = Prepared(_JOIN, dialect)
        self.join_with_profile = Prepared(_JOIN_WITH_PROFILE, dialect)
        self.open = Prepared(
            story.insert().returning(story.c.id),
            dialect,
            ["title", "first_seen_at", "last_seen_at", "article_count", "revision", "profile"],
        )
        self.keys = self.q(
            "INSERT INTO story_key (key, story_id, seen_at) VALUES (?, ?, ?) "
            "ON CONFLICT (key, story_id) DO UPDATE SET seen_at = excluded.seen_at"
        )
        self.bands = self.q(
            "INSERT INTO article_band (key, article_id, seen_at) VALUES (?, ?, ?) "
            "ON CONFLICT DO NOTHING"
        )

    def q(self, sql: str) -> str:
        return sql.replace("?", self.mark)

    @functools.cache  # noqa: B019 (one instance per dialect, kept for the process)
    def near(self, n: int) -> str:
        return self.q(
            "SELECT DISTINCT article.id, article.story_id, article.signature, article.title "
            "FROM article "
            "JOIN article_band ON article_band.article_id = article.id "
            f'WHERE article_band."key" IN ({self._list(n)}) AND article_band.seen_at >= ? '
            f"LIMIT {BAND_ROWS}"
        )

    @functools.cache  # noqa: B019
    def profiles(self, n: int) -> str:
        return self.q(f"SELECT id, revision, profile FROM story WHERE id IN ({self._list(n)})")

    @staticmethod
    def _list(n: int) -> str:
        return ", ".join(["?"] * n)

    @classmethod
    def of(cls, conn: sa.Connection) -> _Sql:
        dialect = conn.dialect
        found = _SQL.get((dialect.name, dialect.driver))
        if found is None:
            found = _SQL[dialect.name, dialect.driver] = cls(dialect)
        return found


_SQL: dict[tuple[str, str], _Sql] = {}


def lock(conn: sa.Connection) -> None:
    """Serialise story placement across workers until this transaction ends (PostgreSQL)."""
    if conn.dialect.name == "postgresql":
        conn.execute(
            sa.text("SELECT pg_advisory_xact_lock(:a, :b)"), {"a": _LOCK[0], "b": _LOCK[1]}
        )


def place(
    batch: Batch, fp: Fingerprint, *, title: str, now: datetime, window_s: float
) -> Placement:
    """Join the article to a story or open one, inside the batch's transaction, and update the
    clustering state. Call `lock()` first in the transaction, and `index()` once the article
    row exists."""
    sql = batch.sql
    started = time.perf_counter()
    since = now - timedelta(seconds=window_s)
    at = epoch(now)  # as the lookup tables store it
    same = [
        (same_id, same_story)
        for same_id, same_story, same_title in batch.rows(
            sql.same_text.sql, sql.same_text.params({"hash": fp.text_hash, "since": since})
        )
        if algo.copy_of(fp, same_title or "")
    ]
    if same:  # the very same text: nothing new for the profile
        metrics.story_lookup_seconds.observe(time.perf_counter() - started)
        same_id, same_story = same[0]
        batch.run(sql.join.sql, sql.join.params({"story": same_story, "now": now}))
        return Placement(int(same_story), "same-text", 1.0, int(same_id))

    vec = algo.vectors(fp)
    joined: int | None = None
    reason, score = "new", None
    profiles: dict[int, algo.Profile] = {}
    counts: dict[int, int] = {}
    copy = _near_duplicate(batch, fp, since)
    if copy is not None:
        joined, score, reason = copy[0], copy[1], "near-duplicate"
    else:
        profiles, counts = _candidate_profiles(batch, vec, since)
        choice, best = algo.decide(vec, profiles)
        if profiles and math.isfinite(best):
            score = best
        if choice is not None:
            joined, reason = choice, "rewrite"
    metrics.story_lookup_seconds.observe(time.perf_counter() - started)

    if joined is None:
        profile = algo.merge(None, vec)
        row = {
            "title": title[:500],
            "first_seen_at": now,
            "last_seen_at": now,
            "article_count": 1,
            "revision": 1,
            "profile": profile.to_json(),
        }
        joined = int(batch.rows(sql.open.sql, sql.open.params(row))[0][0])
        batch.learn(joined, 1, profile)
    else:
        old = profiles.get(joined)
        if old is None:
            found = _profiles(batch, [joined])
            old, counts = found[0].get(joined), found[1]
        profile = algo.merge(old, vec)
        params = {"story": joined, "now": now, "profile": profile.to_json()}
        batch.run(sql.join_with_profile.sql, sql.join_with_profile.params(params))
        if joined in counts:
            batch.learn(joined, counts[joined] + 1, profile)
    rows = [(key, joined, at) for key in sorted({key_of(n) for n in vec.index_keys()})]
    batch.many(sql.keys, rows)
    return Placement(joined, reason, score, size=profile.count, vectors=vec)


def index(batch: Batch, article_id: int, fp: Fingerprint, now: datetime) -> None:
    """File a stored article under its LSH band keys, so later copies find it."""
    seen = epoch(now)
    batch.many(batch.sql.bands, [(k, article_id, seen) for k in sorted(set(fp.bands))])


def repair(batch: Batch, story_id: int, now: datetime) -> Split | None:
    """Cluster the story's reports again with hindsight (`algo.split`) and, when they are two
    events, move the group without the story's first report to a story of its own: its
    articles (with their word-for-word copies), a profile of their own, their lookup keys. The
    story keeps its id, its alerts and the rest; both revisions change (see `_Profiles`)."""
    conn = batch.conn
    limit = max(algo.REPAIR_AT)
    members = conn.execute(
        sa.select(
            article.c.id,
            article.c.title,
            article.c.text,
            article.c.language,
            article.c.fetched_at,
            article.c.signature,
        )
        .where(article.c.story_id == story_id, article.c.same_as_id.is_(None))
        .order_by(article.c.id)
        .limit(limit + 1)
    ).all()
    if not 3 <= len(members) <= limit:
        return None
    vecs = []
    for m in members:
        found = batch.vectors.get(m.id)
        if found is None:
            found = algo.vectors(fingerprint(m.title, m.text, shingles=False, language=m.language))
        vecs.append(found)
    ids = [int(m.id) for m in members]
    alone: dict[int, algo.Profile] = {}

    def pair(i: int, j: int) -> float:
        # Scores of two members never change: kept, each pair is scored once in a story's life.
        # Near-duplicates always belong together, whatever their other words.
        key = (ids[i], ids[j])
        found = batch.pairs.get(key)
        if found is None:
            copies = jaccard(bytes(members[i].signature or b""), bytes(members[j].signature or b""))
            if algo.near_duplicate(copies):
                found = math.inf
            else:
                for k in (i, j):
                    if k not in alone:
                        alone[k] = algo.merge(None, vecs[k])
                found = algo.pair_score(vecs[i], vecs[j], (alone[i], alone[j]))
            batch.pairs.put(key, found)
        return found

    leaving = algo.split(vecs, pair)
    if not leaving:
        return None
    out = set(leaving)
    staying = [v for i, v in enumerate(vecs) if i not in out]
    going = [vecs[i] for i in leaving]
    first = members[leaving[0]]
    row = {
        "title": first.title[:500],
        "first_seen_at": min(members[i].fetched_at for i in leaving),
        "last_seen_at": now,
        "article_count": 0,  # counted below, with the copies
        "revision": 1,
        "profile": algo.merge_all(going).to_json(),
    }
    new = int(batch.rows(batch.sql.open.sql, batch.sql.open.params(row))[0][0])
    going_ids = [ids[i] for i in leaving]
    moved = conn.execute(
        article.update()
        .where(
            article.c.story_id == story_id,
            sa.or_(article.c.id.in_(going_ids), article.c.same_as_id.in_(going_ids)),
        )
        .values(story_id=new, story_reason="split")
        .returning(article.c.id)
    ).scalars()
    moved_ids = tuple(sorted(int(i) for i in moved))
    counts = sa.select(sa.func.count()).where(article.c.story_id == story.c.id).scalar_subquery()
    conn.execute(
        story.update()
        .where(story.c.id == story_id)
        .values(profile=algo.merge_all(staying).to_json(), revision=story.c.revision + 1)
    )
    conn.execute(story.update().where(story.c.id.in_([story_id, new])).values(article_count=counts))
    at = epoch(now)
    keys = sorted({key_of(k) for v in going for k in v.index_keys()})
    batch.many(batch.sql.keys, [(key, new, at) for key in keys])
    return Split(story_id, new, moved_ids)


def _near_duplicate(batch: Batch, fp: Fingerprint, since: datetime) -> tuple[int, float] | None:
    """The story of the most similar copy at or above the near-duplicate threshold."""
    if not fp.bands:
        return None
    best: tuple[int, float] | None = None
    keys = list(fp.bands)
    rows = batch.rows(batch.sql.near(len(keys)), [*keys, epoch(since)])
    for _, story_id, signature, title in rows:
        similarity = jaccard(fp.signature, bytes(signature or b""))
        if (
            algo.near_duplicate(similarity)
            and (best is None or similarity > best[1])
            and algo.copy_of(fp, title or "")
        ):
            best = (int(story_id), similarity)
    return best


def _candidate_profiles(
    batch: Batch, vec: algo.Vectors, since: datetime
) -> tuple[dict[int, algo.Profile], dict[int, int]]:
    """The candidate stories' profiles, and their revisions."""
    keys = [key_of(k) for k in vec.index_keys()]
    if not keys:
        return {}, {}
    params: dict[str, object] = {f"k{i}": k for i, k in enumerate(keys)}
    params.update({f"k{i}": 0 for i in range(len(keys), algo.INDEX_KEYS)})  # 0 is never a key
    params["since"] = epoch(since)
    sql = batch.sql.candidates
    counts = {int(i): int(n) for i, n in batch.rows(sql.sql, sql.params(params))}
    profiles: dict[int, algo.Profile] = {}
    missing = []
    for story_id, n in counts.items():
        found = batch.profile(story_id, n)
        if found is None:
            missing.append(story_id)
        else:
            profiles[story_id] = found
    if missing:
        fetched, fetched_counts = _profiles(batch, missing)
        profiles.update(fetched)
        counts.update(fetched_counts)
    return profiles, counts


def _profiles(batch: Batch, ids: Sequence[int]) -> tuple[dict[int, algo.Profile], dict[int, int]]:
    """Read and decode stories' profiles (those not empty), and their revisions."""
    profiles: dict[int, algo.Profile] = {}
    counts: dict[int, int] = {}
    for story_id, n, text in batch.rows(batch.sql.profiles(len(ids)), list(ids)):
        counts[story_id] = n
        if text:
            profiles[story_id] = profile = algo.Profile.from_json(text)
            batch.learn(story_id, n, profile)
    return profiles, counts


def prune(store: Store, before: datetime) -> dict[str, int]:
    """Delete the lookup rows (LSH bands, story keys) older than `before`, the window's start.

    No lookup reads them again: every lookup asks for rows inside the window. Without this the
    two tables grow by some 44 rows per article for as long as the daemon runs. The 64-bit key
    space is cut into `PRUNE_SLICES` ranges, each deleted in a transaction of its own, so a
    prune never holds the writers back for long. Stories and articles are kept."""
    cutoff = epoch(before)
    removed = {"article_band": 0, "story_key": 0}
    low, step = -(2**63), 2**64 // PRUNE_SLICES
    for n in range(PRUNE_SLICES):
        start = low + n * step
        with store.write() as conn:
            for table in (article_band, story_key):
                in_slice = [table.c.key >= start, table.c.seen_at < cutoff]
                if n < PRUNE_SLICES - 1:  # the last slice runs to the largest key
                    in_slice.append(table.c.key < start + step)
                result = conn.execute(table.delete().where(*in_slice))
                removed[table.name] += max(result.rowcount, 0)
    return removed


def epoch(when: datetime) -> int:
    """A time as the lookup tables store it: whole UTC seconds since the epoch."""
    return int(when.timestamp())


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
