"""Backtest: stored articles replayed through the real matcher and stories, and the difference
from what really alerted (pipeline/backtest.py, storage/replay.py)."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from monitor.pipeline import backtest, backtest_report
from monitor.storage import Store, archive, feedback
from monitor.storage.tables import alert, metadata
from tests.stored import NOW, channels, report, watchlist

DESK = channels(desk="low")
BEFORE = watchlist(
    "desk",
    [
        {"name": "offensive", "query": "offensive NEAR/10 Mosul", "severity": "high"},
        {"name": "floods", "query": "flood*"},
    ],
)
AFTER = watchlist(
    "desk",
    [
        {"name": "offensive", "query": "offensive NEAR/10 (Mosul OR Kirkuk)", "severity": "high"},
        {"name": "ceasefire", "query": "ceasefire", "severity": "low"},
    ],
)
SINCE, UNTIL = NOW - timedelta(days=1), NOW + timedelta(days=7)


@pytest.fixture
def archive_of_three_days(store: Store) -> dict[str, int]:
    """Five events over three days, recorded with the BEFORE watchlist; the floods alert
    marked irrelevant. Story ids by event."""
    ids = {}
    rules = {"watchlists": [BEFORE], "routes": DESK}
    ids["offensive"] = report(store, "offensive", hours=0, **rules).story_id
    copy = report(store, "offensive", source="agency", hours=1, **rules)
    assert copy.story_id == ids["offensive"]  # the same text elsewhere: one story
    ids["floods"] = report(store, "floods", hours=24, **rules).story_id
    ids["kirkuk"] = report(store, "kirkuk", hours=26, **rules).story_id
    ids["ceasefire"] = report(store, "ceasefire", hours=48, **rules).story_id
    ids["harvest"] = report(store, "harvest", hours=50, **rules).story_id
    assert len(set(ids.values())) == 5
    with store.read() as conn:
        alerts = dict(conn.execute(sa.text("SELECT story_id, id FROM alert")).all())
    assert set(alerts) == {ids["offensive"], ids["floods"]}
    feedback.mark(store, [alerts[ids["floods"]]], NOW, irrelevant=True)
    return {k: int(v) for k, v in ids.items() if v is not None}


def test_an_edited_watchlist_says_which_stories_are_new_and_which_no_longer_alert(
    store: Store, archive_of_three_days: dict[str, int]
) -> None:
    ids = archive_of_three_days
    result = backtest.run(store, [AFTER], DESK, SINCE, UNTIL)
    assert result.articles == 6
    (desk,) = result.watchlists
    assert [h.story_id for h in desk.stories] == [ids["offensive"], ids["kirkuk"], ids["ceasefire"]]
    assert desk.new == [ids["kirkuk"], ids["ceasefire"]]
    (gone,) = desk.gone
    assert (gone.story_id, gone.rules, gone.irrelevant) == (ids["floods"], ("floods",), True)
    day = NOW.date()
    assert desk.per_day == {day: 1, day + timedelta(days=1): 1, day + timedelta(days=2): 1}
    assert desk.real_per_day == {day: 1, day + timedelta(days=1): 1}

    rules = {r.name: r for r in desk.rules}
    assert list(rules) == ["offensive", "ceasefire", "floods"]
    offensive = rules["offensive"]
    assert [h.story_id for h in offensive.stories] == [ids["offensive"], ids["kirkuk"]]
    assert (offensive.new, offensive.gone, offensive.alerted, offensive.irrelevant) == (
        [ids["kirkuk"]],
        [],
        1,
        0,
    )
    floods = rules["floods"]
    assert not floods.in_watchlist and floods.stories == []
    assert (floods.gone, floods.alerted, floods.irrelevant) == ([ids["floods"]], 1, 1)
    assert rules["ceasefire"].new == [ids["ceasefire"]]

    first = offensive.stories[0]
    assert first.alerted and not first.irrelevant
    assert first.outlets == {"wire", "agency"}  # both reports of the story
    assert first.first.source == "wire" and first.first.fetched_at == NOW  # the first report
    assert {"offensive", "Mosul"} <= set(first.highlights)
    assert "offensive" in first.snippet and "Mosul" in first.snippet


def test_unchanged_watchlists_reproduce_what_alerted(
    store: Store, archive_of_three_days: dict[str, int]
) -> None:
    (desk,) = backtest.run(store, [BEFORE], DESK, SINCE, UNTIL).watchlists
    assert desk.new == [] and desk.gone == []
    assert [h.story_id for h in desk.stories] == [
        archive_of_three_days["offensive"],
        archive_of_three_days["floods"],
    ]
    assert all(r.new == [] and r.gone == [] for r in desk.rules)


def test_a_channels_min_severity_decides_what_would_alert(
    store: Store, archive_of_three_days: dict[str, int]
) -> None:
    (desk,) = backtest.run(store, [AFTER], channels(desk="medium"), SINCE, UNTIL).watchlists
    assert archive_of_three_days["ceasefire"] not in [h.story_id for h in desk.stories]
    elsewhere = AFTER.model_copy(update={"channels": ["nowhere"]})
    (desk,) = backtest.run(store, [elsewhere], DESK, SINCE, UNTIL).watchlists
    assert archive_of_three_days["ceasefire"] in [h.story_id for h in desk.stories]
    assert "none of its channels (nowhere) is in the settings" in desk.notes[0]


def test_a_watchlist_of_some_feeds_replays_only_what_they_brought(
    store: Store, archive_of_three_days: dict[str, int]
) -> None:
    only_agency = AFTER.model_copy(update={"feeds": ["agency"]})
    (desk,) = backtest.run(store, [only_agency], DESK, SINCE, UNTIL).watchlists
    assert [h.story_id for h in desk.stories] == [archive_of_three_days["offensive"]]
    assert desk.stories[0].first.source == "agency"


def test_the_range_limits_what_is_replayed_and_compared(
    store: Store, archive_of_three_days: dict[str, int]
) -> None:
    result = backtest.run(store, [AFTER], DESK, NOW + timedelta(hours=20), UNTIL)
    (desk,) = result.watchlists
    assert result.articles == 4
    assert [h.story_id for h in desk.stories] == [
        archive_of_three_days["kirkuk"],
        archive_of_three_days["ceasefire"],
    ]
    assert [g.story_id for g in desk.gone] == [archive_of_three_days["floods"]]


def test_pruned_articles_are_not_replayed_and_the_report_says_how_far_back_it_reaches(
    store: Store, archive_of_three_days: dict[str, int]
) -> None:
    with store.write() as conn:  # delivered: an alert still to send keeps its article whole
        conn.execute(alert.update().values(status="sent"))
    archive.prune(store, NOW + timedelta(hours=12), NOW + timedelta(days=100))
    result = backtest.run(store, [AFTER], DESK, SINCE, UNTIL)
    assert result.articles == 4
    assert result.reach.oldest == NOW + timedelta(hours=24) and result.reach.pruned == 2
    assert "the archive reaches back to 2026-03-11 08:00 UTC" in result.notes[0]
    (desk,) = result.watchlists
    assert archive_of_three_days["offensive"] not in [h.story_id for h in desk.stories]
    text = backtest_report.to_text(result, keep=90 * 86400)
    assert "archive: 4 articles back to 2026-03-11 08:00 UTC (archive.keep: 90d; 2 older" in text


def test_a_backtest_writes_nothing(store: Store, archive_of_three_days: dict[str, int]) -> None:
    def everything() -> dict[str, list[tuple[object, ...]]]:
        with store.read() as conn:
            return {
                t.name: sorted(map(tuple, conn.execute(sa.select(t))), key=repr)
                for t in metadata.sorted_tables
            }

    before = everything()
    backtest.run(store, [AFTER], DESK, SINCE, UNTIL)
    assert everything() == before


def test_the_report_marks_hits_and_flattens_hostile_text(
    store: Store, archive_of_three_days: dict[str, int]
) -> None:
    result = backtest.run(store, [AFTER], DESK, SINCE, UNTIL)
    text = backtest_report.to_text(result)
    assert "+1 new, -0 no longer" in text  # the offensive rule
    assert "[offensive] on villages north of [Mosul]" in text
    assert "no longer alerting:" in text and "marked irrelevant" in text
    coloured = backtest_report.to_text(result, colour=True)
    assert "\x1b[1;33moffensive\x1b[0m" in coloured
    data = backtest_report.to_json(result)
    rules = {r["name"]: r for r in data["watchlists"][0]["rules"]}
    assert rules["floods"]["marked_irrelevant"] == 1 and rules["floods"]["in_watchlist"] is False
    first = rules["offensive"]["stories"][0]
    assert first["first_report"]["source"] == "wire" and first["outlets"] == ["agency", "wire"]

    hit = result.watchlists[0].stories[0]
    hit.title = "Evil \x1b[2J\nheadline"
    assert "\x1b[2J" not in backtest_report.to_text(result)


def test_a_range_is_read_from_dates_or_a_duration() -> None:
    since, until = backtest.window("7d", None, None, NOW)
    assert (since, until) == (NOW - timedelta(days=7), NOW)
    since, until = backtest.window(None, "2026-03-01", "2026-03-02T12:00", NOW)
    assert since.isoformat() == "2026-03-01T00:00:00+00:00"
    assert until.isoformat() == "2026-03-02T12:00:00+00:00"
    # A date alone as the end includes that day: "from the 1st to the 2nd" is two days, and
    # one day is the same date twice (a date picker gives dates).
    since, until = backtest.window(None, "2026-03-01", "2026-03-02", NOW)
    assert (since.isoformat(), until.isoformat()) == (
        "2026-03-01T00:00:00+00:00",
        "2026-03-03T00:00:00+00:00",
    )
    assert (
        backtest.window(None, "2026-03-02", "2026-03-02", NOW)[1] - timedelta(days=1)
        == (backtest.window(None, "2026-03-02", "2026-03-02", NOW)[0])
    )
    with pytest.raises(ValueError, match="empty"):
        backtest.window(None, "2026-03-02", "2026-03-01", NOW)
    with pytest.raises(ValueError, match="not a date"):
        backtest.window(None, "yesterday", None, NOW)
