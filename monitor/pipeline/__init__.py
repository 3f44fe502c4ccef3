"""pipeline: the order of the stages, and the only module that knows it.

    claim due feed → fetch → parse → drop seen entries → extract → match → fingerprint
    → record (same article? same story? which alerts?) → deliver

Each stage is a function over plain data in its own module; this file wires them to the I/O
(the store, the HTTP client, the extraction pool, the channels). Cheap comes before expensive:
a 304 or an unchanged body ends a feed's work before parsing, and entries already seen (same
guid, same content hash) are dropped with one indexed query before anything is extracted or
matched; an entry whose content hash changed is an edit and is read again.
"""

from __future__ import annotations

import asyncio
import contextvars
import hashlib
import os
import random
import threading
from collections import OrderedDict
from collections.abc import Callable, Collection, Mapping, Sequence
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import sqlalchemy as sa
import structlog

from monitor import metrics
from monitor.channels import Channel
from monitor.config import Config, FeedSettings
from monitor.errors import FeedGone, FetchError
from monitor.model import Article, Entry
from monitor.pipeline import extract, fetch, fingerprint, heartbeat, match, sources, stories
from monitor.pipeline.outbox import DeliveryReport, Outbox
from monitor.storage import Store, leases
from monitor.storage import articles as article_store
from monitor.storage import feeds as feed_store
from monitor.storage import stories as story_store

log = structlog.get_logger("monitor.pipeline")

FLUSH_EVERY = 64  # feed outcomes written per transaction
# The thread that records new entries (see `Pipeline.ingest`): one, so writes keep their order.
_INGEST = ThreadPoolExecutor(max_workers=1, thread_name_prefix="monitor-ingest")
# New entries recorded per transaction at most (see `_Ingest`): a page of the story lookup
# trees that several entries of a group change is written once per commit.
GROUP_ENTRIES = 1000
# Feeds that may wait for the ingest thread, per `fetch.concurrency` (see `_Slot`).
BACKLOG_PER_FETCH = 4


def _link_key(feed: str, entry: Entry) -> str:
    """The article key before any page is read: the entry's canonical link (or, for an entry
    without one, a key private to this feed)."""
    return stories.canonical_url(entry.url) if entry.url else f"urn:monitor:{feed}:{entry.guid}"


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class FeedReport:
    feed: str
    result: str  # not_modified | unchanged | changed | failed | gone
    new_entries: int = 0
    alerts: int = 0
    error: str | None = None


@dataclass
class PollReport:
    feeds: list[FeedReport] = field(default_factory=list)

    def count(self, result: str) -> int:
        return sum(1 for f in self.feeds if f.result == result)

    @property
    def new_entries(self) -> int:
        return sum(f.new_entries for f in self.feeds)

    @property
    def alerts(self) -> int:
        return sum(f.alerts for f in self.feeds)


class _KnownItems:
    """Per (database, feed): the markup hashes of the items last read from the feed and stored
    as they are, so that its next read skips them before parsing them (`parse.read_feed`'s
    `known`): a changed feed mostly repeats the items it had. Process memory, about 400 bytes a
    feed, least recently polled dropped first; a new process reads every item once more.
    Kept per process, not per `Pipeline`: the daemon keeps one pipeline for its life, and a
    process that builds several (the poll benchmark) polls like a daemon that kept running."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._kept: OrderedDict[tuple[str, int], bytes] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple[str, int]) -> frozenset[bytes]:
        with self._lock:
            blob = self._kept.get(key, b"")
        return frozenset(blob[i : i + 8] for i in range(0, len(blob), 8))

    def put(self, key: tuple[str, int], hashes: Collection[bytes]) -> None:
        blob = b"".join(sorted(hashes))
        with self._lock:
            self._kept[key] = blob
            self._kept.move_to_end(key)
            while len(self._kept) > self.size:
                self._kept.popitem(last=False)


_KNOWN = _KnownItems(100_000)


class _Slot:
    """A feed's place among the `fetch.concurrency` feeds on the network, handed on to the
    backlog of feeds waiting for the ingest thread once its pages are read (`to_backlog`). A
    feed that only waits for the database does not hold the network back, and the ingest thread
    finds bigger groups waiting: fewer commits, each lookup-tree page written once for more
    entries. The backlog is bounded too, so a slow disk slows fetching instead of filling
    memory."""

    def __init__(self, network: asyncio.Semaphore, backlog: asyncio.Semaphore) -> None:
        self._network, self._backlog = network, backlog
        self._held: asyncio.Semaphore | None = network

    async def to_backlog(self) -> None:
        if self._held is self._network:
            await self._backlog.acquire()
            self._network.release()
            self._held = self._backlog

    def release(self) -> None:
        if self._held is not None:
            self._held.release()
            self._held = None


@dataclass
class _Job:
    """One feed's entries waiting for the ingest thread, and where its result goes."""

    state: feed_store.FeedState
    entries: Sequence[Entry]
    made: Sequence[Article | BaseException]
    now: datetime
    edited: Collection[str]
    hashes: Mapping[str, str]
    context: contextvars.Context
    done: Future[int] = field(default_factory=Future)
    batch: list[article_store.NewEntry] = field(default_factory=list)
    stored: set[str] = field(default_factory=set)  # guids of the entries stored


class _Ingest:
    """Group commit for the ingest thread: the feeds that arrive while it is storing others are
    recorded together, in arrival order, in one transaction (`record_feeds`), so a busy poll
    commits a few times a second instead of once per feed. A feed alone is recorded at once; no
    feed waits for company."""

    def __init__(self, record: Callable[[list[_Job]], None]) -> None:
        self._record = record
        self._waiting: list[_Job] = []
        self._lock = threading.Lock()
        self._running = False

    def submit(self, job: _Job) -> Future[int]:
        with self._lock:
            self._waiting.append(job)
            start, self._running = not self._running, True
        if start:
            _INGEST.submit(self._drain)
        return job.done

    def _drain(self) -> None:
        while True:
            with self._lock:
                group: list[_Job] = []
                size = 0
                while self._waiting and (not group or size < GROUP_ENTRIES):
                    job = self._waiting.pop(0)
                    if job.done.set_running_or_notify_cancel():  # else its poll was cancelled
                        group.append(job)
                        size += len(job.entries)
                if not group and not self._waiting:
                    self._running = False
                    return
            try:
                self._record(group)
            except BaseException as exc:  # the group's transaction failed: each feed hears it
                for job in group:
                    if not job.done.done():
                        job.done.set_exception(exc)


class Pipeline:
    """One worker's view of the pipeline. `config` may be swapped on reload between cycles."""

    def __init__(
        self,
        config: Config,
        store: Store,
        client: httpx.AsyncClient,
        channels: Mapping[str, Channel],
        pool: Executor | None = None,
        *,
        owner: str | None = None,
        clock: Callable[[], datetime] = utcnow,
        rng: random.Random | None = None,
    ) -> None:
        self.config = config
        self.store = store
        self.client = client
        self.channels = dict(channels)
        self.pool = pool
        self.owner = owner or f"{leases.host()}:{os.getpid()}"
        self.clock = clock
        self.rng = rng or random.Random()
        self.slots = fetch.HostSlots(config.settings.fetch.per_host)
        self.sources = sources.Sources(client, self.slots)
        self.outbox = Outbox(store, self.owner, lambda: self.clock(), self.rng)
        self.heartbeat = heartbeat.Heartbeat(store, self.owner, lambda: self.clock())
        self._polled: list[tuple[feed_store.FeedState, feed_store.PollOutcome]] = []
        self._ingest = _Ingest(self._record)

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
        done: set[int] = set()
        gate = asyncio.Semaphore(settings.concurrency)
        backlog = asyncio.Semaphore(settings.concurrency * BACKLOG_PER_FETCH)
        tasks: set[asyncio.Task[None]] = set()

        async def one(state: feed_store.FeedState) -> None:
            slot = _Slot(gate, backlog)
            try:
                outcome = await self.run_feed(state, slot)
                report.feeds.append(outcome)
                metrics.polls.labels(outcome.result).inc()
                metrics.entries.inc(outcome.new_entries)
                metrics.alerts_queued.inc(outcome.alerts)
                if len(self._polled) >= FLUSH_EVERY:
                    self.flush()
            finally:
                slot.release()

        # Small batches under short leases, renewed while the poll runs (`heartbeat`): a
        # worker killed mid-poll holds no feed for longer than one lease.
        async with self.heartbeat.working():
            try:
                while batch := feed_store.claim(
                    self.store,
                    self.owner,
                    self.clock(),
                    limit=settings.concurrency,
                    lease_s=self.heartbeat.lease_s,
                    due_only=due_only,
                    exclude=done,
                ):
                    for state in batch:
                        done.add(state.id)
                        await gate.acquire()
                        task = asyncio.create_task(one(state))
                        tasks.add(task)
                        task.add_done_callback(tasks.discard)
                if tasks:
                    await asyncio.gather(*tasks)
            finally:
                self.flush()
        return report

    def flush(self) -> None:
        """Write the buffered feed outcomes. Losing them in a crash costs one extra poll of those
        feeds (their leases expire), never an entry: entries are stored as they are ingested."""
        polled, self._polled = self._polled, []
        feed_store.record_many(self.store, polled, self.clock())

    async def run_feed(self, state: feed_store.FeedState, slot: _Slot | None = None) -> FeedReport:
        """Fetch, parse and ingest one feed; any failure becomes feed state, never an exception.
        The feed's network `slot`, if any, is handed to the ingest backlog once it is read."""
        now = self.clock()
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
            self._polled_ok(state, now, status=304, moved_to=result.moved_to)
            return FeedReport(state.name, "not_modified")
        body_hash = hashlib.blake2b(result.body, digest_size=16).hexdigest()
        validators = {
            "etag": result.etag,
            "last_modified": result.last_modified,
            "body_hash": body_hash,
            "changed": True,
        }
        if body_hash == state.body_hash:
            self._polled_ok(
                state, now, status=result.status, moved_to=result.moved_to, **validators
            )
            return FeedReport(state.name, "unchanged")

        known_key = (self.config.database_url, state.id)
        feed = self.sources.read(
            self.config, state.name, result, now=now, known=_KNOWN.get(known_key)
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
        # Only entries not stored yet, or edited since, are normalised, extracted and matched.
        hashes = feed.fingerprints()
        found = article_store.changes(self.store, state.id, hashes)
        parsed = feed.entries(only=found.new | found.edited)
        if parsed.error:
            log.info("feed parsed with problems", feed=state.name, error=parsed.error)
        new_entries = [e for e in parsed.entries if e.guid in found.new]
        work = list(parsed.entries)
        alerts, stored = (
            await self.ingest(state, work, now, edited=found.edited, hashes=hashes, slot=slot)
            if work
            else (0, set())
        )
        _KNOWN.put(known_key, feed.item_hashes(stored | (set(hashes) - found.new - found.edited)))
        self._polled_ok(
            state,
            now,
            status=result.status,
            moved_to=result.moved_to,
            new_entries=len(new_entries),
            dropped=feed.dropped,
            **validators,
        )
        return FeedReport(state.name, "changed", len(new_entries), alerts)

    async def ingest(
        self,
        state: feed_store.FeedState,
        entries: Sequence[Entry],
        now: datetime,
        *,
        edited: Collection[str] = (),
        hashes: Mapping[str, str] | None = None,
        slot: _Slot | None = None,
    ) -> tuple[int, set[str]]:
        """Turn a feed's new entries (and `edited` ones, by guid) into stored articles, matches
        and alerts; return how many alerts were queued, and the guids stored. An entry that
        fails is not stored, so the next poll retries it. An edited entry is read again and
        updates its article."""
        cfg = self.config
        keys = [_link_key(state.name, e) for e in entries]
        known = article_store.find_many(self.store, keys)
        feed_cfg = cfg.feed(state.name)
        made = await asyncio.gather(
            *(
                self._article(state, feed_cfg, e, key, None if e.guid in edited else known.get(key))
                for e, key in zip(entries, keys, strict=True)
            ),
            return_exceptions=True,
        )
        # Matching, fingerprints and the store's writes are CPU work: done on one worker thread,
        # one group of feeds at a time (`_Ingest`), so the event loop keeps reading other feeds'
        # responses meanwhile (run inline, a first poll of many busy feeds starved them into
        # timeouts).
        job = _Job(state, entries, made, now, edited, hashes or {}, contextvars.copy_context())
        if slot is not None:
            await slot.to_backlog()
        alerts = await asyncio.wrap_future(self._ingest.submit(job))
        return alerts, job.stored

    def _record(self, group: list[_Job]) -> None:
        """Match, fingerprint and store the entries `ingest` read, for a group of feeds in one
        transaction; each feed's future gets the number of alerts it queued."""
        ready = []
        for job in group:
            try:
                job.context.run(self._prepare, job)
            except BaseException as exc:  # that feed fails alone, as it would have on its own
                job.done.set_exception(exc)
            else:
                ready.append(job)
        recorded = article_store.record_feeds(
            self.store,
            [article_store.FeedBatch(job.state.id, job.batch, job.now) for job in ready],
            story_window_s=self.config.settings.stories.window,
        )
        for job, done in zip(ready, recorded, strict=True):
            job.done.set_result(job.context.run(self._report, job, done))

    def _prepare(self, job: _Job) -> None:
        """Match and fingerprint one feed's entries (outside the transaction)."""
        cfg, state = self.config, job.state
        for entry, item in zip(job.entries, job.made, strict=True):
            if isinstance(item, BaseException):
                if not isinstance(item, Exception):
                    raise item
                log.error("entry failed", feed=state.name, url=entry.url, error=repr(item))
                continue
            matches = match.match(cfg.matcher, item, cfg.watchlists, state.name)
            specs = match.route(matches, cfg.watchlists, cfg.channels)
            job.batch.append(
                article_store.NewEntry(
                    entry.guid,
                    item,
                    fingerprint.fingerprint(item.title, item.text, language=item.language),
                    matches,
                    specs,
                    entry_hash=job.hashes.get(entry.guid),
                    edited=entry.guid in job.edited,
                )
            )

    def _report(self, job: _Job, recorded: Sequence[article_store.Recorded]) -> int:
        """Log what one feed's entries led to and note the ones stored; the alerts queued."""
        state = job.state
        alerts = 0
        for new, done in zip(job.batch, recorded, strict=True):
            if done.error:
                log.error("entry not stored", feed=state.name, url=new.item.url, error=done.error)
                continue
            job.stored.add(new.guid)
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
                    joined=done.reason,
                )
            alerts += len(done.alert_ids)
        return alerts

    async def _article(
        self,
        state: feed_store.FeedState,
        feed_cfg: FeedSettings | None,
        entry: Entry,
        link_key: str,
        known: Article | None,
    ) -> Article:
        if known is not None:  # another feed brought this article already: no second extraction
            return replace(known, source=state.name)
        fetch_settings = self.config.settings.fetch
        text = extract.feed_text(entry)
        fetch_pages = fetch_settings.fetch_pages
        if feed_cfg is not None and feed_cfg.fetch_pages is not None:
            fetch_pages = feed_cfg.fetch_pages
        page: extract.PageText | None = None
        page_error: str | None = None
        if entry.url and extract.needs_page(
            entry, text, full_text_chars=fetch_settings.full_text_chars, fetch_pages=fetch_pages
        ):
            page, page_error = await self._page(state, entry.url)
        canonical = link_key
        if page is not None and page.canonical_url and entry.url:
            canonical = stories.page_canonical(entry.url, page.canonical_url)
        return extract.build_article(
            entry,
            source=state.name,
            canonical_url=canonical,
            text=text,
            page=page,
            page_error=page_error,
        )

    async def _page(
        self, state: feed_store.FeedState, url: str
    ) -> tuple[extract.PageText | None, str | None]:
        try:
            result = await self.sources.fetch_page(self.config, state.name, url)
        except FetchError as exc:
            log.info(
                "page not fetched; using the feed's text", feed=state.name, url=url, error=str(exc)
            )
            return None, f"page not fetched: {exc}"
        if not result.body:
            return None, "page was empty"
        loop = asyncio.get_running_loop()
        try:
            page = await loop.run_in_executor(
                self.pool, extract.extract_page, result.body, result.url, result.content_type
            )
        except Exception as exc:  # extraction of hostile pages must not lose the entry
            log.warning(
                "extraction failed; using the feed's text",
                feed=state.name,
                url=url,
                error=repr(exc),
            )
            return None, f"extraction failed: {exc!r}"[:300]
        if page is None:
            return None, "no article text found in the page"
        return page, None

    def _polled_ok(self, state: feed_store.FeedState, now: datetime, **values: Any) -> None:
        next_at = fetch.next_poll(now, state.interval_s, rng=self.rng)
        self._polled.append((state, feed_store.PollOutcome(next_at, polled_at=now, **values)))

    def _failed(self, state: feed_store.FeedState, now: datetime, exc: FetchError) -> FeedReport:
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
        return FeedReport(state.name, "gone" if gone else "failed", error=error)

    # -- housekeeping --------------------------------------------------------------------

    async def prune(self) -> dict[str, int]:
        """Drop the story lookup rows that fell out of the window (`storage.stories.prune`),
        on a worker thread: it scans both lookup tables."""
        before = self.clock() - timedelta(seconds=self.config.settings.stories.window)
        try:
            removed = await asyncio.to_thread(story_store.prune, self.store, before)
        except sa.exc.SQLAlchemyError as exc:  # housekeeping: the next prune does it
            log.warning("story lookup rows not pruned; trying again later", error=str(exc))
            return {}
        if any(removed.values()):
            log.info("story lookup rows pruned", window_start=before.isoformat(), **removed)
        return removed

    # -- delivery ------------------------------------------------------------------------

    async def deliver(self, *, limit: int = 500) -> DeliveryReport:
        """Send what is due in the outbox through the channels this worker has (see `outbox`)."""
        delivery = self.config.settings.delivery
        async with self.heartbeat.working():
            return await self.outbox.deliver(delivery, self.channels, limit=limit)


__all__ = ["DeliveryReport", "FeedReport", "Pipeline", "PollReport", "utcnow"]
