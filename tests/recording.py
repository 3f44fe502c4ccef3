"""Recording entries in tests, through `pipeline.record` as the pipeline does: one entry, or one
feed's entries in one transaction, with the clustering memory a store keeps between calls (as a
daemon keeps one for its life)."""

from __future__ import annotations

import weakref
from collections.abc import Sequence
from datetime import datetime

from monitor.model import AlertSpec, Article, RuleMatch
from monitor.pipeline import cluster
from monitor.pipeline.record import FeedBatch, NewEntry, Recorded, record
from monitor.storage import Store

_MEMORY: weakref.WeakKeyDictionary[Store, cluster.Memory] = weakref.WeakKeyDictionary()


def memory_of(store: Store) -> cluster.Memory:
    """The store's clustering memory (a new store, as a new process, starts with none)."""
    found = _MEMORY.get(store)
    if found is None:
        found = _MEMORY[store] = cluster.Memory()
    return found


def entries(
    store: Store,
    *,
    feed_id: int,
    entries: Sequence[NewEntry],
    now: datetime,
    story_window_s: float,
    **times: float,
) -> list[Recorded]:
    """A feed's new entries in one transaction; `times` are `record`'s other bounds (`span_s`,
    `copies_s`, `max_age_s`), their defaults when not given."""
    (done,) = record(
        store,
        memory_of(store),
        [FeedBatch(feed_id, entries, now)],
        window_s=story_window_s,
        **times,
    )
    return done


def entry(
    store: Store,
    *,
    feed_id: int,
    guid: str,
    item: Article,
    matches: Sequence[RuleMatch] = (),
    alerts: Sequence[AlertSpec] = (),
    now: datetime,
    story_window_s: float,
    entry_hash: str | None = None,
    edited: bool = False,
    **times: float,
) -> Recorded:
    """One entry in a transaction of its own."""
    new = NewEntry(guid, item, None, matches, alerts, entry_hash, edited)
    (done,) = entries(
        store, feed_id=feed_id, entries=[new], now=now, story_window_s=story_window_s, **times
    )
    return done
