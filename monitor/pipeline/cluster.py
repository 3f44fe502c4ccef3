"""cluster: which story an article joins, decided inside the transaction that stores it.

`place()` looks the article up by identical text, then by MinHash LSH bands (near-duplicates),
then by its strongest terms and names (rewrites), lets `pipeline.stories.decide` choose among
the candidate stories (those within their span first, `choose`: past it, a report opens a story
that continues the earlier one), and writes the story's new profile and lookup keys. Every time
is the article's event time (`event_time`: its published date when plausible), and every
window is measured from it, so a backlog polled at once is placed as if it had come live.
`index()` files the stored article under its bands. When a story reaches one of the sizes of
`stories.REPAIR_AT`, `repair()` clusters its reports again with hindsight and splits off those
of another event. The reads and writes are `storage.stories`'; the scoring is
`pipeline.stories`' (pure).

Memory: decoded story profiles (by revision: any change of a profile raises it, whichever
worker wrote it), recent articles' vectors and members' pair scores are kept per database in
a `Memory` (bounded), which the transaction fills only once it has committed (`Tx.remember`).
None of it changes a decision (`bench/stories_decisions.py` compares them).

Concurrency: `lock()` first in the transaction (PostgreSQL: an advisory lock; SQLite
serialises writers anyway), so two workers that see two copies of a story at once decide one
after the other; fetching, extraction, matching and fingerprints, the costly parts, stay
parallel.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Generic, TypeVar

from monitor import metrics
from monitor.model import JoinReason
from monitor.pipeline import stories
from monitor.pipeline.fingerprint import Fingerprint, fingerprint, jaccard
from monitor.storage import stories as story_store
from monitor.storage.tx import Tx

PROFILES_KEPT = 10_000  # decoded profiles kept per database (~12 KB each)
VECTORS_KEPT = 2_000  # recent articles' vectors kept for story repair (~7 KB each)
PAIRS_KEPT = 50_000  # pair scores of stories' members kept for the next repair (~170 B each)
# The times of story placement, all measured in event time (`event_time`); the defaults of the
# `stories.*` settings, which `config` repeats (tests/test_config.py checks they agree).
WINDOW_S = 72 * 3600.0  # a story takes rewrites this long after its last report
SPAN_S = 2 * 86400.0  # nor more than this long after its first: then a new story `continues` it
COPIES_S = 10 * 86400.0  # copies (same text, near-duplicates) join their original this long
MAX_AGE_S = 60 * 86400.0  # a published date older than its first sighting by more is refused
CLOCK_SKEW_S = 300.0  # a published date ahead of its first sighting by up to this is believed
K = TypeVar("K")
V = TypeVar("V")


class Kept(Generic[K, V]):
    """At most `size` values, the oldest dropped first: by last use when `touch` (reading one
    renews it), else by first addition (for values that never change once known)."""

    def __init__(self, size: int, *, touch: bool = False) -> None:
        self.size, self.touch = size, touch
        self._kept: OrderedDict[K, V] = OrderedDict()

    def get(self, key: K) -> V | None:
        found = self._kept.get(key)
        if found is not None and self.touch:
            self._kept.move_to_end(key)
        return found

    def update(self, values: Mapping[K, V]) -> None:
        kept = self._kept
        kept.update(values)
        if self.touch:
            for key in values:
                kept.move_to_end(key)
        while len(kept) > self.size:
            kept.popitem(last=False)

    def clear(self) -> None:
        self._kept.clear()

    def __len__(self) -> int:
        return len(self._kept)


@dataclass
class Memory:
    """What clustering keeps between transactions for one database (made with the store, see
    `daemon.runtime`); all of it can be read again from the store."""

    profiles: Kept[int, tuple[int, stories.Profile]] = field(
        default_factory=lambda: Kept(PROFILES_KEPT, touch=True)
    )
    vectors: Kept[int, stories.Vectors] = field(default_factory=lambda: Kept(VECTORS_KEPT))
    pairs: Kept[tuple[int, int], float] = field(default_factory=lambda: Kept(PAIRS_KEPT))


@dataclass(frozen=True, slots=True)
class Placement:
    """Where an article went: its story, why, the score, and the article it repeats word for
    word (`same_as`), if any; the story's size in distinct reports afterwards and the article's
    vectors (for `repair`); for a new story, the earlier one it `continues`."""

    story_id: int
    reason: JoinReason
    score: float | None = None
    same_as: int | None = None
    size: int = 1
    vectors: stories.Vectors | None = None
    continues: int | None = None  # the story past its span that the new story continues

    @property
    def repair_due(self) -> bool:
        """Whether the story, grown by a rewrite or a copy, is looked at again (`repair`). Not
        when the report that joined keeps its story whole (`stories.keeps_whole`, a headline):
        it is one of the members `repair` would read, and `stories.split` would refuse them."""
        joined = self.reason in (JoinReason.REWRITE, JoinReason.NEAR_DUPLICATE)
        whole = self.vectors is not None and stories.keeps_whole(self.vectors)
        return joined and self.size in stories.REPAIR_AT and not whole


@dataclass(frozen=True, slots=True)
class Split:
    """A story repaired: `moved` (article ids, with their word-for-word copies) left `old` for
    the new story `new`."""

    old: int
    new: int
    moved: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class Times:
    """How far, in event time, an article looks for its story: `window_s` back from its event
    time for rewrites (the stories active then), `span_s` from a story's first report (past it a
    rewrite opens a new story that `continues` it), `copies_s` back for word-for-word copies and
    near-duplicates, which join whatever the span (a wire republished a week later)."""

    window_s: float = WINDOW_S
    span_s: float = SPAN_S
    copies_s: float = COPIES_S


def event_time(
    published: datetime | None, seen: datetime, *, max_age_s: float = MAX_AGE_S
) -> datetime:
    """When the article's event happened, as far as the store will believe: its published date
    when plausible (not ahead of its first sighting `seen` by more than `CLOCK_SKEW_S`, not
    older than it by more than `max_age_s`), else `seen`. A backlog polled at once keeps its
    dates, so it clusters as it would have live; a feed that stamps every item "now", or 1970,
    or next year, is placed by when it was seen."""
    if published is None:
        return seen
    if published.tzinfo is None:  # a naive date is taken as UTC, as the parse stage does
        published = published.replace(tzinfo=UTC)
    ahead = (published - seen).total_seconds()
    if ahead > CLOCK_SKEW_S or -ahead > max_age_s:
        return seen
    return min(published, seen)


def lock(tx: Tx) -> None:
    """First in a transaction that places articles: no other worker places any until it ends."""
    story_store.lock(tx)


def place(
    tx: Tx, memory: Memory, fp: Fingerprint, *, title: str, now: datetime, times: Times = Times()
) -> Placement:
    """Join the article to a story or open one, and write the story's new state. `now` is the
    article's event time (`event_time`): every lookup is relative to it, so a report dated last
    week meets last week's stories. Call `lock()` first in the transaction, and `index()` once
    the article row exists."""
    started = time.perf_counter()
    copies_since = now - timedelta(seconds=times.copies_s)
    same = [
        (same_id, same_story)
        for same_id, same_story, same_title in story_store.same_text(tx, fp.text_hash, copies_since)
        if stories.copy_of(fp, same_title)
    ]
    if same:  # the very same text: nothing new for the profile
        metrics.story_lookup_seconds.observe(time.perf_counter() - started)
        same_id, same_story = same[0]
        story_store.join(tx, same_story, now)
        return Placement(same_story, JoinReason.SAME_TEXT, 1.0, same_id)

    vec = stories.vectors(fp, at=now.timestamp())
    joined: int | None = None
    continues: int | None = None
    reason, score = JoinReason.NEW, None
    profiles: dict[int, stories.Profile] = {}
    revisions: dict[int, int] = {}
    copy = _near_duplicate(tx, fp, copies_since)
    if copy is not None:
        joined, score, reason = copy[0], copy[1], JoinReason.NEAR_DUPLICATE
    else:
        window = timedelta(seconds=times.window_s)
        profiles, revisions, firsts = _candidates(tx, memory, vec, now - window, now + window)
        choice, continues, best = choose(vec, profiles, firsts, now, times.span_s)
        if profiles and math.isfinite(best):
            score = best
        if choice is not None:
            joined, reason = choice, JoinReason.REWRITE
    metrics.story_lookup_seconds.observe(time.perf_counter() - started)

    if joined is None:
        profile = stories.merge(None, vec)
        joined = story_store.open_story(
            tx,
            title=title,
            first_seen_at=now,
            last_seen_at=now,
            profile=profile.to_json(),
            continues=continues,
        )
        tx.remember(memory.profiles, joined, (1, profile))
    else:
        old = profiles.get(joined)
        if old is None:
            found, revisions = _profiles(tx, memory, [joined])
            old = found.get(joined)
        profile = stories.merge(old, vec)
        story_store.join(tx, joined, now, profile.to_json())
        if joined in revisions:
            tx.remember(memory.profiles, joined, (revisions[joined] + 1, profile))
    story_store.file_keys(tx, joined, vec.index_keys(), now)
    return Placement(joined, reason, score, size=profile.count, vectors=vec, continues=continues)


def choose(
    vec: stories.Vectors,
    profiles: Mapping[int, stories.Profile],
    firsts: Mapping[int, datetime],
    now: datetime,
    span_s: float,
) -> tuple[int | None, int | None, float]:
    """The candidate story a rewrite joins, or the one past its span that the new story it
    opens continues, and the score. A story is one happening, not a topic: it takes rewrites
    for `span_s` from its first report (`firsts`), so a city's news does not chain into one
    story for as long as it keeps coming. The stories within their span are scored first
    (`stories.decide`); if none would take the report, those past it are: the best one that
    would, if it began before the report, is the earlier story of its thread."""
    span = timedelta(seconds=span_s)
    within = {i: p for i, p in profiles.items() if abs(now - firsts[i]) <= span}
    choice, best = stories.decide(vec, within)
    if choice is not None or len(within) == len(profiles):
        return choice, None, best
    past = {i: p for i, p in profiles.items() if i not in within}
    earlier, past_best = stories.decide(vec, past)
    if earlier is not None and firsts[earlier] < now:
        return None, earlier, past_best
    return None, None, max(best, past_best)


def index(
    tx: Tx,
    memory: Memory,
    article_id: int,
    fp: Fingerprint,
    now: datetime,
    vectors: stories.Vectors | None = None,
) -> None:
    """File a stored article under its LSH band keys, so later copies find it, and keep its
    `vectors` (from its placement) for the repairs of its story."""
    story_store.file_bands(tx, article_id, fp.bands, now)
    if vectors is not None:
        tx.remember(memory.vectors, article_id, vectors)


def repair(tx: Tx, memory: Memory, story_id: int, now: datetime) -> Split | None:
    """Cluster the story's reports again with hindsight (`stories.split`) and, when they are two
    events, move the group without the story's first report to a story of its own: its
    articles (with their word-for-word copies), a profile of their own, their lookup keys. The
    story keeps its id, its alerts and the rest; both revisions change."""
    limit = max(stories.REPAIR_AT)
    members = story_store.members(tx, story_id, limit + 1)
    if not 3 <= len(members) <= limit:
        return None
    vecs = []
    for m in members:
        found = tx.recall(memory.vectors, m.id)
        if found is None:
            found = stories.vectors(
                fingerprint(m.title, m.text, shingles=False, language=m.language),
                at=m.event_at.timestamp(),
            )
        vecs.append(found)
    ids = [m.id for m in members]
    alone: dict[int, stories.Profile] = {}

    def pair(i: int, j: int) -> float:
        # Scores of two members never change: kept, each pair is scored once in a story's life.
        # Near-duplicates always belong together, whatever their other words.
        key = (ids[i], ids[j])
        found = tx.recall(memory.pairs, key)
        if found is None:
            copies = jaccard(members[i].signature or b"", members[j].signature or b"")
            if stories.near_duplicate(copies):
                found = math.inf
            else:
                for k in (i, j):
                    if k not in alone:
                        alone[k] = stories.merge(None, vecs[k])
                found = stories.pair_score(vecs[i], vecs[j], (alone[i], alone[j]))
            tx.remember(memory.pairs, key, found)
        return found

    leaving = stories.split(vecs, pair)
    if not leaving:
        return None
    out = set(leaving)
    staying = [v for i, v in enumerate(vecs) if i not in out]
    going = [vecs[i] for i in leaving]
    new = story_store.open_story(
        tx,
        title=members[leaving[0]].title,
        first_seen_at=min(members[i].event_at for i in leaving),
        last_seen_at=max(now, *(members[i].event_at for i in leaving)),
        profile=stories.merge_all(going).to_json(),
        article_count=0,  # counted by `split`, with the copies
    )
    going_ids = [ids[i] for i in leaving]
    moved = story_store.split(tx, story_id, new, going_ids, stories.merge_all(staying).to_json())
    story_store.file_keys(tx, new, [k for v in going for k in v.index_keys()], now)
    return Split(story_id, new, moved)


def _near_duplicate(tx: Tx, fp: Fingerprint, since: datetime) -> tuple[int, float] | None:
    """The story of the most similar copy at or above the near-duplicate threshold."""
    best: tuple[int, float] | None = None
    for _, story_id, signature, title in story_store.near_copies(tx, list(fp.bands), since):
        similarity = jaccard(fp.signature, signature)
        if (
            stories.near_duplicate(similarity)
            and (best is None or similarity > best[1])
            and stories.copy_of(fp, title)
        ):
            best = (story_id, similarity)
    return best


def _candidates(
    tx: Tx, memory: Memory, vec: stories.Vectors, since: datetime, until: datetime
) -> tuple[dict[int, stories.Profile], dict[int, int], dict[int, datetime]]:
    """The candidate stories' profiles, their revisions and their first reports' times."""
    found = story_store.candidates(tx, vec.index_keys(), since, until)
    revisions = {story_id: c.revision for story_id, c in found.items()}
    firsts = {story_id: c.first_seen_at for story_id, c in found.items()}
    profiles: dict[int, stories.Profile] = {}
    missing = []
    for story_id, revision in revisions.items():
        kept = tx.recall(memory.profiles, story_id)
        if kept is None or kept[0] != revision:
            missing.append(story_id)
        else:
            profiles[story_id] = kept[1]
    if missing:
        fetched, fetched_revisions = _profiles(tx, memory, missing)
        profiles.update(fetched)
        revisions.update(fetched_revisions)
    return profiles, revisions, firsts


def _profiles(
    tx: Tx, memory: Memory, ids: Sequence[int]
) -> tuple[dict[int, stories.Profile], dict[int, int]]:
    """Read and decode stories' profiles (those not empty), and their revisions."""
    profiles: dict[int, stories.Profile] = {}
    revisions: dict[int, int] = {}
    for story_id, revision, text in story_store.profiles(tx, ids):
        revisions[story_id] = revision
        if text:
            profiles[story_id] = profile = stories.Profile.from_json(text)
            tx.remember(memory.profiles, story_id, (revision, profile))
    return profiles, revisions
