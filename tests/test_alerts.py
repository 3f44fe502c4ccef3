"""The alert policy without a database: which alerts an article's placement queues, and which
a story's split adds, from the story's state as the store would give it."""

from __future__ import annotations

import pytest

from monitor.model import AlertSpec, Severity
from monitor.pipeline import alerts
from monitor.storage.articles import MatchRow
from monitor.storage.story_alerts import NewAlert, StoryAlert

SPEC = AlertSpec("iraq", "desk", Severity.HIGH, ("offensive",), "…")


@pytest.mark.parametrize(
    ("spec", "queued", "new_report", "expected"),
    [
        (SPEC, None, True, ("story", "", "pending")),
        (SPEC, None, False, ("story", "", "pending")),  # an edit that matches for the first time
        (SPEC, Severity.HIGH, True, None),  # updates: none
        (SPEC, Severity.CRITICAL, True, None),
        (SPEC, Severity.MEDIUM, True, ("escalation", "high", "pending")),
        (SPEC, Severity.MEDIUM, False, ("escalation", "high", "pending")),
        (
            AlertSpec("iraq", "desk", Severity.HIGH, ("o",), "", escalate=False),
            Severity.MEDIUM,
            True,
            None,
        ),
        (
            AlertSpec("iraq", "desk", Severity.HIGH, ("o",), "", updates="every"),
            Severity.HIGH,
            True,
            ("update", "7", "pending"),
        ),
        (
            AlertSpec("iraq", "desk", Severity.HIGH, ("o",), "", updates="digest"),
            Severity.HIGH,
            True,
            ("update", "7", "digest"),
        ),
        (
            AlertSpec("iraq", "desk", Severity.HIGH, ("o",), "", updates="every"),
            Severity.HIGH,
            False,
            None,
        ),
    ],
)
def test_follow_ups(
    spec: AlertSpec,
    queued: Severity | None,
    new_report: bool,
    expected: tuple[str, str, str] | None,
) -> None:
    got = alerts.follow_up(spec, queued, 7, new_report=new_report)
    assert (None if got is None else (got.kind, got.key, got.status)) == expected


def test_an_article_queues_its_story_s_first_alert_on_each_channel_once() -> None:
    desk = AlertSpec("iraq", "desk", Severity.HIGH, ("offensive",), "troops advanced")
    pager = AlertSpec("iraq", "pager", Severity.HIGH, ("offensive",), "troops advanced")
    queued = [StoryAlert(4, "iraq", "desk", Severity.HIGH)]
    got = alerts.for_article(4, 9, [desk, pager], queued, new_report=True)
    assert got == [
        NewAlert(4, 9, "iraq", "pager", Severity.HIGH, ("offensive",), "troops advanced")
    ]


def test_an_escalation_is_weighed_against_the_highest_severity_queued() -> None:
    """An update queued at medium does not make a high report an escalation once the story
    escalated to critical: the highest first alert or escalation counts."""
    spec = AlertSpec("iraq", "desk", Severity.HIGH, ("offensive",), "…")
    queued = [
        StoryAlert(4, "iraq", "desk", Severity.MEDIUM),
        StoryAlert(4, "iraq", "desk", Severity.CRITICAL),
    ]
    assert alerts.for_article(4, 9, [spec], queued, new_report=True) == []
    lower = [StoryAlert(4, "iraq", "desk", Severity.MEDIUM)]
    (escalation,) = alerts.for_article(4, 9, [spec], lower, new_report=True)
    assert (escalation.kind, escalation.follow_key, escalation.status) == (
        "escalation",
        "high",
        "pending",
    )


def match(article_id: int, rule: str, severity: Severity, watchlist: str = "iraq") -> MatchRow:
    return MatchRow(article_id, watchlist, rule, severity, f"snippet of {article_id}")


def test_after_a_split_the_story_that_lost_its_alert_gets_one_of_its_own() -> None:
    """Story 1 (floods, articles 10 and 12) had the desk alert raised by the strike report
    (article 11), which moved with its alert to story 2: the floods are heard again, from
    their own most severe report."""
    existing = [StoryAlert(2, "iraq", "desk", Severity.HIGH)]  # moved with article 11
    members = {10: 1, 11: 2, 12: 1}
    matches = [
        match(10, "floods", Severity.MEDIUM),
        match(11, "strike", Severity.HIGH),
        match(12, "floods", Severity.HIGH),
        match(12, "deaths", Severity.HIGH),
    ]
    got = alerts.after_split(1, 2, existing, members, matches)
    assert got == [
        NewAlert(1, 12, "iraq", "desk", Severity.HIGH, ("deaths", "floods"), "snippet of 12")
    ]


def test_after_a_split_no_channel_hears_less_than_it_carried_nor_a_story_twice() -> None:
    existing = [
        StoryAlert(1, "iraq", "desk", Severity.LOW),
        StoryAlert(2, "iraq", "desk", Severity.CRITICAL),
        StoryAlert(2, "iraq", "pager", Severity.CRITICAL),
    ]
    members = {10: 1, 11: 2}
    matches = [match(10, "watch", Severity.LOW), match(11, "watch", Severity.CRITICAL)]
    # Story 1 has its desk alert; the pager took only critical: nothing low goes to it.
    assert alerts.after_split(1, 2, existing, members, matches) == []


def test_after_a_split_without_alerts_nothing_is_queued() -> None:
    assert alerts.after_split(1, 2, [], {10: 1, 11: 2}, [match(11, "x", Severity.HIGH)]) == []


def test_after_a_split_the_earliest_of_equally_severe_reports_speaks() -> None:
    existing = [StoryAlert(1, "iraq", "desk", Severity.HIGH)]
    members = {10: 1, 11: 2, 12: 2}
    matches = [match(11, "a", Severity.HIGH), match(12, "b", Severity.HIGH)]
    (got,) = alerts.after_split(1, 2, existing, members, matches)
    assert (got.story_id, got.article_id, got.rules) == (2, 11, ("a",))
