"""Several `monitor run` workers on one PostgreSQL database, SIGKILLed at random moments and in
the middle of a poll, restarted, against feeds that gain events over time and a webhook receiver
that fails some requests: every event is alerted, in time, once, and nothing else is."""

from __future__ import annotations

import random
import time
from pathlib import Path

import pytest

from tests.e2e.fleet import (
    FlakyReceiver,
    Fleet,
    NewsSite,
    Producer,
    json_lines,
    outcome,
    wait_until,
    write_config,
)

WORKERS = 3
FEEDS = 20
INTERVAL_S = 5.0  # each feed's poll interval
# A feed a killed worker held is claimed again within one lease (20 s) and a poll tick (5 s).
TAKEOVER_S = 30.0
# Publication to alert: a poll interval, a poll lost to a kill (25 s), twice over, plus retries
# of the flaky receiver (1 s, 2 s, 4 s). Before feed leases followed the work it was 600 s.
BOUND_S = 90.0


@pytest.mark.e2e
def test_workers_killed_at_random_and_in_mid_poll_lose_no_event(
    pg_url: str, tmp_path: Path
) -> None:
    rng = random.Random(16)
    receiver = FlakyReceiver(random.Random(17), timeout=3.0)
    with NewsSite(FEEDS) as site, receiver.serving():
        config = write_config(tmp_path, site, receiver, interval=INTERVAL_S)
        fleet = Fleet(config, pg_url, WORKERS)
        producer = Producer(site, random.Random(18), every=0.6, events=0.35)
        try:
            fleet.start_all()  # together, on an empty database: the feed sync must not race
            assert fleet.ready(), [w.lines[-3:] for w in fleet.workers if w is not None]
            producer.start()

            # 1. Killed right after claiming feeds, and not restarted: another worker takes
            # the feeds over once the lease runs out.
            victim, dead, killed, held = fleet.kill_after_claim()
            assert held, "the worker was killed holding feeds"
            assert fleet.wait_taken_over(held, dead, killed, TAKEOVER_S + 15)
            takeover = time.time() - killed
            fleet.start(victim)
            assert fleet.ready()  # (its start frees what dead processes of this host held)

            # 2. Killed right after a claim and restarted at once, as systemd does: the new
            # process frees what its dead predecessor held when it starts.
            victim, dead, killed, held = fleet.kill_after_claim()
            assert held
            time.sleep(1)
            fleet.start(victim)
            restarted = fleet.workers[victim]
            assert restarted is not None
            assert wait_until(
                lambda: any('"took over the work' in line for line in restarted.lines), 30
            )
            assert fleet.wait_taken_over(held, dead, killed, TAKEOVER_S)

            # 3. Random kills at random moments, each worker back 1–3 s later.
            until = time.monotonic() + 30
            while time.monotonic() < until:
                time.sleep(rng.uniform(4, 9))
                fleet.bounce(rng.randrange(WORKERS), rng)
            assert fleet.drain(site, receiver, producer, bound=BOUND_S), fleet.outbox()
            time.sleep(2)  # room for a wrong extra send
            assert fleet.ready()  # (a worker stopped while it starts dies of the signal)
            codes = fleet.stop_all()
            result = outcome(site, receiver)
        finally:
            producer.stopped.set()
            fleet.close()

    print(result.line(fleet.kills), f"takeover_s={takeover:.1f}")
    assert result.events >= 20
    assert result.missing == [], "events never alerted"
    assert result.dup_keys == [], "events alerted under two idempotency keys"
    assert result.filler == [], "alerts for items that match no rule"
    assert result.max_delay <= BOUND_S, sorted(result.delays.values())[-5:]
    assert takeover <= TAKEOVER_S
    assert codes == [0] * WORKERS
    events = json_lines(fleet.lines())  # every line of every worker is one JSON object
    assert not [e for e in events if e["level"] in ("error", "critical")]
