"""The store, on SQLite and on PostgreSQL: schema, constraints, leases, the outbox."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from monitor.feedhealth import health
from monitor.model import AlertSpec, Article, Hit, RuleMatch, Severity
from monitor.pipeline.record import NewEntry, Recorded
from monitor.storage import Store
from monitor.storage import alerts as alert_store
from monitor.storage import articles as article_store
from monitor.storage import engine as store_engine
from monitor.storage import feeds as feed_store
from monitor.storage.tables import alert, article, entry, metadata, rule_match, story
from tests import recording

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def article_for(
    url: str, title: str = "Offensive on Falluja", text: str = "Troops advanced."
) -> Article:
    return Article(url=url, canonical_url=url, title=title, text=text, source="wire")


MATCH = RuleMatch("iraq", "offensive", Severity.HIGH, (Hit("offensive", "title", 0, 9),), "…")
SPEC = AlertSpec("iraq", "hook", Severity.HIGH, ("offensive",), "…")


def feed_id(store: Store, name: str = "wire") -> int:
    feed_store.sync(store, [feed_store.FeedSpec(name, f"https://example.org/{name}.xml", 600)], NOW)
    return next(f.id for f in feed_store.all_feeds(store) if f.name == name)


def record(
    store: Store, fid: int, guid: str, item: Article, alerts: tuple[AlertSpec, ...] = (SPEC,)
) -> Recorded:
    return recording.entry(
        store,
        feed_id=fid,
        guid=guid,
        item=item,
        matches=[MATCH],
        alerts=alerts,
        now=NOW,
        story_window_s=3600,
    )


def count(store: Store, table: sa.Table) -> int:
    with store.read() as conn:
        return int(conn.scalar(sa.select(sa.func.count()).select_from(table)) or 0)


def test_migrations_create_exactly_the_models(store: Store) -> None:
    with store.engine.connect() as conn:
        diff = compare_metadata(
            MigrationContext.configure(conn, opts={"compare_type": True}), metadata
        )
    assert diff == []
    assert store_engine.is_current(store.engine)
    store_engine.migrate(store.engine)  # running again is harmless


def test_sqlite_runs_in_wal_mode(tmp_path: object) -> None:
    store = Store.open(f"sqlite:///{tmp_path}/wal.db")
    with store.read() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    store.close()


def test_feed_sync_follows_the_config(store: Store) -> None:
    specs = [
        feed_store.FeedSpec("a", "https://a.example/feed", 600),
        feed_store.FeedSpec("b", "https://b.example/feed", 300),
    ]
    feed_store.sync(store, specs, NOW)
    feed_store.sync(store, specs, NOW)
    assert [(f.name, f.status, f.interval_s) for f in feed_store.all_feeds(store)] == [
        ("a", "active", 600),
        ("b", "active", 300),
    ]
    feed_store.sync(store, [feed_store.FeedSpec("a", "https://a.example/new", 900)], NOW)
    a, b = feed_store.all_feeds(store)
    assert (a.url, a.interval_s, a.status, b.status) == (
        "https://a.example/new",
        900,
        "active",
        "removed",
    )


def test_one_entry_per_feed_and_guid(store: Store) -> None:
    fid = feed_id(store)
    first = record(store, fid, "guid-1", article_for("https://example.org/a"))
    again = record(store, fid, "guid-1", article_for("https://example.org/a"))
    assert first.entry_was_new and not again.entry_was_new
    assert count(store, entry) == 1
    assert article_store.unseen(store, fid, ["guid-1", "guid-2"]) == {"guid-2"}
    with store.write() as conn, pytest.raises(sa.exc.IntegrityError):
        conn.execute(entry.insert().values(feed_id=fid, guid="guid-1", seen_at=NOW))


def test_same_url_in_two_feeds_is_one_article_one_story_one_alert(store: Store) -> None:
    a, b = feed_id(store, "a"), feed_id(store, "b")
    first = record(store, a, "x", article_for("https://example.org/story"))
    second = record(store, b, "y", article_for("https://example.org/story"))
    assert second.entry_was_new and not second.article_was_new
    assert (first.article_id, first.story_id) == (second.article_id, second.story_id)
    assert first.alert_ids and not second.alert_ids
    assert (
        count(store, entry),
        count(store, article),
        count(store, story),
        count(store, alert),
    ) == (2, 1, 1, 1)


def test_one_alert_per_story_watchlist_channel_is_a_constraint(store: Store) -> None:
    fid = feed_id(store)
    rec = record(store, fid, "g", article_for("https://example.org/a"))
    row = {
        "story_id": rec.story_id,
        "article_id": rec.article_id,
        "watchlist": "iraq",
        "channel": "hook",
        "severity": "high",
        "rules": "offensive",
        "snippet": "",
        "idempotency_key": "other-key",
        "status": "pending",
        "attempts": 0,
        "next_attempt_at": NOW,
        "created_at": NOW,
    }
    with store.write() as conn, pytest.raises(sa.exc.IntegrityError):
        conn.execute(alert.insert().values(**row))


def test_record_is_atomic(store: Store) -> None:
    """A failure half-way stores nothing of that entry, so it is retried at the next poll;
    the feed's other new entries are stored all the same."""
    fid = feed_id(store)
    bad = AlertSpec("iraq", "hook", Severity.HIGH, ("offensive",), "x" * 10)
    broken = RuleMatch("iraq", "offensive", Severity.HIGH, (), None)  # type: ignore[arg-type]
    done = recording.entries(
        store,
        feed_id=fid,
        now=NOW,
        story_window_s=60,
        entries=[
            NewEntry("g", article_for("https://e.org/a"), None, [broken], [bad]),
            NewEntry("ok", article_for("https://e.org/b"), None, [MATCH], [SPEC]),
        ],
    )
    assert done[0].error and "NULL" in done[0].error.upper() and "snippet" in done[0].error
    assert not done[0].entry_was_new and done[1].entry_was_new and done[1].alert_ids
    assert [count(store, t) for t in (entry, article, story, rule_match, alert)] == [1, 1, 1, 1, 1]
    assert article_store.unseen(store, fid, ["g", "ok"]) == {"g"}


def test_identical_text_joins_the_story_within_the_window(store: Store) -> None:
    fid = feed_id(store)
    a = recording.entry(
        store,
        feed_id=fid,
        guid="1",
        item=article_for("https://a.org/1"),
        matches=[],
        alerts=[],
        now=NOW,
        story_window_s=3600,
    )
    b = recording.entry(
        store,
        feed_id=fid,
        guid="2",
        item=article_for("https://b.org/2"),
        matches=[],
        alerts=[],
        now=NOW + timedelta(minutes=5),
        story_window_s=3600,
    )
    c = recording.entry(
        store,
        feed_id=fid,
        guid="3",
        item=article_for("https://c.org/3"),
        matches=[],
        alerts=[],
        now=NOW + timedelta(hours=3),
        story_window_s=3600,
    )
    assert a.story_id == b.story_id != c.story_id


def test_feed_leases_are_exclusive_and_expire(store: Store) -> None:
    feed_store.sync(
        store, [feed_store.FeedSpec(f"f{i}", f"https://e.org/{i}", 600) for i in range(5)], NOW
    )
    one = feed_store.claim(store, "w1", NOW, limit=3, lease_s=60)
    two = feed_store.claim(store, "w2", NOW, limit=10, lease_s=60)
    assert len(one) == 3 and len(two) == 2
    assert not {f.id for f in one} & {f.id for f in two}
    assert feed_store.claim(store, "w3", NOW, limit=10, lease_s=60) == []
    # w1 died: after its lease expires its feeds go to someone else.
    later = NOW + timedelta(seconds=61)
    assert {f.id for f in feed_store.claim(store, "w3", later, limit=10, lease_s=60)} == {
        f.id for f in one + two
    }


def test_poll_outcomes_are_feed_state(store: Store) -> None:
    fid = feed_id(store)
    (state,) = feed_store.claim(store, "w", NOW, limit=1, lease_s=60)
    later = NOW + timedelta(minutes=10)
    feed_store.record(
        store, state, feed_store.PollOutcome(later, status=500, ok=False, error="HTTP 500"), NOW
    )
    (failing,) = feed_store.all_feeds(store)
    assert (failing.error_count, failing.last_error, failing.next_poll_at) == (1, "HTTP 500", later)
    assert health(failing, NOW) == "failing x1"
    feed_store.record(
        store,
        failing,
        feed_store.PollOutcome(
            later,
            status=200,
            changed=True,
            etag='"v2"',
            body_hash="h",
            moved_to="https://e.org/new",
            new_entries=3,
        ),
        NOW,
    )
    (ok,) = feed_store.all_feeds(store)
    assert (ok.id, ok.error_count, ok.etag, ok.url, ok.entries_seen) == (
        fid,
        0,
        '"v2"',
        "https://e.org/new",
        3,
    )
    assert health(ok, NOW) == "ok"
    assert health(ok, NOW + timedelta(days=30)).startswith("silent")
    feed_store.record(
        store, ok, feed_store.PollOutcome(later, status=410, ok=False, error="gone", gone=True), NOW
    )
    assert feed_store.claim(store, "w", NOW + timedelta(days=1), limit=5, lease_s=60) == []
    assert feed_store.reset(store, "wire", NOW)
    assert len(feed_store.claim(store, "w", NOW, limit=5, lease_s=60)) == 1


def test_outbox_lifecycle(store: Store) -> None:
    fid = feed_id(store)
    record(store, fid, "g", article_for("https://example.org/a"))
    (row,) = alert_store.claim(store, "w1", NOW, channels=["hook"])
    assert alert_store.claim(store, "w2", NOW, channels=["hook"]) == []  # leased
    assert alert_store.claim(store, "w1", NOW, channels=["other"]) == []
    message = alert_store.message(store, row)
    assert (message.title, message.url, message.rules, message.sources) == (
        "Offensive on Falluja",
        "https://example.org/a",
        ("offensive",),
        (("wire", "https://example.org/a"),),
    )
    retry = NOW + timedelta(minutes=1)
    alert_store.mark_failed(store, row, "w1", NOW, error="HTTP 503", retry_at=retry, duration_ms=3)
    assert alert_store.claim(store, "w1", NOW, channels=["hook"]) == []
    (again,) = alert_store.claim(store, "w1", retry, channels=["hook"])
    assert (again.attempts, again.last_error, again.idempotency_key) == (
        1,
        "HTTP 503",
        row.idempotency_key,
    )
    alert_store.mark_sent(store, again, retry, detail="HTTP 200", duration_ms=2)
    assert alert_store.counts(store) == {"sent": 1}
    assert alert_store.requeue(store, NOW, dead=True) == 0


def test_a_stale_worker_cannot_undo_a_send(store: Store) -> None:
    fid = feed_id(store)
    record(store, fid, "g", article_for("https://example.org/a"))
    (row,) = alert_store.claim(store, "slow", NOW, channels=["hook"], lease_s=10)
    later = NOW + timedelta(seconds=11)
    (taken,) = alert_store.claim(store, "fast", later, channels=["hook"])
    alert_store.mark_sent(store, taken, later, detail="HTTP 200", duration_ms=1)
    alert_store.mark_failed(
        store, row, "slow", later, error="timeout", retry_at=later, duration_ms=1
    )
    assert alert_store.counts(store) == {"sent": 1}


def test_dead_letters_can_be_requeued(store: Store) -> None:
    fid = feed_id(store)
    record(store, fid, "g", article_for("https://example.org/a"))
    (row,) = alert_store.claim(store, "w", NOW, channels=["hook"])
    alert_store.mark_failed(store, row, "w", NOW, error="HTTP 404", retry_at=None, duration_ms=1)
    assert alert_store.counts(store) == {"dead": 1}
    assert [r.last_error for r in alert_store.listing(store, status="dead")] == ["HTTP 404"]
    assert alert_store.requeue(store, NOW, dead=True) == 1
    (back,) = alert_store.claim(store, "w", NOW, channels=["hook"])
    assert (back.status, back.attempts) == ("pending", 0)


def test_concurrent_claims_never_share_a_feed(db_url: str) -> None:
    """Several workers (threads with their own connections) claim at once: no feed twice."""
    store = Store.open(db_url)
    feed_store.sync(
        store, [feed_store.FeedSpec(f"f{i}", f"https://e.org/{i}", 600) for i in range(40)], NOW
    )
    claimed: dict[str, list[int]] = {}

    def work(owner: str) -> None:
        mine: list[int] = []
        while batch := feed_store.claim(store, owner, NOW, limit=3, lease_s=60):
            mine += [f.id for f in batch]
        claimed[owner] = mine

    threads = [threading.Thread(target=work, args=(f"w{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    every = [i for ids in claimed.values() for i in ids]
    assert sorted(every) == sorted(set(every)) and len(every) == 40
    store.close()


def test_migrations_0004_and_0006_keep_the_lookup_rows_both_ways(db_url: str) -> None:
    """The lookup tables are rebuilt (SQLite) or re-keyed (PostgreSQL) with their rows, their
    times turned into epoch seconds (0006) and back; going back before 0004 keeps one band row
    per (key, article), the latest."""
    from alembic import command
    from alembic.config import Config as AlembicConfig

    engine = store_engine.create(db_url)
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(store_engine.MIGRATIONS))

    def to(revision: str, *, down: bool = False) -> None:
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            (command.downgrade if down else command.upgrade)(cfg, revision)

    def dump(sql: str) -> list[tuple[object, ...]]:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.execute(sa.text(sql))]

    at = datetime(2026, 11, 23, 12, 0)  # naive UTC, as stored
    try:
        to("0003_stories")
        with engine.begin() as conn:
            conn.execute(
                sa.text(
                    "INSERT INTO story (id, title, first_seen_at, last_seen_at, article_count, "
                    "profile) VALUES (1, 's', :t, :t, 1, '')"
                ),
                {"t": at},
            )
            conn.execute(
                sa.text(
                    "INSERT INTO article (id, canonical_url, url, source, title, summary, text, "
                    "text_hash, authors, fetched_at, extraction, story_id, story_reason) VALUES "
                    "(1, 'u', 'u', 'f', 't', '', '', 'h', '', :t, 'feed', 1, 'new')"
                ),
                {"t": at},
            )
            conn.execute(
                sa.text('INSERT INTO article_band ("key", article_id, seen_at) VALUES (:k, 1, :t)'),
                [{"k": k, "t": at} for k in (-5, 7, 2**62)],
            )
            conn.execute(
                sa.text('INSERT INTO story_key ("key", story_id, seen_at) VALUES (:k, 1, :t)'),
                [{"k": k, "t": at} for k in (3, -9)],
            )
        to("0005_story_revision")
        bands = 'SELECT "key", article_id FROM article_band ORDER BY "key"'
        keys = 'SELECT "key", story_id FROM story_key ORDER BY "key"'
        assert dump(bands) == [(-5, 1), (7, 1), (2**62, 1)]
        assert dump(keys) == [(-9, 1), (3, 1)]
        with engine.begin() as conn:  # an edit files the article again under a later time
            conn.execute(
                sa.text('INSERT INTO article_band ("key", article_id, seen_at) VALUES (7, 1, :t)'),
                {"t": at + timedelta(hours=1)},
            )
        to("head")
        second = int(at.replace(tzinfo=UTC).timestamp())
        assert dump('SELECT "key", seen_at, article_id FROM article_band ORDER BY 1, 2') == [
            (-5, second, 1),
            (7, second, 1),
            (7, second + 3600, 1),
            (2**62, second, 1),
        ]
        assert dump('SELECT "key", seen_at FROM story_key ORDER BY 1') == [
            (-9, second),
            (3, second),
        ]
        to("0003_stories", down=True)
        assert dump(bands) == [(-5, 1), (7, 1), (2**62, 1)]
        ((latest,),) = dump('SELECT seen_at FROM article_band WHERE "key" = 7')
        assert str(latest)[:19] == "2026-11-23 13:00:00"  # SQLite returns its text
        assert dump(keys) == [(-9, 1), (3, 1)]
        to("head")
        assert dump(bands) == [(-5, 1), (7, 1), (2**62, 1)]
    finally:
        engine.dispose()


def test_workers_starting_together_sync_the_same_new_feeds_without_an_error(db_url: str) -> None:
    """Several workers start (or reload a config that adds feeds) at the same instant: each
    sync succeeds and every feed exists once."""
    workers = 6
    stores = [Store.open(db_url) for _ in range(workers)]
    errors: list[BaseException] = []
    try:
        for round_ in range(4):
            wanted = [
                feed_store.FeedSpec(f"f{i}", f"https://e.org/{i}", 600)
                for i in range(5 * (round_ + 1))
            ]
            start = threading.Barrier(workers)

            def sync(
                s: Store,
                wanted: list[feed_store.FeedSpec] = wanted,
                start: threading.Barrier = start,
            ) -> None:
                start.wait()
                try:
                    feed_store.sync(s, wanted, NOW)
                except BaseException as exc:
                    errors.append(exc)

            threads = [threading.Thread(target=sync, args=(s,)) for s in stores]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            assert errors == []
            names = [f.name for f in feed_store.all_feeds(stores[0])]
            assert sorted(names) == sorted(s.name for s in wanted)
    finally:
        for s in stores:
            s.close()
