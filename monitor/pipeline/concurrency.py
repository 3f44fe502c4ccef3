"""concurrency: how many feeds are polled at once, and how their entries reach the store.

Feeds are fetched, parsed and extracted on the event loop, `fetch.concurrency` at a time
(`poll_each`, `Slot`). Matching, fingerprints and the store's writes are CPU work: they run on
one ingest thread (so writes keep their order), where the feeds that arrive while it stores
others are stored together, in arrival order, in one transaction (`GroupCommit`), so a busy
poll commits a few times a second instead of once per feed. `KnownItems` remembers which items
of each feed were stored as they are, so that its next read skips them unparsed.

The ingest thread and the memories are made by `daemon.runtime()` and handed to the pipeline:
nothing here is created at import.
"""

from __future__ import annotations

import asyncio
import contextvars
import threading
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Collection, Sequence
from concurrent.futures import Executor, Future
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from monitor.storage.feeds import FeedState

T = TypeVar("T")
R = TypeVar("R")

# Feeds that may wait for the ingest thread, per `fetch.concurrency` (see `Slot`).
BACKLOG_PER_FETCH = 4
# New entries stored per transaction at most (see `GroupCommit`): a page of the story lookup
# trees that several entries of a group change is written once per commit.
GROUP_ENTRIES = 1000
KNOWN_FEEDS = 100_000  # feeds whose stored items `KnownItems` remembers (~400 bytes each)


class KnownItems:
    """Per (database, feed): the markup hashes of the items last read from the feed and stored
    as they are, so that its next read skips them before parsing them (`parse.read_feed`'s
    `known`): a changed feed mostly repeats the items it had. Process memory, least recently
    polled feed dropped first; a new process reads every item once more. One lives as long as
    the daemon (or the benchmark that polls like one), whichever pipelines it builds."""

    def __init__(self, size: int = KNOWN_FEEDS) -> None:
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


class Slot:
    """A feed's place among the `fetch.concurrency` feeds on the network, handed on to the
    backlog of feeds waiting for the ingest thread once its pages are read (`to_backlog`). A
    feed that only waits for the database does not hold the network back, and the ingest thread
    finds bigger groups waiting: fewer commits, each lookup-tree page written once for more
    entries. The backlog is bounded too, so a slow disk slows fetching instead of filling
    memory."""

    def __init__(
        self,
        network: asyncio.Semaphore,
        backlog: asyncio.Semaphore,
        off_network: Callable[[], None] | None = None,
    ) -> None:
        self._network, self._backlog = network, backlog
        self._held: asyncio.Semaphore | None = network
        self._off_network = off_network  # told once, when the feed leaves the network

    async def to_backlog(self) -> None:
        if self._held is self._network:
            await self._backlog.acquire()
            self._network.release()
            self._held = self._backlog
            self._left()

    def release(self) -> None:
        if self._held is not None:
            if self._held is self._network:
                self._left()
            self._held.release()
            self._held = None

    def _left(self) -> None:
        if self._off_network is not None:
            self._off_network()
            self._off_network = None


async def poll_each(
    claim: Callable[[Collection[int]], Sequence[FeedState]],
    run: Callable[[FeedState, Slot], Awaitable[None]],
    concurrency: int,
    fetched: Callable[[], None] | None = None,
) -> None:
    """Run `run` for every feed `claim` hands out (given the ids claimed so far), at most
    `concurrency` on the network at a time and `BACKLOG_PER_FETCH` times as many waiting for
    the ingest thread; until `claim` hands out no more. `fetched` is called once no feed is left
    on the network and none is left to claim (what is left waits for the store, or is done)."""
    gate = asyncio.Semaphore(concurrency)
    backlog = asyncio.Semaphore(concurrency * BACKLOG_PER_FETCH)
    tasks: set[asyncio.Task[None]] = set()
    done: set[int] = set()
    on_network = 0
    quiet = asyncio.Event()

    def off_network() -> None:
        nonlocal on_network
        on_network -= 1
        if not on_network:
            quiet.set()

    async def one(state: FeedState, slot: Slot) -> None:
        try:
            await run(state, slot)
        finally:
            slot.release()

    while batch := claim(done):
        for state in batch:
            done.add(state.id)
            await gate.acquire()
            on_network += 1
            quiet.clear()
            task = asyncio.create_task(one(state, Slot(gate, backlog, off_network)))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
    if fetched is not None:
        if on_network:
            await quiet.wait()
        fetched()
    if tasks:
        await asyncio.gather(*tasks)


@dataclass
class Job(Generic[T, R]):
    """One feed's work for the ingest thread: `prepare` (run there, in the feed's context: the
    CPU work before the transaction) makes what is written; `done` gets what became of it."""

    prepare: Callable[[], T]
    size: int  # its entries, which bound a group
    context: contextvars.Context = field(default_factory=contextvars.copy_context)
    done: Future[R] = field(default_factory=Future)


class GroupCommit(Generic[T, R]):
    """Group commit on the ingest thread: the jobs that arrive while it is writing others are
    prepared and written together, in arrival order, in one call of `write` (one transaction),
    up to `GROUP_ENTRIES` entries. A job alone is written at once; none waits for company. A
    job whose `prepare` fails fails alone; a `write` that fails fails every job of its group."""

    def __init__(self, executor: Executor, write: Callable[[list[T]], Sequence[R]]) -> None:
        self._executor = executor
        self._write = write
        self._waiting: list[Job[T, R]] = []
        self._lock = threading.Lock()
        self._running = False
        self._hold: int | None = None  # see `hold`

    def hold(self, feeds: int) -> None:
        """Keep the jobs that arrive waiting until `release`, or until `feeds` jobs or
        `GROUP_ENTRIES` entries wait. For a backlog polled at once (`monitor once`): the feeds
        of a round are then stored together, and the store places their entries oldest first
        across feeds, as they would have come live, instead of in groups by when each feed's
        fetch happened to end. `feeds` is the number that may wait (the fetch backlog), so the
        fetches never stall behind a held store."""
        with self._lock:
            self._hold = feeds

    def release(self) -> None:
        """End `hold`: what waits is stored now."""
        with self._lock:
            self._hold = None
            start = bool(self._waiting) and not self._running
            self._running = self._running or start
        if start:
            self._executor.submit(self._drain)

    def _held(self) -> bool:
        if self._hold is None:
            return False
        size = sum(job.size for job in self._waiting)
        return len(self._waiting) < self._hold and size < GROUP_ENTRIES

    def submit(self, job: Job[T, R]) -> Future[R]:
        with self._lock:
            self._waiting.append(job)
            start = not self._running and not self._held()
            self._running = self._running or start
        if start:
            self._executor.submit(self._drain)
        return job.done

    def _drain(self) -> None:
        while True:
            with self._lock:
                group: list[Job[T, R]] = []
                size = 0
                if self._held():  # too few wait to be worth writing before the round ends
                    self._running = False
                    return
                while self._waiting and (not group or size < GROUP_ENTRIES):
                    job = self._waiting.pop(0)
                    if job.done.set_running_or_notify_cancel():  # else its poll was cancelled
                        group.append(job)
                        size += job.size
                if not group and not self._waiting:
                    self._running = False
                    return
            try:
                self._run(group)
            except BaseException as exc:  # the group's transaction failed: each job hears it
                for job in group:
                    if not job.done.done():
                        job.done.set_exception(exc)

    def _run(self, group: list[Job[T, R]]) -> None:
        ready: list[Job[T, R]] = []
        prepared: list[T] = []
        for job in group:
            try:
                prepared.append(job.context.run(job.prepare))
            except BaseException as exc:  # that job fails alone, as it would have on its own
                job.done.set_exception(exc)
            else:
                ready.append(job)
        for job, result in zip(ready, self._write(prepared), strict=True):
            job.done.set_result(result)
