"""heartbeat: a worker's leases last as long as it works, and not much longer.

Every claim (a feed to poll, an alert or a digest to send) leases the row for `LEASE_S`. While
the worker has work in hand (`Heartbeat.working()`, entered by the poll and delivery loops), it
renews every lease it holds each `BEAT_S`, on a thread of its own so that a busy database
connection elsewhere does not hold the renewal up. A worker killed at any instant stops
renewing: what it held is free `LEASE_S` after its last renewal at most, and the next claim of
another worker takes it (see the README's "Several workers" for the whole bound). A worker
whose event loop stalls for longer than `LEASE_S - BEAT_S` loses its leases too; another worker
may then poll the same feed or send the same alert again (same idempotency key): unique keys in
the store keep the entries, stories and alerts single.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

import sqlalchemy as sa
import structlog

from monitor.errors import StoreError
from monitor.storage import Store, leases

log = structlog.get_logger("monitor.leases")

LEASE_S = 20.0  # how long a claim holds a row without being renewed
BEAT_S = 5.0  # how often a worker with work in hand renews its leases

# One thread for every heartbeat of the process: a renewal never queues behind other work
# (the default executor also runs DNS lookups and story pruning).
_THREAD = ThreadPoolExecutor(max_workers=1, thread_name_prefix="monitor-heartbeat")


class Heartbeat:
    """Renews the leases of `owner` while at least one loop is `working()`."""

    def __init__(
        self,
        store: Store,
        owner: str,
        clock: Callable[[], datetime],
        *,
        lease_s: float = LEASE_S,
        every_s: float = BEAT_S,
    ) -> None:
        self.store = store
        self.owner = owner
        self.clock = clock
        self.lease_s = lease_s
        self.every_s = every_s
        self.beats = 0  # renewals done (for tests and /metrics-minded readers)
        self._users = 0
        self._task: asyncio.Task[None] | None = None

    @contextlib.asynccontextmanager
    async def working(self) -> AsyncIterator[None]:
        """Keep this worker's leases alive for the duration of the block."""
        self._users += 1
        if self._task is None:
            self._task = asyncio.create_task(self._beat(), name="heartbeat")
        try:
            yield
        finally:
            self._users -= 1
            if not self._users and self._task is not None:
                self._task.cancel()
                self._task = None

    async def _beat(self) -> None:
        loop = asyncio.get_running_loop()
        last = time.monotonic()
        while True:
            await asyncio.sleep(self.every_s)
            gap = time.monotonic() - last
            if gap > self.lease_s:
                log.warning(
                    "worker stalled past its leases; another worker may take its work over",
                    stalled_s=round(gap, 1),
                    lease_s=self.lease_s,
                )
            try:
                await loop.run_in_executor(
                    _THREAD, leases.renew, self.store, self.owner, self.clock(), self.lease_s
                )
            except (StoreError, sa.exc.SQLAlchemyError) as exc:  # the next beat tries again
                log.warning("leases not renewed; trying again", error=str(exc))
                continue
            last = time.monotonic()
            self.beats += 1
