"""outbox: the delivery loop's I/O. For each channel, in this order: send the digests and notices
that are due, then claim due alerts, hold those that wait (digest, quiet hours, rate limit) in
the channel's open digest, send the rest, and mark each only after the far end confirmed.

The decisions are `pipeline.deliver`'s (pure); this module does the store and network work
around them. A channel that fails in a way that is about the channel (down, slow, 5xx, 429)
pauses as a whole, its other alerts untouched, for the backoff or the `Retry-After` it asked
for; a channel failing for longer than `delivery.notice_after` raises one operator notice.
"""

from __future__ import annotations

import asyncio
import json
import math
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

import structlog

from monitor import metrics
from monitor.channels import Channel, pacing
from monitor.config import DeliverySettings
from monitor.model import (
    AlertMessage,
    DigestKind,
    DigestMessage,
    DigestReason,
    Message,
    NoticeMessage,
    Severity,
)
from monitor.pipeline import deliver
from monitor.pipeline.deliver import Outcome
from monitor.pipeline.heartbeat import LEASE_S
from monitor.storage import Store
from monitor.storage import alerts as alert_store
from monitor.storage import channel_state as channel_store
from monitor.storage import digests as digest_store

log = structlog.get_logger("monitor.deliver")

WAVES_PER_CLAIM = 8  # alerts claimed per channel at a time: this many rounds of `concurrency`


@dataclass
class DeliveryReport:
    sent: int = 0
    failed: int = 0
    dead: int = 0
    held: int = 0
    notices: int = 0


@dataclass
class _Run:
    """One channel's share of one delivery cycle."""

    name: str
    channel: Channel
    state: channel_store.ChannelState
    settings: DeliverySettings
    report: DeliveryReport
    notice_channel: str | None
    stopped: bool = False
    sent: list[int] = field(default_factory=list)

    @property
    def lease_s(self) -> float:
        # Short, and renewed while the cycle runs (`Pipeline.deliver` keeps the heartbeat).
        return LEASE_S

    @property
    def batch(self) -> int:
        return self.channel.settings.concurrency * WAVES_PER_CLAIM


class Outbox:
    def __init__(
        self,
        store: Store,
        owner: str,
        clock: Callable[[], datetime],
        rng: random.Random,
    ) -> None:
        self.store = store
        self.owner = owner
        self.clock = clock
        self.rng = rng
        self.public_url: str | None = None  # alerts link to their story's page under it

    def _messages(self, rows: Sequence[alert_store.AlertRow]) -> list[AlertMessage]:
        """Alerts rendered from the store, each with its story's page when there is a web view
        to link to ("why this alert")."""
        found = alert_store.messages(self.store, rows)
        if not self.public_url:
            return found
        base = self.public_url.rstrip("/")
        return [replace(m, story_url=f"{base}/stories/{m.story_id}") for m in found]

    async def deliver(
        self, settings: DeliverySettings, channels: Mapping[str, Channel], *, limit: int = 500
    ) -> DeliveryReport:
        """One cycle over every channel this worker has, side by side."""
        report = DeliveryReport()
        now = self.clock()
        states = channel_store.states(self.store, list(channels))
        runs = [
            _Run(name, channels[name], states[name], settings, report, settings.notice_channel)
            for name in channels
            if not states[name].paused(now)
        ]
        await asyncio.gather(*(self._channel(run, limit) for run in runs))
        return report

    async def _channel(self, run: _Run, limit: int) -> None:
        self._gather_updates(run)
        await self._digests(run)
        while limit > 0 and not run.stopped:
            rows = alert_store.claim(
                self.store,
                self.owner,
                self.clock(),
                channels=[run.name],
                limit=min(limit, run.batch),
                lease_s=run.lease_s,
            )
            if not rows:
                break
            limit -= len(rows)
            await self._alerts(run, rows)

    # -- digests and notices ---------------------------------------------------------------

    def _gather_updates(self, run: _Run) -> None:
        """Story follow-ups meant for a digest join the channel's next one: at its own digest
        schedule, or `delivery.updates_after` from now on a channel without one."""
        now = self.clock()
        schedule = run.channel.settings.digest
        due = (
            schedule.next_after(now)
            if schedule is not None
            else (now + timedelta(seconds=run.settings.updates_after))
        )
        joined = digest_store.gather_updates(self.store, run.name, due=due, now=now)
        if joined:
            log.info("story updates held", channel=run.name, alerts=joined, due=due.isoformat())

    def _take_tokens(
        self, channel: str, wanted: int, rate: pacing.RateLimitSettings, now: datetime
    ) -> tuple[int, datetime]:
        """Take up to `wanted` messages' worth from the channel's bucket, which every worker
        shares: how many may go now, and when the next one may."""

        def spend(
            stored: channel_store.Tokens,
        ) -> tuple[channel_store.Tokens, tuple[int, datetime]]:
            bucket = None
            if stored.tokens is not None and stored.at is not None:
                bucket = pacing.Bucket(stored.tokens, stored.at)
            granted, after, next_at = pacing.take(bucket, rate, now, wanted)
            return channel_store.Tokens(after.tokens, after.at), (granted, next_at)

        return channel_store.update_tokens(self.store, channel, now, spend)

    async def _digests(self, run: _Run) -> None:
        now = self.clock()
        limit = 5  # digests per cycle and channel: well within one lease even when each is slow
        rate = run.channel.settings.rate_limit
        if rate is not None:
            due = digest_store.due(self.store, run.name, now)
            if not due:
                return
            limit, next_at = self._take_tokens(run.name, len(due), rate, now)
            digest_store.postpone(self.store, [d.id for d in due[limit:]], next_at)
            if not limit:
                return
        rows = digest_store.claim(
            self.store, self.owner, now, channel=run.name, limit=limit, lease_s=run.lease_s
        )
        for row in rows:
            if run.stopped:  # the channel failed: the rest wait for its pause to end
                digest_store.postpone(self.store, [row.id], self.clock())
                continue
            await self._digest(run, row)

    async def _digest(self, run: _Run, row: digest_store.DigestRow) -> None:
        members = digest_store.members(self.store, row.id)
        message: Message
        if row.kind == DigestKind.NOTICE:
            body = json.loads(row.body or "{}")
            message = NoticeMessage(
                row.idempotency_key,
                row.title,
                str(body.get("text", "")),
                Severity(body.get("severity", "high")),
                row.created_at,
            )
        elif not members:  # every member was taken out (`monitor alerts retry`): nothing to send
            digest_store.mark_sent(self.store, row, self.clock(), detail="empty", duration_ms=0)
            return
        else:
            alerts = tuple(self._messages(members))
            message = DigestMessage(
                row.id, row.idempotency_key, run.name, alerts, row.reason, row.created_at
            )
        outcome = await deliver.send(run.channel, message)
        now = self.clock()
        if outcome.ok:
            ids = digest_store.mark_sent(
                self.store, row, now, detail=outcome.detail, duration_ms=outcome.duration_ms
            )
            if row.kind == DigestKind.NOTICE:
                run.report.notices += 1
            run.report.sent += len(ids)
            metrics.deliveries.labels(run.name, "sent").inc(len(ids) or 1)
            log.info(
                "digest sent" if row.kind == DigestKind.DIGEST else "notice sent",
                channel=run.name,
                digest=row.id,
                alerts=len(ids),
                detail=outcome.detail,
            )
            self._healthy(run, now)
            return
        when, pause = self._schedule(run, now, row.attempts + 1, outcome)
        digest_store.mark_failed(
            self.store,
            row,
            self.owner,
            now,
            error=outcome.detail,
            retry_at=when,
            duration_ms=outcome.duration_ms,
        )
        self._count_failure(run, when, len(members) or 1)
        log.log(
            40 if when is None else 30,
            "digest not delivered" + ("; it is a dead letter" if when is None else "; will retry"),
            channel=run.name,
            digest=row.id,
            alerts=len(members),
            attempt=row.attempts + 1,
            error=outcome.detail,
        )
        self._failing(run, now, outcome, pause)

    # -- alerts ----------------------------------------------------------------------------

    async def _alerts(self, run: _Run, rows: list[alert_store.AlertRow]) -> None:
        now = self.clock()
        settings = run.channel.settings
        held: dict[DigestReason, list[tuple[alert_store.AlertRow, datetime]]] = {}
        ready: list[alert_store.AlertRow] = []
        for row in rows:
            wait = deliver.hold(settings, row.level, now)
            if wait is None:
                ready.append(row)
            else:
                held.setdefault(wait[1], []).append((row, wait[0]))
        if settings.rate_limit is not None and ready:
            granted, next_at = self._take_tokens(run.name, len(ready), settings.rate_limit, now)
            held.setdefault(DigestReason.RATE_LIMIT, []).extend(
                (r, next_at) for r in ready[granted:]
            )
            ready = ready[:granted]
        for reason, items in held.items():
            if not items:
                continue
            due = min(d for _, d in items)
            digest_id = digest_store.hold(
                self.store,
                self.owner,
                run.name,
                [r.id for r, _ in items],
                due=due,
                reason=reason,
                now=now,
            )
            run.report.held += len(items)
            metrics.deliveries.labels(run.name, "held").inc(len(items))
            log.info(
                "alerts held",
                channel=run.name,
                digest=digest_id,
                alerts=len(items),
                reason=str(reason),
                due=due.isoformat(),
            )
        await self._send(run, ready)

    async def _send(self, run: _Run, rows: Sequence[alert_store.AlertRow]) -> None:
        """Send in rounds of `concurrency`; each round's confirmations are written together."""
        size = run.channel.settings.concurrency
        messages = self._messages(rows)
        for start in range(0, len(rows), size):
            if run.stopped:
                alert_store.release(self.store, rows[start:], self.owner)
                return
            wave = list(
                zip(rows[start : start + size], messages[start : start + size], strict=True)
            )
            outcomes = await asyncio.gather(*(deliver.send(run.channel, m) for _, m in wave))
            now = self.clock()
            sent = [
                (r, o.detail, o.duration_ms)
                for (r, _), o in zip(wave, outcomes, strict=True)
                if o.ok
            ]
            alert_store.mark_sent_many(self.store, sent, now)
            for row, detail, _ in sent:
                log.info(
                    "alert sent", alert=row.id, channel=run.name, story=row.story_id, detail=detail
                )
            if sent:
                run.report.sent += len(sent)
                metrics.deliveries.labels(run.name, "sent").inc(len(sent))
                self._healthy(run, now)
            for (row, _), outcome in zip(wave, outcomes, strict=True):
                if not outcome.ok:
                    self._alert_failed(run, row, outcome, now)

    def _alert_failed(
        self, run: _Run, row: alert_store.AlertRow, outcome: Outcome, now: datetime
    ) -> None:
        attempts = row.attempts + 1
        when, pause = self._schedule(run, now, attempts, outcome)
        alert_store.mark_failed(
            self.store,
            row,
            self.owner,
            now,
            error=outcome.detail,
            retry_at=when,
            duration_ms=outcome.duration_ms,
        )
        self._count_failure(run, when, 1)
        fields = {
            "alert": row.id,
            "channel": run.name,
            "attempt": attempts,
            "error": outcome.detail,
        }
        if when is None:
            log.error("alert is a dead letter", **fields)
        else:
            log.warning("alert not delivered; will retry", retry_at=when.isoformat(), **fields)
        self._failing(run, now, outcome, pause)

    # -- failure and health ----------------------------------------------------------------

    def _schedule(
        self, run: _Run, now: datetime, attempts: int, outcome: Outcome
    ) -> tuple[datetime | None, datetime | None]:
        s = run.settings
        return deliver.schedule(
            now,
            attempts,
            run.state.failures + 1,
            outcome,
            max_attempts=s.max_attempts,
            backoff_s=s.backoff,
            max_backoff_s=s.max_backoff,
            rng=self.rng,
        )

    def _count_failure(self, run: _Run, when: datetime | None, n: int) -> None:
        if when is None:
            run.report.dead += n
        else:
            run.report.failed += n
        metrics.deliveries.labels(run.name, "dead" if when is None else "failed").inc(n)

    def _failing(self, run: _Run, now: datetime, outcome: Outcome, pause: datetime | None) -> None:
        """Record the failure on the channel: pause it unless the failure was about one message,
        and tell the operator once when it has lasted longer than `notice_after`."""
        s = run.settings
        tell = False

        def failing(before: channel_store.ChannelState) -> channel_store.ChannelState:
            # Told once per failure streak, by the first worker to see it last `notice_after`.
            nonlocal tell
            since = before.failing_since or now
            tell = before.notified_at is None and now - since >= timedelta(seconds=s.notice_after)
            notified = now if tell else before.notified_at
            failures = before.failures + 1
            return channel_store.ChannelState(
                run.name, failures, since, outcome.detail, pause, notified
            )

        run.state = channel_store.change(self.store, run.name, now, failing)
        if pause is not None:
            run.stopped = True
            log.warning("channel paused", channel=run.name, until=pause.isoformat())
        if tell:
            since = run.state.failing_since or now
            minutes = max(1, math.floor((now - since).total_seconds() / 60))
            title = f"channel {run.name} failing for {minutes} min"
            text = (
                f"monitor cannot deliver through channel {run.name!r} since "
                f"{since:%Y-%m-%d %H:%M} UTC ({run.state.failures} failed sends). Last error: "
                f"{outcome.detail}\nAlerts stay in the outbox and are retried; "
                "`monitor alerts` lists them."
            )
            log.error(
                "channel failing", channel=run.name, since=since.isoformat(), error=outcome.detail
            )
            self._notice(run, title, text, Severity.HIGH, now)

    def _healthy(self, run: _Run, now: datetime) -> None:
        if run.state.failures == 0 and run.state.failing_since is None:
            return
        ended = channel_store.recovered(self.store, run.name, now)
        run.state = channel_store.ChannelState(run.name)
        if ended is None or ended.notified_at is None:
            return
        since = ended.failing_since or now
        minutes = max(1, math.floor((now - since).total_seconds() / 60))
        log.warning("channel recovered", channel=run.name, failing_minutes=minutes)
        text = f"Channel {run.name!r} delivers again after failing for {minutes} min."
        self._notice(run, f"channel {run.name} recovered", text, Severity.LOW, now)

    def _notice(self, run: _Run, title: str, text: str, severity: Severity, now: datetime) -> None:
        target = run.notice_channel
        if target is None or target == run.name:
            return
        digest_store.notice(self.store, target, title, text, str(severity), now)
