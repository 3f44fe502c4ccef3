"""Where a report's time comes from and what it places: event time (the published date when
plausible, else the first sighting), stored with the article, used for the story's times and
its window; on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from monitor.config import StorySettings
from monitor.pipeline import cluster
from monitor.storage import Store
from monitor.storage.tables import article, story
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
    from alembic import command
    from alembic.config import Config as AlembicConfig

    from monitor.storage import engine as store_engine

    fid = feed(store)
    put(store, fid, "1", item("basra-floods-wire", published=NOW - 2 * DAY))
    put(store, fid, "2", item("basra-port-strike", published=NOW - 90 * DAY))
    put(store, fid, "3", item("basra-floods-copy"))
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(store_engine.MIGRATIONS))

    def to(revision: str, *, down: bool = False) -> None:
        with store.engine.begin() as conn:
            cfg.attributes["connection"] = conn
            (command.downgrade if down else command.upgrade)(cfg, revision)

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
