"""storage.story_alerts: a story's alerts as recording an article reads and writes them.

Persistence only: which alerts a placement or a split calls for is `monitor.pipeline.alerts`'s
decision; this reads what a story has queued (`queued`, `of_stories`), writes new outbox rows
(`queue`) and moves alerts with the reports a split moves (`move`). The outbox itself (claims,
sends, retries) is `storage.alerts`.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from monitor.model import AlertKind, AlertStatus, Severity
from monitor.storage.tables import alert
from monitor.storage.tx import Tx

_QUEUED = sa.select(alert.c.watchlist, alert.c.channel, alert.c.severity).where(
    alert.c.story_id == sa.bindparam("story"),
    alert.c.kind.in_([AlertKind.STORY, AlertKind.ESCALATION]),
)


@dataclass(frozen=True, slots=True)
class NewAlert:
    """An alert row to add to the outbox: `follow_key` as `AlertKind` says; `status` pending
    (send now) or digest (held for the next digest)."""

    story_id: int
    article_id: int
    watchlist: str
    channel: str
    severity: Severity
    rules: tuple[str, ...]
    snippet: str
    kind: AlertKind = AlertKind.STORY
    follow_key: str = ""
    status: AlertStatus = AlertStatus.PENDING


@dataclass(frozen=True, slots=True)
class StoryAlert:
    """An alert a story has, whatever its status: where it went, and how severe."""

    story_id: int
    watchlist: str
    channel: str
    severity: Severity


def queued(tx: Tx, story_id: int) -> list[StoryAlert]:
    """The story's first alerts and escalations (not its updates), whatever their status."""
    rows = tx.execute(_QUEUED, {"story": story_id})
    return [StoryAlert(story_id, r.watchlist, r.channel, Severity(r.severity)) for r in rows]


def of_stories(tx: Tx, story_ids: Sequence[int]) -> list[StoryAlert]:
    """Every alert of these stories, whatever its kind and status."""
    rows = tx.execute(
        sa.select(alert.c.story_id, alert.c.watchlist, alert.c.channel, alert.c.severity).where(
            alert.c.story_id.in_(list(story_ids))
        )
    )
    return [StoryAlert(int(r.story_id), r.watchlist, r.channel, Severity(r.severity)) for r in rows]


def queue(tx: Tx, alerts: Sequence[NewAlert], now: datetime) -> tuple[int, ...]:
    """Add the alerts to the outbox, due now; the ids of those that were new (one alert per
    story, watchlist, channel, kind and follow key is a constraint: a repeat is a no-op)."""
    rows = [
        {
            "story_id": a.story_id,
            "article_id": a.article_id,
            "watchlist": a.watchlist,
            "channel": a.channel,
            "kind": a.kind,
            "follow_key": a.follow_key,
            "severity": str(a.severity),
            "rules": ",".join(a.rules),
            "snippet": a.snippet,
            # Random, stored once: every retry of this alert carries the same key.
            "idempotency_key": uuid.uuid4().hex,
            "status": a.status,
            "attempts": 0,
            "next_attempt_at": now,
            "created_at": now,
        }
        for a in alerts
    ]
    return tuple(tx.insert_new(alert, rows))


def move(tx: Tx, old: int, new: int, article_ids: Sequence[int]) -> None:
    """The alerts these articles raised in story `old` now belong to story `new`."""
    tx.execute(
        alert.update()
        .where(alert.c.story_id == old, alert.c.article_id.in_(list(article_ids)))
        .values(story_id=new)
    )
