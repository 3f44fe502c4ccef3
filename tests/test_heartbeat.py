"""pipeline.heartbeat: a worker keeps the feeds it is polling past their lease, and only while
it works."""

from __future__ import annotations

import asyncio
from pathlib import Path

from monitor.daemon import runtime
from monitor.pipeline import utcnow
from monitor.storage import feeds as feed_store
from tests.servers import Answer, Receiver, Site
from tests.test_pipeline import rss, setup


def test_a_feed_polled_for_longer_than_its_lease_stays_with_its_worker(
    tmp_path: Path, site: Site, receiver: Receiver
) -> None:
    site.route("/slow.rss", Answer(200, rss(("g1", "Quiet day", "https://e.org/1")), delay=1.6))
    config = setup(tmp_path, site, receiver, {"slow": "/slow.rss"})

    async def go() -> tuple[list[feed_store.FeedState], list[feed_store.FeedState]]:
        async with runtime(config) as pipeline:
            pipeline.heartbeat.lease_s, pipeline.heartbeat.every_s = 0.6, 0.15
            polling = asyncio.create_task(pipeline.poll())
            await asyncio.sleep(1.1)  # the poll's first lease ran out long ago
            during = feed_store.claim(
                pipeline.store, "other:1", utcnow(), limit=10, lease_s=20, due_only=False
            )
            assert during == [], "another worker took a feed that was being polled"
            await polling
            assert pipeline.heartbeat.beats >= 3
            beats = pipeline.heartbeat.beats
            await asyncio.sleep(0.5)
            assert pipeline.heartbeat.beats == beats, "no renewals once the work is done"
            return during, feed_store.all_feeds(pipeline.store)

    _, after = asyncio.run(go())
    (state,) = after
    assert state.lease_owner is None and state.last_success_at is not None
