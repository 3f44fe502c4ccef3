"""How storage runs statements, on SQLite and PostgreSQL: savepoints that undo their part alone,
what a transaction learns reaching the shared cache only after the commit, one item failing
alone in a group, and database errors as the project's own."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from monitor.errors import Conflict, StatementFailed, StoreError, StoreUnavailable
from monitor.pipeline.cluster import Kept
from monitor.storage import Store
from monitor.storage import engine as store_engine
from monitor.storage import stories as story_store
from monitor.storage.tables import feed, story
from monitor.storage.tx import Tx, each

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def add_feed(tx: Tx, name: str) -> None:
    tx.execute(
        feed.insert().values(
            name=name, config_url="u", url="u", interval_s=60, next_poll_at=NOW, created_at=NOW
        )
    )


def names(store: Store) -> list[str]:
    with store.read() as conn:
        return list(conn.execute(sa.select(feed.c.name).order_by(feed.c.id)).scalars())


def test_a_savepoint_undoes_its_part_and_forgets_what_it_learnt(store: Store) -> None:
    cache: Kept[str, int] = Kept(10)
    ran: list[str] = []
    with store.transaction() as tx:
        add_feed(tx, "kept")
        tx.remember(cache, "kept", 1)
        tx.after_commit(lambda: ran.append("kept"))
        with pytest.raises(StatementFailed), tx.savepoint():
            add_feed(tx, "undone")
            tx.remember(cache, "undone", 2)
            tx.after_commit(lambda: ran.append("undone"))
            add_feed(tx, "kept")  # the name is unique: the database refuses it
        assert tx.recall(cache, "kept") == 1 and tx.recall(cache, "undone") is None
        assert cache.get("kept") is None and ran == []  # nothing before the commit
    assert names(store) == ["kept"]
    assert cache.get("kept") == 1 and cache.get("undone") is None and ran == ["kept"]


def test_a_transaction_rolled_back_leaves_the_cache_as_it_was(store: Store) -> None:
    cache: Kept[str, int] = Kept(10)
    cache.update({"a": 1})
    with pytest.raises(RuntimeError), store.transaction() as tx:
        tx.remember(cache, "a", 2)
        tx.remember(cache, "b", 3)
        assert tx.recall(cache, "a") == 2
        raise RuntimeError("a bug half-way")
    assert cache.get("a") == 1 and cache.get("b") is None


def test_each_item_fails_alone_and_a_lost_race_is_run_again(store: Store) -> None:
    tries: dict[str, int] = {}

    def step(tx: Tx, name: str) -> str:
        tries[name] = tries.get(name, 0) + 1
        if name == "raced" and tries[name] == 1:
            add_feed(tx, "raced-partial")  # undone with the item
            raise Conflict("another worker stored it first")
        add_feed(tx, name)
        return name

    with store.transaction() as tx:
        add_feed(tx, "taken")
    done = each(store, ["a", "taken", "raced", "b"], step)
    assert done[0] == "a" and done[2] == "raced" and done[3] == "b"
    assert isinstance(done[1], StatementFailed)
    assert names(store) == ["taken", "a", "raced", "b"]


def test_an_item_that_keeps_losing_races_is_given_up_for_now(store: Store) -> None:
    def step(tx: Tx, name: str) -> str:
        raise Conflict("another worker stored it first")

    (done,) = each(store, ["x"], step)
    assert isinstance(done, Conflict)


def test_a_bug_in_a_step_rolls_the_whole_group_back(store: Store) -> None:
    def step(tx: Tx, name: str) -> str:
        add_feed(tx, name)
        if name == "b":
            raise KeyError(name)
        return name

    with pytest.raises(KeyError):
        each(store, ["a", "b"], step)
    assert names(store) == []


def test_lookup_times_go_in_and_come_out_as_datetimes(store: Store) -> None:
    with store.transaction() as tx:
        sid = story_store.open_story(tx, title="t", first_seen_at=NOW, last_seen_at=NOW, profile="")
        story_store.file_keys(tx, sid, ["t:flood"], NOW)
        later = NOW.replace(second=1)
        found = story_store.candidates(tx, ["t:flood"], NOW, later)
        assert found == {sid: story_store.Candidate(1, NOW)}
        assert story_store.candidates(tx, ["t:flood"], later, later) == {}
        before = NOW - timedelta(seconds=1)
        assert story_store.candidates(tx, ["t:flood"], NOW - timedelta(days=1), before) == {}
    with store.read() as conn:
        (seen,) = conn.execute(sa.text("SELECT seen_at FROM story_key")).scalars()
        assert seen == int(NOW.timestamp())  # stored as epoch seconds
        assert conn.execute(sa.select(story.c.first_seen_at)).scalar() == NOW


def test_database_errors_come_out_as_store_errors(store: Store) -> None:
    with store.transaction() as tx:
        add_feed(tx, "one")
    with pytest.raises(StatementFailed) as refused, store.write() as conn:
        conn.execute(feed.insert().values(name="one", config_url="u", url="u", interval_s=1,
                                          next_poll_at=NOW, created_at=NOW))  # fmt: skip
    assert "unique" in str(refused.value).lower()


def test_a_database_that_cannot_be_opened_is_unavailable(tmp_path: Path) -> None:
    store = Store(store_engine.create(f"sqlite:///{tmp_path}"))  # a folder, not a file
    with pytest.raises(StoreUnavailable) as failed, store.read():
        pass
    assert isinstance(failed.value, StoreError) and failed.value.hint
    assert not store.ping()
    store.close()
