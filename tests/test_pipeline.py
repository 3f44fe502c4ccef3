"""The pipeline in one process against real local servers: cheap before expensive, failures as
state, the same article once however many feeds carry it."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Collection
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import pytest
import sqlalchemy as sa

from monitor import config as config_mod
from monitor.daemon import once, runtime
from monitor.errors import StoreUnavailable
from monitor.feedhealth import health as feed_health
from monitor.pipeline import Pipeline, PollReport, PollResult
from monitor.pipeline.concurrency import GroupCommit, Job, KnownItems, Slot, poll_each
from monitor.storage import Store
from monitor.storage import alerts as alert_store
from monitor.storage import feeds as feed_store
from monitor.storage.feeds import FeedState
from tests.servers import Answer, Receiver, Site

WATCHLIST = """version: 1
name: iraq-conflict
channels: [hook]
groups:
  cities: [Falluja, Fallujah, Tal Afar, Telafar, Mosul, Ramadi]
rules:
  - {name: offensive, query: "offensive NEAR/15 @cities", severity: high}
  - {name: mass-grave, query: '"mass grave" OR "mass graves"', severity: critical}
"""

BODY = (
    "Government forces pressed their offensive toward Falluja on Monday, commanders said. "
    "Families left the outskirts on foot and by truck as shelling continued overnight. "
) * 8


BOMB = (
    b"<?xml version='1.0'?><!DOCTYPE l [<!ENTITY a 'aaaaaaaaaa'>"
    b"<!ENTITY b '&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;'><!ENTITY c '&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;'>"
    b"<!ENTITY d '&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;'><!ENTITY e '&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;'>]>"
    b"<rss><channel><item><title>&e;</title></item></channel></rss>"
)


def rss(*items: tuple[str, str, str], full: bool = True) -> bytes:
    """An RSS 2.0 feed; each item is (guid, title, link)."""
    parts = []
    for guid, title, link in items:
        text = f"<content:encoded><![CDATA[<p>{BODY}</p>]]></content:encoded>" if full else ""
        parts.append(
            f"<item><guid>{guid}</guid><title>{title}</title><link>{link}</link>"
            f"<description>Short summary.</description>{text}</item>"
        )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0" '
        'xmlns:content="http://purl.org/rss/1.0/modules/content/"><channel><title>T</title>'
        + "".join(parts)
        + "</channel></rss>"
    ).encode()


def setup(
    tmp: Path, site: Site, receiver: Receiver, feeds: dict[str, str], extra: str = ""
) -> config_mod.Config:
    (tmp / "watchlists").mkdir(exist_ok=True)
    (tmp / "watchlists" / "w.yaml").write_text(WATCHLIST)
    lines = "\n".join(f'  - {{name: {n}, url: "{site.url(p)}"}}' for n, p in feeds.items())
    (tmp / "monitor.yaml").write_text(
        f"version: 1\ndatabase: sqlite:///db.sqlite\nfetch: {{timeout: 5s, "
        f"allow_private_networks: true{extra}}}\nfeeds:\n{lines}\n"
        f'channels:\n  hook: {{kind: webhook, url: "{receiver.url("/hook")}"}}\n'
    )
    return config_mod.load(tmp / "monitor.yaml", env={})


def poll(config: config_mod.Config) -> PollReport:
    return asyncio.run(once(config, deliver=True))[0]


def states(config: config_mod.Config) -> dict[str, feed_store.FeedState]:
    store = Store.open(config.database_url)
    try:
        return {s.name: s for s in feed_store.all_feeds(store)}
    finally:
        store.close()


def test_same_link_with_tracking_parameters_in_two_feeds_is_one_alert(
    tmp_path: Path, site: Site, receiver: Receiver
) -> None:
    site.route(
        "/a.xml",
        Answer(
            200, rss(("a1", "Offensive on Falluja", "https://news.example.org/story?utm_source=a"))
        ),
    )
    site.route(
        "/b.xml",
        Answer(
            200,
            rss(
                (
                    "b9",
                    "Offensive on Falluja",
                    "https://www.news.example.org/story/?utm_campaign=b#top",
                )
            ),
        ),
    )
    config = setup(tmp_path, site, receiver, {"a": "/a.xml", "b": "/b.xml"})
    report = poll(config)
    assert report.new_entries == 2 and report.alerts == 1
    assert len(receiver.posts) == 1


def test_cheap_before_expensive(tmp_path: Path, site: Site, receiver: Receiver) -> None:
    """An unchanged body (no validators) is not parsed; seen entries are not extracted again."""
    feed = rss(("1", "Offensive on Falluja", site.url("/p1")), full=False)
    site.route("/f.xml", Answer(200, feed))
    site.route(
        "/p1",
        Answer(
            200,
            f"<html><body><article><p>{BODY}</p></article></body></html>".encode(),
            {"Content-Type": "text/html"},
        ),
    )
    config = setup(tmp_path, site, receiver, {"f": "/f.xml"})
    first = poll(config)
    assert [f.result for f in first.feeds] == [PollResult.CHANGED] and first.alerts == 1
    assert len(site.hits("/p1")) == 1
    assert [f.result for f in poll(config).feeds] == [PollResult.UNCHANGED]
    # A changed feed repeating an old entry beside a new one: only the new one's page is read.
    site.route(
        "/f.xml",
        Answer(
            200,
            rss(
                ("1", "Offensive on Falluja", site.url("/p1")),
                ("2", "Market day", site.url("/p2")),
                full=False,
            ),
        ),
    )
    site.route(
        "/p2",
        Answer(
            200,
            b"<html><body><article><p>"
            + b"Stalls reopened. " * 30
            + b"</p></article></body></html>",
        ),
    )
    third = poll(config)
    assert third.new_entries == 1 and third.alerts == 0
    assert len(site.hits("/p1")) == 1 and len(site.hits("/p2")) == 1


def test_an_edited_entry_updates_its_article_and_sends_no_second_alert(
    tmp_path: Path, site: Site, receiver: Receiver
) -> None:
    """The same feed and guid with a new title and an added sentence: read again, stored, and
    the story's alert is not repeated; a repeat of the edited entry is not read at all."""
    link = "https://news.example.org/falluja-offensive"
    site.route("/f.xml", Answer(200, rss(("1", "Offensive on Falluja", link))))
    config = setup(tmp_path, site, receiver, {"f": "/f.xml"})
    assert poll(config).alerts == 1
    edited = rss(("1", "Offensive on Falluja: families flee", link)).replace(
        b"overnight. ]]>", b"overnight. The United Nations appealed for a pause. ]]>"
    )
    edited = edited.replace(b"</p>]]>", b" The United Nations appealed for a pause.</p>]]>")
    site.route("/f.xml", Answer(200, edited))
    again = poll(config)
    assert again.new_entries == 0 and again.alerts == 0
    site.route("/f.xml", Answer(200, edited + b" "))  # changed body, same entry
    assert poll(config).alerts == 0
    store = Store.open(config.database_url)
    try:
        with store.read() as conn:
            (title, text, updated) = conn.execute(
                sa.text("SELECT title, text, updated_at FROM article")
            ).one()
        assert title == "Offensive on Falluja: families flee" and updated is not None
        assert text.endswith("appealed for a pause.")
        assert len(alert_store.listing(store)) == 1
    finally:
        store.close()
    assert len(receiver.posts) == 1


def test_unreachable_page_falls_back_to_the_feed_text(
    tmp_path: Path, site: Site, receiver: Receiver
) -> None:
    item = rss(("1", "Offensive near Mosul", site.url("/gone")), full=False)
    site.route("/f.xml", Answer(200, item))
    config = setup(tmp_path, site, receiver, {"f": "/f.xml"})
    report = poll(config)
    assert report.new_entries == 1 and report.alerts == 1  # the title alone matches
    store = Store.open(config.database_url)
    (row,) = alert_store.listing(store)
    message = alert_store.message(store, row)
    store.close()
    assert message.title == "Offensive near Mosul"
    import sqlalchemy as sa

    engine = sa.create_engine(config.database_url)
    with engine.connect() as conn:
        extraction, error = conn.execute(
            sa.text("SELECT extraction, extraction_error FROM article")
        ).one()
    engine.dispose()
    assert extraction == "fallback" and "HTTP 404" in error


@pytest.mark.parametrize(
    ("answer", "health", "status"),
    [
        (
            Answer(
                200, b"<html><body>Service unavailable</body></html>", {"Content-Type": "text/html"}
            ),
            "failing x1",
            "active",
        ),
        (Answer(200, b""), "failing x1", "active"),
        (Answer(200, BOMB), None, "active"),
        (Answer(503, b"", {"Retry-After": "3600"}), "failing x1", "active"),
        (Answer(410, b""), "retired", "retired"),
    ],
)
def test_bad_feeds_are_state_not_crashes(
    tmp_path: Path, site: Site, receiver: Receiver, answer: Answer, health: str | None, status: str
) -> None:
    site.route("/bad.xml", answer)
    site.route("/good.xml", Answer(200, rss(("1", "Offensive on Falluja", "https://e.org/1"))))
    config = setup(tmp_path, site, receiver, {"bad": "/bad.xml", "good": "/good.xml"})
    report = poll(config)
    assert {f.feed: f.result for f in report.feeds}["good"] == PollResult.CHANGED
    bad = states(config)["bad"]
    assert bad.status == status
    if health is not None:
        assert feed_health(bad, bad.last_polled_at) == health  # type: ignore[arg-type]
        assert bad.last_error
    if answer.status == 503:
        assert (bad.next_poll_at - bad.last_polled_at).total_seconds() >= 3600  # type: ignore[operator]
    assert len(receiver.posts) == 1


def test_permanent_redirect_updates_the_stored_url(
    tmp_path: Path, site: Site, receiver: Receiver
) -> None:
    site.route("/old.xml", Answer(301, b"", {"Location": site.url("/new.xml")}))
    site.route("/new.xml", Answer(200, rss(("1", "Quiet day", "https://e.org/1"))))
    config = setup(tmp_path, site, receiver, {"f": "/old.xml"})
    poll(config)
    assert states(config)["f"].url == site.url("/new.xml")
    poll(config)
    assert len(site.hits("/old.xml")) == 1 and len(site.hits("/new.xml")) == 2


def test_a_failing_channel_keeps_the_alert_for_later(
    tmp_path: Path, site: Site, receiver: Receiver
) -> None:
    site.route("/f.xml", Answer(200, rss(("1", "Offensive on Falluja", "https://e.org/1"))))
    receiver.route("/hook", Answer(500, b"down"), Answer(200, b"ok"))
    config = setup(tmp_path, site, receiver, {"f": "/f.xml"})
    poll(config)
    store = Store.open(config.database_url)
    (row,) = alert_store.listing(store)
    assert (row.status, row.attempts, row.last_error) == ("pending", 1, "hook: HTTP 500: down")

    async def deliver_now() -> None:
        async with runtime(config) as pipeline:
            pipeline.clock = lambda: row.next_attempt_at  # the retry is due
            assert (await pipeline.deliver()).sent == 1

    asyncio.run(deliver_now())
    (row,) = alert_store.listing(store)
    store.close()
    assert row.status == "sent" and len(receiver.posts) == 2
    assert (
        receiver.posts[0].headers["idempotency-key"] == receiver.posts[1].headers["idempotency-key"]
    )


def _jobs(n: int) -> list[Job[int, int]]:
    return [Job(lambda i=i: i, 1) for i in range(n)]  # type: ignore[misc]


def test_feeds_arriving_while_one_is_stored_are_stored_together_in_order() -> None:
    groups: list[list[int]] = []
    busy, release = threading.Event(), threading.Event()

    def write(group: list[int]) -> list[int]:
        groups.append(group)
        busy.set()
        release.wait(5)
        return [len(group)] * len(group)

    with ThreadPoolExecutor(1) as thread:
        ingest = GroupCommit(thread, write)
        first, *rest = _jobs(4)
        futures = [ingest.submit(first)]
        assert busy.wait(5)  # the first feed is stored at once, alone
        futures += [ingest.submit(job) for job in rest]
        release.set()
        assert [f.result(5) for f in futures] == [1, 3, 3, 3]
    assert groups == [[0], [1, 2, 3]]


def test_a_held_round_is_stored_in_one_group_once_fetched_or_when_the_backlog_is_full() -> None:
    """`monitor once` holds the store until the round's fetches end, so its feeds' entries are
    placed together (oldest first) whichever feed's fetch ended first; a full backlog is
    stored at once, so the fetches never wait for a held store."""
    groups: list[list[int]] = []

    def write(group: list[int]) -> list[int]:
        groups.append(group)
        return [len(group)] * len(group)

    with ThreadPoolExecutor(1) as thread:
        ingest = GroupCommit(thread, write)
        ingest.hold(3)
        first = [ingest.submit(job) for job in _jobs(2)]
        thread.submit(lambda: None).result(5)  # the ingest thread is idle: nothing was written
        assert groups == [] and not any(f.done() for f in first)
        ingest.release()
        assert [f.result(5) for f in first] == [2, 2]

        ingest.hold(3)
        full = [ingest.submit(job) for job in _jobs(3)]  # as many as may wait: stored now
        assert [f.result(5) for f in full] == [3, 3, 3]
        ingest.release()
        after = ingest.submit(Job(lambda: 7, 1))  # not held: stored at once, alone
        assert after.result(5) == 1
    assert groups == [[0, 1], [0, 1, 2], [7]]


def _state(i: int) -> FeedState:
    return cast(FeedState, SimpleNamespace(id=i))  # poll_each reads a feed's id only


def test_poll_each_says_when_no_feed_is_left_on_the_network() -> None:
    """`fetched` comes after every feed has left the network (handed on to the store's backlog,
    or finished), and before the feeds waiting for the store are done."""
    events: list[str] = []
    store_free = asyncio.Event()

    def claim(done: Collection[int]) -> list[FeedState]:
        return [] if done else [_state(i) for i in range(4)]

    async def run(state: FeedState, slot: Slot) -> None:
        await asyncio.sleep(0.01 * state.id)  # fetching, the last ones longest
        if state.id % 2:
            events.append(f"done {state.id}")  # nothing new: no store work
            return
        await slot.to_backlog()
        events.append(f"waiting {state.id}")
        await store_free.wait()
        events.append(f"stored {state.id}")

    def fetched() -> None:
        events.append("fetched")
        store_free.set()

    asyncio.run(poll_each(claim, run, 2, fetched=fetched))
    assert events.index("fetched") == 4  # after the four left the network
    assert sorted(events[:4]) == ["done 1", "done 3", "waiting 0", "waiting 2"]
    assert sorted(events[5:]) == ["stored 0", "stored 2"]


def test_a_failed_group_fails_each_of_its_feeds_and_the_next_group_goes_on() -> None:
    busy, release = threading.Event(), threading.Event()
    calls = []

    def write(group: list[int]) -> list[int]:
        calls.append(len(group))
        if len(calls) == 1:
            busy.set()
            release.wait(5)
            raise StoreUnavailable("disk I/O error")
        return [0] * len(group)

    with ThreadPoolExecutor(1) as thread:
        ingest = GroupCommit(thread, write)
        first, second, third = _jobs(3)
        failed = ingest.submit(first)
        assert busy.wait(5)
        cancelled = ingest.submit(second)
        assert cancelled.cancel()  # its poll gave up: it is not stored
        later = ingest.submit(third)
        release.set()
        with pytest.raises(StoreUnavailable):
            failed.result(5)
        assert later.result(5) == 0 and calls == [1, 1]


def test_a_feed_whose_preparation_fails_fails_alone() -> None:
    def broken() -> int:
        raise RuntimeError("a matcher bug")

    def tenfold(group: list[int]) -> list[int]:
        return [x * 10 for x in group]

    with ThreadPoolExecutor(1) as thread:
        ingest = GroupCommit(thread, tenfold)
        bad = ingest.submit(Job(broken, 1))
        good = ingest.submit(Job(lambda: 4, 1))
        with pytest.raises(RuntimeError):
            bad.result(5)
        assert good.result(5) == 40


def test_a_feed_waiting_for_the_store_does_not_hold_back_the_next_fetch(
    tmp_path: Path, site: Site, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With one feed on the network at a time, the second feed is fetched while the first one's
    entries wait for the ingest thread (the network slot moves to the ingest backlog)."""
    site.route("/a.xml", Answer(200, rss(("a1", "Offensive on Falluja", site.url("/p/a")))))
    site.route("/b.xml", Answer(200, rss(("b1", "Mass grave near Mosul", site.url("/p/b")))))
    config = setup(
        tmp_path, site, receiver, {"a": "/a.xml", "b": "/b.xml"}, extra=", concurrency: 1"
    )
    both_fetched = []
    write = Pipeline._write

    def slow_write(self: Pipeline, batches: list[Any]) -> Any:
        for _ in range(500):  # up to 5 s for the other feed's request
            if site.hits("/a.xml") and site.hits("/b.xml"):
                break
            time.sleep(0.01)
        both_fetched.append(bool(site.hits("/a.xml") and site.hits("/b.xml")))
        return write(self, batches)

    monkeypatch.setattr(Pipeline, "_write", slow_write)
    report = poll(config)
    assert report.new_entries == 2 and report.alerts == 2
    assert both_fetched[0] is True


def test_an_entry_that_was_not_stored_is_read_again_though_its_item_is_unchanged(
    tmp_path: Path, site: Site, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Items stored as they are are skipped unparsed by the next poll of a changed feed (in a
    daemon that keeps running: what it learnt of the feed is kept from poll to poll); an item
    whose entry failed is not among them, so the next poll reads and stores it."""
    from monitor.pipeline import extract, parse_fast

    known = KnownItems()

    def poll(config: config_mod.Config) -> PollReport:
        async def cycle() -> PollReport:
            async with runtime(config, known=known) as pipeline:
                return await pipeline.poll(due_only=False)

        return asyncio.run(cycle())

    failing = "https://news.example.org/mosul-grave"
    body = rss(
        ("a1", "Offensive on Falluja", "https://news.example.org/falluja"),
        ("a2", "Mass grave near Mosul", failing),
    )
    site.route("/f.xml", Answer(200, body))
    config = setup(tmp_path, site, receiver, {"f": "/f.xml"})
    build = extract.build_article

    def flaky(entry: Any, **kwargs: Any) -> Any:
        if entry.url == failing:
            raise RuntimeError("extraction bug")
        return build(entry, **kwargs)

    monkeypatch.setattr(extract, "build_article", flaky)
    poll(config)
    monkeypatch.setattr(extract, "build_article", build)
    items: list[object] = []
    real_item = parse_fast._item

    def counted(*args: Any) -> Any:
        items.append(args[0])
        return real_item(*args)

    monkeypatch.setattr(parse_fast, "_item", counted)
    site.route("/f.xml", Answer(200, body + b" "))  # a changed body, the same items
    assert poll(config).new_entries == 1 and len(items) == 1  # a2 only
    site.route("/f.xml", Answer(200, body + b"  "))
    assert poll(config).new_entries == 0 and len(items) == 1  # both known: none parsed
    store = Store.open(config.database_url)
    try:
        with store.read() as conn:
            urls = set(conn.execute(sa.text("SELECT url FROM article")).scalars())
        assert urls == {"https://news.example.org/falluja", failing}
    finally:
        store.close()


def test_a_prune_that_fails_is_logged_and_the_run_still_completes(
    tmp_path: Path, site: Site, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Housekeeping never costs a poll: `monitor once` finishes, its alert delivered."""
    from monitor.storage import stories as story_store

    def locked(*_args: object) -> None:
        raise StoreUnavailable("database is locked")

    monkeypatch.setattr(story_store, "prune", locked)
    site.route("/f.xml", Answer(200, rss(("1", "Offensive on Falluja", site.url("/p/1")))))
    config = setup(tmp_path, site, receiver, {"f": "/f.xml"})
    assert poll(config).alerts == 1 and len(receiver.posts) == 1


def test_a_runtime_stops_its_ingest_thread_and_keeps_nothing_for_the_next(
    tmp_path: Path, site: Site, receiver: Receiver
) -> None:
    """The ingest thread and the memories belong to the runtime that made them: after `monitor
    once` no thread is left, and the next runtime starts with memories of its own."""
    site.route("/f.xml", Answer(200, rss(("1", "Offensive on Falluja", "https://e.org/1"))))
    config = setup(tmp_path, site, receiver, {"f": "/f.xml"})
    seen = []

    async def cycle() -> None:
        async with runtime(config) as pipeline:
            report = await pipeline.poll(due_only=False)
            seen.append((pipeline.known, pipeline.memory))
            if report.new_entries:  # stored by the runtime's own ingest thread
                names = [t.name for t in threading.enumerate()]
                assert any(n.startswith("monitor-ingest") for n in names), names

    asyncio.run(cycle())
    asyncio.run(cycle())
    assert not [t for t in threading.enumerate() if t.name.startswith("monitor-ingest")]
    (known_a, memory_a), (known_b, memory_b) = seen
    assert known_a is not known_b and memory_a is not memory_b
    assert len(memory_a.vectors) == 1 and len(memory_b.vectors) == 0
