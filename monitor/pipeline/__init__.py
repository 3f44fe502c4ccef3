"""pipeline: the order of the stages, and the only module that knows it.

`Pipeline.run_feed` takes one feed through every stage, in order:

    fetch → parse → new entries → extract → match → fingerprint
          → in one transaction: cluster → alerts → write

Each stage is a function over plain data in a module of its own (`fetch`, `parse`, `extract`,
`match`, `fingerprint`; `record` runs the transaction: `cluster` decides the story, `alerts`
which alerts follow, `storage` writes). This module wires them to the I/O: the store, the HTTP
client, the extraction pool and the ingest thread, which `daemon.runtime()` makes and hands
in. How many feeds run at once, and how the feeds waiting for the ingest thread share one
transaction, is `concurrency`'s.

Cheap comes before expensive: a 304 or an unchanged body ends a feed's work before parsing,
and entries already seen (same guid, same content hash) are dropped with one indexed query
before anything is extracted or matched; an entry whose content hash changed is an edit and is
read again.
"""

from __future__ import annotations

import asyncio
import enum
import functools
import hashlib
import os
import random
from collections.abc import Callable, Collection, Mapping, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import structlog

from monitor import metrics
from monitor.channels import Channel
from monitor.config import Config
from monitor.errors import FeedGone, FetchError, StoreError
from monitor.model import Article, Entry
from monitor.pipeline import (
    cluster,
    concurrency,
    fetch,
    fingerprint,
    heartbeat,
    match,
    read,
    record,
    sources,
)
from monitor.pipeline.outbox import DeliveryReport, Outbox
from monitor.storage import Store, leases
from monitor.storage import articles as article_store
from monitor.storage import feeds as feed_store
from monitor.storage import stories as story_store

log = structlog.get_logger("monitor.pipeline")

FLUSH_EVERY = 64  # feed outcomes written per transaction


class PollResult(enum.StrEnum):
    """What one poll of a feed came to."""

    NOT_MODIFIED = "not_modified"  # a 304
    UNCHANGED = "unchanged"  # the same body as last time
    CHANGED = "changed"  # a new body, read
    FAILED = "failed"  # retried with backoff
    GONE = "gone"  # HTTP 410: retired


@dataclass
class FeedReport:
    feed: str
    result: PollResult
    new_entries: int = 0
    alerts: int = 0
    error: str | None = None


@dataclass
class PollReport:
    feeds: list[FeedReport] = field(default_factory=list)

    def count(self, result: PollResult) -> int:
        return sum(1 for f in self.feeds if f.result == result)

    @property
    def new_entries(self) -> int:
        return sum(f.new_entries for f in self.feeds)

    @property
    def alerts(self) -> int:
        return sum(f.alerts for f in self.feeds)


# What the ingest thread is given for one feed (`_prepare`), and hands back (`_write`).
_Written = tuple[record.FeedBatch, list[record.Recorded]]


def utcnow() -> datetime:
    return datetime.now(UTC)


class Pipeline:
    """One worker's view of the pipeline. `config` may be swapped on reload between cycles.

    `pool` runs page extraction (processes); `ingest`, one thread, runs matching, fingerprints
    and the store's writes in order; `known` and `memory` are what this worker remembers of
    feeds and stories. `daemon.runtime()` makes them all."""

    def __init__(
        self,
        config: Config,
        store: Store,
        client: httpx.AsyncClient,
        channels: Mapping[str, Channel],
        *,
        pool: Executor | None,
        ingest: Executor,
        known: concurrency.KnownItems,
        memory: cluster.Memory,
        owner: str | None = None,
        clock: Callable[[], datetime] = utcnow,
        rng: random.Random | None = None,
    ) -> None:
        self.config = config
        self.store = store
        self.client = client
        self.channels = dict(channels)
        self.pool = pool
        self.known = known
        self.memory = memory
        self.owner = owner or f"{leases.host()}:{os.getpid()}"
        self.clock = clock
        self.rng = rng or random.Random()
        self.slots = fetch.HostSlots(config.settings.fetch.per_host)
        self.sources = sources.Sources(client, self.slots)
        self.reader = read.Reader(self.sources, pool)
        self.outbox = Outbox(store, self.owner, lambda: self.clock(), self.rng)
        self.heartbeat = heartbeat.Heartbeat(store, self.owner, lambda: self.clock())
        self.ingest: concurrency.GroupCommit[record.FeedBatch, _Written] = concurrency.GroupCommit(
            ingest, self._write
        )
        self._polled: list[tuple[feed_store.FeedState, feed_store.PollOutcome]] = []

    # -- polling -------------------------------------------------------------------------

    def sync_feeds(self) -> None:
        specs = [
            feed_store.FeedSpec(f.name, f.url, self.config.feed_interval(f))
            for f in self.config.settings.feeds
            if f.enabled
        ]
        feed_store.sync(self.store, specs, self.clock())

    async def poll(self, *, due_only: bool = True) -> PollReport:
        """Poll every due feed (every active feed with `due_only=False`) once."""
        settings = self.config.settings.fetch
        report = PollReport()

        def claim(done: Collection[int]) -> list[feed_store.FeedState]:
            return feed_store.claim(
                self.store,
                self.owner,
                self.clock(),
                limit=settings.concurrency,
                lease_s=self.heartbeat.lease_s,
                due_only=due_only,
                exclude=done,
            )

        async def one(state: feed_store.FeedState, slot: concurrency.Slot) -> None:
            outcome = await self.run_feed(state, slot)
            report.feeds.append(outcome)
            metrics.polls.labels(outcome.result).inc()
            metrics.entries.inc(outcome.new_entries)
            metrics.alerts_queued.inc(outcome.alerts)
            if len(self._polled) >= FLUSH_EVERY:
                self.flush()

        # Small batches under short leases, renewed while the poll runs (`heartbeat`): a
        # worker killed mid-poll holds no feed for longer than one lease.
        # A round of every feed (`monitor once`) is a backlog: its feeds' entries are stored
        # together once fetched, so they are placed oldest first across feeds (`hold`).
        if not due_only:
            self.ingest.hold(settings.concurrency * concurrency.BACKLOG_PER_FETCH)
        async with self.heartbeat.working():
            try:
                await concurrency.poll_each(
                    claim, one, settings.concurrency, fetched=self.ingest.release
                )
            finally:
                self.ingest.release()
                self.flush()
        return report

    async def run_feed(
        self, state: feed_store.FeedState, slot: concurrency.Slot | None = None
    ) -> FeedReport:
        """One feed through every stage, in order; any failure becomes feed state, never an
        exception. The feed's network `slot`, if any, is handed on once its pages are read."""
        now = self.clock()
        # fetch: a 304, or the same body as last time, ends the feed's work
        try:
            result = await self.sources.fetch(
                self.config,
                state.name,
                state.url,
                now=now,
                etag=state.etag,
                last_modified=state.last_modified,
            )
        except FetchError as exc:
            return self._failed(state, now, exc)
        if result.not_modified or result.body is None:
            return self._done(
                state, now, PollResult.NOT_MODIFIED, status=304, moved_to=result.moved_to
            )
        body_hash = hashlib.blake2b(result.body, digest_size=16).hexdigest()
        polled: dict[str, Any] = {
            "status": result.status,
            "moved_to": result.moved_to,
            "etag": result.etag,
            "last_modified": result.last_modified,
            "body_hash": body_hash,
            "changed": True,
        }
        if body_hash == state.body_hash:
            return self._done(state, now, PollResult.UNCHANGED, **polled)

        # parse (by the source's kind): the items this process stored as they are last time
        # are skipped unparsed
        known_key = (self.config.database_url, state.id)
        feed = self.sources.read(
            self.config, state.name, result, now=now, known=self.known.get(known_key)
        )
        if feed.dropped:
            log.warning(
                "feed truncated: only its newest entries are read",
                feed=state.name,
                kept=len(feed.guids),
                dropped=feed.dropped,
            )
        if not feed.guids and feed.error:
            error = FetchError(feed.error, url=state.url, status=result.status)
            return self._failed(state, now, error)

        # new entries: those not stored yet, or edited since (one indexed query)
        hashes = feed.fingerprints()
        found = article_store.changes(self.store, state.id, hashes)
        parsed = feed.entries(only=found.new | found.edited)
        if parsed.error:
            log.info("feed parsed with problems", feed=state.name, error=parsed.error)
        entries = list(parsed.entries)
        alerts, stored = 0, set[str]()
        if entries:
            # extract: a page only where the feed lacks the text, and an article once however
            # many feeds carry it
            made = await self.reader.articles(
                self.store, self.config, state.name, entries, edited=found.edited
            )
            # match → fingerprint, then in one transaction: cluster → alerts → write; on the
            # ingest thread, in one transaction with the feeds waiting there
            if slot is not None:
                await slot.to_backlog()
            prepare = functools.partial(
                self._prepare, state, entries, made, now, found.edited, hashes
            )
            job: concurrency.Job[record.FeedBatch, _Written] = concurrency.Job(
                prepare, len(entries)
            )
            batch, recorded = await asyncio.wrap_future(self.ingest.submit(job))
            alerts, stored = self._report(state, batch, recorded)

        self.known.put(
            known_key, feed.item_hashes(stored | (set(hashes) - found.new - found.edited))
        )
        new_entries = sum(1 for e in entries if e.guid in found.new)
        return self._done(
            state,
            now,
            PollResult.CHANGED,
            new_entries=new_entries,
            alerts=alerts,
            dropped=feed.dropped,
            **polled,
        )

    # -- the stages' wiring --------------------------------------------------------------

    def _prepare(
        self,
        state: feed_store.FeedState,
        entries: Sequence[Entry],
        made: Sequence[Article | BaseException],
        now: datetime,
        edited: Collection[str],
        hashes: Mapping[str, str],
    ) -> record.FeedBatch:
        """Match and fingerprint one feed's articles (on the ingest thread, before the
        transaction)."""
        cfg = self.config
        batch = []
        for entry, item in zip(entries, made, strict=True):
            if isinstance(item, BaseException):
                if not isinstance(item, Exception):
                    raise item
                log.error("entry failed", feed=state.name, url=entry.url, error=repr(item))
                continue
            matches = match.match(cfg.matcher, item, cfg.watchlists, state.name)
            specs = match.route(matches, cfg.watchlists, cfg.channels)
            batch.append(
                record.NewEntry(
                    entry.guid,
                    item,
                    fingerprint.fingerprint(item.title, item.text, language=item.language),
                    matches,
                    specs,
                    entry_hash=hashes.get(entry.guid),
                    edited=entry.guid in edited,
                )
            )
        return record.FeedBatch(state.id, batch, now)

    def _write(self, batches: list[record.FeedBatch]) -> list[_Written]:
        """Cluster → alerts → write, for a group of feeds in one transaction (on the ingest
        thread; see `record`)."""
        cfg = self.config.settings.stories
        done = record.record(
            self.store,
            self.memory,
            batches,
            window_s=cfg.window,
            span_s=cfg.span,
            copies_s=cfg.copies,
            max_age_s=cfg.max_age,
        )
        return list(zip(batches, done, strict=True))

    def _report(
        self,
        state: feed_store.FeedState,
        batch: record.FeedBatch,
        recorded: Sequence[record.Recorded],
    ) -> tuple[int, set[str]]:
        """Log what one feed's entries led to: the alerts queued, and the guids stored."""
        alerts = 0
        stored: set[str] = set()
        for new, done in zip(batch.entries, recorded, strict=True):
            if done.error:
                log.error("entry not stored", feed=state.name, url=new.item.url, error=done.error)
                continue
            stored.add(new.guid)
            if done.edited:
                log.info("entry edited; article updated", feed=state.name, url=new.item.url)
            for alert_id in done.alert_ids:
                log.info(
                    "alert queued",
                    feed=state.name,
                    alert=alert_id,
                    story=done.story_id,
                    url=new.item.url,
                    title=new.item.title,
                    joined=None if done.reason is None else str(done.reason),
                )
            alerts += len(done.alert_ids)
        return alerts, stored

    def _done(
        self,
        state: feed_store.FeedState,
        now: datetime,
        result: PollResult,
        *,
        alerts: int = 0,
        **values: Any,
    ) -> FeedReport:
        """A poll that went through: its outcome, buffered for `flush`."""
        next_at = fetch.next_poll(now, state.interval_s, rng=self.rng)
        self._polled.append((state, feed_store.PollOutcome(next_at, polled_at=now, **values)))
        return FeedReport(state.name, result, values.get("new_entries", 0), alerts)

    def _failed(self, state: feed_store.FeedState, now: datetime, exc: FetchError) -> FeedReport:
        """A poll that failed: the feed backs off (or, gone, is retired)."""
        errors = state.error_count + 1
        error = self.config.secrets(str(exc))  # a URL built from ${VAR} may carry a key
        gone = isinstance(exc, FeedGone)
        next_at = fetch.next_poll(
            now,
            state.interval_s,
            errors=errors,
            retry_after=exc.retry_after,
            max_backoff_s=self.config.settings.fetch.max_backoff,
            rng=self.rng,
        )
        outcome = feed_store.PollOutcome(
            next_at, status=exc.status, ok=False, error=error, gone=gone, polled_at=now
        )
        self._polled.append((state, outcome))
        log.warning(
            "feed failed",
            feed=state.name,
            url=state.url,
            error=error,
            errors=errors,
            next_poll=next_at.isoformat(),
            retired=gone,
        )
        result = PollResult.GONE if gone else PollResult.FAILED
        return FeedReport(state.name, result, error=error)

    def flush(self) -> None:
        """Write the buffered feed outcomes. Losing them in a crash costs one extra poll of those
        feeds (their leases expire), never an entry: entries are stored as they are ingested."""
        polled, self._polled = self._polled, []
        feed_store.record_many(self.store, polled, self.clock())

    # -- housekeeping --------------------------------------------------------------------

    async def prune(self) -> dict[str, int]:
        """Drop the story lookup rows that fell out of the window (`storage.stories.prune`),
        on a worker thread: it scans both lookup tables. The rows carry event times; what a
        report arriving now can still meet is the window (rewrites) or the copies' lookback
        before now (a backlog's older reports are placed when they arrive, before a prune)."""
        cfg = self.config.settings.stories
        now = self.clock()
        before = now - timedelta(seconds=cfg.window)
        bands_before = now - timedelta(seconds=max(cfg.copies, cfg.window))
        try:
            removed = await asyncio.to_thread(story_store.prune, self.store, before, bands_before)
        except StoreError as exc:  # housekeeping: the next prune does it
            log.warning("story lookup rows not pruned; trying again later", error=str(exc))
            return {}
        if any(removed.values()):
            log.info("story lookup rows pruned", window_start=before.isoformat(), **removed)
        return removed

    # -- delivery ------------------------------------------------------------------------

    async def deliver(self, *, limit: int = 500) -> DeliveryReport:
        """Send what is due in the outbox through the channels this worker has (see `outbox`)."""
        delivery = self.config.settings.delivery
        self.outbox.public_url = self.config.settings.http.public_url
        async with self.heartbeat.working():
            return await self.outbox.deliver(delivery, self.channels, limit=limit)


__all__ = ["DeliveryReport", "FeedReport", "Pipeline", "PollReport", "PollResult", "utcnow"]
