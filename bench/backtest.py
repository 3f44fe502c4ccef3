"""bench/backtest.py: `monitor backtest` over 100,000 stored articles against a 50-rule watchlist.

The store is a SQLite file filled here (seeded, generated text, no real articles): the
articles of `bench/rules.py` (about 5,000 characters of ordinary English with watched and
unwatched place names, event words and acronyms mixed in), 1,000 distinct bodies under
100,000 distinct titles and URLs, grouped into stories of one to three reports over seven
days, with a first alert for every tenth story. The watchlist has 50 rules of the kinds
`bench/rules.py` generates (NEAR, ONEAR, phrases, wildcards, =ACRONYMS, @groups, NOT).

Measured: `pipeline.backtest.run` (read every article from the store, match it with the real
matcher, group by story, compare with the stored alerts and matches), on one core. The
baseline is the matcher alone on the same articles already in memory: the ratio says what the
store reading and the story bookkeeping cost on top of matching. `seconds` is wall-clock time;
`cpu_s` the process's CPU time (the same on an idle core; less when other work shares it).
Last line: articles=… seconds=… articles_per_s=… cpu_s=… matcher_alone_per_s=… ratio=…
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import random
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the checkout this script is in, not an installed copy

import sqlalchemy as sa  # noqa: E402

from monitor.model import Article  # noqa: E402
from monitor.pipeline import backtest  # noqa: E402
from monitor.rules import compile_watchlists  # noqa: E402
from monitor.storage import Store  # noqa: E402
from monitor.storage.tables import alert, article, story  # noqa: E402
from monitor.watchlist import WatchlistSettings  # noqa: E402

_spec = importlib.util.spec_from_file_location("bench_rules", Path(__file__).with_name("rules.py"))
assert _spec is not None and _spec.loader is not None
rules_bench = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(rules_bench)  # the generators of bench/rules.py, not a copy of them

BODIES = 1000
CHUNK = 5000
DAYS = 7


def fill(store: Store, n: int, bodies: list[Article], now: datetime) -> None:
    """`n` articles in stories of 1-3 reports, spread over `DAYS` days, written in chunks."""
    rng = random.Random(7)
    start = now - timedelta(days=DAYS)
    step = timedelta(days=DAYS) / n
    story_id = 0
    left = 0
    with store.write() as conn:
        for chunk in range(0, n, CHUNK):
            stories, articles, alerts = [], [], []
            for i in range(chunk, min(n, chunk + CHUNK)):
                when = start + step * i
                body = bodies[i % len(bodies)]
                title = f"{body.title} {i}"
                if left == 0:
                    story_id += 1
                    left = rng.choice((1, 1, 2, 3))
                    stories.append(
                        {
                            "id": story_id,
                            "title": title,
                            "first_seen_at": when,
                            "last_seen_at": when,
                            "article_count": left,
                            "revision": 1,
                            "profile": "",
                        }
                    )
                    if story_id % 10 == 0:
                        alerts.append(
                            {
                                "story_id": story_id,
                                "article_id": i + 1,
                                "watchlist": "bench",
                                "channel": "log",
                                "kind": "story",
                                "follow_key": "",
                                "severity": "medium",
                                "rules": "r1",
                                "snippet": "",
                                "idempotency_key": f"bench-{story_id}",
                                "status": "sent",
                                "attempts": 1,
                                "next_attempt_at": when,
                                "created_at": when,
                            }
                        )
                left -= 1
                articles.append(
                    {
                        "id": i + 1,
                        "canonical_url": f"https://news{i % 40}.example.org/a/{i}",
                        "url": f"https://news{i % 40}.example.org/a/{i}",
                        "source": f"feed{i % 40}",
                        "title": title,
                        "summary": "",
                        "text": body.text,
                        "text_hash": f"{i:032x}",
                        "language": "en",
                        "authors": "",
                        "fetched_at": when,
                        "extraction": "feed",
                        "story_id": story_id,
                        "story_reason": "new",
                    }
                )
            if stories:
                conn.execute(story.insert(), stories)
            conn.execute(article.insert(), articles)
            if alerts:
                conn.execute(alert.insert(), alerts)


def watchlist(places: list[str]) -> WatchlistSettings:
    # The rules of the first figure (2026-12-07): without bench/rules.py's later `places:`
    # groups, so figures before and after stay comparable.
    (found,) = rules_bench.watchlists(50, places, random.Random(50), real=False)
    data = found.model_dump()
    data["name"] = "bench"
    return WatchlistSettings.model_validate(data)


def one_core() -> None:
    """Run on one core: MONITOR_BENCH_CPU picks which (default: the first this process has)."""
    if hasattr(os, "sched_setaffinity"):
        cpus = sorted(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {int(os.environ.get("MONITOR_BENCH_CPU", cpus[0]))})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--articles", type=int, default=100_000, help="stored articles")
    parser.add_argument("--keep", metavar="DIR", help="build the store in DIR and keep it")
    args = parser.parse_args()
    one_core()
    rng = random.Random(20240607)
    names = rules_bench.place_names(rng, 20000)
    rng.shuffle(names)
    places, others = sorted(names[:4000]), names[4000:]
    bodies = [rules_bench.article(rng, places, others) for _ in range(BODIES)]
    chosen = watchlist(places)
    now = datetime.now(UTC)
    folder = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="monitor-backtest-"))
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "backtest.db"
    path.unlink(missing_ok=True)
    store = Store.open(f"sqlite:///{path}")
    started = time.perf_counter()
    fill(store, args.articles, bodies, now)
    with store.read() as conn:
        stored = conn.scalar(sa.select(sa.func.count()).select_from(article))
    print(f"store: {stored:,} articles written in {time.perf_counter() - started:.1f} s ({path})")
    store.close()

    store = Store.open(f"sqlite:///{path}", migrate=False)  # a fresh process's cold caches
    cpu, wall = time.process_time(), time.perf_counter()
    result = backtest.run(store, [chosen], {}, now - timedelta(days=DAYS + 1), now)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    (found,) = result.watchlists
    store.close()

    matcher = compile_watchlists([chosen])
    sample = [
        Article(url=a.url, canonical_url=a.url, title=f"{a.title} {i}", text=a.text)
        for i, a in enumerate(bodies)
    ]
    alone = time.perf_counter()
    for item in sample:
        matcher.match(item)
    alone_rate = len(sample) / (time.perf_counter() - alone)
    rate = result.articles / wall
    print(
        f"{'articles':>9} {'wall s':>7} {'cpu s':>7} {'articles/s':>10} {'matcher alone/s':>15}"
        f" {'ratio':>6} {'stories':>8} {'new':>6} {'gone':>6}"
    )
    print(
        f"{result.articles:>9,} {wall:>7.2f} {cpu:>7.2f} {rate:>10,.0f} {alone_rate:>15,.0f}"
        f" {rate / alone_rate:>6.2f} {len(found.stories):>8,} {len(found.new):>6,}"
        f" {len(found.gone):>6,}"
    )
    if not args.keep:
        shutil.rmtree(folder)
    print(
        f"articles={result.articles} seconds={wall:.2f} articles_per_s={rate:.0f}"
        f" cpu_s={cpu:.2f} matcher_alone_per_s={alone_rate:.0f} ratio={rate / alone_rate:.2f}"
    )


if __name__ == "__main__":
    main()
