"""bench/web.py: how long the web view's pages take with 100,000 stories stored.

The store is a SQLite file filled by `bench/backtest.py`'s generator (seeded, generated text):
100,000 stories of one to three reports (about 175,000 articles of 1,000 characters), a first
alert for every tenth story with a stored rule match and a delivery attempt, every fiftieth of
those a dead letter, and 40 feeds. The daemon's web view (the real `monitor.web` app, with
its guard, CSRF cookie and templates) is served by aiohttp on 127.0.0.1 in this process, and
each page is fetched over HTTP again and again; the time is the client's, request to last
byte. The baseline is /healthz on the same server: what aiohttp itself costs per request.
The settings hold channel secrets, so every page also pays for their redaction, as in the
daemon.
Last line: stories=… slowest_p95_ms=… stories_p50_ms=… story_p50_ms=… healthz_p50_ms=…
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import random
import shutil
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the checkout this script is in, not an installed copy

import sqlalchemy as sa  # noqa: E402
from aiohttp import ClientSession, web  # noqa: E402

from monitor import config as config_mod  # noqa: E402
from monitor.model import Article  # noqa: E402
from monitor.storage import Store  # noqa: E402
from monitor.storage import feeds as feed_store  # noqa: E402
from monitor.storage.tables import alert, delivery_attempt, rule_match  # noqa: E402
from monitor.web import Web, attach  # noqa: E402

_spec = importlib.util.spec_from_file_location(
    "bench_backtest", Path(__file__).with_name("backtest.py")
)
assert _spec is not None and _spec.loader is not None
backtest_bench = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(backtest_bench)  # its store generator, not a copy of it

CHARS = 1000


def fill(store: Store, stories: int, now: datetime) -> int:
    """About `stories` stories (articles until the count is reached); the articles' count."""
    rng = random.Random(20240607)
    names = backtest_bench.rules_bench.place_names(rng, 2000)
    bodies = [
        Article(url="", canonical_url="", title=b.title, text=b.text[:CHARS])
        for b in (backtest_bench.rules_bench.article(rng, names, names) for _ in range(200))
    ]
    articles = int(stories * 1.75)  # stories of 1, 1, 2 or 3 reports: 1.75 on average
    backtest_bench.fill(store, articles, bodies, now)
    feed_store.sync(
        store,
        [
            feed_store.FeedSpec(f"feed{i}", f"https://news{i}.example.org/rss", 600)
            for i in range(40)
        ],
        now,
    )
    with store.write() as conn:
        conn.execute(
            rule_match.insert().from_select(
                ["article_id", "watchlist", "rule", "severity", "hits", "snippet", "created_at"],
                sa.select(
                    alert.c.article_id,
                    alert.c.watchlist,
                    alert.c.rules,
                    alert.c.severity,
                    sa.literal('[{"term": "t", "field": "text", "start": 0, "end": 4}]'),
                    sa.literal("the words around the hit, as an alert quotes them"),
                    alert.c.created_at,
                ),
            )
        )
        conn.execute(
            delivery_attempt.insert().from_select(
                ["alert_id", "at", "ok", "detail", "duration_ms"],
                sa.select(
                    alert.c.id,
                    alert.c.created_at,
                    sa.true(),
                    sa.literal("HTTP 200: ok"),
                    sa.literal(12),
                ),
            )
        )
        conn.execute(
            alert.update().where(alert.c.id % 50 == 0).values(status="dead", last_error="HTTP 500")
        )
    with store.read() as conn:
        return int(conn.scalar(sa.select(sa.func.count()).select_from(backtest_bench.article)) or 0)


async def measure(
    store: Store, config: config_mod.Config, paths: list[str], n: int
) -> dict[str, list[float]]:
    app = web.Application()

    async def healthz(_: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    app.router.add_get("/healthz", healthz)
    # The config's secrets as the daemon passes them: every page goes through their redaction.
    secrets = config.secrets
    assert secrets, "the bench's settings have channel secrets to hide"
    attach(app, Web(lambda: store, lambda: config, host="127.0.0.1", secrets=lambda: secrets))
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    times: dict[str, list[float]] = {p: [] for p in paths}
    try:
        async with ClientSession() as session:
            for path in paths:  # one warm-up each: the first read of a page fills caches
                async with session.get(f"http://127.0.0.1:{port}{path}") as r:
                    assert r.status == 200, (path, r.status, await r.text())
            for _ in range(n):
                for path in paths:
                    start = time.perf_counter()
                    async with session.get(f"http://127.0.0.1:{port}{path}") as r:
                        await r.read()
                    times[path].append((time.perf_counter() - start) * 1000)
    finally:
        await runner.cleanup()
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--stories", type=int, default=100_000, help="stories stored")
    parser.add_argument("--requests", type=int, default=50, help="requests per page")
    parser.add_argument("--keep", metavar="DIR", help="build the store in DIR and keep it")
    args = parser.parse_args()
    backtest_bench.one_core()
    folder = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="monitor-web-"))
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "web.db"
    now = datetime.now(UTC)
    if not path.exists():
        store = Store.open(f"sqlite:///{path}")
        started = time.perf_counter()
        articles = fill(store, args.stories, now)
        print(f"store: {articles:,} articles written in {time.perf_counter() - started:.1f} s")
        store.close()
    (folder / "w.yaml").write_text(
        "version: 1\nname: bench\nchannels: [log]\nrules: [{name: r1, query: offensive}]\n"
    )
    (folder / "m.yaml").write_text(
        f"version: 1\ndatabase: sqlite:///{path}\nwatchlists: w.yaml\n"
        "channels:\n  log: {kind: log}\n"
        # Not sent to (no watchlist names them): there for their secrets, which every page hides.
        "  hook: {kind: webhook, url: 'https://desk.example.org/hook?token=T0k3nValue',"
        " secret: 'hook-signing-s3cret'}\n"
        "  chat: {kind: slack, url: 'https://hooks.slack.com/services/T0AB12CD/B0CD34EF/x1Y2z3'}\n"
    )
    config = config_mod.load(folder / "m.yaml", env={})
    store = Store.open(f"sqlite:///{path}", migrate=False)
    with store.read() as conn:
        stories = int(conn.scalar(sa.text("SELECT count(*) FROM story")) or 0)
        big = conn.scalar(sa.text("SELECT id FROM story ORDER BY article_count DESC LIMIT 1"))
        alerted = conn.scalar(sa.text("SELECT max(story_id) FROM alert"))
    pages = {
        "healthz (baseline)": "/healthz",
        "stories, newest": "/stories",
        "stories, page 1,000": "/stories?page=1000",
        "stories, only alerted": "/stories?alerted=1",
        "story, alerted": f"/stories/{alerted}",
        "story, largest": f"/stories/{big}",
        "rules (30 days)": "/rules",
        "feeds": "/feeds",
        "outbox": "/outbox",
        "outbox, dead": "/outbox?status=dead",
        "backtest form": "/backtest",
    }
    times = asyncio.run(measure(store, config, list(pages.values()), args.requests))
    store.close()
    print(f"{stories:,} stories stored; {args.requests} requests per page, one core")
    print(f"{'page':<24} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8} {'× healthz':>10}")
    floor = statistics.median(times["/healthz"])
    p95 = {}
    for label, page in pages.items():
        found = sorted(times[page])
        p50 = statistics.median(found)
        p95[page] = found[max(0, int(len(found) * 0.95) - 1)]
        print(f"{label:<24} {p50:>8.1f} {p95[page]:>8.1f} {found[-1]:>8.1f} {p50 / floor:>10.1f}")
    slowest = max(p95[p] for p in pages.values() if p != "/healthz")
    if not args.keep:
        shutil.rmtree(folder)
    print(
        f"stories={stories} slowest_p95_ms={slowest:.1f}"
        f" stories_p50_ms={statistics.median(times['/stories']):.1f}"
        f" story_p50_ms={statistics.median(times[pages['story, alerted']]):.1f}"
        f" healthz_p50_ms={floor:.1f}"
    )


if __name__ == "__main__":
    main()
