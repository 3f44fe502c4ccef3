"""retention: the archive policy (`archive.keep`) applied to the store, from the daemon's hourly
housekeeping and after `monitor once`. What a prune keeps and drops is `storage.archive`'s."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

import structlog

from monitor.config import Settings
from monitor.errors import StoreError
from monitor.storage import Store, archive

log = structlog.get_logger("monitor.archive")


def cutoff(settings: Settings, now: datetime) -> datetime | None:
    """The time before which articles are pruned, or None when the archive keeps everything."""
    keep = settings.archive.keep
    return None if keep is None else now - timedelta(seconds=keep)


async def prune(store: Store, settings: Settings, now: datetime) -> archive.Pruned | None:
    """Prune what `archive.keep` no longer covers, on a worker thread; a failure is logged and
    left for the next run (housekeeping never stops the daemon)."""
    before = cutoff(settings, now)
    if before is None:
        return None
    try:
        done = await asyncio.to_thread(archive.prune, store, before, now)
    except StoreError as exc:  # housekeeping: the next run does it
        log.warning("archive not pruned; trying again later", error=str(exc))
        return None
    if done.articles or done.stories:
        log.info(
            "archive pruned",
            before=before.isoformat(),
            articles=done.articles,
            matches=done.matches,
            stories=done.stories,
        )
    return done
