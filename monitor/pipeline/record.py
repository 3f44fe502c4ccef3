"""record: a group of feeds' new entries and what they led to, stored in one transaction.

Entries are recorded in the order of their event times (`cluster.event_time`: the published
date when plausible, else the first sighting), oldest first across the group's feeds: a
backlog polled at once meets its stories in the order they happened, as it would have live.
For each entry: store the entry (a second time is a no-op); unless its link is a
stored article already, decide its story (`cluster.place`, repaired with hindsight when the
story reaches a size of `stories.REPAIR_AT`) and store the article there; store its rule
matches; then queue the alerts its story calls for (`alerts`). An edited entry (same feed and
guid, new content) updates its article and never alerts twice.

An entry, its article, its story, its matches and its alerts are stored together or not at
all: an entry that fails is undone alone (`storage.tx.each`) and is simply polled again. One
transaction for a whole group writes the pages every entry touches (the tails of the tables
and their indexes, the story lookup trees' upper levels) once per commit, not once per feed.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime

import structlog

from monitor.errors import StoreError
from monitor.model import AlertSpec, Article, JoinReason, RuleMatch
from monitor.pipeline import alerts, cluster
from monitor.pipeline.fingerprint import Fingerprint, fingerprint
from monitor.storage import Store, feedback, story_alerts
from monitor.storage import articles as article_store
from monitor.storage import stories as story_store
from monitor.storage.tx import Tx, each

log = structlog.get_logger("monitor.pipeline")


@dataclass(frozen=True, slots=True)
class NewEntry:
    """A new (or edited) feed entry made into an article, with what it matched and the alerts
    it asks for. `fingerprint` is computed from the article when not given; `entry_hash` is the
    hash of the entry as the feed wrote it (`FeedItems.fingerprints()`), which notices later
    edits."""

    guid: str
    item: Article
    fingerprint: Fingerprint | None = None
    matches: Sequence[RuleMatch] = ()
    alerts: Sequence[AlertSpec] = ()
    entry_hash: str | None = None
    edited: bool = False


@dataclass(frozen=True, slots=True)
class FeedBatch:
    """One feed's new entries, as polled at `now`."""

    feed_id: int
    entries: Sequence[NewEntry]
    now: datetime


@dataclass(frozen=True, slots=True)
class Recorded:
    entry_was_new: bool
    article_id: int | None = None
    story_id: int | None = None
    article_was_new: bool = False
    alert_ids: tuple[int, ...] = ()
    error: str | None = None  # set when the entry could not be stored (it is polled again)
    reason: JoinReason | None = None  # how the article joined its story
    edited: bool = False  # an edit of a stored entry updated its article


def record(
    store: Store,
    memory: cluster.Memory,
    feeds: Sequence[FeedBatch],
    *,
    window_s: float = cluster.WINDOW_S,
    span_s: float = cluster.SPAN_S,
    copies_s: float = cluster.COPIES_S,
    max_age_s: float = cluster.MAX_AGE_S,
) -> list[list[Recorded]]:
    """Store the feeds' new entries and all they led to, oldest event first, in one
    transaction; what became of each entry, by feed. Storing an entry again is a no-op."""
    items = [
        _Item(
            feed.feed_id,
            feed.now,
            cluster.event_time(new.item.published, feed.now, max_age_s=max_age_s),
            _fingerprinted(new),
        )
        for feed in feeds
        for new in feed.entries
    ]
    order = _oldest_first([item.event_at for item in items])
    step = functools.partial(_entry, memory=memory, times=cluster.Times(window_s, span_s, copies_s))
    done: list[Recorded | StoreError | None] = [None] * len(items)
    outcomes = each(store, [items[i] for i in order], step, begin=cluster.lock)
    for i, outcome in zip(order, outcomes, strict=True):
        done[i] = outcome
    back = iter(done)
    return [[_outcome(next(back)) for _ in feed.entries] for feed in feeds]


def placing_order(
    feeds: Sequence[FeedBatch], *, max_age_s: float = cluster.MAX_AGE_S
) -> list[tuple[int, int]]:
    """The order in which `record` places the feeds' entries: (feed, entry) positions, oldest
    event time first (for a benchmark that counts what each report met when it came)."""
    where = [(f, e) for f, feed in enumerate(feeds) for e in range(len(feed.entries))]
    times = [
        cluster.event_time(new.item.published, feed.now, max_age_s=max_age_s)
        for feed in feeds
        for new in feed.entries
    ]
    return [where[i] for i in _oldest_first(times)]


def _oldest_first(times: Sequence[datetime]) -> list[int]:
    """Positions by event time; a stable sort, so ties keep the feeds' order."""
    return sorted(range(len(times)), key=times.__getitem__)


@dataclass(frozen=True, slots=True)
class _Item:
    """An entry to record: its feed, when it was first seen (`seen`, the poll), and its event
    time."""

    feed_id: int
    seen: datetime
    event_at: datetime
    new: NewEntry


def _fingerprinted(new: NewEntry) -> NewEntry:
    if new.fingerprint is not None:
        return new
    item = new.item
    return replace(new, fingerprint=fingerprint(item.title, item.text, language=item.language))


def _outcome(done: Recorded | StoreError | None) -> Recorded:
    assert done is not None
    if isinstance(done, StoreError):
        return Recorded(entry_was_new=False, error=str(done))
    return done


def _entry(tx: Tx, item: _Item, *, memory: cluster.Memory, times: cluster.Times) -> Recorded:
    feed_id, now, event_at, new = item.feed_id, item.seen, item.event_at, item.new
    fp = new.fingerprint
    assert fp is not None
    if new.edited:
        return _edit(tx, memory, feed_id, new, fp, now, event_at)
    if not article_store.add_entry(tx, feed_id, new.guid, now, new.entry_hash):
        return Recorded(entry_was_new=False)
    article = new.item
    stored = article_store.by_url(tx, article.canonical_url)
    reason: JoinReason | None = None
    if stored is None:  # a new article: which story?
        placed = cluster.place(tx, memory, fp, title=article.title, now=event_at, times=times)
        story_id, reason = placed.story_id, placed.reason
        article_id = article_store.add(
            tx,
            article,
            text_hash=fp.text_hash,
            signature=fp.signature,
            story_id=story_id,
            reason=placed.reason,
            score=placed.score,
            same_as=placed.same_as,
            now=now,
            event_at=event_at,
        )
        cluster.index(tx, memory, article_id, fp, event_at, placed.vectors)
        if placed.repair_due:
            story_id = _repair(tx, memory, story_id, article_id, now, event_at)
    else:  # another feed brought it already
        article_id, story_id = stored
    article_store.link_entry(tx, feed_id, new.guid, article_id)
    article_store.add_matches(tx, article_id, new.matches, now)
    new_report = stored is None and reason != JoinReason.SAME_TEXT
    alert_ids = _queue(tx, story_id, article_id, new.alerts, now, new_report=new_report)
    return Recorded(True, article_id, story_id, stored is None, alert_ids, reason=reason)


def _edit(
    tx: Tx,
    memory: cluster.Memory,
    feed_id: int,
    new: NewEntry,
    fp: Fingerprint,
    now: datetime,
    event_at: datetime,
) -> Recorded:
    """An entry whose title or text changed: update its article and the entry's hash, add any
    new matches; alerts only where the story has none yet for that channel, or escalations."""
    found = article_store.of_entry(tx, feed_id, new.guid)
    if found is None:
        return Recorded(entry_was_new=False)
    article_id, story_id = found
    article_store.edit(
        tx,
        feed_id,
        new.guid,
        new.entry_hash,
        article_id,
        new.item,
        text_hash=fp.text_hash,
        signature=fp.signature,
        now=now,
    )
    cluster.index(tx, memory, article_id, fp, event_at)
    article_store.add_matches(tx, article_id, new.matches, now)
    alert_ids = _queue(tx, story_id, article_id, new.alerts, now, new_report=False)
    return Recorded(False, article_id, story_id, False, alert_ids, edited=True)


def _queue(
    tx: Tx,
    story_id: int,
    article_id: int,
    specs: Sequence[AlertSpec],
    now: datetime,
    *,
    new_report: bool,
) -> tuple[int, ...]:
    """Queue the alerts the article's matches call for in its story (`alerts.for_article`)."""
    if not specs:
        return ()
    queued = story_alerts.queued(tx, story_id)
    muted = story_id in feedback.muted(tx, [story_id])
    new = alerts.for_article(
        story_id, article_id, specs, queued, new_report=new_report, muted=muted
    )
    return story_alerts.queue(tx, new, now)


def _repair(
    tx: Tx,
    memory: cluster.Memory,
    story_id: int,
    article_id: int,
    now: datetime,
    event_at: datetime,
) -> int:
    """Repair the story the article joined (`cluster.repair`, at the article's event time) and
    queue what a split calls for (at `now`); the article's story afterwards. A repair refines,
    it is never needed: if one fails, its writes are undone in a savepoint of their own and the
    article is recorded as it joined."""
    try:
        with tx.savepoint():
            split = cluster.repair(tx, memory, story_id, event_at)
            if split is None:
                return story_id
            _after_split(tx, split, article_id, now)
    except Exception:  # any failure: the article must still be stored
        log.exception("story repair failed; the story is left as it was", story=story_id)
        return story_id
    return split.new if article_id in split.moved else story_id


def _after_split(tx: Tx, split: cluster.Split, article_id: int, now: datetime) -> None:
    """Each alert follows the report that raised it; then each story gets the first alerts it
    now lacks (`alerts.after_split`). The article being recorded is left out: its own alerts
    are queued next, as for any article."""
    story_alerts.move(tx, split.old, split.new, split.moved)
    existing = story_alerts.of_stories(tx, [split.old, split.new])
    if not existing:
        return
    members = story_store.members_of(tx, [split.old, split.new], leaving_out=article_id)
    matches = article_store.matches_of(tx, list(members))
    muted = feedback.muted(tx, [split.old, split.new])
    new = alerts.after_split(split.old, split.new, existing, members, matches, muted=muted)
    story_alerts.queue(tx, new, now)
