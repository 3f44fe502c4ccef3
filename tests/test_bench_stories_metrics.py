"""bench/stories.py: the alert figures, the hand cases and the poll schedules on tiny hand-made
streams, so their definitions cannot drift (the benchmark's figures are only as good as these)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bench import conflict_stream
from bench import stories as bench
from bench.stories import Arrival, Doc, alert_figures

T = datetime(2025, 9, 1, 12, 0, tzinfo=UTC)


def arrive(doc: str, gold: str, opened: bool, story: int) -> Arrival:
    return Arrival(doc, gold, opened, story)


# Recording order; the story each report is in at the end.
STREAM = [
    arrive("a1", "A", True, 1),  # A opens story 1
    arrive("b1", "B", False, 1),  # B's first report joins A's story: its alert is lost
    arrive("a2", "A", False, 1),
    arrive("c1", "C", True, 2),  # C opens story 2 ...
    arrive("c2", "C", True, 3),  # ... and its second report opens story 3: two alerts
    arrive("b2", "B", True, 4),  # B's second report opens a story: B is heard, late
    arrive("d1", "D", False, 2),  # D's only report joins C's story: D is never heard
]


def test_first_joined_other_silenced_and_extra_alerts() -> None:
    figures = alert_figures(STREAM)
    assert figures.events == 4
    assert set(figures.joined) == {"B", "D"}
    assert figures.first_joined_other == pytest.approx(2 / 4)
    assert figures.unowned == ("D",)
    assert figures.silenced == pytest.approx(1 / 4)
    assert figures.split == ("C",)
    assert figures.extra_alerts == pytest.approx(1 / 4)


def test_a_story_is_owned_by_its_first_recorded_report_at_the_end() -> None:
    """E's first report joined F's story (lost at that moment), and a repair later moved it to
    a story of its own: E owns that story at the end (its alert came late), F keeps its own."""
    stream = [
        arrive("f1", "F", True, 7),
        arrive("e1", "E", False, 9),  # joined story 7 when recorded; split off into 9 later
        arrive("f2", "F", False, 7),
        arrive("e2", "E", False, 9),
    ]
    figures = alert_figures(stream)
    assert figures.joined == ("E",)
    assert figures.unowned == ()
    assert figures.split == ()


def test_a_story_whose_first_report_belongs_to_another_event_is_that_events() -> None:
    """A story holding all of G's reports but headed by one of H's belongs to H: G is silenced
    even though it has the most reports there."""
    stream = [
        arrive("h1", "H", True, 1),
        arrive("g1", "G", False, 1),
        arrive("g2", "G", False, 1),
        arrive("g3", "G", False, 1),
    ]
    figures = alert_figures(stream)
    assert figures.unowned == ("G",)
    assert figures.first_joined_other == pytest.approx(1 / 2)


def test_figures_over_a_subset_of_events_still_see_the_whole_stream() -> None:
    """Scored over D alone (ECB+'s test topics are scored this way), D's story is still
    owned by C, whose report came first, though C is not counted."""
    figures = alert_figures(STREAM, {"D"})
    assert figures.events == 1
    assert figures.silenced == 1.0
    assert figures.first_joined_other == 1.0
    assert figures.extra_alerts == 0.0


def test_an_empty_stream_has_no_events() -> None:
    figures = alert_figures([])
    assert figures.events == 0
    assert figures.first_joined_other == 0.0


def test_hand_cases_name_what_went_wrong() -> None:
    apart = conflict_stream.Case("apart", "apart", "live", ("A", "B", "C", "D"), (), "")
    join = conflict_stream.Case("join", "join", "live", (), ("a2", "c2"), "")
    (_, wrong_apart), (_, wrong_join) = bench.case_results([apart, join], STREAM)
    assert wrong_apart == ["B joined a story of A", "D joined a story of C"]
    assert wrong_join == ["c2 opened a story of its own"]
    elsewhere = [
        arrive("x1", "X", True, 1),
        arrive("y1", "Y", True, 2),
        arrive("x2", "X", False, 2),
    ]
    case = conflict_stream.Case("x", "join", "live", (), ("x2",), "")
    assert bench.case_results([case], elsewhere) == [(case, ["x2 is in a story of Y"])]
    fine = conflict_stream.Case("fine", "apart", "live", ("A", "C"), (), "")
    assert bench.case_results([fine], STREAM) == [(fine, [])]


def doc(id: str, feed: str, minutes: float, published: datetime | None = None) -> Doc:
    at = T + timedelta(minutes=minutes)
    return Doc(id, id, "", None, id, at=at, published=published or at, feed=feed)


def test_live_polls_find_each_report_at_its_feeds_next_poll() -> None:
    docs = [
        doc("w1", "wire", 0),
        doc("w2", "wire", 1),
        doc("w3", "wire", 40),
        doc("d1", "daily", 2),
    ]
    polls = bench.live(docs, {"wire": 600.0, "daily": 3600.0}, seed=1)
    assert [p.now for p in polls] == sorted(p.now for p in polls)
    seen = {d.id: p for p in polls for d in p.docs}
    assert set(seen) == {"w1", "w2", "w3", "d1"}
    for d in docs:
        interval = 600.0 if d.feed == "wire" else 3600.0
        poll = seen[d.id]
        assert poll.feed == d.feed
        assert d.at <= poll.now <= d.at + timedelta(seconds=1.1 * interval)
    # Two reports a minute apart on a 10-minute feed: one poll, newest first.
    if seen["w1"] is seen["w2"]:
        assert [d.id for d in seen["w1"].docs] == ["w2", "w1"]
    assert seen["w3"] is not seen["w1"]


def test_a_backlog_polls_every_feed_once_after_the_last_report() -> None:
    docs = [doc("w1", "wire", 0), doc("d1", "daily", 5), doc("w2", "wire", 60 * 24 * 30)]
    polls = bench.backlog(docs)
    assert [(p.feed, [d.id for d in p.docs]) for p in polls] == [
        ("daily", ["d1"]),
        ("wire", ["w2", "w1"]),
    ]
    assert {p.now for p in polls} == {T + timedelta(days=30, hours=1)}


def test_entries_carry_the_feed_and_its_date_clamped_like_the_parse_stage() -> None:
    """The pipeline gives each article its entry's date; a date ahead of the poll is clamped
    to it by the parse stage, and the bench must hand dates over the same way."""
    now = T + timedelta(minutes=10)
    ahead = bench._entry(
        bench.Poll("kabul", now, ()), doc("k", "kabul", 0, T + timedelta(hours=4, minutes=30))
    )
    assert ahead.item.published == now
    assert ahead.item.source == "kabul"
    on_time = bench._entry(bench.Poll("wire", now, ()), doc("w", "wire", 0))
    assert on_time.item.published == T


def test_the_join_threshold_moves_for_the_bench_only_while_inside() -> None:
    from monitor.pipeline import stories as algo

    original = algo.score
    with bench.join_threshold(1.5):
        assert algo.score is not original
    assert algo.score is original
