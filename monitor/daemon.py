"""daemon: builds the runtime (store, HTTP client, channels, extraction pool) and drives the
loops: APScheduler ticks, signals (SIGTERM/SIGINT stop, SIGHUP reloads), sd_notify, and the
small HTTP server for /healthz, /readyz and /metrics."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import multiprocessing
import os
import signal
import socket
import time
from collections.abc import AsyncIterator, Callable, Coroutine, Mapping
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from typing import Any

import httpx
import structlog
from aiohttp import web
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from monitor import config as config_mod
from monitor import http, metrics, redact
from monitor import log as log_config
from monitor import web as webview
from monitor.channels import Channel, kinds
from monitor.config import Config
from monitor.errors import ConfigError
from monitor.pipeline import (
    DeliveryReport,
    Pipeline,
    PollReport,
    PollResult,
    cluster,
    extract,
    retention,
)
from monitor.pipeline.concurrency import KnownItems
from monitor.storage import Store, leases
from monitor.storage import alerts as alert_store
from monitor.storage import engine as store_engine

log = structlog.get_logger("monitor.daemon")

POLL_TICK_S = 5.0
PRUNE_EVERY_S = 3600.0  # story lookup rows older than the window are deleted this often
GC_THRESHOLD = 20_000  # allocations between young collections (Python's default: 700)


def build_channels(config: Config, client: httpx.AsyncClient) -> dict[str, Channel]:
    known = kinds()
    return {name: known[s.kind](name, s, client) for name, s in config.channels.items()}


def secrets_of(config: Config) -> redact.Secrets:
    """Every secret of the config and the web view's credentials (from the environment), so
    the logger can mask them wherever they appear."""
    web = webview.access.Credentials.from_env().secrets()
    return config.secrets.adding(pair for secret in web for pair in redact.plain(secret))


@contextlib.asynccontextmanager
async def runtime(
    config: Config, *, owner: str | None = None, known: KnownItems | None = None
) -> AsyncIterator[Pipeline]:
    """Everything a pipeline needs, opened in order and closed in reverse: the store, the HTTP
    client, the channels, the extraction pool, the ingest thread and the memories. `known`
    carries what an earlier runtime of this process learnt of the feeds (the poll benchmark
    polls like one daemon that kept running)."""
    store = Store.open(config.database_url)
    fetch = config.settings.fetch
    client = http.build_client(
        timeout=fetch.timeout,
        max_connections=max(100, fetch.concurrency * 2),
        user_agent=fetch.user_agent,
    )
    channels = build_channels(config, client)
    # forkserver: the daemon has threads (DNS, SQLite) that a plain fork would copy mid-flight.
    _start_resource_tracker()
    pool = ProcessPoolExecutor(
        max_workers=max(1, min(4, os.cpu_count() or 1)),
        mp_context=multiprocessing.get_context("forkserver"),
        initializer=extract.worker_init,
        initargs=(log_config.again(),),
    )
    # One thread matches, fingerprints and stores new entries, so writes keep their order.
    ingest = ThreadPoolExecutor(max_workers=1, thread_name_prefix="monitor-ingest")
    pipeline = Pipeline(
        config,
        store,
        client,
        channels,
        pool=pool,
        ingest=ingest,
        known=known if known is not None else KnownItems(),
        memory=cluster.Memory(),
        owner=owner,
    )
    # A busy poll keeps many objects alive for a while (feeds waiting for the ingest thread,
    # the story profiles kept): at the default threshold the collector ran a full collection
    # every few hundred feeds, a tenth of the poll's CPU. Cyclic garbage is still collected,
    # after 20,000 allocations instead of 700.
    gc_thresholds = gc.get_threshold()
    gc.set_threshold(GC_THRESHOLD, *gc_thresholds[1:])
    try:
        pipeline.sync_feeds()
        freed = leases.release_stale(store, pipeline.owner.rpartition(":")[0], leases.running)
        if freed:
            # Counts under plural names: `feed` and `alert` are log fields naming one row.
            counts = {f"{table}s": n for table, n in freed.items()}
            log.info("took over the work of a process on this host that died", **counts)
        yield pipeline
    finally:
        with contextlib.suppress(Exception):
            leases.release_all(store, pipeline.owner)
        for channel in pipeline.channels.values():
            with contextlib.suppress(Exception):
                await channel.aclose()
        await client.aclose()
        pool.shutdown(wait=False, cancel_futures=True)
        await asyncio.to_thread(ingest.shutdown)  # the transaction in hand completes
        store.close()
        gc.set_threshold(*gc_thresholds)


async def once(config: Config, *, deliver: bool = True) -> tuple[PollReport, DeliveryReport]:
    """Poll every feed now, ingest what is new, deliver what is pending, drop the story lookup
    rows that fell out of the window, and return."""
    async with runtime(config) as pipeline:
        polled = await pipeline.poll(due_only=False)
        delivered = DeliveryReport()
        if deliver:
            while True:
                batch = await pipeline.deliver()
                for name in ("sent", "failed", "dead", "held", "notices"):
                    setattr(delivered, name, getattr(delivered, name) + getattr(batch, name))
                if batch.sent + batch.failed + batch.dead == 0:
                    break
        await pipeline.prune()
        await retention.prune(pipeline.store, config.settings, pipeline.clock())
        return polled, delivered


class Daemon:
    """`monitor run`: the loops, until SIGTERM or SIGINT."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.stopping = asyncio.Event()
        self.running: set[asyncio.Task[Any]] = set()
        self.last: dict[str, float] = {}

    async def run(self) -> None:
        async with runtime(self.config) as pipeline:
            self.pipeline = pipeline
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(sig, self.stopping.set)
            loop.add_signal_handler(signal.SIGHUP, lambda: self._spawn("reload", self.reload))
            scheduler = AsyncIOScheduler(timezone="UTC")
            # Each loop: how often it ticks, and whether its first tick is at start.
            loops = (
                ("poll", POLL_TICK_S, True),
                ("deliver", self.config.settings.delivery.interval, True),
                ("outbox", 30.0, False),
                ("prune", PRUNE_EVERY_S, False),
                ("archive", PRUNE_EVERY_S, True),
            )
            for name, every, at_start in loops:
                scheduler.add_job(
                    self._tick,
                    "interval",
                    seconds=every,
                    args=[name],
                    max_instances=1,
                    coalesce=True,
                    **({"next_run_time": _now_dt()} if at_start else {}),
                )
            web_runner = await self._serve_http()
            scheduler.start()
            _sd_notify("READY=1")
            log.info(
                "monitor running",
                feeds=len(self.config.settings.feeds),
                watchlists=len(self.config.watchlists),
                channels=len(pipeline.channels),
                database=store_engine.redact(self.config.database_url),
            )
            watchdog = self._spawn("watchdog", self._watchdog)
            await self.stopping.wait()
            _sd_notify("STOPPING=1")
            log.info("stopping: finishing the work in hand")
            scheduler.shutdown(wait=False)
            watchdog.cancel()
            await self._drain(timeout=30.0)
            if web_runner is not None:
                await web_runner.cleanup()
        log.info("stopped")

    def _spawn(self, name: str, job: Callable[[], Coroutine[Any, Any, Any]]) -> asyncio.Task[Any]:
        task = asyncio.create_task(job(), name=name)
        self.running.add(task)
        task.add_done_callback(self.running.discard)
        return task

    async def _tick(self, loop_name: str) -> None:
        if self.stopping.is_set():
            return
        jobs: Mapping[str, Callable[[], Coroutine[Any, Any, Any]]] = {
            "poll": self._poll,
            "deliver": self.pipeline.deliver,
            "outbox": self._outbox,
            "prune": self.pipeline.prune,
            "archive": self._archive,
        }
        task = self._spawn(loop_name, jobs[loop_name])
        try:
            await asyncio.shield(task)
            self.last[loop_name] = time.time()
            metrics.last_cycle.labels(loop_name).set_to_current_time()
        except asyncio.CancelledError:
            if self.stopping.is_set():
                # The scheduler's shutdown cancels the tick, not its work: `_drain` finishes
                # that. Nothing failed, so nothing for the scheduler to log.
                return
            raise
        except Exception:
            log.exception("loop failed; it runs again at its next tick", loop=loop_name)

    async def _poll(self) -> None:
        with metrics.poll_seconds.time():
            report = await self.pipeline.poll()
        if report.feeds:
            log.info(
                "poll cycle",
                feeds=len(report.feeds),
                new_entries=report.new_entries,
                alerts=report.alerts,
                failed=report.count(PollResult.FAILED),
                not_modified=report.count(PollResult.NOT_MODIFIED),
            )

    async def _archive(self) -> None:
        await retention.prune(self.pipeline.store, self.config.settings, self.pipeline.clock())

    async def _outbox(self) -> None:
        for status, n in alert_store.counts(self.pipeline.store).items():
            metrics.outbox.labels(status).set(n)

    async def reload(self) -> None:
        """Re-read the config; a config that fails validation leaves the running one in force."""
        try:
            new = config_mod.load(self.config.path)
        except ConfigError as exc:
            log.error(
                "config reload refused; keeping the running config",
                problems=[str(p) for p in exc.problems],
            )
            return
        except Exception:  # a bug in loading: still one log line, and the old config stays
            log.exception("config reload failed; keeping the running config")
            return
        old_channels = self.pipeline.channels
        self.pipeline.config = new
        self.pipeline.channels = build_channels(new, self.pipeline.client)
        self.pipeline.slots.per_host = new.settings.fetch.per_host
        self.pipeline.sync_feeds()
        self.config = new
        for channel in old_channels.values():
            with contextlib.suppress(Exception):
                await channel.aclose()
        log.info("config reloaded", feeds=len(new.settings.feeds), watchlists=len(new.watchlists))

    async def _drain(self, timeout: float) -> None:
        pending = [t for t in self.running if not t.done()]
        if not pending:
            return
        _, still = await asyncio.wait(pending, timeout=timeout)
        for task in still:
            task.cancel()
        if still:
            await asyncio.wait(still, timeout=5)

    async def _watchdog(self) -> None:
        usec = os.environ.get("WATCHDOG_USEC")
        if not usec or not usec.isdigit():
            return
        every = int(usec) / 1e6 / 2
        while True:
            await asyncio.sleep(every)
            if self.pipeline.store.ping():
                _sd_notify("WATCHDOG=1")

    def healthy(self) -> tuple[bool, dict[str, Any]]:
        """Healthy while both loops keep completing (a stuck loop fails the check)."""
        now = time.time()
        limits = {
            "poll": POLL_TICK_S * 6 + self.config.settings.fetch.timeout * 3,
            "deliver": self.config.settings.delivery.interval * 6 + 120,
        }
        ages = {
            name: round(now - self.last[name], 1) if name in self.last else None for name in limits
        }
        ok = all(age is not None and age < limits[name] for name, age in ages.items())
        return ok, {"loops_seconds_since_last": ages}

    async def _serve_http(self) -> web.AppRunner | None:
        listen = self.config.settings.http.listen
        if not listen:
            return None
        host, _, port = listen.rpartition(":")

        async def healthz(_: web.Request) -> web.Response:
            ok, detail = self.healthy()
            return web.json_response({"ok": ok, **detail}, status=200 if ok else 503)

        async def readyz(_: web.Request) -> web.Response:
            store = self.pipeline.store
            ok = store.ping() and store_engine.is_current(store.engine)
            return web.json_response({"ok": ok}, status=200 if ok else 503)

        async def metrics_view(_: web.Request) -> web.Response:
            return web.Response(
                body=generate_latest(metrics.REGISTRY),
                headers={"Content-Type": CONTENT_TYPE_LATEST},
            )

        app = web.Application()
        app.router.add_get("/healthz", healthz)
        app.router.add_get("/readyz", readyz)
        app.router.add_get("/metrics", metrics_view)
        if self.config.settings.http.web:
            view = webview.Web(
                lambda: self.pipeline.store,
                lambda: self.config,
                host=host,
                secrets=lambda: self.config.secrets,
                clock=self.pipeline.clock,
            )
            webview.attach(app, view)
            if view.closed:
                log.warning(
                    "web view refuses every page: http.listen is not a loopback address and "
                    "no credentials are set (MONITOR_WEB_TOKEN, or MONITOR_WEB_USER and "
                    "MONITOR_WEB_PASSWORD)",
                    listen=listen,
                )
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, host or "127.0.0.1", int(port))
        await site.start()
        log.info("http listening", listen=listen)
        return runner


# What multiprocessing's resource tracker says after the daemon was killed (SIGKILL, OOM): it
# removes the pool's semaphores the daemon could not, and warns that they "leaked".
_TRACKER_NOTE = "ignore:resource_tracker:UserWarning"


def _start_resource_tracker() -> None:
    """Start multiprocessing's resource tracker (the pool needs it) without its leak warning.

    The tracker is an interpreter of its own that writes plain text to the daemon's stderr, out
    of reach of the JSON logging, and the one thing it says there (after a kill, that it cleaned
    up after the daemon) needs no action. Its command line takes the warning filters of the
    environment it starts in; the daemon's own environment is left as it was."""
    from multiprocessing import resource_tracker

    before = os.environ.get("PYTHONWARNINGS")
    os.environ["PYTHONWARNINGS"] = ",".join(filter(None, [before, _TRACKER_NOTE]))
    try:
        resource_tracker.ensure_running()
    finally:
        if before is None:
            del os.environ["PYTHONWARNINGS"]
        else:
            os.environ["PYTHONWARNINGS"] = before


def _now_dt() -> Any:
    from datetime import UTC, datetime

    return datetime.now(UTC)


def _sd_notify(state: str) -> None:
    """Tell systemd about readiness and liveness (Type=notify). A no-op outside systemd.

    Written by hand: the protocol is one datagram, not worth a dependency.
    """
    address = os.environ.get("NOTIFY_SOCKET")
    if not address:
        return
    if address.startswith("@"):
        address = "\0" + address[1:]
    with contextlib.suppress(OSError), socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.connect(address)
        sock.sendall(state.encode())
