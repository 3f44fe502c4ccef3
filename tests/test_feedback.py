"""Feedback (storage/feedback.py): a muted story queues no more alerts, its waiting ones are set
aside; alerts marked irrelevant count against their rules."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from monitor.model import AlertStatus
from monitor.storage import Store, feedback
from monitor.storage import digests as digest_store
from monitor.storage.tables import alert
from tests.stored import NOW, STORIES, channels, report, watchlist

DESK = channels(desk="low", phone="low")
WATCH = watchlist(
    "desk",
    [
        {"name": "offensive", "query": "offensive NEAR/10 Mosul", "severity": "medium"},
        {"name": "artillery", "query": "artillery NEAR/20 Mosul", "severity": "critical"},
        {"name": "floods", "query": "flood*"},
    ],
    channels=["desk", "phone"],
    updates="every",
)
MILD = WATCH.model_copy(update={"rules": WATCH.rules[:1]})


def alerts(store: Store) -> list[sa.RowMapping]:
    with store.read() as conn:
        return list(conn.execute(sa.select(alert).order_by(alert.c.id)).mappings())


def test_a_muted_story_sends_no_follow_up_or_escalation_and_unmuting_lets_them_through(
    store: Store,
) -> None:
    first = report(store, "offensive", watchlists=[MILD], routes=DESK)
    assert len(first.alert_ids) == 2  # desk and phone
    with store.write() as conn:
        conn.execute(alert.update().values(status="sent"))
    done = feedback.mute(store, first.story_id, NOW)
    assert done is not None and done.set_aside == 0 and done.title == STORIES["offensive"][0]

    # Another outlet's report matches a critical rule: no escalation, no follow-up.
    later = report(store, "offensive", source="agency", hours=1, watchlists=[WATCH], routes=DESK)
    assert later.story_id == first.story_id and later.alert_ids == ()
    assert len(alerts(store)) == 2

    feedback.mute(store, first.story_id, NOW, undo=True)
    again = report(store, "offensive", source="radio", hours=2, watchlists=[WATCH], routes=DESK)
    assert again.story_id == first.story_id
    assert {a["kind"] for a in alerts(store) if a["id"] in again.alert_ids} == {"escalation"}


def test_muting_sets_aside_what_waits_and_leaves_other_stories_alone(
    store: Store,
) -> None:
    done = report(store, "offensive", watchlists=[WATCH], routes=DESK)
    desk, phone = done.alert_ids
    due = NOW + timedelta(hours=1)
    digest_store.hold(store, None, "phone", [phone], due=due, reason="digest", now=NOW)
    other = report(store, "floods", hours=1, watchlists=[WATCH], routes=DESK)
    muted = feedback.mute(store, done.story_id, NOW)
    assert muted is not None and muted.set_aside == 2
    by_id = {a["id"]: a for a in alerts(store)}
    assert by_id[desk]["status"] == by_id[phone]["status"] == AlertStatus.MUTED
    assert by_id[phone]["digest_id"] is None
    assert {by_id[i]["status"] for i in other.alert_ids} == {"pending"}  # another story
    assert feedback.mute(store, 999, NOW) is None


def test_an_alert_being_sent_is_not_taken_from_its_sender(store: Store) -> None:
    done = report(store, "offensive", watchlists=[MILD], routes=DESK)
    with store.write() as conn:
        conn.execute(
            alert.update()
            .where(alert.c.id == done.alert_ids[0])
            .values(lease_owner="other:1", lease_until=NOW + timedelta(minutes=2))
        )
    muted = feedback.mute(store, done.story_id, NOW)
    assert muted is not None and muted.set_aside == 1
    assert [a["status"] for a in alerts(store)] == ["pending", AlertStatus.MUTED]


def test_marks_count_against_the_rules_that_raised_the_alert(store: Store) -> None:
    offensive = report(store, "offensive", watchlists=[WATCH], routes=DESK)
    floods = report(store, "floods", hours=1, watchlists=[WATCH], routes=DESK)
    report(store, "kirkuk", hours=2, watchlists=[WATCH], routes=DESK)  # matches no rule
    assert feedback.mark(store, [floods.alert_ids[0]], NOW, irrelevant=True) == 1
    noise = {(n.watchlist, n.rule): (n.alerts, n.irrelevant) for n in feedback.noise(store)}
    # One story per watchlist counts once, whatever the number of its channels.
    assert noise == {
        ("desk", "floods"): (1, 1),
        ("desk", "offensive"): (1, 0),
        ("desk", "artillery"): (1, 0),
    }
    assert feedback.noise(store)[0].rule == "floods"  # the noisiest first
    assert feedback.irrelevant_counts(store) == {("desk", "floods"): 1}
    assert feedback.noise(store, since=NOW + timedelta(hours=2)) == []
    assert feedback.mark(store, [floods.alert_ids[0]], NOW, irrelevant=False) == 1
    assert feedback.irrelevant_counts(store) == {}
    assert feedback.mark(store, [12345], NOW, irrelevant=True) == 0
    assert offensive.alert_ids
