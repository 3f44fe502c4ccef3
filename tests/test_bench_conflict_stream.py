"""bench/conflict_stream.py: the labelled conflict stream is what its README says it is, and
it can be served as real RSS feeds that monitor's own parse stage reads back unchanged."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from bench import conflict_stream
from monitor.pipeline.parse import FUTURE_SLACK, parse_feed
from tests.servers import Site, serve_stream


@pytest.fixture(scope="module")
def corpus() -> conflict_stream.Corpus:
    return conflict_stream.load()


def test_the_committed_jsonl_is_built_from_the_hand_written_sources() -> None:
    """Edit sources/*.yaml, then run `python bench/conflict_stream.py --build`."""
    built = conflict_stream.build()
    committed = conflict_stream.JSONL.read_text(encoding="utf-8").splitlines()
    assert [conflict_stream.json.dumps(r, ensure_ascii=False) for r in built] == committed


def test_counts_the_issue_asks_for(corpus: conflict_stream.Corpus) -> None:
    reports = corpus.reports
    events = {r.event for r in reports}
    assert len(reports) >= 240
    assert len(events) >= 80
    assert len({r.city for r in reports}) >= 10
    per_event = Counter(r.event for r in reports)
    assert min(per_event.values()) >= 2
    assert max(per_event.values()) <= 5
    outlets = defaultdict(set)
    for r in reports:
        outlets[r.event].add(r.feed)
    assert all(len(feeds) >= 2 for feeds in outlets.values())
    assert {r.kind for r in reports} == set(conflict_stream.KINDS)


def test_every_city_has_three_events_within_one_week(corpus: conflict_stream.Corpus) -> None:
    starts: dict[str, dict[str, datetime]] = defaultdict(dict)
    for r in corpus.reports:
        starts[r.city].setdefault(r.event, corpus.released(r))
    for city, firsts in starts.items():
        times = sorted(firsts.values())
        best = max(sum(1 for u in times if t <= u < t + timedelta(days=7)) for t in times)
        assert best >= 3, city


def test_the_test_split_is_a_third_of_the_cities_and_shares_nothing(
    corpus: conflict_stream.Corpus,
) -> None:
    train, test = corpus.split("train"), corpus.split("test")
    test_cities = {r.city for r in test.reports}
    assert test_cities == {"Kharkiv", "El Fasher", "Mogadishu", "Kabul"}
    assert not test_cities & {r.city for r in train.reports}
    assert not {r.thread for r in train.reports} & {r.thread for r in test.reports}
    assert len(train.reports) + len(test.reports) == len(corpus.reports)
    assert all(c.id.startswith("test-") for c in test.cases)
    assert not any(c.id.startswith("test-") for c in train.cases)


def test_cases_name_events_and_reports_that_exist(corpus: conflict_stream.Corpus) -> None:
    events = {r.event for r in corpus.reports}
    reports = {r.id for r in corpus.reports}
    for case in corpus.cases:
        assert case.kind in ("apart", "join")
        assert case.mode in ("live", "backlog")
        assert set(case.events) <= events, case.id
        assert set(case.reports) <= reports, case.id
        assert case.events or case.reports


def test_the_issues_hand_cases_are_there(corpus: conflict_stream.Corpus) -> None:
    first = {}
    for r in corpus.reports:
        first.setdefault(r.event, corpus.released(r))
    market = first["bgd-market-bomb"].astimezone(UTC).date()
    assert first["bgd-checkpoint-bombing"].astimezone(UTC).date() - market == timedelta(days=2)
    assert first["bgd-karrada-shooting"].date() == first["bgd-checkpoint-bombing"].date()
    graves = first["tla-grave-muhallabiya"].date() - first["tla-grave-ayadiya"].date()
    assert graves == timedelta(days=18)
    offensive = first["flj-karma-retaken"].date() - first["flj-offensive-launch"].date()
    assert offensive == timedelta(days=4)
    copy = next(r for r in corpus.reports if r.id == "flj-offensive-launch-e")
    original = next(r for r in corpus.reports if r.id == copy.copy_of)
    assert copy.kind == "copy" and copy.event == original.event
    assert (copy.published - original.published).days == 7
    tal_afar = [corpus.released(r) for r in corpus.reports if r.city == "Tal Afar"]
    assert max(tal_afar) - min(tal_afar) >= timedelta(days=27)


def test_copies_are_the_text_they_copy_with_the_outlets_edits(
    corpus: conflict_stream.Corpus,
) -> None:
    by_id = {r.id: r for r in corpus.reports}
    copies = [r for r in corpus.reports if r.kind == "copy"]
    assert len(copies) >= 10
    for c in copies:
        original = by_id[c.copy_of or ""]
        assert c.feed != original.feed
        assert c.title != original.title
        assert c.published > original.published
        assert c.text.split("\n\n")[0][:40] == original.text.split("\n\n")[0][:40]


def test_served_feeds_read_back_through_the_parse_stage(corpus: conflict_stream.Corpus) -> None:
    """The corpus as the daemon meets it: each outlet's RSS on a real local server, dated in
    the outlet's own zone, read by monitor's parser into the same titles, links, dates and
    text; a feed shows only what its outlet had put out by then."""
    test = corpus.split("test")
    until = max(corpus.released(r) for r in test.reports if r.city == "Kabul") - timedelta(days=3)
    with Site.running() as site:
        urls = serve_stream(site, test, until=until)
        assert set(urls) == {r.feed for r in test.reports}
        for name, url in urls.items():
            response = httpx.get(url)
            assert response.headers["content-type"] == "application/rss+xml"
            parsed = parse_feed(response.content, url, "application/rss+xml", now=until)
            expected = [r for r in test.by_feed()[name] if test.released(r) <= until]
            assert [e.title for e in parsed.entries] == [r.title for r in expected]
            for entry, report in zip(parsed.entries, expected, strict=True):
                path = report.url.split("/", 3)[3]
                assert entry.url == f"{site.base}/{path}"
                published = report.published.astimezone(UTC)
                # The parse stage clamps a date ahead of the poll (hindukush-times' clock).
                if published > until + FUTURE_SLACK:
                    published = until
                assert entry.published == published
                if report.text and test.feeds[name].full_text:
                    assert report.text.split("\n\n")[-1][:60] in entry.content
                elif report.text:
                    assert report.summary[:60] in entry.summary
