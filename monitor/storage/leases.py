"""storage.leases: how a worker takes a row of work (a feed, an alert, a digest) for itself.

A lease is two columns, `lease_owner` ("host:pid") and `lease_until`. A worker claims free rows
(`claim`: `SELECT … FOR UPDATE SKIP LOCKED` on PostgreSQL, so workers claim side by side without
waiting for each other), renews what it holds while it works (`renew`, the heartbeat), and gives
rows back when done. A lease that ran out is anyone's: a worker that died stops renewing, and
its work goes to another within one lease. A worker starting on a host frees at once what dead
processes of that host held (`release_stale`). How long a lease lasts is the caller's choice.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Collection, Sequence
from datetime import datetime, timedelta

import sqlalchemy as sa

from monitor.storage import Store
from monitor.storage.tables import alert, digest, feed

LEASED = (feed, alert, digest)  # every table whose rows are leased


def free(table: sa.Table, now: datetime) -> sa.ColumnElement[bool]:
    """Rows nobody holds at `now`."""
    return sa.or_(table.c.lease_until.is_(None), table.c.lease_until < now)


def claim(
    conn: sa.Connection,
    table: sa.Table,
    owner: str,
    now: datetime,
    *,
    where: Sequence[sa.ColumnElement[bool]],
    order_by: Sequence[sa.ColumnElement[object]],
    limit: int,
    lease_s: float,
) -> list[int]:
    """Lease to `owner`, until `lease_s` from `now`, up to `limit` free rows of `table` that
    match `where`, first in `order_by`; their ids, in that order. Runs in the caller's
    transaction, so it can change the rows further before anyone else sees them."""
    ids = list(
        conn.scalars(
            sa.select(table.c.id)
            .where(*where, free(table, now))
            .order_by(*order_by)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    )
    if ids:
        conn.execute(
            table.update()
            .where(table.c.id.in_(ids))
            .values(lease_owner=owner, lease_until=now + timedelta(seconds=lease_s))
        )
    return ids


def renew(store: Store, owner: str, now: datetime, lease_s: float) -> dict[str, int]:
    """Extend every lease `owner` holds to `lease_s` from `now` (the heartbeat); how many rows
    of each table it holds."""
    until = now + timedelta(seconds=lease_s)
    held: dict[str, int] = {}
    with store.write() as conn:
        for table in LEASED:
            result = conn.execute(
                table.update().where(table.c.lease_owner == owner).values(lease_until=until)
            )
            held[table.name] = int(result.rowcount)
    return held


def release(
    conn: sa.Connection, table: sa.Table, owner: str, ids: Collection[int] | None = None
) -> int:
    """Give back the rows of `table` that `owner` holds (only `ids`, when given)."""
    cond = [table.c.lease_owner == owner]
    if ids is not None:
        if not ids:
            return 0
        cond.append(table.c.id.in_(list(ids)))
    result = conn.execute(table.update().where(*cond).values(lease_owner=None, lease_until=None))
    return int(result.rowcount)


def release_all(store: Store, owner: str) -> dict[str, int]:
    """Give back every lease `owner` holds, in every table (a clean stop)."""
    with store.write() as conn:
        return {table.name: release(conn, table, owner) for table in LEASED}


def release_stale(store: Store, host: str, alive: Callable[[int], bool]) -> dict[str, int]:
    """At start: free the leases that earlier processes on this host left behind when they died
    (killed, crashed, power cut), so their work goes on now rather than when the lease ends.
    How many rows of each table were freed."""
    mine = f"{host}:"
    freed: dict[str, int] = {}
    with store.write() as conn:
        for table in LEASED:
            owners = conn.scalars(
                sa.select(table.c.lease_owner)
                .where(table.c.lease_owner.startswith(mine, autoescape=True))
                .distinct()
            ).all()
            dead = [o for o in owners if _dead(o[len(mine) :], alive)]
            if dead:
                result = conn.execute(
                    table.update()
                    .where(table.c.lease_owner.in_(dead))
                    .values(lease_owner=None, lease_until=None)
                )
                freed[table.name] = int(result.rowcount)
    return freed


def _dead(pid: str, alive: Callable[[int], bool]) -> bool:
    # A lease under this very process's name, found at its start, is a predecessor's: in a
    # container a restarted daemon has the same host name and pid as the one that died.
    if not pid.isdigit():
        return False
    return int(pid) == os.getpid() or not alive(int(pid))


def gone(
    owner: str | None,
    until: datetime | None,
    now: datetime,
    *,
    host: str,
    alive: Callable[[int], bool],
) -> bool:
    """Whether the holder of a lease is gone: it stopped renewing (the lease ran out and nobody
    took the row yet), or it is a process of this host that no longer runs."""
    if owner is None:
        return False
    if until is None or until < now:
        return True
    name, _, pid = owner.rpartition(":")
    return name == host and pid.isdigit() and not alive(int(pid))


def running(pid: int) -> bool:
    """Whether a process with this id runs on this machine."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it runs, as another user
        return True
    return True


def host() -> str:
    """This machine's part of an owner's name ("host:pid")."""
    return os.uname().nodename
