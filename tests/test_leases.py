"""storage.leases: claims, renewals and hand-overs of feeds, alerts and digests, on SQLite and
PostgreSQL."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from monitor.storage import Store, leases
from monitor.storage import feeds as feed_store
from monitor.storage.tables import feed

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


def specs(n: int) -> list[feed_store.FeedSpec]:
    return [feed_store.FeedSpec(f"f{i}", f"https://e.org/{i}", 600) for i in range(n)]


def held(store: Store) -> dict[str, str | None]:
    with store.read() as conn:
        return dict(conn.execute(sa.select(feed.c.name, feed.c.lease_owner)).all())  # type: ignore[arg-type]


def test_a_renewed_lease_holds_and_an_unrenewed_one_runs_out(store: Store) -> None:
    feed_store.sync(store, specs(4), NOW)
    mine = feed_store.claim(store, "box:1", NOW, limit=2, lease_s=20)
    theirs = feed_store.claim(store, "box:2", NOW, limit=2, lease_s=20)
    # box:1 keeps working and renews; box:2 died just after its claim.
    assert leases.renew(store, "box:1", NOW + timedelta(seconds=15), 20) == {
        "feed": 2,
        "alert": 0,
        "digest": 0,
    }
    later = NOW + timedelta(seconds=21)
    taken = feed_store.claim(store, "box:3", later, limit=10, lease_s=20)
    assert {f.id for f in taken} == {f.id for f in theirs}
    assert not {f.id for f in taken} & {f.id for f in mine}


def test_release_all_gives_back_only_the_owners_leases(store: Store) -> None:
    feed_store.sync(store, specs(3), NOW)
    feed_store.claim(store, "box:1", NOW, limit=2, lease_s=20)
    feed_store.claim(store, "box:2", NOW, limit=1, lease_s=20)
    assert leases.release_all(store, "box:1")["feed"] == 2
    assert sorted(o for o in held(store).values() if o) == ["box:2"]


def test_a_restart_frees_the_feeds_its_dead_predecessors_held_at_once(store: Store) -> None:
    feed_store.sync(store, specs(3), NOW)
    feed_store.claim(store, "box:4242", NOW, limit=2, lease_s=20)
    feed_store.claim(store, "box:77", NOW, limit=1, lease_s=20)  # still running
    assert leases.release_stale(store, "other-box", lambda pid: False) == {}
    assert leases.release_stale(store, "box", lambda pid: pid != 4242) == {"feed": 2}
    # Freed now, not 20 s from now: the restarted worker polls them at once.
    again = feed_store.claim(store, "box:5", NOW, limit=10, lease_s=20)
    assert len(again) == 2


def test_a_holder_is_gone_when_its_lease_ran_out_or_its_process_is_not_running() -> None:
    host = "box"

    def alive(pid: int) -> bool:
        return pid == 1

    soon, past = NOW + timedelta(seconds=10), NOW - timedelta(seconds=1)
    assert not leases.gone(None, None, NOW, host=host, alive=alive)
    assert not leases.gone("box:1", soon, NOW, host=host, alive=alive)
    assert leases.gone("box:1", past, NOW, host=host, alive=alive)
    assert leases.gone("box:2", soon, NOW, host=host, alive=alive)
    # A process of another machine: only its lease tells.
    assert not leases.gone("other:2", soon, NOW, host=host, alive=alive)
    assert leases.running(os.getpid())
