"""bench/workers.py: several `monitor run` workers on one PostgreSQL database, under SIGKILL.

Two parts, each on a fresh schema of the database in $MONITOR_TEST_DATABASE_URL (or --database):

  soak        3 workers, 60 feeds on 127.0.0.1 gaining an item every 0.5 s (a fifth of them
              distinct events that match the watch rule, a fifth of those carried by a second
              feed too), a webhook receiver that fails 10% of requests and is slow or too slow
              (past the channel's timeout) at others; every 10-20 s one worker is SIGKILLed
              (every third time right after it claimed feeds, in the middle of a poll) and
              started again 1-3 s later. Then the feeds stop gaining items and the workers drain
              the outbox. Counted from the receiver's side: events never alerted, events alerted
              under two idempotency keys, alerts for filler, the longest time from an item's
              publication to its first accepted alert.
  throughput  1, 2 and 3 workers, each run on a fresh schema: 300 feeds of 20 new items each
              (full text in the feed), every feed polled once; entries stored per second from
              the first fetch to the last entry stored.

The texts are invented at random (see tests/e2e/fleet.py); nothing is copied from real news.

    python bench/workers.py [--duration 180] [--feeds 60] [--throughput-feeds 300]

Prints a table, then one line of key=value figures: events, missing, dup_keys, max_delay_s,
kills, then entries per second with 1, 2 and 3 workers.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
import uuid
from datetime import UTC
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.e2e.fleet import (  # noqa: E402  (after the path is set)
    FlakyReceiver,
    Fleet,
    NewsSite,
    Producer,
    invent,
    json_lines,
    outcome,
    write_config,
)


class Schema:
    """A fresh schema of the database, dropped at the end."""

    def __init__(self, url: str) -> None:
        self.admin = sa.create_engine(url)
        self.name = f"bench_{uuid.uuid4().hex[:10]}"
        with self.admin.begin() as conn:
            conn.execute(sa.text(f"CREATE SCHEMA {self.name}"))
        sep = "&" if "?" in url else "?"
        self.url = f"{url}{sep}options=-csearch_path%3D{self.name}"

    def __enter__(self) -> Schema:
        return self

    def __exit__(self, *_: object) -> None:
        with self.admin.begin() as conn:
            conn.execute(sa.text(f"DROP SCHEMA {self.name} CASCADE"))
        self.admin.dispose()


def soak(url: str, *, duration: float, feeds: int, every: float) -> tuple[str, list[str]]:
    rng = random.Random(16)
    receiver = FlakyReceiver(random.Random(17), timeout=3.0)
    notes = []
    with (
        Schema(url) as schema,
        tempfile.TemporaryDirectory() as tmp,
        NewsSite(feeds) as site,
        receiver.serving(),
    ):
        config = write_config(Path(tmp), site, receiver, interval=10.0)
        fleet = Fleet(config, schema.url, 3)
        producer = Producer(site, random.Random(18), every=every, events=0.2)
        try:
            fleet.start_all()
            assert fleet.ready(), "the workers did not start"
            producer.start()
            until = time.monotonic() + duration
            takeovers = []
            while time.monotonic() < until:
                time.sleep(rng.uniform(10, 20))
                if fleet.kills % 3 == 0:
                    victim, dead, killed, held = fleet.kill_after_claim()
                    # The others take the feeds over when the lease runs out (no restart yet).
                    fleet.wait_taken_over(held, dead, killed, 60)
                    takeovers.append(time.time() - killed)
                    fleet.start(victim)
                else:
                    fleet.bounce(rng.randrange(3), rng)
            fleet.drain(site, receiver, producer, bound=120)
            outbox = fleet.outbox()
            fleet.ready()  # (a worker stopped while it starts dies of the signal)
            codes = fleet.stop_all()
            result = outcome(site, receiver)
        finally:
            producer.stopped.set()
            fleet.close()
        lines = fleet.lines()
        try:
            json_lines(lines)
            plain = 0
        except AssertionError:
            plain = sum(1 for line in lines if not line.startswith("{"))
        delays = sorted(result.delays.values())
        median = delays[len(delays) // 2] if delays else 0.0
        notes += [
            f"items published: {producer.count} ({result.events} events), "
            f"feed requests served: {site.requests}",
            f"alert delay, publication to first accepted send: median {median:.1f} s, "
            f"max {result.max_delay:.1f} s",
            "feeds of a worker killed mid-poll claimed again after: "
            + ", ".join(f"{t:.1f}" for t in takeovers)
            + " s",
            f"outbox at the end: {outbox}; exit codes on SIGTERM: {codes}; "
            f"log lines {len(lines)}, not JSON {plain}; alerts for filler {len(result.filler)}",
        ]
    return result.line(fleet.kills), notes


# What the store holds per entry (tables and their indexes), from the last throughput run.
TABLES = ("entry", "article", "rule_match", "story", "article_band", "story_key", "alert", "feed")
SIZES: dict[str, float] = {}


def throughput(url: str, workers: int, *, feeds: int, items: int) -> tuple[float, int, float]:
    """Entries per second for `workers` workers polling `feeds` feeds of `items` new items."""
    rng = random.Random(20)
    receiver = FlakyReceiver(random.Random(21), timeout=5.0, fail=0.0)
    with (
        Schema(url) as schema,
        tempfile.TemporaryDirectory() as tmp,
        NewsSite(feeds, latency=0.1) as site,
        receiver.serving(),
    ):
        n = 0
        for f in range(feeds):
            for _ in range(items):
                n += 1
                site.add(invent(n, rng, event=rng.random() < 0.1, feeds=[f]))
        total = feeds * items
        config = write_config(Path(tmp), site, receiver, interval=3600.0)
        fleet = Fleet(config, schema.url, workers)
        try:
            fleet.start_all()
            assert fleet.ready(), "the workers did not start"
            with fleet.engine.connect() as conn:
                count = sa.text("SELECT count(*) FROM entry")
                deadline = time.monotonic() + 900
                while conn.execute(count).scalar_one() < total:
                    conn.rollback()
                    if time.monotonic() > deadline:
                        raise SystemExit(f"{workers} workers: not every entry stored in 15 min")
                    time.sleep(0.2)
                done = time.time()
                # When the first poll began (recorded with the poll's outcome, at the latest
                # when the worker's cycle ends).
                first = None
                while first is None and time.monotonic() < deadline:
                    conn.rollback()
                    first = conn.execute(
                        sa.text(
                            "SELECT min(last_polled_at) FROM feed"
                            " HAVING count(*) = count(last_polled_at)"
                        )
                    ).scalar()
                    time.sleep(0.2)
                assert first is not None, "the polls were never recorded"
                sizes = {
                    table: int(
                        conn.execute(
                            sa.text("SELECT pg_total_relation_size(CAST(:t AS regclass))"),
                            {"t": table},
                        ).scalar_one()
                    )
                    for table in TABLES
                }
            fleet.stop_all()
        finally:
            fleet.close()
    span = done - first.replace(tzinfo=UTC).timestamp()  # stored as naive UTC
    SIZES.update({t: b / total for t, b in sizes.items()})
    return total / span, total, span


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", default=os.environ.get("MONITOR_TEST_DATABASE_URL"))
    parser.add_argument("--duration", type=float, default=180.0, help="soak seconds (0: none)")
    parser.add_argument("--feeds", type=int, default=60, help="soak feeds")
    parser.add_argument("--every", type=float, default=0.5, help="soak: seconds between items")
    parser.add_argument("--throughput-feeds", type=int, default=300)
    parser.add_argument("--items", type=int, default=20, help="throughput: items per feed")
    parser.add_argument("--workers", default="1,2,3", help="throughput: worker counts")
    args = parser.parse_args()
    if not args.database or not args.database.startswith("postgresql"):
        raise SystemExit("needs PostgreSQL: set MONITOR_TEST_DATABASE_URL or pass --database")

    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cores, PostgreSQL on 127.0.0.1")
    rates = {}
    for n in (int(w) for w in args.workers.split(",")):
        rate, total, span = throughput(
            args.database, n, feeds=args.throughput_feeds, items=args.items
        )
        rates[n] = rate
        print(f"throughput, {n} worker(s): {total} entries in {span:.1f} s = {rate:.0f} entries/s")
    print(
        "bytes per stored entry (with indexes): "
        + ", ".join(f"{t} {b:,.0f}" for t, b in SIZES.items())
        + f"; total {sum(SIZES.values()):,.0f}"
    )
    line = ""
    if args.duration > 0:
        line, notes = soak(
            args.database, duration=args.duration, feeds=args.feeds, every=args.every
        )
        print("\n".join(notes))
    base = rates.get(1)
    if base:
        print(
            "throughput against 1 worker: "
            + ", ".join(f"{n} workers {r / base:.2f}x" for n, r in rates.items())
        )
    print((line + "".join(f" entries_per_s_{n}={r:.0f}" for n, r in rates.items())).strip())


if __name__ == "__main__":
    main()
