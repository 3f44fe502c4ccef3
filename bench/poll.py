"""bench/poll.py: feeds per second through the real pipeline, against a plain baseline.

A server process on 127.0.0.1 serves N feeds (~20 KB, 50 items each). After a warm-up cycle that
stores every entry, three cycles are timed through `monitor`'s own pipeline into SQLite:

  not_modified  every feed answers 304 to the stored ETag
  unchanged     every feed answers 200 with the same body and no validators
  changed       every feed answers 200 with 5 new items (full text in the feed, no page fetch)

The cycles run one after another in this one process, as in a daemon that keeps running: what
the process remembers of each feed (the items it stored as they are, which the changed cycle
then skips unparsed) carries from the warm-up to the changed cycle.

The baseline is what a plain poller does: httpx with default settings, feedparser with default
settings, and one SELECT plus one INSERT per entry.

Then the sitemap cycle, into a database of its own: M news sitemaps of 100 URLs each (title,
publication date, language; about 25 KB), a warm-up that stores every URL, and a timed cycle
where each sitemap has 5 new URLs. Page extraction is left out (`fetch_pages: false`): what is
measured is fetching, reading the sitemap, dropping the known URLs and storing the new ones
(matching, fingerprints, stories) — a source's own cost, as the feed cycles measure it.

    python bench/poll.py [--feeds 1000] [--sitemaps 1000]     (--feeds 0: the sitemap cycle only)

Prints a table, then one line of key=value figures.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import hashlib
import multiprocessing
import os
import random
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


@functools.cache
def vocabulary() -> tuple[list[str], list[float]]:
    """Real English words and their frequencies, so items read like varied news copy: every
    item says something different, as in real feeds (identical texts would all collapse into
    one story and measure nothing)."""
    from wordfreq import top_n_list, word_frequency

    words = [w for w in top_n_list("en", 6000) if w.isalpha()]
    return words, [word_frequency(w, "en") for w in words]


def item(feed: int, n: int) -> str:
    rng = random.Random(feed * 1_000_003 + n)
    words, weights = vocabulary()
    title = " ".join(rng.choices(words, weights, k=8)).capitalize()
    text = " ".join(rng.choices(words, weights, k=55)).capitalize() + "."
    return (
        f"<item><title>{title}</title>"
        f"<link>https://news{feed % 50}.example.org/{feed}/story-{n}</link>"
        f'<guid isPermaLink="false">feed-{feed}-item-{n}</guid>'
        f"<pubDate>Mon, 23 Nov 2026 {n % 24:02d}:00:00 GMT</pubDate>"
        f"<description>{text}</description></item>"
    )


def feed_body(feed: int, first: int) -> bytes:
    items = "".join(item(feed, n) for n in range(first + 49, first - 1, -1))
    return (
        f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>Feed {feed}</title><link>https://news.example.org/{feed}</link>"
        f"<description>Bench feed</description>{items}</channel></rss>"
    ).encode()


SITEMAP_URLS = 100


def sitemap_url(source: int, n: int, now: float) -> str:
    """URL n of a sitemap: the same in every version, published 200 - n minutes ago. Its
    headline is 9 words, none of the 200 commonest: a title is all a URL brings without its page,
    and headlines of common words ("the", "of") would look like one story and be joined."""
    rng = random.Random(source * 1_000_003 + n + 7)
    words, weights = vocabulary()
    title = " ".join(rng.choices(words[200:], weights[200:], k=9)).capitalize()
    when = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now - (200 - n) * 60))
    return (
        f"<url><loc>https://site{source % 50}.example.org/{source}/news/story-{n}-today</loc>"
        f"<news:news><news:publication><news:name>Site {source}</news:name>"
        f"<news:language>en</news:language></news:publication>"
        f"<news:publication_date>{when}</news:publication_date>"
        f"<news:title>{title}</news:title></news:news></url>"
    )


def sitemap_bodies(source: int, now: float) -> tuple[bytes, bytes]:
    """A news sitemap of 100 URLs, newest first, and the same with 5 newer URLs (and the 5
    oldest gone, as a news sitemap drops them)."""
    urls = [sitemap_url(source, n, now) for n in range(SITEMAP_URLS + 5)]
    head = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" '
        'xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">'
    )
    v1, v2 = (
        (head + "".join(reversed(urls[first : first + SITEMAP_URLS])) + "</urlset>").encode()
        for first in (0, 5)
    )
    return v1, v2


def serve(port_out: multiprocessing.Queue, feeds: int, sitemaps: int) -> None:  # type: ignore[type-arg]
    """The feed server, in its own process so the client's CPU is measured alone."""
    from aiohttp import web

    now = time.time()
    bodies = {
        "v1": [feed_body(i, 0) for i in range(feeds)],
        "v2": [feed_body(i, 5) for i in range(feeds)],
    }
    pairs = [sitemap_bodies(i, now) for i in range(sitemaps)]
    maps = {"v1": [p[0] for p in pairs], "v2": [p[1] for p in pairs]}
    etags = {k: [f'"{hashlib.sha1(b).hexdigest()[:16]}"' for b in v] for k, v in bodies.items()}
    state = {"mode": "etag"}

    async def get_feed(request: web.Request) -> web.Response:
        i = int(request.match_info["n"])
        mode = state["mode"]
        if mode == "etag":
            if request.headers.get("If-None-Match") == etags["v1"][i]:
                return web.Response(status=304, headers={"ETag": etags["v1"][i]})
            return web.Response(
                body=bodies["v1"][i],
                content_type="application/rss+xml",
                headers={"ETag": etags["v1"][i]},
            )
        if mode == "plain":
            return web.Response(body=bodies["v1"][i], content_type="application/rss+xml")
        return web.Response(body=bodies["v2"][i], content_type="application/rss+xml")

    async def get_sitemap(request: web.Request) -> web.Response:
        i = int(request.match_info["n"])
        version = "v2" if state["mode"] == "changed" else "v1"
        return web.Response(body=maps[version][i], content_type="application/xml")

    async def set_mode(request: web.Request) -> web.Response:
        state["mode"] = request.match_info["mode"]
        return web.Response(text="ok")

    async def main() -> None:
        app = web.Application()
        app.router.add_get("/feed/{n}.xml", get_feed)
        app.router.add_get("/sitemap/{n}.xml", get_sitemap)
        app.router.add_post("/mode/{mode}", set_mode)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0, backlog=2048)
        await site.start()
        port_out.put(site._server.sockets[0].getsockname()[1])  # type: ignore[union-attr]
        await asyncio.Event().wait()

    asyncio.run(main())


def set_mode(base: str, mode: str) -> None:
    import httpx

    httpx.post(f"{base}/mode/{mode}").raise_for_status()


def write_config(work: Path, base: str, feeds: int, kind: str = "feed") -> Path:
    (work / "watchlists").mkdir(parents=True, exist_ok=True)
    (work / "watchlists" / "iraq.yaml").write_text(
        (ROOT / "config" / "watchlists" / "iraq.yaml")
        .read_text()
        .replace("[desk-hook, log]", "[log]")
    )
    if kind == "sitemap":
        lines = "\n".join(
            f'  - {{name: s{i}, kind: sitemap, url: "{base}/sitemap/{i}.xml"}}'
            for i in range(feeds)
        )
    else:
        lines = "\n".join(f'  - {{name: f{i}, url: "{base}/feed/{i}.xml"}}' for i in range(feeds))
    (work / "monitor.yaml").write_text(
        "version: 1\ndatabase: sqlite:///bench.db\n"
        # Every feed is on one host here, so the per-host limit is raised to the concurrency.
        "fetch: {concurrency: 100, per_host: 100, fetch_pages: false, timeout: 30s}\n"
        f"feeds:\n{lines}\nchannels:\n  log: {{kind: log}}\nlog: {{level: error}}\n"
    )
    return work / "monitor.yaml"


async def monitor_cycle(config: object, known: object) -> tuple[float, float, dict[str, int]]:
    from monitor.daemon import runtime

    async with runtime(config, known=known) as pipeline:  # type: ignore[arg-type]
        wall, cpu = time.perf_counter(), time.process_time()
        report = await pipeline.poll(due_only=False)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    results: dict[str, int] = {}
    for f in report.feeds:
        results[f.result] = results.get(f.result, 0) + 1
    results["new_entries"] = report.new_entries
    return wall, cpu, results


async def baseline_cycle(base: str, feeds: int, db: sqlite3.Connection) -> tuple[float, float, int]:
    import feedparser
    import httpx

    new = 0
    wall, cpu = time.perf_counter(), time.process_time()
    async with httpx.AsyncClient(timeout=60) as client:
        gate = asyncio.Semaphore(100)

        async def one(i: int) -> None:
            nonlocal new
            async with gate:
                response = await client.get(f"{base}/feed/{i}.xml")
            parsed = feedparser.parse(response.content)
            for e in parsed.entries:
                key = e.get("id") or e.get("link")
                if db.execute("SELECT 1 FROM entry WHERE feed=? AND guid=?", (i, key)).fetchone():
                    continue
                db.execute(
                    "INSERT INTO entry VALUES (?, ?, ?, ?)",
                    (i, key, e.get("title", ""), e.get("summary", "")),
                )
                db.commit()
                new += 1

        await asyncio.gather(*(one(i) for i in range(feeds)))
    return time.perf_counter() - wall, time.process_time() - cpu, new


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--feeds", type=int, default=1000)
    parser.add_argument("--sitemaps", type=int, default=1000)
    args = parser.parse_args()
    n, m = args.feeds, args.sitemaps

    from monitor import config as config_mod
    from monitor import log
    from monitor.pipeline.concurrency import KnownItems

    ctx = multiprocessing.get_context("spawn")
    ports: multiprocessing.Queue[int] = ctx.Queue()
    server = ctx.Process(target=serve, args=(ports, n, m), daemon=True)
    server.start()
    base = f"http://127.0.0.1:{ports.get(timeout=600)}"
    size = len(feed_body(0, 0))
    print(
        f"{n} feeds of {size / 1000:.1f} KB, 50 items each, served from another process; "
        f"python {sys.version.split()[0]}, {os.cpu_count()} cores"
    )
    try:
        with tempfile.TemporaryDirectory() as tmp:
            work = Path(tmp)
            log.setup("error", "console")
            rows = []
            b_wall = b_cpu = 0.0
            # What the daemon remembers of each feed, kept from cycle to cycle as in a daemon.
            known = KnownItems()
            if n:
                config = config_mod.load(write_config(work, base, n), env={})
                set_mode(base, "etag")
                wall, cpu, res = asyncio.run(monitor_cycle(config, known))
                print(f"warm-up: {res} in {wall:.1f}s ({cpu / n * 1000:.2f} CPU ms/feed)")
                for name, mode in (
                    ("not_modified", "etag"),
                    ("unchanged", "plain"),
                    ("changed", "changed"),
                ):
                    set_mode(base, mode)
                    wall, cpu, res = asyncio.run(monitor_cycle(config, known))
                    assert res.get(name) == n, f"{name}: expected {n} {name} feeds, got {res}"
                    if name == "changed":
                        assert res["new_entries"] == 5 * n, res
                    rows.append((name, n / wall, cpu / n * 1000))

                db = sqlite3.connect(work / "baseline.db")
                db.execute("PRAGMA journal_mode=WAL")
                db.execute("CREATE TABLE entry (feed INT, guid TEXT, title TEXT, summary TEXT)")
                db.execute("CREATE INDEX ix ON entry (feed, guid)")
                set_mode(base, "etag")
                asyncio.run(baseline_cycle(base, n, db))  # warm-up: store every entry
                set_mode(base, "changed")
                b_wall, b_cpu, b_new = asyncio.run(baseline_cycle(base, n, db))
                assert b_new == 5 * n, b_new
                db.close()

            maps = work / "sitemaps"
            maps.mkdir()
            sconfig = config_mod.load(write_config(maps, base, m, kind="sitemap"), env={})
            sknown = KnownItems()
            set_mode(base, "etag")
            wall, cpu, res = asyncio.run(monitor_cycle(sconfig, sknown))
            assert res.get("new_entries") == SITEMAP_URLS * m, res
            print(f"sitemap warm-up: {res} in {wall:.1f}s ({cpu / m * 1000:.2f} CPU ms/sitemap)")
            set_mode(base, "changed")
            s_wall, s_cpu, res = asyncio.run(monitor_cycle(sconfig, sknown))
            assert res.get("changed") == m and res["new_entries"] == 5 * m, res
    finally:
        server.kill()

    print(f"\n{'cycle':<14}{'sources/s':>10}{'CPU ms each':>14}")
    for name, rate, cpu_ms in rows:
        print(f"{name:<14}{rate:>10.0f}{cpu_ms:>14.2f}")
    if n:
        print(f"{'baseline chg.':<14}{n / b_wall:>10.0f}{b_cpu / n * 1000:>14.2f}")
    print(f"{'sitemap chg.':<14}{m / s_wall:>10.0f}{s_cpu / m * 1000:>14.2f}")
    figures = {name: rate for name, rate, _ in rows}
    if n:
        print(f"changed cycle: {figures['changed'] / (n / b_wall):.1f}x the baseline")
    print(f"sitemap cycle: {m / s_cpu:.0f} sitemaps per CPU second (target: 100)\n")
    line = ""
    if n:
        line = (
            f"feeds={n} not_modified_per_s={figures['not_modified']:.0f} "
            f"unchanged_per_s={figures['unchanged']:.0f} changed_per_s={figures['changed']:.0f} "
            f"baseline_changed_per_s={n / b_wall:.0f} "
        )
    print(
        f"{line}sitemaps={m} sitemap_changed_per_s={m / s_wall:.0f} "
        f"sitemap_per_cpu_s={m / s_cpu:.0f} sitemap_cpu_ms={s_cpu / m * 1000:.2f}"
    )


if __name__ == "__main__":
    main()
