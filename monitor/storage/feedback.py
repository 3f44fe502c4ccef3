"""storage.feedback: what people tell monitor about its alerts, stored. A story is muted
(`muted_at`) and its alerts not yet on their way are set aside; an alert is marked irrelevant
(`irrelevant_at`) and counts against the rules that raised it. That a muted story queues no
more alerts is the pipeline's decision (`monitor.pipeline.alerts`): `muted` only reads it."""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from monitor.model import AlertKind, AlertStatus, DigestState
from monitor.storage import Store
from monitor.storage.tables import alert, digest, story
from monitor.storage.tx import Statement, Tx

# Run for every article that matched, in its recording transaction: compiled once.
_IS_MUTED = Statement(
    sa.select(story.c.id).where(story.c.id == sa.bindparam("story"), story.c.muted_at.is_not(None))
)


@dataclass(frozen=True, slots=True)
class Muted:
    story_id: int
    title: str
    set_aside: int  # alerts of the story that were waiting and will not be sent


def muted(tx: Tx, story_ids: Collection[int]) -> set[int]:
    """Which of these stories (one, or the two of a split) are muted, read in the transaction
    that would queue their alerts."""
    return {int(r[0]) for story_id in story_ids for r in tx.rows(_IS_MUTED, {"story": story_id})}


def mute(store: Store, story_id: int, now: datetime, *, undo: bool = False) -> Muted | None:
    """Mute a story (or unmute it with `undo`); None when there is no such story. Muting sets
    its waiting alerts aside: pending ones not leased by a sender, and those held in a digest
    that is still open (a digest being sent keeps its members: its retries must carry the same
    alerts). Unmuting lets new reports alert again; alerts set aside stay set aside."""
    with store.write() as conn:
        title = conn.scalar(sa.select(story.c.title).where(story.c.id == story_id))
        if title is None:
            return None
        conn.execute(
            story.update().where(story.c.id == story_id).values(muted_at=None if undo else now)
        )
        if undo:
            return Muted(story_id, str(title), 0)
        open_digests = sa.select(digest.c.id).where(digest.c.status == DigestState.OPEN)
        waiting = sa.or_(
            sa.and_(
                alert.c.status == AlertStatus.PENDING,
                alert.c.digest_id.is_(None),
                sa.or_(alert.c.lease_until.is_(None), alert.c.lease_until < now),
            ),
            sa.and_(
                alert.c.status.in_([AlertStatus.PENDING, AlertStatus.DIGEST]),
                alert.c.digest_id.in_(open_digests),
            ),
        )
        result = conn.execute(
            alert.update()
            .where(alert.c.story_id == story_id, waiting)
            .values(status=AlertStatus.MUTED, digest_id=None, lease_owner=None, lease_until=None)
        )
        return Muted(story_id, str(title), max(result.rowcount, 0))


def mark(store: Store, alert_ids: Collection[int], now: datetime, *, irrelevant: bool) -> int:
    """Mark alerts as not relevant (or clear the mark); how many alerts there were."""
    with store.write() as conn:
        result = conn.execute(
            alert.update()
            .where(alert.c.id.in_(list(alert_ids)))
            .values(irrelevant_at=now if irrelevant else None)
        )
        return max(result.rowcount, 0)


@dataclass(frozen=True, slots=True)
class RuleNoise:
    """Per (watchlist, rule): alerts raised and alerts marked irrelevant."""

    watchlist: str
    rule: str
    alerts: int
    irrelevant: int


def noise(
    store: Store, *, since: datetime | None = None, until: datetime | None = None
) -> list[RuleNoise]:
    """Per rule, how many stories it raised a first alert for and of those how many had an
    alert marked irrelevant (an alert counts for each rule it names; a story counts once per
    watchlist however many channels it went to), noisiest rules first. Counted in the database
    per (watchlist, rules named) and added up per rule here: a page of it stays fast with
    100,000 alerts."""
    cond = [alert.c.kind == AlertKind.STORY]
    if since is not None:
        cond.append(alert.c.created_at >= since)
    if until is not None:
        cond.append(alert.c.created_at < until)
    marked_story = sa.case((alert.c.irrelevant_at.is_not(None), alert.c.story_id))
    counted: Counter[tuple[str, str]] = Counter()
    marked: Counter[tuple[str, str]] = Counter()
    with store.read() as conn:
        rows = conn.execute(
            sa.select(
                alert.c.watchlist,
                alert.c.rules,
                sa.func.count(sa.distinct(alert.c.story_id)),
                sa.func.count(sa.distinct(marked_story)),
            )
            .where(*cond)
            .group_by(alert.c.watchlist, alert.c.rules)
        )
        for watchlist, rules, stories, irrelevant in rows:
            for rule in {x for x in str(rules).split(",") if x}:
                counted[(watchlist, rule)] += int(stories)
                marked[(watchlist, rule)] += int(irrelevant)
    return sorted(
        (RuleNoise(w, r, n, marked[(w, r)]) for (w, r), n in counted.items()),
        key=lambda x: (-x.irrelevant, -x.alerts, x.watchlist, x.rule),
    )


def irrelevant_counts(store: Store) -> dict[tuple[str, str], int]:
    """Per (watchlist, rule): stories whose alerts someone marked irrelevant (any time)."""
    with store.read() as conn:
        rows = conn.execute(
            sa.select(alert.c.watchlist, alert.c.story_id, alert.c.rules)
            .where(alert.c.irrelevant_at.is_not(None))
            .distinct()
        )
        out: Counter[tuple[str, str]] = Counter()
        for r in rows:
            for rule in {x for x in str(r.rules).split(",") if x}:
                out[(r.watchlist, rule)] += 1
    return dict(out)
