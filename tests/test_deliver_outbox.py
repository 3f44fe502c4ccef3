"""The outbox end to end against the store (SQLite and PostgreSQL): digests, bypass, rate limit,
quiet hours, channel pauses, dead letters, the operator notice, and leases left by the dead."""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from monitor.channels.base import Channel
from monitor.channels.log import LogSettings
from monitor.config import DeliverySettings
from monitor.errors import ChannelError
from monitor.model import (
    AlertMessage,
    AlertSpec,
    Article,
    DigestMessage,
    Message,
    NoticeMessage,
    RuleMatch,
    Severity,
)
from monitor.pipeline.outbox import DeliveryReport, Outbox
from monitor.storage import Store, leases
from monitor.storage import alerts as alert_store
from monitor.storage import digests as digest_store
from monitor.storage import feeds as feed_store
from tests import recording

NOW = datetime(2026, 11, 23, 12, 0, 5, tzinfo=UTC)  # a Monday, 12:00:05 UTC


class Recorder(Channel):
    """A channel that keeps what it is given; `faults` are raised first, one per send."""

    kind = "log"
    Settings = LogSettings

    def __init__(
        self, name: str, faults: list[BaseException | None] | None = None, **settings: Any
    ):
        super().__init__(name, LogSettings.model_validate({"kind": "log", **settings}), None)  # type: ignore[arg-type]
        self.faults = faults or []
        self.got: list[Message] = []

    async def send(self, message: Message) -> str:
        if self.faults:
            fault = self.faults.pop(0)
            if fault is not None:
                raise fault
        self.got.append(message)
        return "ok"

    @property
    def alert_ids(self) -> list[int]:
        ids: list[int] = []
        for m in self.got:
            if isinstance(m, AlertMessage):
                ids.append(m.alert_id)
            elif isinstance(m, DigestMessage):
                ids += [a.alert_id for a in m.alerts]
        return ids


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now

    def tick(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


# Unrelated events with no words in common, so each is surely its own story.
TITLES = [
    "Offensive on Falluja",
    "Basra traders celebrate",
    "Floods strand Erbil lorries",
    "Kirkuk vote scheduled",
    "Haditha sluices mended",
    "Umm Qasr dockers walk out",
]
TEXTS = [
    "Troops pressed an offensive toward Falluja at dawn as families fled west.",
    "Merchants sang while lanterns lit Basra's covered souk for the first time since 2019.",
    "Torrential rain washed away asphalt north of Erbil, stranding lorries overnight.",
    "Kirkuk's electoral commission announced ballots would be cast on 14 March.",
    "Welders mended rusted sluice gates at Haditha on the Euphrates this morning.",
    "Stevedores at Umm Qasr downed tools over unpaid wages, halting grain unloading.",
]


def queue(store: Store, channel: str, severities: list[Severity]) -> list[int]:
    """One story per severity, each alerting on `channel`; returns the alert ids."""
    feed_store.sync(store, [feed_store.FeedSpec("wire", "https://e.org/wire.xml", 600)], NOW)
    fid = feed_store.all_feeds(store)[0].id
    ids: list[int] = []
    start = len(alert_store.listing(store, limit=10_000))
    for i, severity in enumerate(severities, start):
        url = f"https://e.org/{channel}/{i}"
        done = recording.entry(
            store,
            feed_id=fid,
            guid=url,
            item=Article(
                url=url,
                canonical_url=url,
                title=TITLES[i % len(TITLES)] + f" ({i})",
                text=TEXTS[i % len(TEXTS)] + f" Report {i}.",
                source="wire",
            ),
            matches=[RuleMatch("w", "offensive", severity)],
            alerts=[AlertSpec("w", channel, severity, ("offensive",), "Offensive.")],
            now=NOW,
            story_window_s=0,
        )
        ids += done.alert_ids
    return ids


def run(
    store: Store, clock: Clock, *channels: Recorder, owner: str = "w1", **delivery: Any
) -> DeliveryReport:
    settings = DeliverySettings.model_validate({"backoff": "10s", **delivery})
    outbox = Outbox(store, owner, clock, random.Random(1))
    return asyncio.run(outbox.deliver(settings, {c.name: c for c in channels}))


def statuses(store: Store) -> dict[int, str]:
    return {r.id: r.status for r in alert_store.listing(store, limit=1000)}


def transient(retry_after: float | None = None) -> ChannelError:
    return ChannelError("hook: HTTP 503", channel="hook", status=503, retry_after=retry_after)


def test_alerts_are_sent_once_and_marked(store: Store) -> None:
    clock = Clock()
    ids = queue(store, "hook", [Severity.HIGH] * 3)
    hook = Recorder("hook", concurrency=2)
    assert run(store, clock, hook).sent == 3
    assert sorted(hook.alert_ids) == sorted(ids)
    assert run(store, clock, hook).sent == 0 and len(hook.got) == 3
    assert set(statuses(store).values()) == {"sent"}


def test_a_digest_gathers_alerts_and_goes_once_with_its_own_key(store: Store) -> None:
    clock = Clock()
    hook = Recorder("hook", digest="15m", digest_bypass="critical")
    ids = queue(store, "hook", [Severity.LOW, Severity.HIGH, Severity.CRITICAL])
    report = run(store, clock, hook)
    assert (report.sent, report.held) == (1, 2)  # the critical one bypassed the digest
    assert hook.alert_ids == [ids[2]]
    ids += queue(store, "hook", [Severity.MEDIUM])
    clock.tick(60)
    assert run(store, clock, hook).held == 1 and len(hook.got) == 1  # not due before 12:15
    clock.now = datetime(2026, 11, 23, 12, 15, tzinfo=UTC)
    assert run(store, clock, hook).sent == 3
    digest = hook.got[-1]
    assert isinstance(digest, DigestMessage) and digest.reason == "digest"
    assert sorted(a.alert_id for a in digest.alerts) == sorted([ids[0], ids[1], ids[3]])
    assert digest.idempotency_key not in {a.idempotency_key for a in digest.alerts}
    assert digest.severity == Severity.HIGH
    assert set(statuses(store).values()) == {"sent"}
    clock.tick(3600)
    assert run(store, clock, hook).sent == 0 and len(hook.got) == 2


def test_a_failed_digest_is_retried_with_the_same_alerts_and_key(store: Store) -> None:
    clock = Clock()
    hook = Recorder("hook", faults=[transient()], digest="15m")
    first = queue(store, "hook", [Severity.LOW, Severity.LOW])
    run(store, clock, hook)
    clock.now = datetime(2026, 11, 23, 12, 15, tzinfo=UTC)
    assert run(store, clock, hook).failed == 2 and hook.got == []
    late = queue(store, "hook", [Severity.LOW])  # arrives while the closed digest waits to retry
    (row,) = [d for d in digest_store.listing(store) if d.status == "pending"]
    clock.now = row.next_attempt_at
    run(store, clock, hook)
    (sent,) = hook.got
    assert isinstance(sent, DigestMessage) and sent.idempotency_key == row.idempotency_key
    assert sorted(a.alert_id for a in sent.alerts) == sorted(first)  # frozen at closing
    assert statuses(store)[late[0]] == "pending"  # in the next digest, not lost
    clock.now = datetime(2026, 11, 23, 12, 30, tzinfo=UTC)
    run(store, clock, hook)
    assert hook.alert_ids == [*first, *late] or sorted(hook.alert_ids) == sorted(first + late)
    assert len(hook.got) == 2


def test_a_dead_digest_takes_its_alerts_with_it_and_they_can_be_retried(store: Store) -> None:
    clock = Clock()
    gone = ChannelError("hook: HTTP 404: no such hook", channel="hook", permanent=True, status=404)
    hook = Recorder("hook", faults=[gone], digest="15m")
    ids = queue(store, "hook", [Severity.LOW, Severity.MEDIUM])
    run(store, clock, hook)
    clock.now = datetime(2026, 11, 23, 12, 15, tzinfo=UTC)
    assert run(store, clock, hook).dead == 2
    rows = alert_store.listing(store, status="dead")
    assert {r.id for r in rows} == set(ids) and all(
        "HTTP 404" in (r.last_error or "") for r in rows
    )
    assert alert_store.requeue(store, clock.now, dead=True) == 2
    hook.settings = LogSettings(kind="log")  # the operator removed the digest
    assert run(store, clock, hook).sent == 2 and sorted(hook.alert_ids) == sorted(ids)


def test_the_rate_limit_holds_excess_alerts_for_the_next_message(store: Store) -> None:
    clock = Clock()
    hook = Recorder("hook", rate_limit={"per_minute": 6, "burst": 2})  # a token every 10 s
    ids = queue(store, "hook", [Severity.HIGH] * 5)
    report = run(store, clock, hook)
    assert (report.sent, report.held) == (2, 3)
    clock.tick(5)
    assert run(store, clock, hook).sent == 0  # no token yet
    ids += queue(store, "hook", [Severity.CRITICAL])  # joins the held ones: still one message
    assert run(store, clock, hook).held == 1
    clock.tick(5)
    assert run(store, clock, hook).sent == 4
    assert len(hook.got) == 3 and isinstance(hook.got[-1], DigestMessage)
    assert hook.got[-1].reason == "rate limit"
    assert sorted(hook.alert_ids) == sorted(ids)  # none dropped, none twice


def test_quiet_hours_hold_all_but_critical_until_they_end(store: Store) -> None:
    clock = Clock()
    clock.now = datetime(2026, 11, 23, 23, 30, tzinfo=UTC)
    hook = Recorder("hook", quiet_hours="22:00-07:00 Europe/London")
    ids = queue(store, "hook", [Severity.LOW, Severity.HIGH, Severity.CRITICAL])
    assert run(store, clock, hook).sent == 1 and hook.alert_ids == [ids[2]]
    clock.now = datetime(2026, 11, 24, 6, 59, tzinfo=UTC)
    assert run(store, clock, hook).sent == 0
    clock.now = datetime(2026, 11, 24, 7, 0, tzinfo=UTC)
    assert run(store, clock, hook).sent == 2
    assert isinstance(hook.got[-1], DigestMessage) and hook.got[-1].reason == "quiet hours"


def test_a_channel_asking_to_wait_pauses_as_a_whole(store: Store) -> None:
    clock = Clock()
    hook = Recorder("hook", faults=[transient(retry_after=120)])
    other = Recorder("other")
    ids = queue(store, "hook", [Severity.HIGH] * 4)
    queue(store, "other", [Severity.HIGH])
    report = run(store, clock, hook, other)
    assert (report.failed, report.sent) == (1, 1)  # the other channel is not held up
    rows = {r.id: r for r in alert_store.listing(store)}
    assert rows[ids[0]].attempts == 1 and rows[ids[0]].next_attempt_at >= NOW + timedelta(
        seconds=120
    )
    assert [rows[i].attempts for i in ids[1:]] == [0, 0, 0]  # untouched, not counted as tries
    clock.tick(119)
    assert run(store, clock, hook).sent == 0 and hook.got == []
    clock.tick(2)
    assert run(store, clock, hook).sent == 4 and sorted(hook.alert_ids) == sorted(ids)


def test_permanent_failures_are_dead_letters_at_once(store: Store) -> None:
    clock = Clock()
    bad = ChannelError("hook: HTTP 400: bad payload", channel="hook", permanent=True, status=400)
    hook = Recorder("hook", faults=[bad])
    ids = queue(store, "hook", [Severity.HIGH, Severity.HIGH])
    report = run(store, clock, hook)
    assert (report.dead, report.sent) == (1, 1)  # a permanent answer does not pause the channel
    (dead,) = alert_store.listing(store, status="dead")
    assert dead.id == ids[0] and dead.last_error == "hook: HTTP 400: bad payload"


def test_the_operator_is_told_once_when_a_channel_keeps_failing(store: Store) -> None:
    clock = Clock()
    hook = Recorder("hook", faults=[transient()] * 6)
    desk = Recorder("desk")
    queue(store, "hook", [Severity.HIGH] * 3)
    settings = {
        "notice_after": "60s",
        "notice_channel": "desk",
        "backoff": "20s",
        "max_attempts": 20,
    }
    notices: list[NoticeMessage] = []
    for _ in range(6):
        run(store, clock, hook, desk, **settings)
        clock.tick(45)
    notices = [m for m in desk.got if isinstance(m, NoticeMessage)]
    assert len(notices) == 1 and "channel hook failing" in notices[0].title
    assert "HTTP 503" in notices[0].text
    while statuses(store) and set(statuses(store).values()) != {"sent"}:
        clock.tick(60)
        run(store, clock, hook, desk, **settings)
    run(store, clock, hook, desk, **settings)  # the notice queued in the last cycle goes now
    notices = [m for m in desk.got if isinstance(m, NoticeMessage)]
    assert [n.title for n in notices][1:] == ["channel hook recovered"]
    assert len(hook.got) == 3


def test_leases_of_a_dead_process_on_this_host_are_taken_over(store: Store) -> None:
    ids = queue(store, "hook", [Severity.HIGH])
    (row,) = alert_store.claim(store, "box:4242", NOW, channels=["hook"], lease_s=600)
    assert row.id == ids[0]
    assert alert_store.claim(store, "box:1", NOW, channels=["hook"]) == []
    assert leases.release_stale(store, "other-box", lambda pid: False) == {}
    assert leases.release_stale(store, "box", lambda pid: pid != 4242) == {"alert": 1}
    (again,) = alert_store.claim(store, "box:1", NOW, channels=["hook"])
    assert again.idempotency_key == row.idempotency_key


@pytest.mark.parametrize("workers", [3])
def test_workers_side_by_side_send_each_alert_once(db_url: str, workers: int) -> None:
    """Several workers (threads, own connections) deliver the same outbox: nothing twice."""
    import threading

    setup = Store.open(db_url)
    ids = queue(setup, "hook", [Severity.HIGH] * 30 + [Severity.LOW] * 10)
    setup.close()
    hooks = [Recorder("hook", concurrency=2) for _ in range(workers)]
    clock = Clock()

    def work(i: int) -> None:
        store = Store.open(db_url, migrate=False)  # migrated above; Alembic is not thread-safe
        try:
            for _ in range(5):
                run(store, clock, hooks[i], owner=f"w{i}")
        finally:
            store.close()

    threads = [threading.Thread(target=work, args=(i,)) for i in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    sent = [i for h in hooks for i in h.alert_ids]
    assert sorted(sent) == sorted(ids)


def test_any_pending_alert_row_can_ride_in_the_next_digest(store: Store) -> None:
    """Generic over alert rows: e.g. a story's follow-up flagged for the digest."""
    clock = Clock()
    hook = Recorder("hook", digest="15m")
    (follow_up,) = queue(store, "hook", [Severity.CRITICAL])  # would bypass the digest alone
    digest_id = digest_store.hold(
        store,
        None,
        "hook",
        [follow_up],
        due=datetime(2026, 11, 23, 12, 15, tzinfo=UTC),
        reason="digest",
        now=NOW,
    )
    assert run(store, clock, hook).sent == 0
    clock.now = datetime(2026, 11, 23, 12, 15, tzinfo=UTC)
    assert run(store, clock, hook).sent == 1
    (sent,) = hook.got
    assert isinstance(sent, DigestMessage) and sent.digest_id == digest_id
    assert [a.alert_id for a in sent.alerts] == [follow_up]


def test_workers_side_by_side_build_one_digest_and_send_it_once(db_url: str) -> None:
    """Workers holding alerts at once share the channel's one open digest (a unique index), and
    only one of them sends it."""
    import threading

    setup = Store.open(db_url)
    ids = queue(setup, "hook", [Severity.LOW] * 24)
    setup.close()
    hooks = [Recorder("hook", digest="15m", concurrency=2) for _ in range(3)]
    clock = Clock()
    barrier = threading.Barrier(len(hooks))

    def work(i: int) -> None:
        store = Store.open(db_url, migrate=False)
        try:
            barrier.wait()
            run(store, clock, hooks[i], owner=f"w{i}")
            barrier.wait()
            if i == 0:
                clock.now = datetime(2026, 11, 23, 12, 15, tzinfo=UTC)
            barrier.wait()
            run(store, clock, hooks[i], owner=f"w{i}")
        finally:
            store.close()

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(hooks))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    sent = [m for h in hooks for m in h.got]
    assert len(sent) == 1 and isinstance(sent[0], DigestMessage)
    assert sorted(a.alert_id for a in sent[0].alerts) == sorted(ids)


def test_story_updates_for_the_digest_go_out_together_later(store: Store) -> None:
    """`updates: digest`: a later report of a story is not sent at once; it waits for the
    channel's next digest (or `updates_after` on a channel without one)."""
    from tests.test_stories import read
    from tests.test_stories_store import feed, item, put

    clock = Clock()
    clock.now = datetime(2026, 3, 10, 8, 0, tzinfo=UTC)
    spec = AlertSpec("iraq", "mail", Severity.MEDIUM, ("floods",), "…", updates="digest")
    fid = feed(store)
    put(store, fid, "1", item("basra-floods-wire"), alerts=(spec,))
    mail = Recorder("mail")
    assert run(store, clock, mail, updates_after="30m").sent == 1  # the story's alert: now
    put(
        store,
        fid,
        "2",
        item(
            "basra-floods-rewrite",
            "https://other.example.org/b",
            text=read("basra-floods-rewrite")[1] + " Schools stayed shut on Wednesday.",
        ),
        alerts=(spec,),
    )
    assert [r.status for r in alert_store.listing(store)] == ["digest", "sent"]
    assert run(store, clock, mail, updates_after="30m").sent == 0
    clock.tick(29 * 60)
    assert run(store, clock, mail, updates_after="30m").sent == 0
    clock.tick(60)
    assert run(store, clock, mail, updates_after="30m").sent == 1
    digest = mail.got[-1]
    assert isinstance(digest, DigestMessage) and digest.reason == "story updates"
    assert [a.alert_id for a in digest.alerts] == [alert_store.listing(store)[0].id]
    assert {r.status for r in alert_store.listing(store)} == {"sent"}
