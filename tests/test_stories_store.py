"""Stories in the store, on SQLite and PostgreSQL: copies, rewrites and other events; state that
survives a restart; alerts that follow stories; two workers placing copies at once."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from monitor.model import AlertSpec, Article, RuleMatch, Severity
from monitor.pipeline import record as record_mod
from monitor.pipeline import stories as algo
from monitor.pipeline.cluster import COPIES_S
from monitor.pipeline.fingerprint import stem
from monitor.pipeline.links import canonical_url
from monitor.pipeline.parse_raw import fingerprint_of
from monitor.pipeline.record import NewEntry, Recorded
from monitor.storage import Store, feedback
from monitor.storage import feeds as feed_store
from monitor.storage.tables import alert, article, article_band, story, story_key
from tests import recording
from tests.test_stories import read

NOW = datetime(2026, 3, 10, 8, 0, tzinfo=UTC)
WINDOW = 72 * 3600.0
HIGH = AlertSpec("iraq", "desk", Severity.HIGH, ("floods",), "…")


def feed(store: Store, name: str = "wire") -> int:
    feed_store.sync(store, [feed_store.FeedSpec(name, f"https://e.org/{name}.xml", 600)], NOW)
    return next(f.id for f in feed_store.all_feeds(store) if f.name == name)


def item(name: str, url: str | None = None, **changes: Any) -> Article:
    title, body = read(name)
    url = url or f"https://{name}.example.org/news/{name}"
    fields = {"title": title, "text": body, **changes}
    return Article(url=url, canonical_url=canonical_url(url), source="wire", **fields)


def put(
    store: Store,
    fid: int,
    guid: str,
    art: Article,
    *,
    at: timedelta = timedelta(0),
    alerts: tuple[AlertSpec, ...] = (HIGH,),
    edited: bool = False,
    matches: Sequence[RuleMatch] = (),
    **times: float,
) -> Recorded:
    done = recording.entry(
        store,
        feed_id=fid,
        guid=guid,
        item=art,
        matches=list(matches),
        alerts=alerts,
        now=NOW + at,
        story_window_s=WINDOW,
        entry_hash=fingerprint_of(art.title, art.summary, art.text),
        edited=edited,
        **times,
    )
    assert done.error is None, done.error
    return done


def rows(store: Store, table: sa.Table) -> list[sa.RowMapping]:
    with store.read() as conn:
        return list(conn.execute(sa.select(table).order_by(table.c.id)).mappings())


def test_an_article_is_weighed_in_the_language_it_declares(store: Store) -> None:
    fid = feed(store)
    flood = put(store, fid, "1", item("porto-cheias-agencia", language="pt-PT"))
    rewrite = put(store, fid, "2", item("porto-cheias-reescrita", language="pt-PT"))
    strike = put(store, fid, "3", item("porto-greve-metro", language="pt-PT"))
    assert flood.story_id == rewrite.story_id != strike.story_id
    assert rewrite.reason == "rewrite" and strike.reason == "new"
    # The story's stored profile: "que" and "da" are everyday words in Portuguese, "Douro" is not.
    content = algo.Profile.from_json(rows(store, story)[0]["profile"]).content
    douro, que, da = (stem(w, "pt") for w in ("douro", "que", "da"))
    assert content[douro] > 5 * max(content.get(que, 0.0), content.get(da, 0.0))


def test_copies_and_rewrites_join_another_event_in_the_same_city_does_not(store: Store) -> None:
    fid = feed(store)
    wire = put(store, fid, "1", item("basra-floods-wire"))
    copy = put(store, fid, "2", item("basra-floods-copy"), at=timedelta(minutes=20))
    rewrite = put(store, fid, "3", item("basra-floods-rewrite"), at=timedelta(hours=2))
    strike = put(store, fid, "4", item("basra-port-strike"), at=timedelta(hours=3))
    assert wire.reason == "new" and copy.reason == "near-duplicate" and rewrite.reason == "rewrite"
    assert wire.story_id == copy.story_id == rewrite.story_id != strike.story_id
    assert strike.reason == "new"
    (flood, port) = rows(store, story)
    assert (flood["article_count"], port["article_count"]) == (3, 1)
    assert flood["title"].startswith("Floods kill 14 in Basra")
    # One alert for the flood story however many outlets carried it, one for the strike.
    assert [(a["story_id"], a["kind"]) for a in rows(store, alert)] == [
        (wire.story_id, "story"),
        (strike.story_id, "story"),
    ]


PAYWALL = (
    "Subscribers read on. Our reporters cover the region every day; a subscription keeps them "
    "there. Already paying? Log in with the address you signed up with. New readers get the "
    "first month free and may stop at any time."
)


def written(url: str, title: str, text: str) -> Article:
    """An article with the given words (not a fixture)."""
    return Article(url=url, canonical_url=canonical_url(url), source="wire", title=title, text=text)


def test_the_same_short_boilerplate_under_other_headlines_is_no_copy(store: Store) -> None:
    """A paywall notice in place of the text makes every article of a site word for word the
    same: they are three events, not one report."""
    fid = feed(store)
    titles = ("Car bomb kills 12 in Kirkuk", "Dam gives way above Mosul", "Oil minister resigns")
    placed = [
        put(
            store,
            fid,
            str(n),
            written(f"https://paper.example/{n}", t, PAYWALL),
            at=timedelta(hours=n),
        )
        for n, t in enumerate(titles)
    ]
    assert len({p.story_id for p in placed}) == 3
    assert [p.reason for p in placed] == ["new", "new", "new"]
    # The same notice under a headline that shares a word with one of them: a copy of that one.
    kirkuk = written("https://other.example/k", "Kirkuk car bomb: toll rises", PAYWALL)
    again = put(store, fid, "9", kirkuk, at=timedelta(hours=4))
    assert again.story_id == placed[0].story_id and again.reason == "same-text"


def test_items_with_no_words_at_all_are_not_one_story(store: Store) -> None:
    fid = feed(store)
    first = put(store, fid, "1", written("https://e.org/1", "", ""))
    second = put(store, fid, "2", written("https://e.org/2", "", ""), at=timedelta(hours=1))
    assert first.story_id != second.story_id


def test_the_same_link_with_utm_in_two_feeds_is_one_article(store: Store) -> None:
    a, b = feed(store, "a"), feed(store, "b")
    url = "https://news.example.org/basra/floods"
    first = put(store, a, "x", item("basra-floods-wire", url + "?utm_source=a&utm_medium=rss"))
    second = put(
        store,
        b,
        "y",
        item("basra-floods-wire", "https://www.news.example.org/basra/floods/?utm_campaign=b"),
    )
    assert second.entry_was_new and not second.article_was_new
    assert first.article_id == second.article_id and len(rows(store, article)) == 1
    assert len(rows(store, alert)) == 1


def test_identical_text_at_another_url_is_a_copy_of_that_article(store: Store) -> None:
    fid = feed(store)
    first = put(store, fid, "1", item("basra-floods-wire"))
    again = put(store, fid, "2", item("basra-floods-wire", "https://mirror.example.net/floods"))
    assert again.reason == "same-text" and again.story_id == first.story_id
    assert [a["same_as_id"] for a in rows(store, article)] == [None, first.article_id]


def test_the_window_closes_to_rewrites_and_later_to_copies(store: Store) -> None:
    fid = feed(store)
    first = put(store, fid, "1", item("basra-floods-wire"))
    late = put(store, fid, "2", item("basra-floods-rewrite"), at=timedelta(seconds=WINDOW + 60))
    assert late.reason == "new" and late.story_id != first.story_id
    copy = put(store, fid, "3", item("basra-floods-copy"), at=timedelta(days=6))
    assert copy.reason == "near-duplicate" and copy.story_id == first.story_id
    after = timedelta(days=6, seconds=COPIES_S + 60)  # the copies' lookback from the last copy
    again = put(store, fid, "4", item("basra-floods-copy", "https://x.example.org/b"), at=after)
    assert again.reason == "new" and again.story_id not in (first.story_id, late.story_id)


def test_a_restart_keeps_the_clustering_state(db_url: str) -> None:
    store = Store.open(db_url)
    fid = feed(store)
    first = put(store, fid, "1", item("basra-floods-wire"))
    store.close()
    store = Store.open(db_url)  # a new process: nothing in memory
    try:
        rewrite = put(store, fid, "2", item("basra-floods-rewrite"), at=timedelta(hours=1))
        copy = put(store, fid, "3", item("basra-floods-copy"), at=timedelta(hours=2))
        assert first.story_id == rewrite.story_id == copy.story_id
    finally:
        store.close()


def test_an_edited_entry_updates_its_article_and_never_alerts_again(store: Store) -> None:
    fid = feed(store)
    first = put(store, fid, "1", item("basra-floods-wire"))
    _, body = read("basra-floods-wire")
    edit = item(
        "basra-floods-wire",
        title="Basra floods: death toll rises to 14",
        text=body + " The Prime Minister declared three days of mourning.",
    )
    again = put(store, fid, "1", edit, at=timedelta(hours=1), edited=True)
    assert again.edited and again.article_id == first.article_id and not again.alert_ids
    (stored,) = rows(store, article)
    assert stored["title"] == "Basra floods: death toll rises to 14"
    assert stored["text"].endswith("three days of mourning.") and stored["updated_at"] is not None
    assert len(rows(store, alert)) == 1 and len(rows(store, story)) == 1


def test_escalation_and_follow_ups_each_have_their_own_alert_row(store: Store) -> None:
    fid = feed(store)
    medium = AlertSpec("iraq", "desk", Severity.MEDIUM, ("floods",), "…")
    critical = AlertSpec("iraq", "desk", Severity.CRITICAL, ("deaths",), "…")
    every = AlertSpec("iraq", "desk", Severity.MEDIUM, ("floods",), "…", updates="every")
    digest = AlertSpec("iraq", "mail", Severity.MEDIUM, ("floods",), "…", updates="digest")
    first = put(store, fid, "1", item("basra-floods-wire"), alerts=(medium,))
    put(store, fid, "2", item("basra-floods-copy"), alerts=(medium,))  # updates: none
    up = put(store, fid, "3", item("basra-floods-rewrite"), alerts=(critical,))
    more = put(
        store,
        fid,
        "4",
        item(
            "basra-floods-rewrite",
            "https://other.example.org/b",
            text=read("basra-floods-rewrite")[1] + " Schools stayed shut on Wednesday.",
        ),
        alerts=(every, digest),
    )
    got = [
        (a["kind"], a["follow_key"], a["severity"], a["channel"], a["status"])
        for a in rows(store, alert)
    ]
    assert got == [
        ("story", "", "medium", "desk", "pending"),
        ("escalation", "critical", "critical", "desk", "pending"),
        ("update", str(more.article_id), "medium", "desk", "pending"),
        ("story", "", "medium", "mail", "pending"),  # the first alert on that channel
    ]
    assert {first.story_id, up.story_id, more.story_id} == {first.story_id}
    # One escalation per severity level is a constraint, not only a code path.
    row = dict(rows(store, alert)[1])
    row.pop("id")
    row["idempotency_key"] = "another"
    with store.write() as conn, pytest.raises(sa.exc.IntegrityError):
        conn.execute(alert.insert().values(**row))
    # A digest follow-up is held for the next digest, not sent on its own.
    copy = read("basra-floods-copy")[1]
    later = put(
        store,
        fid,
        "5",
        item("basra-floods-copy", "https://third.example.org/c", text=copy + " More rain fell."),
        alerts=(digest,),
    )
    assert [
        (a["kind"], a["status"]) for a in rows(store, alert) if a["article_id"] == later.article_id
    ] == [("update", "digest")]


@pytest.fixture
def loose_joins(monkeypatch: pytest.MonkeyPatch) -> None:
    """Joins as loose as can be: every report joins the first story, as a wrong join would."""
    monkeypatch.setattr(algo, "MIN_CONTENT", -1.0)
    monkeypatch.setattr(
        algo,
        "TEXT_MODEL",
        dataclasses.replace(algo.TEXT_MODEL, weights=(50.0, *algo.TEXT_MODEL.weights[1:])),
    )


@pytest.mark.usefixtures("loose_joins")
def test_a_wrong_join_is_repaired_and_the_other_event_gets_its_alert(store: Store) -> None:
    fid = feed(store)
    wire = put(store, fid, "1", item("basra-floods-wire"))
    strike = recording.entry(
        store,
        feed_id=fid,
        guid="2",
        item=item("basra-port-strike"),
        matches=[RuleMatch("iraq", "strike", Severity.HIGH, snippet="dock workers walked out")],
        alerts=(AlertSpec("iraq", "desk", Severity.HIGH, ("strike",), "dock workers"),),
        now=NOW + timedelta(hours=1),
        story_window_s=WINDOW,
    )
    assert strike.story_id == wire.story_id and not strike.alert_ids  # joined: silenced
    # The third report brings the story to a size where it is looked at again.
    rewrite = put(store, fid, "3", item("basra-floods-rewrite"), at=timedelta(hours=2))
    assert rewrite.story_id == wire.story_id

    by_id = {a["id"]: a for a in rows(store, article)}
    moved = by_id[strike.article_id]
    assert moved["story_id"] not in (None, wire.story_id)
    assert moved["story_reason"] == "split"
    assert by_id[rewrite.article_id]["story_id"] == wire.story_id
    floods, port = rows(store, story)
    assert (floods["id"], port["id"]) == (wire.story_id, moved["story_id"])
    assert (floods["article_count"], port["article_count"]) == (2, 1)
    assert port["title"] == item("basra-port-strike").title
    assert floods["revision"] == 4  # opened, two joins, a split: every change shows
    assert "mqsr" not in algo.Profile.from_json(floods["profile"]).entities  # Umm Qasr left
    # The strike, kept silent by the wrong join, now has its own story alert; the floods keep
    # theirs, and nothing else was queued.
    queued = rows(store, alert)
    got = sorted((a["story_id"], a["kind"], a["article_id"], a["rules"]) for a in queued)
    assert got == [
        (wire.story_id, "story", wire.article_id, "floods"),
        (port["id"], "story", strike.article_id, "strike"),
    ]
    # Later reports of the strike find its story.
    again = put(store, fid, "4", item("basra-port-strike", url="https://other.example.org/strike"))
    assert again.story_id == port["id"] and again.reason == "same-text"


@pytest.mark.usefixtures("loose_joins")
def test_a_repair_after_a_restart_reads_its_members_from_the_store(store: Store) -> None:
    """With no vectors kept in memory (a new process), repair rebuilds them from the stored
    titles and texts and splits the same way."""
    fid = feed(store)
    wire = put(store, fid, "1", item("basra-floods-wire"))
    strike = put(store, fid, "2", item("basra-port-strike"), at=timedelta(hours=1), alerts=())
    assert strike.story_id == wire.story_id
    memory = recording.memory_of(store)
    assert len(memory.vectors) == 2
    memory.vectors.clear()
    memory.pairs.clear()
    put(store, fid, "3", item("basra-floods-rewrite"), at=timedelta(hours=2))
    by_id = {a["id"]: a for a in rows(store, article)}
    assert by_id[strike.article_id]["story_reason"] == "split"
    assert by_id[strike.article_id]["story_id"] != wire.story_id


@pytest.mark.usefixtures("loose_joins")
def test_an_alert_raised_by_a_report_that_a_repair_moves_goes_with_it(store: Store) -> None:
    fid = feed(store)
    wire = put(store, fid, "1", item("basra-floods-wire"), alerts=())
    strike = put(store, fid, "2", item("basra-port-strike"), at=timedelta(hours=1))
    assert strike.story_id == wire.story_id and strike.alert_ids  # the story's first alert
    put(store, fid, "3", item("basra-floods-rewrite"), at=timedelta(hours=2), alerts=())
    (only,) = rows(store, alert)
    (moved,) = [a for a in rows(store, article) if a["id"] == strike.article_id]
    assert only["id"] == strike.alert_ids[0] and only["status"] == "pending"
    assert only["story_id"] == moved["story_id"] != wire.story_id


@pytest.mark.usefixtures("loose_joins")
def test_a_sent_alert_follows_its_report_and_the_story_it_left_alerts_again(
    store: Store,
) -> None:
    """The strike joined the floods' story and its alert went out before the repair: it stays
    the strike's (not sent twice), and the floods, which that alert had kept silent, are heard."""
    fid = feed(store)
    spec = AlertSpec("iraq", "desk", Severity.HIGH, ("watch",), "…")
    matched = [RuleMatch("iraq", "watch", Severity.HIGH, snippet="…")]

    def watched(guid: str, name: str, hours: int) -> Recorded:
        at = timedelta(hours=hours)
        return put(store, fid, guid, item(name), at=at, alerts=(spec,), matches=matched)

    wire = put(store, fid, "1", item("basra-floods-wire"), alerts=())
    strike = watched("2", "basra-port-strike", 1)
    assert strike.story_id == wire.story_id and strike.alert_ids
    with store.write() as conn:  # the delivery loop sent it meanwhile
        conn.execute(alert.update().values(status="sent", attempts=1))
    rewrite = watched("3", "basra-floods-rewrite", 2)
    by_id = {a["id"]: a for a in rows(store, article)}
    port = by_id[strike.article_id]["story_id"]
    assert port != wire.story_id == rewrite.story_id
    got = sorted(
        (a["story_id"], a["article_id"], a["kind"], a["status"]) for a in rows(store, alert)
    )
    assert got == sorted(
        [
            (port, strike.article_id, "story", "sent"),
            (wire.story_id, rewrite.article_id, "story", "pending"),
        ]
    )


@pytest.mark.usefixtures("loose_joins")
def test_a_muted_story_gets_no_alert_from_a_split_nor_from_the_report_that_split_it(
    store: Store,
) -> None:
    """As above, but a person muted the floods' story (it had matched, never alerted): after
    the split the strike's sent alert still moves with it, and the floods stay silent, both
    for their earlier report (the split's first alert) and for the rewrite that split them."""
    fid = feed(store)
    spec = AlertSpec("iraq", "desk", Severity.HIGH, ("watch",), "…")
    matched = [RuleMatch("iraq", "watch", Severity.HIGH, snippet="…")]
    wire = put(store, fid, "1", item("basra-floods-wire"), alerts=(), matches=matched)
    at = timedelta(hours=1)
    strike = put(store, fid, "2", item("basra-port-strike"), at=at, alerts=(spec,), matches=matched)
    assert strike.story_id == wire.story_id and strike.alert_ids
    with store.write() as conn:  # the delivery loop sent it meanwhile
        conn.execute(alert.update().values(status="sent", attempts=1))
    assert feedback.mute(store, wire.story_id, NOW + at) is not None
    rewrite = put(
        store, fid, "3", item("basra-floods-rewrite"), at=2 * at, alerts=(spec,), matches=matched
    )
    port = next(a["story_id"] for a in rows(store, article) if a["id"] == strike.article_id)
    assert port != wire.story_id == rewrite.story_id and rewrite.alert_ids == ()
    got = [(a["story_id"], a["article_id"], a["kind"], a["status"]) for a in rows(store, alert)]
    assert got == [(port, strike.article_id, "story", "sent")]


@pytest.mark.usefixtures("loose_joins")
def test_a_split_alerts_no_channel_below_what_it_carried_and_repeats_no_report(
    store: Store,
) -> None:
    """The floods alerted the desk at low; the strike, wrongly joined, escalated the desk and
    paged (a pager that takes critical only). After the split neither story gets a second
    alert for one report, and the pager gets nothing low."""
    fid = feed(store)
    low = RuleMatch("iraq", "watch", Severity.LOW, snippet="…")
    critical = RuleMatch("iraq", "watch", Severity.CRITICAL, snippet="…")
    desk_low = AlertSpec("iraq", "desk", Severity.LOW, ("watch",), "…")
    desk_critical = AlertSpec("iraq", "desk", Severity.CRITICAL, ("watch",), "…")
    pager = AlertSpec("iraq", "pager", Severity.CRITICAL, ("watch",), "…")
    wire = put(store, fid, "1", item("basra-floods-wire"), alerts=(desk_low,), matches=[low])
    strike = put(
        store, fid, "2", item("basra-port-strike"), at=timedelta(hours=1),
        alerts=(desk_critical, pager), matches=[critical],
    )  # fmt: skip
    with store.write() as conn:  # all of it went out
        conn.execute(alert.update().values(status="sent", attempts=1))
    sent = {a["id"] for a in rows(store, alert)}
    put(store, fid, "3", item("basra-floods-rewrite"), at=timedelta(hours=2), alerts=())
    port = next(a["story_id"] for a in rows(store, article) if a["id"] == strike.article_id)
    assert port != wire.story_id
    got = sorted((a["story_id"], a["channel"], a["kind"], a["status"]) for a in rows(store, alert))
    assert got == sorted(
        [
            (wire.story_id, "desk", "story", "sent"),  # the floods' own
            (port, "desk", "escalation", "sent"),  # moved with the strike, not repeated
            (port, "pager", "story", "sent"),  # moved with the strike
        ]
    )
    assert {a["id"] for a in rows(store, alert)} == sent


@pytest.mark.usefixtures("loose_joins")
def test_a_failing_repair_is_undone_and_the_article_still_stored(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_args: object) -> None:
        raise RuntimeError("broken after the split's writes")

    monkeypatch.setattr(record_mod, "_after_split", broken)
    fid = feed(store)
    wire = put(store, fid, "1", item("basra-floods-wire"))
    put(store, fid, "2", item("basra-port-strike"), at=timedelta(hours=1))
    rewrite = put(store, fid, "3", item("basra-floods-rewrite"), at=timedelta(hours=2))
    assert rewrite.story_id == wire.story_id and rewrite.article_id is not None
    (only,) = rows(store, story)  # the split's new story was rolled back
    assert only["article_count"] == 3
    assert {a["story_id"] for a in rows(store, article)} == {wire.story_id}


def _race(stores: list[Store], feeds: list[int], round_: int) -> list[Recorded]:
    """Two workers record a copy each of one story, released at the same instant."""
    barrier = threading.Barrier(2)
    done: list[Recorded] = []
    names = ("basra-floods-wire", "basra-floods-copy")

    def work(n: int) -> None:
        art = item(names[n], f"https://outlet{n}.example.org/{round_}")
        entry = NewEntry(f"{round_}", art, None, [], [HIGH])
        barrier.wait()
        done.extend(
            recording.entries(
                stores[n],
                feed_id=feeds[n],
                entries=[entry],
                now=NOW + timedelta(days=4 * round_),
                story_window_s=WINDOW,
                copies_s=WINDOW,  # each round a story of its own
            )
        )

    threads = [threading.Thread(target=work, args=(n,)) for n in (0, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return done


def test_two_workers_placing_copies_at_once_make_one_story_and_one_alert(pg_url: str) -> None:
    """Two workers, two feeds, two copies of one story committed at the same moment (five
    times, a new story each time): the placement lock makes the second join the first."""
    stores = [Store.open(pg_url), Store.open(pg_url)]
    try:
        feeds = [feed(stores[0], "a"), feed(stores[0], "b")]
        for round_ in range(5):
            done = _race(stores, feeds, round_)
            assert [d.error for d in done] == [None, None]
            assert done[0].story_id == done[1].story_id
            assert sum(len(d.alert_ids) for d in done) == 1
        assert len(rows(stores[0], story)) == 5 and len(rows(stores[0], alert)) == 5
    finally:
        for s in stores:
            s.close()


def test_lookup_rows_that_left_the_window_are_pruned_and_nothing_else(store: Store) -> None:
    """A prune deletes the band and key rows older than the window's start, keeps the rest,
    and every story and article; a copy of a story still in the window still joins it."""
    from monitor.storage import stories as story_store

    fid = feed(store)
    old = put(store, fid, "1", item("basra-port-strike"))
    later = timedelta(days=4)
    recent = put(store, fid, "2", item("basra-floods-wire"), at=later)

    def lookup_rows() -> dict[str, set[int]]:
        with store.read() as conn:
            return {
                "bands": set(conn.execute(sa.select(article_band.c.article_id)).scalars()),
                "keys": set(conn.execute(sa.select(story_key.c.story_id)).scalars()),
            }

    assert lookup_rows() == {
        "bands": {old.article_id, recent.article_id},
        "keys": {old.story_id, recent.story_id},
    }
    removed = story_store.prune(store, NOW + later - timedelta(seconds=WINDOW))
    assert removed["article_band"] > 0 and removed["story_key"] > 0
    assert lookup_rows() == {"bands": {recent.article_id}, "keys": {recent.story_id}}
    assert len(rows(store, story)) == 2 and len(rows(store, article)) == 2
    assert story_store.prune(store, NOW + later - timedelta(seconds=WINDOW)) == {
        "article_band": 0,
        "story_key": 0,
    }
    copy = put(store, fid, "3", item("basra-floods-copy"), at=later + timedelta(hours=1))
    assert copy.reason == "near-duplicate" and copy.story_id == recent.story_id


# Two attacks in one city on consecutive days, and another outlet's rewrite of the first with a
# higher toll (written for this test).
MOSUL_MARKET = (
    "Car bomb kills 11 at Mosul livestock market",
    "A car bomb exploded at the crowded livestock market in Mosul's Bab al-Tob quarter on "
    "Thursday morning, killing 11 people and wounding 27, police and hospital sources said. "
    "The explosives were packed into a pickup truck parked beside the sheep pens, and the blast "
    "tore through stalls as traders gathered before the weekend. Ambulances took the wounded to "
    "al-Jumhuri hospital. No group claimed the attack, the first car bomb in the old city this "
    "year. Security forces closed the roads around the market and searched nearby alleys.",
)
MOSUL_MARKET_REWRITE = (
    "Toll in Mosul market car bombing rises to 13",
    "Thirteen people were killed when a bomb hidden in a parked pickup went off among the sheep "
    "pens of the Bab al-Tob livestock market in Mosul on Thursday, a health official said, "
    "after two of the wounded died in al-Jumhuri hospital. Traders said the market had been "
    "packed before the weekend when the car bomb exploded. Police sealed off the old city's "
    "roads and searched alleys near the market; no group has said it carried out the attack.",
)
MOSUL_CHECKPOINT = (
    "Suicide bomber kills six at Mosul police checkpoint",
    "A suicide bomber wearing an explosive vest blew himself up at a police checkpoint at the "
    "western entrance of Mosul on Friday, killing four policemen and two civilians, security "
    "sources said. The attacker approached on foot as cars queued at the checkpoint on the road "
    "from Tal Afar. Islamic State said one of its fighters carried out the attack. Police closed "
    "the western entrance for several hours and searched the nearby Yarmouk district, a day "
    "after a car bomb hit the city.",
)


def test_two_attacks_in_one_city_on_consecutive_days_are_two_stories_with_two_alerts(
    store: Store,
) -> None:
    """Issue #20: same city, same kind of news, a day apart: two events, two alerts; another
    outlet's rewrite of the first with a higher toll joins it and alerts no more."""
    fid, other = feed(store), feed(store, "daily")

    def report(name: str, words: tuple[str, str]) -> Article:
        return written(f"https://{name}.example/news/{name}", *words)

    market = put(store, fid, "1", report("market", MOSUL_MARKET))
    checkpoint = put(store, fid, "2", report("checkpoint", MOSUL_CHECKPOINT), at=timedelta(days=1))
    assert checkpoint.reason == "new" and checkpoint.story_id != market.story_id
    assert market.alert_ids and checkpoint.alert_ids
    rewrite = put(store, other, "3", report("rewrite", MOSUL_MARKET_REWRITE), at=timedelta(hours=6))
    assert rewrite.reason == "rewrite" and rewrite.story_id == market.story_id
    assert not rewrite.alert_ids
