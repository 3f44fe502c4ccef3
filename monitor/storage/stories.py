"""storage.stories: story rows and the lookup tables that find an article's story.

Persistence only: which story an article joins is decided by `monitor.pipeline.cluster`, which
calls these inside the transaction that stores the article. A story's profile is kept here as
the JSON text the pipeline gives (`story.profile`), with a `revision` that every change raises.
Every time given here is an event time (the pipeline's); a story's first and last times only
widen, whatever the order reports come in, and a story may name the earlier one it continues
(`story.continues_id`).

Every lookup is an indexed range read capped per key, so its cost does not grow with the
number of stories in the window: identical text (`same_text`), MinHash LSH bands
(`near_copies`, filed by `file_bands`), and a story's strongest terms and names
(`candidates`, filed by `file_keys`). `prune` deletes the lookup rows that left the window.

Concurrency: on SQLite writers are serialised by the database (BEGIN IMMEDIATE). On PostgreSQL
`lock()` takes one transaction-scoped advisory lock before the first placement, so two workers
that see two copies of a story at once place them one after the other, the second seeing the
first's story.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from monitor.model import JoinReason
from monitor.storage import Store
from monitor.storage.tables import UTCDateTime, alert, article, article_band, story, story_key
from monitor.storage.tx import Statement, Tx, insert

PER_KEY = 10  # stories read per lookup key (the most recently active ones)
CANDIDATES = 20  # stories returned per lookup at most (those sharing the most keys)
BAND_ROWS = 60  # copies read per LSH lookup at most
PRUNE_SLICES = 64  # `prune` deletes in this many key ranges, one short transaction each
_TIME = UTCDateTime()
_LOCK = (0x6D6F6E69, 0x73746F72)  # ("moni", "stor"): the advisory lock of story placement


@functools.lru_cache(maxsize=200_000)
def key_of(name: str) -> int:
    """A stable signed 64-bit key for a term or name ("t:…", "e:…") in `story_key`."""
    digest = hashlib.blake2b(name.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little", signed=True) or 1


@dataclass(frozen=True, slots=True)
class Member:
    """A distinct report of a story (not a word-for-word copy), as a repair reads it."""

    id: int
    title: str
    text: str
    language: str | None
    event_at: datetime  # its event time (`pipeline.cluster.event_time`)
    signature: bytes | None


_LOCK_STATEMENT = Statement(sa.select(sa.func.pg_advisory_xact_lock(_LOCK[0], _LOCK[1])))
_SAME_TEXT = Statement(
    sa.select(article.c.id, article.c.story_id, article.c.title)
    .join(story, story.c.id == article.c.story_id)
    .where(
        article.c.text_hash == sa.bindparam("hash"), story.c.last_seen_at >= sa.bindparam("since")
    )
    .order_by(article.c.id)
    .limit(5)
)
# Reports arrive out of event-time order (feeds polled at their own rhythm, a backlog in
# several transactions): a story's times only ever widen.
_LATER = sa.case(
    (story.c.last_seen_at < sa.bindparam("now"), sa.bindparam("now")),
    else_=story.c.last_seen_at,
)
_EARLIER = sa.case(
    (story.c.first_seen_at > sa.bindparam("now"), sa.bindparam("now")),
    else_=story.c.first_seen_at,
)
_JOIN = (
    story.update()
    .where(story.c.id == sa.bindparam("story"))
    .values(
        first_seen_at=_EARLIER,
        last_seen_at=_LATER,
        article_count=story.c.article_count + 1,
        revision=story.c.revision + 1,
    )
)
_JOIN_ONLY = Statement(_JOIN)
_JOIN_WITH_PROFILE = Statement(_JOIN.values(profile=sa.bindparam("profile")))
_OPEN = Statement(
    story.insert().returning(story.c.id),
    [
        "title",
        "first_seen_at",
        "last_seen_at",
        "article_count",
        "revision",
        "profile",
        "continues_id",
    ],
)
_KEYS = Statement(
    lambda dialect: (stmt := insert(dialect, story_key)).on_conflict_do_update(
        index_elements=[story_key.c.key, story_key.c.story_id],
        # The latest filing wins, whatever the order in which reports arrive.
        set_={"seen_at": sa.func.max(stmt.excluded.seen_at, story_key.c.seen_at)}
        if dialect == "sqlite"
        else {"seen_at": sa.func.greatest(stmt.excluded.seen_at, story_key.c.seen_at)},
    ),
    ["key", "story_id", "seen_at"],
)
_BANDS = Statement(
    lambda dialect: insert(dialect, article_band).on_conflict_do_nothing(),
    ["key", "article_id", "seen_at"],
)


@functools.cache
def _near(n: int) -> Statement:
    return Statement(
        sa.select(article.c.id, article.c.story_id, article.c.signature, article.c.title)
        .distinct()
        .select_from(article.join(article_band, article_band.c.article_id == article.c.id))
        .where(
            article_band.c.key.in_([sa.bindparam(f"b{i}") for i in range(n)]),
            article_band.c.seen_at >= sa.bindparam("since"),
        )
        .limit(sa.literal_column(str(BAND_ROWS)))
    )


@functools.cache
def _profiles(n: int) -> Statement:
    return Statement(
        sa.select(story.c.id, story.c.revision, story.c.profile).where(
            story.c.id.in_([sa.bindparam(f"i{i}") for i in range(n)])
        )
    )


@functools.cache
def _members(limit: int) -> Statement:
    # Compiled once: a repair reads its story about once in five placements of headlines.
    return Statement(
        sa.select(
            article.c.id,
            article.c.title,
            article.c.text,
            article.c.language,
            sa.func.coalesce(article.c.event_at, article.c.fetched_at),
            article.c.signature,
        )
        .where(article.c.story_id == sa.bindparam("story"), article.c.same_as_id.is_(None))
        .order_by(article.c.id)
        .limit(sa.literal_column(str(limit)))
    )


def _per_key(slot: int) -> sa.Select[tuple[int]]:
    return (
        sa.select(story_key.c.story_id)
        .where(story_key.c.key == sa.bindparam(f"k{slot}"))
        .where(story_key.c.seen_at.between(sa.bindparam("since"), sa.bindparam("until")))
        # Stories active at the same instant (one batch) in a stated order, the index's.
        .order_by(story_key.c.seen_at.desc(), story_key.c.story_id.desc())
        .limit(PER_KEY)
    )


@functools.cache
def _candidates(n: int) -> Statement:
    # One statement: for each key the PER_KEY stories most recently active under it; the
    # CANDIDATES stories found under the most keys, with their revisions.
    hits = sa.union_all(*(_per_key(i).subquery().select() for i in range(n))).subquery()
    best = (
        sa.select(hits.c.story_id)
        .group_by(hits.c.story_id)
        .order_by(sa.func.count().desc(), hits.c.story_id.desc())
        .limit(CANDIDATES)
        .subquery()
    )
    return Statement(
        sa.select(story.c.id, story.c.revision, story.c.first_seen_at).join(
            best, best.c.story_id == story.c.id
        )
    )


def lock(tx: Tx) -> None:
    """Serialise story placement across workers until this transaction ends (PostgreSQL)."""
    if tx.dialect.name == "postgresql":
        tx.run(_LOCK_STATEMENT, {})


# -- lookups ----------------------------------------------------------------------------------


def same_text(tx: Tx, text_hash: str, since: datetime) -> list[tuple[int, int, str]]:
    """Articles with this text hash in stories active since `since`, oldest first (at most
    five): (article id, story id, title)."""
    rows = tx.rows(_SAME_TEXT, {"hash": text_hash, "since": since})
    return [(int(a), int(s), t or "") for a, s, t in rows]


def near_copies(tx: Tx, bands: Sequence[int], since: datetime) -> list[tuple[int, int, bytes, str]]:
    """Articles filed since `since` under any of these LSH band keys, at most `BAND_ROWS`:
    (article id, story id, MinHash signature, title)."""
    if not bands:
        return []
    values: dict[str, object] = {f"b{i}": key for i, key in enumerate(bands)}
    values["since"] = since
    rows = tx.rows(_near(len(bands)), values)
    return [(int(a), int(s), bytes(sig or b""), t or "") for a, s, sig, t in rows]


@dataclass(frozen=True, slots=True)
class Candidate:
    """A story found by `candidates`: its profile's revision and its first report's time."""

    revision: int
    first_seen_at: datetime


def candidates(
    tx: Tx, keys: Sequence[str], since: datetime, until: datetime
) -> dict[int, Candidate]:
    """The stories last filed between `since` and `until` under the most of these terms and
    names (at most `CANDIDATES`, `PER_KEY` per key: the latest before `until`)."""
    if not keys:
        return {}
    values: dict[str, object] = {f"k{i}": key_of(k) for i, k in enumerate(keys)}
    values["since"], values["until"] = since, until
    return {
        int(i): Candidate(int(n), _first_seen(first) or since)
        for i, n, first in tx.rows(_candidates(len(keys)), values)
    }


@functools.lru_cache(maxsize=4096)
def _first_seen(value: object) -> datetime | None:
    """A candidate's stored first report time as a datetime: the same stories come back for
    article after article, so each stored value is converted once."""
    return _TIME.process_result_value(value, None)  # type: ignore[arg-type]


def profiles(tx: Tx, ids: Sequence[int]) -> list[tuple[int, int, str]]:
    """Stories' (id, revision, profile text); the text is empty for a story without one."""
    if not ids:
        return []
    rows = tx.rows(_profiles(len(ids)), {f"i{i}": story_id for i, story_id in enumerate(ids)})
    return [(int(i), int(n), text or "") for i, n, text in rows]


def members(tx: Tx, story_id: int, limit: int) -> list[Member]:
    """The story's distinct reports in the order they were stored, at most `limit`."""
    rows = tx.rows(_members(limit), {"story": story_id})
    return [
        Member(
            int(i),
            title,
            text,
            language,
            _TIME.process_result_value(at, None),  # type: ignore[arg-type]
            bytes(signature) if signature is not None else None,
        )
        for i, title, text, language, at, signature in rows
    ]


def members_of(tx: Tx, story_ids: Sequence[int], *, leaving_out: int) -> dict[int, int]:
    """The distinct reports of these stories (article id → story id), but `leaving_out`."""
    rows = tx.execute(
        sa.select(article.c.id, article.c.story_id).where(
            article.c.story_id.in_(list(story_ids)),
            article.c.id != leaving_out,
            article.c.same_as_id.is_(None),
        )
    )
    return {int(m.id): int(m.story_id) for m in rows}


# -- writes -----------------------------------------------------------------------------------


def open_story(
    tx: Tx,
    *,
    title: str,
    first_seen_at: datetime,
    last_seen_at: datetime,
    profile: str,
    article_count: int = 1,
    continues: int | None = None,
) -> int:
    """A new story (revision 1), which `continues` an earlier one if given; its id."""
    row = {
        "title": title[:500],
        "first_seen_at": first_seen_at,
        "last_seen_at": last_seen_at,
        "article_count": article_count,
        "revision": 1,
        "profile": profile,
        "continues_id": continues,
    }
    return int(tx.rows(_OPEN, row)[0][0])


def join(tx: Tx, story_id: int, now: datetime, profile: str | None = None) -> None:
    """One more article in the story: its count, revision and last activity, and its new
    profile if given (a word-for-word copy leaves the profile as it is)."""
    if profile is None:
        tx.run(_JOIN_ONLY, {"story": story_id, "now": now})
    else:
        tx.run(_JOIN_WITH_PROFILE, {"story": story_id, "now": now, "profile": profile})


def file_keys(tx: Tx, story_id: int, keys: Iterable[str], now: datetime) -> None:
    """File the story under these terms and names, as active at `now`."""
    ordered = sorted({key_of(k) for k in keys})
    tx.many(_KEYS, {"story_id": story_id, "seen_at": now}, "key", ordered)


def file_bands(tx: Tx, article_id: int, bands: Iterable[int], now: datetime) -> None:
    """File a stored article under its LSH band keys, so later copies find it."""
    tx.many(_BANDS, {"article_id": article_id, "seen_at": now}, "key", sorted(set(bands)))


def split(
    tx: Tx, story_id: int, new: int, going: Sequence[int], staying_profile: str
) -> tuple[int, ...]:
    """Move the reports `going` (with their word-for-word copies) from the story to `new`,
    give the story the profile of those that stay (a new revision), and count both stories'
    articles again; the ids of the articles moved."""
    moved = tx.execute(
        article.update()
        .where(
            article.c.story_id == story_id,
            sa.or_(article.c.id.in_(going), article.c.same_as_id.in_(going)),
        )
        .values(story_id=new, story_reason=JoinReason.SPLIT)
        .returning(article.c.id)
    ).scalars()
    moved_ids = tuple(sorted(int(i) for i in moved))
    counts = sa.select(sa.func.count()).where(article.c.story_id == story.c.id).scalar_subquery()
    tx.execute(
        story.update()
        .where(story.c.id == story_id)
        .values(profile=staying_profile, revision=story.c.revision + 1)
    )
    tx.execute(story.update().where(story.c.id.in_([story_id, new])).values(article_count=counts))
    return moved_ids


def prune(store: Store, before: datetime, bands_before: datetime | None = None) -> dict[str, int]:
    """Delete the story keys older than `before`, the rewrite window's start, and the LSH band
    rows older than `bands_before` (the copies' lookback's start; `before` when not given).

    No lookup reads them again: every lookup asks for rows inside its window. Without this the
    two tables grow by some 44 rows per article for as long as the daemon runs. The 64-bit key
    space is cut into `PRUNE_SLICES` ranges, each deleted in a transaction of its own, so a
    prune never holds the writers back for long. Stories and articles are kept."""
    removed = {"article_band": 0, "story_key": 0}
    low, step = -(2**63), 2**64 // PRUNE_SLICES
    for n in range(PRUNE_SLICES):
        start = low + n * step
        with store.write() as conn:
            for table, cut in ((article_band, bands_before or before), (story_key, before)):
                in_slice = [table.c.key >= start, table.c.seen_at < cut]
                if n < PRUNE_SLICES - 1:  # the last slice runs to the largest key
                    in_slice.append(table.c.key < start + step)
                result = conn.execute(table.delete().where(*in_slice))
                removed[table.name] += max(result.rowcount, 0)
    return removed


# -- views ------------------------------------------------------------------------------------


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
    """A story as `monitor stories` shows it: its articles in the order they were stored, how
    many alerts it has queued, and when a person muted it."""

    id: int
    title: str
    first_seen_at: datetime
    last_seen_at: datetime
    articles: tuple[StoryArticle, ...]
    alerts: int
    muted_at: datetime | None = None
    continues: tuple[int, str] | None = None  # the earlier story it continues: (id, title)


def recent(store: Store, *, limit: int = 20, min_articles: int = 1) -> list[StoryView]:
    """The most recently active stories, newest first, with their articles."""
    with store.read() as conn:
        heads = conn.execute(
            sa.select(
                story.c.id,
                story.c.title,
                story.c.first_seen_at,
                story.c.last_seen_at,
                story.c.muted_at,
                story.c.continues_id,
            )
            .where(story.c.article_count >= min_articles)
            .order_by(story.c.last_seen_at.desc(), story.c.id.desc())
            .limit(limit)
        ).all()
        ids = [h.id for h in heads]
        earlier = continued(conn, [h.continues_id for h in heads if h.continues_id is not None])
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
            h.muted_at,
            earlier.get(h.continues_id) if h.continues_id is not None else None,
        )
        for h in heads
    ]


def continued(conn: sa.Connection, ids: Sequence[int]) -> dict[int, tuple[int, str]]:
    """The stories that others continue, by id: (id, title)."""
    if not ids:
        return {}
    rows = conn.execute(sa.select(story.c.id, story.c.title).where(story.c.id.in_(set(ids))))
    return {int(i): (int(i), str(t)) for i, t in rows}
