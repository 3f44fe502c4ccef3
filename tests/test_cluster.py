"""Where a report's time comes from and what it places: event time (the published date when
plausible, else the first sighting), stored with the article, used for the story's times and
its window; on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa

from bench import conflict_stream
from monitor.channels import render
from monitor.channels.webhook import WebhookChannel, WebhookSettings
from monitor.config import StorySettings
from monitor.http import build_client
from monitor.model import Article, JoinReason
from monitor.pipeline import cluster
from monitor.pipeline import stories as algo
from monitor.pipeline.fingerprint import fingerprint
from monitor.pipeline.links import canonical_url
from monitor.pipeline.parse import FUTURE_SLACK
from monitor.pipeline.record import FeedBatch, NewEntry, record
from monitor.storage import Store
from monitor.storage import alerts as alert_store
from monitor.storage import stories as story_store
from monitor.storage.tables import alert, article, story
from tests import recording
from tests.migrations import migrate
from tests.servers import Receiver
from tests.test_stories import read
from tests.test_stories_store import NOW, feed, item, put, rows

DAY, HOUR = timedelta(days=1), timedelta(hours=1)


def test_a_plausible_published_date_is_the_event_time() -> None:
    published = NOW - 20 * DAY
    assert cluster.event_time(published, NOW) == published
    # a few minutes ahead of our clock is the publisher's clock: believed, up to our own time
    assert cluster.event_time(NOW + timedelta(minutes=3), NOW) == NOW


def test_a_date_in_the_future_or_too_old_or_missing_falls_back_to_the_first_sighting() -> None:
    assert cluster.event_time(NOW + timedelta(minutes=6), NOW) == NOW
    assert cluster.event_time(NOW + 365 * DAY, NOW) == NOW
    assert cluster.event_time(NOW - 61 * DAY, NOW) == NOW
    assert cluster.event_time(datetime(1970, 1, 1, tzinfo=UTC), NOW) == NOW
    assert cluster.event_time(None, NOW) == NOW
    assert cluster.event_time(NOW - 3 * DAY, NOW, max_age_s=DAY.total_seconds()) == NOW


def test_the_settings_defaults_are_the_pipelines() -> None:
    settings = StorySettings()
    assert settings.window == cluster.WINDOW_S and settings.span == cluster.SPAN_S
    assert settings.copies == cluster.COPIES_S and settings.max_age == cluster.MAX_AGE_S


def test_the_article_and_its_story_carry_the_published_date(store: Store) -> None:
    fid = feed(store)
    published = NOW - 10 * DAY
    done = put(store, fid, "1", item("basra-floods-wire", published=published))
    (stored,) = rows(store, article)
    assert _aware(stored["event_at"]) == published
    (head,) = rows(store, story)
    assert head["first_seen_at"] == head["last_seen_at"]
    assert _aware(head["first_seen_at"]) == published
    assert done.story_id == head["id"]


def test_a_report_dated_last_week_meets_last_weeks_story(store: Store) -> None:
    """Seen today, a rewrite dated ten days ago joins the story of ten days ago (whose report
    was seen then): it is inside the window of its own date."""
    fid = feed(store)
    old = put(store, fid, "1", item("basra-floods-wire"), at=-10 * DAY)
    dated = put(store, fid, "2", item("basra-floods-rewrite", published=NOW - 10 * DAY + HOUR))
    assert dated.reason == "rewrite" and dated.story_id == old.story_id


def test_a_report_dated_today_does_not_meet_last_weeks_story(store: Store) -> None:
    fid = feed(store)
    old = put(store, fid, "1", item("basra-floods-wire"), at=-10 * DAY)
    dated = put(store, fid, "2", item("basra-floods-rewrite", published=NOW - HOUR))
    assert dated.reason == "new" and dated.story_id != old.story_id


def test_an_implausible_date_places_the_report_by_when_it_was_seen(store: Store) -> None:
    fid = feed(store)
    recent = put(store, fid, "1", item("basra-floods-wire"))
    # a feed stamping its items with a date of 1970 or of next year: placed now, joins
    for n, when in enumerate((datetime(1970, 1, 1, tzinfo=UTC), NOW + 300 * DAY)):
        url = f"https://odd{n}.example.org/floods"
        odd = put(store, fid, f"odd{n}", item("basra-floods-rewrite", url, published=when))
        assert odd.story_id == recent.story_id
    assert {_aware(r["event_at"]) for r in rows(store, article)} == {NOW}


def test_migration_0010_backfills_event_times_from_what_exists(store: Store) -> None:
    """Down to 0009 and up again: each article's event time is its published date when
    plausible, else when it was fetched; each story's times are its articles' event times."""

    fid = feed(store)
    put(store, fid, "1", item("basra-floods-wire", published=NOW - 2 * DAY))
    put(store, fid, "2", item("basra-port-strike", published=NOW - 90 * DAY))
    put(store, fid, "3", item("basra-floods-copy"))

    def to(revision: str, *, down: bool = False) -> None:
        migrate(store.engine, revision, down=down)

    to("0009_lease_owner_index", down=True)
    assert "event_at" not in {c["name"] for c in sa.inspect(store.engine).get_columns("article")}
    to("head")
    times = {r["title"]: _aware(r["event_at"]) for r in rows(store, article)}
    assert sorted(times.values()) == [NOW - 2 * DAY, NOW, NOW]
    first = {r["id"]: _aware(r["first_seen_at"]) for r in rows(store, story)}
    assert sorted(first.values()) == [NOW - 2 * DAY, NOW]
    assert all(r["continues_id"] is None for r in rows(store, story))


def _aware(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def test_a_story_past_its_span_is_continued_by_a_new_linked_story_with_its_own_alert(
    store: Store, receiver: Receiver
) -> None:
    """Two days after the wire (a span of one day), another outlet's rewrite would join its
    story: it opens a new one that continues it, with an alert of its own, which `monitor
    stories` and the webhook show with the link. A copy of the wire still joins the first."""
    fid = feed(store)
    span = {"span_s": DAY.total_seconds()}
    first = put(store, fid, "1", item("basra-floods-wire"), **span)
    later = put(store, fid, "2", item("basra-floods-rewrite"), at=2 * DAY, **span)
    assert later.reason == "new" and later.story_id != first.story_id
    assert first.alert_ids and later.alert_ids
    heads = {r["id"]: r for r in rows(store, story)}
    assert heads[later.story_id]["continues_id"] == first.story_id
    assert heads[first.story_id]["continues_id"] is None
    copy = put(store, fid, "3", item("basra-floods-copy"), at=2 * DAY + HOUR, **span)
    assert copy.reason == "near-duplicate" and copy.story_id == first.story_id
    assert not copy.alert_ids

    title = heads[first.story_id]["title"]
    shown = {v.id: v for v in story_store.recent(store)}
    assert shown[later.story_id].continues == (first.story_id, title)
    assert shown[first.story_id].continues is None

    with store.read() as conn:
        rows_ = conn.execute(
            sa.select(*alert_store.COLUMNS).where(alert.c.id.in_(later.alert_ids))
        ).all()
    message = alert_store.message(store, alert_store.alert_row(rows_[0]))

    async def send() -> str:
        async with build_client(timeout=5) as client:
            spec = WebhookSettings(kind="webhook", url=receiver.url("/hook"))  # type: ignore[arg-type]
            return await WebhookChannel("hook", spec, client).send(message)

    asyncio.run(send())
    (post,) = receiver.posts
    body = json.loads(post.body)
    assert body["story"]["id"] == later.story_id
    assert body["story"]["continues"] == {"id": first.story_id, "title": title}
    assert "Continues story #" in render.text(message)


def test_a_story_within_its_span_takes_the_rewrite(store: Store) -> None:
    fid = feed(store)
    first = put(store, fid, "1", item("basra-floods-wire"))
    later = put(store, fid, "2", item("basra-floods-rewrite"), at=DAY + HOUR)
    assert later.reason == "rewrite" and later.story_id == first.story_id


def test_a_wire_copy_republished_a_week_later_joins_its_original(store: Store) -> None:
    """Past the window and the span, a near-duplicate still joins its original's story."""
    fid = feed(store)
    first = put(store, fid, "1", item("basra-floods-wire"))
    week = put(store, fid, "2", item("basra-floods-copy"), at=7 * DAY)
    assert week.reason == "near-duplicate" and week.story_id == first.story_id
    assert not week.alert_ids


def _district(city: str) -> tuple[conflict_stream.Corpus, list[conflict_stream.Report]]:
    corpus = conflict_stream.load()
    return corpus, [r for r in corpus.reports if r.city == city]


def _entry(report: conflict_stream.Report, seen: datetime) -> NewEntry:
    published = report.published.astimezone(UTC)
    if published > seen + FUTURE_SLACK:  # as the parse stage clamps a date ahead of the poll
        published = seen
    art = Article(
        url=report.url,
        canonical_url=canonical_url(report.url),
        title=report.title,
        text=report.text,
        source=report.feed,
        published=published,
    )
    return NewEntry(report.guid, art)


def _stories(store: Store) -> set[frozenset[str]]:
    """The stories as sets of their reports' URLs."""
    found: dict[int, set[str]] = {}
    for r in rows(store, article):
        found.setdefault(r["story_id"], set()).add(r["url"])
    return {frozenset(v) for v in found.values()}


def test_a_month_of_a_districts_reports_polled_at_once_makes_the_stories_polled_live(
    tmp_path: Path,
) -> None:
    """Tal Afar district, September (9 events, 26 reports, from the conflict stream): every
    report recorded when its outlet put it out, or all of them by one poll of every feed a day
    after the last: the same stories."""
    corpus, reports = _district("Tal Afar")
    assert len({r.event for r in reports}) == 9 and len(reports) == 26
    stores = {mode: Store.open(f"sqlite:///{tmp_path}/{mode}.db") for mode in ("live", "once")}
    try:
        feeds = {}
        for s in stores.values():
            feeds = {name: feed(s, name) for name in sorted({r.feed for r in reports})}
        for r in sorted(reports, key=lambda r: (corpus.released(r), r.id)):
            seen = corpus.released(r)
            recording.entries(
                stores["live"],
                feed_id=feeds[r.feed],
                entries=[_entry(r, seen)],
                now=seen,
                story_window_s=cluster.WINDOW_S,
                max_age_s=cluster.MAX_AGE_S,
            )
        later = max(corpus.released(r) for r in reports) + DAY
        batches = [
            FeedBatch(
                fid,
                [_entry(r, later) for r in reversed(reports) if r.feed == name],  # newest first
                later,
            )
            for name, fid in feeds.items()
        ]
        record(stores["once"], recording.memory_of(stores["once"]), batches)
        live, once = _stories(stores["live"]), _stories(stores["once"])
        assert len(live) >= 8  # most events a story of their own (the rest is the scoring's)
        assert once == live
    finally:
        for s in stores.values():
            s.close()


def test_a_rewrite_joins_a_story_within_its_span_and_continues_one_past_it() -> None:
    wire = algo.vectors(fingerprint(*read("basra-floods-wire")))
    rewrite = algo.vectors(fingerprint(*read("basra-floods-rewrite")))
    strike = algo.vectors(fingerprint(*read("basra-port-strike")))
    profiles = {1: algo.merge(None, wire), 2: algo.merge(None, strike)}
    span = 4 * DAY.total_seconds()

    def choose(first: datetime) -> tuple[int | None, int | None]:
        joined, continues, score = cluster.choose(rewrite, profiles, {1: first, 2: NOW}, NOW, span)
        assert score > 0
        return joined, continues

    assert choose(NOW - DAY) == (1, None)
    assert choose(NOW - 5 * DAY) == (None, 1)  # past its span: a new story continues it
    assert choose(NOW + 5 * DAY) == (None, None)  # a later story is continued by nothing
    # within its span, a story that would take the report wins over one past it
    profiles[3] = algo.merge(None, wire)
    joined, continues, _ = cluster.choose(
        rewrite, profiles, {1: NOW - 5 * DAY, 2: NOW, 3: NOW - DAY}, NOW, span
    )
    assert (joined, continues) == (3, None)


def test_a_story_a_headline_joins_is_not_read_again_for_repair() -> None:
    """A story with a headline-only member is never split: when a headline brings a story to a
    repair size, its members are not read and weighed to find that out."""
    headline = algo.vectors(fingerprint("Floods close the port of Basra", ""))
    wire = algo.vectors(fingerprint(*read("basra-floods-wire")))
    assert algo.split([wire, wire, headline]) is None  # what a repair would have found
    for joined, due in ((headline, False), (wire, True)):
        placed = cluster.Placement(1, JoinReason.REWRITE, 1.0, size=3, vectors=joined)
        assert placed.repair_due is due
