"""Archive retention (storage/archive.py, pipeline/retention.py): old article text goes, what
dedup needs stays, and an old article never alerts again."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
import structlog

from monitor import config as config_mod
from monitor.errors import ConfigError
from monitor.model import Article
from monitor.pipeline import match, retention
from monitor.pipeline.parse_raw import fingerprint_of
from monitor.rules import compile_watchlists
from monitor.storage import Store, archive
from monitor.storage.tables import alert, article, entry, rule_match, story
from tests import recording
from tests.migrations import migrate
from tests.stored import NOW, STORIES, WINDOW, channels, feed, report, watchlist

DESK = channels(desk="low")
WATCH = watchlist(
    "desk",
    [
        {"name": "offensive", "query": "offensive NEAR/10 Mosul", "severity": "high"},
        {"name": "floods", "query": "flood*"},
    ],
    updates="every",
)
LATER = NOW + timedelta(days=100)


def rows(store: Store, table: sa.Table) -> list[sa.RowMapping]:
    with store.read() as conn:
        return list(conn.execute(sa.select(table).order_by(table.c.id)).mappings())


def sent(store: Store) -> None:
    with store.write() as conn:
        conn.execute(alert.update().values(status="sent"))


def test_old_articles_lose_their_text_and_matches_and_keep_their_keys(store: Store) -> None:
    rules = {"watchlists": [WATCH], "routes": DESK}
    old = report(store, "offensive", **rules)
    report(store, "harvest", hours=1, **rules)
    new = report(store, "floods", hours=24 * 60, **rules)
    sent(store)
    done = archive.prune(store, NOW + timedelta(days=30), LATER)
    assert (done.articles, done.matches) == (2, 1)
    assert done.stories == 2  # the two old stories' profiles; the new one is still open

    by_id = {a["id"]: a for a in rows(store, article)}
    gone = by_id[old.article_id]
    assert (gone["text"], gone["summary"], gone["signature"]) == ("", "", None)
    assert gone["pruned_at"] == LATER
    # What says "seen before" stays: the URL, the text hash, the story, the entry, the alert.
    assert gone["canonical_url"] == "https://wire.example.org/offensive"
    assert gone["text_hash"] and gone["story_id"] == old.story_id and gone["title"]
    assert len(rows(store, entry)) == 3
    assert {a["story_id"] for a in rows(store, alert)} == {old.story_id, new.story_id}
    assert {m["article_id"] for m in rows(store, rule_match)} == {new.article_id}
    kept = by_id[new.article_id]
    assert kept["text"] and kept["pruned_at"] is None
    assert {s["id"]: bool(s["profile"]) for s in rows(store, story)} == {
        old.story_id: False,
        old.story_id + 1: False,
        new.story_id: True,
    }
    assert archive.prune(store, NOW + timedelta(days=30), LATER) == archive.Pruned()

    reach = archive.reach(store)
    assert (reach.oldest, reach.articles, reach.pruned) == (NOW + timedelta(days=60), 1, 2)


def test_an_article_whose_alert_is_still_to_send_is_kept_whole(store: Store) -> None:
    waiting = report(store, "offensive", watchlists=[WATCH], routes=DESK)
    assert archive.prune(store, NOW + timedelta(days=30), LATER).articles == 0
    assert rows(store, article)[0]["text"]
    sent(store)
    assert archive.prune(store, NOW + timedelta(days=30), LATER).articles == 1
    assert waiting.article_id == rows(store, article)[0]["id"]


def test_a_pruned_article_never_alerts_again(store: Store) -> None:
    rules = {"watchlists": [WATCH], "routes": DESK}
    first = report(store, "offensive", **rules)
    sent(store)
    archive.prune(store, NOW + timedelta(days=30), LATER)
    # The same entry polled again, months later: seen before.
    again = report(store, "offensive", now=LATER, **rules)
    assert not again.entry_was_new and again.alert_ids == ()
    # The same link from another feed (tracking parameters aside): the same article, the same
    # story, already alerted; `updates: every` makes no follow-up of it (not a new report).
    other = report(
        store,
        "offensive",
        source="agency",
        url="https://wire.example.org/offensive?utm_source=agency",
        now=LATER,
        **rules,
    )
    assert (other.article_id, other.story_id) == (first.article_id, first.story_id)
    assert other.alert_ids == ()
    assert len(rows(store, alert)) == 1


def test_an_edit_of_a_pruned_article_makes_it_whole_until_the_next_prune(store: Store) -> None:
    """A feed that still lists an old entry edits it: the article holds the new text and its
    matches as any stored article does (the backtest replays it, the web view shows it), and
    the next prune takes them again, rather than keeping them for good under `pruned_at`."""
    rules = {"watchlists": [WATCH], "routes": DESK}
    first = report(store, "offensive", **rules)
    sent(store)
    archive.prune(store, NOW + timedelta(days=30), LATER)
    title, text = STORIES["offensive"]
    edited = Article(
        url="https://wire.example.org/offensive",
        canonical_url="https://wire.example.org/offensive",
        title=title,
        text=text + " The offensive on Mosul paused at noon.",
        source="wire",
    )
    matcher = compile_watchlists([WATCH])
    matches = match.match(matcher, edited, [WATCH], "wire")
    again = recording.entry(
        store,
        feed_id=feed(store, "wire"),
        guid="https://wire.example.org/offensive",
        item=edited,
        matches=matches,
        alerts=match.route(matches, [WATCH], DESK),
        now=LATER,
        story_window_s=WINDOW,
        entry_hash=fingerprint_of(title, "", edited.text),
        edited=True,
    )
    assert again.edited and again.article_id == first.article_id
    (row,) = rows(store, article)
    assert row["pruned_at"] is None and row["text"].endswith("paused at noon.")
    assert [m["article_id"] for m in rows(store, rule_match)] == [first.article_id]
    assert archive.reach(store).articles == 1

    done = archive.prune(store, LATER + timedelta(days=30), LATER + timedelta(days=100))
    assert (done.articles, done.matches) == (1, 1)
    (row,) = rows(store, article)
    assert row["text"] == "" and row["pruned_at"] is not None
    assert rows(store, rule_match) == []


def test_the_daemon_prunes_by_archive_keep_and_keeps_everything_without_it(
    store: Store, tmp_path: Path
) -> None:
    report(store, "harvest", watchlists=[WATCH], routes=DESK)
    (tmp_path / "w.yaml").write_text(
        "version: 1\nname: w\nchannels: [log]\nrules: [{name: r, query: x}]\n"
    )
    base = "version: 1\nwatchlists: w.yaml\nchannels: {log: {kind: log}}\n"
    (tmp_path / "forever.yaml").write_text(base + "archive: {keep: null}\n")
    forever = config_mod.load(tmp_path / "forever.yaml").settings
    assert asyncio.run(retention.prune(store, forever, LATER)) is None
    (tmp_path / "default.yaml").write_text(base)
    default = config_mod.load(tmp_path / "default.yaml").settings
    assert default.archive.keep == 90 * 86400
    assert retention.cutoff(default, LATER) == LATER - timedelta(days=90)
    done = asyncio.run(retention.prune(store, default, LATER))
    assert done is not None and done.articles == 1


def test_a_prune_the_database_refuses_is_logged_and_left_for_the_next_run(tmp_path: Path) -> None:
    """Housekeeping never stops the daemon: a store it cannot reach (here a SQLite file in a
    folder that does not exist) gives a warning, not an exception."""
    gone = Store(sa.create_engine(f"sqlite:///{tmp_path / 'no-such-folder' / 'monitor.db'}"))
    (tmp_path / "w.yaml").write_text(
        "version: 1\nname: w\nchannels: [log]\nrules: [{name: r, query: x}]\n"
    )
    (tmp_path / "m.yaml").write_text(
        "version: 1\nwatchlists: w.yaml\nchannels: {log: {kind: log}}\n"
    )
    settings = config_mod.load(tmp_path / "m.yaml").settings
    with structlog.testing.capture_logs() as logs:
        assert asyncio.run(retention.prune(gone, settings, LATER)) is None
    gone.close()
    assert [e["event"] for e in logs] == ["archive not pruned; trying again later"]


def test_archive_keep_shorter_than_the_story_window_is_a_config_error(tmp_path: Path) -> None:
    (tmp_path / "w.yaml").write_text(
        "version: 1\nname: w\nchannels: [log]\nrules: [{name: r, query: x}]\n"
    )
    (tmp_path / "m.yaml").write_text(
        "version: 1\nwatchlists: w.yaml\nchannels: {log: {kind: log}}\n"
        "stories: {window: 3d}\narchive: {keep: 2d}\n"
    )
    with pytest.raises(ConfigError) as caught:
        config_mod.load(tmp_path / "m.yaml")
    assert "archive.keep (2d) must be at least stories.window (3d)" in str(caught.value)


def test_migration_0008_goes_down_and_up_keeping_the_rows(store: Store) -> None:
    """Down to 0007 drops the three columns and two indexes and keeps every row (the feed's
    `entries_dropped` of 0007 stays); up again adds them empty."""

    report(store, "offensive", watchlists=[WATCH], routes=DESK)

    def to(revision: str, *, down: bool = False) -> None:
        migrate(store.engine, revision, down=down)

    def columns(table: str) -> set[str]:
        return {c["name"] for c in sa.inspect(store.engine).get_columns(table)}

    to("0007_feed_entries_dropped", down=True)
    assert "pruned_at" not in columns("article") and "muted_at" not in columns("story")
    assert "irrelevant_at" not in columns("alert") and "entries_dropped" in columns("feed")
    to("head")
    assert {"pruned_at"} <= columns("article") and {"irrelevant_at"} <= columns("alert")
    assert [len(rows(store, t)) for t in (article, story, alert)] == [1, 1, 1]
    assert archive.reach(store).articles == 1
