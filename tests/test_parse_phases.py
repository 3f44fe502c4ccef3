"""parse in two steps: `read_feed` (guids) then `entries(only=…)` gives exactly what
`parse_feed` gives for those guids, and only the entries asked for are normalised."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import pytest
from feedparser.urls import _urljoin
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.model import ParsedFeed
from monitor.pipeline import parse_fast, parse_json
from monitor.pipeline.parse import FeedItems, parse_feed, read_feed
from monitor.pipeline.parse_mirror import join
from tests.test_parse import CASES, FIXTURES, NOW


def feed_fields(feed: FeedItems | ParsedFeed) -> tuple[Any, ...]:
    return (feed.parser, feed.error, feed.title, feed.link, feed.language)


def assert_phases_agree(
    body: bytes,
    url: str,
    content_type: str | None,
    now: datetime,
    *,
    fast: bool = True,
    subsets: int = 3,
) -> FeedItems:
    """`read_feed(...).entries(only=S)` is `parse_feed(...)` filtered to S, field by field, for
    several S; the guids are those of `parse_feed`'s entries, in order."""
    whole = parse_feed(body, url, content_type, now=now, fast=fast)
    feed = read_feed(body, url, content_type, now=now, fast=fast)
    assert feed.guids == tuple(e.guid for e in whole.entries)
    assert feed_fields(feed) == feed_fields(whole)
    guids = feed.guids
    if whole.parser == "feedparser":  # it does all its work at once: one subset is enough
        subsets = min(subsets, 1)
    for only in [set(guids[::2]), set(guids[1::3]), {"not a guid"}, set(guids)][:subsets]:
        # A fresh read each time: nothing done for one subset may help the next.
        got = read_feed(body, url, content_type, now=now, fast=fast).entries(only=only)
        assert got.entries == tuple(e for e in whole.entries if e.guid in only)
        assert feed_fields(got) == feed_fields(whole)
    return feed


@pytest.mark.parametrize("fast", [True, False])
@pytest.mark.parametrize("name", sorted(CASES))
def test_fixtures_agree(name: str, fast: bool) -> None:
    content_type, url = CASES[name]
    body = (FIXTURES / name).read_bytes()
    assert_phases_agree(body, url, content_type, NOW, fast=fast, subsets=4)


def test_sha1_keys_are_the_same_in_both_steps() -> None:
    """Entries without id or link are keyed by their text: the one case read_feed normalises."""
    content_type, url = CASES["rss-no-guids.xml"]
    feed = assert_phases_agree((FIXTURES / "rss-no-guids.xml").read_bytes(), url, content_type, NOW)
    assert any(g.startswith("sha1:") for g in feed.guids)


def _wire_feed(items: int = 50) -> bytes:
    """A news wire's RSS: an id, a link, a date, an author and an HTML summary per item."""
    parts = [
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0" '
        'xmlns:dc="http://purl.org/dc/elements/1.1/"><channel><title>Wire</title>'
    ]
    for i in range(items):
        parts.append(
            f"<item><title>Item {i} near Mosul</title><link>https://wire.example/{i}</link>"
            f'<guid isPermaLink="false">wire-{i}</guid>'
            f"<pubDate>Mon, 01 Jun 2026 10:{i % 60:02d}:00 GMT</pubDate>"
            f"<dc:creator>Desk {i}</dc:creator><description>&lt;p&gt;Text {i} with a "
            f'&lt;a href="/x/{i}" onclick="x()"&gt;link&lt;/a&gt;.&lt;/p&gt;</description></item>'
        )
    return ("".join(parts) + "</channel></rss>").encode()


def counting(monkeypatch: pytest.MonkeyPatch, module: object, name: str) -> list[object]:
    """Replace `module.name` by a wrapper that records each call's first argument."""
    calls: list[object] = []
    real = getattr(module, name)

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        calls.append(args[0] if args else None)
        return real(*args, **kwargs)

    monkeypatch.setattr(module, name, wrapper)
    return calls


def test_fast_path_normalises_only_the_entries_asked_for(monkeypatch: pytest.MonkeyPatch) -> None:
    dates = counting(monkeypatch, parse_fast, "parse_date")
    sanitised = counting(monkeypatch, parse_fast, "sanitize_html")
    feed = read_feed(_wire_feed(), "https://wire.example/rss", now=NOW)
    assert feed.parser == "fast" and len(feed.guids) == 50
    assert (dates, sanitised) == ([], [])
    parsed = feed.entries(only={"wire-7", "wire-9"})
    assert [e.guid for e in parsed.entries] == ["wire-7", "wire-9"]
    assert len(dates) == 2 and len(sanitised) == 2
    assert parsed.entries[0].published is not None and parsed.entries[0].authors


def test_json_feed_normalises_only_the_entries_asked_for(monkeypatch: pytest.MonkeyPatch) -> None:
    dates = counting(monkeypatch, parse_json, "parse_date")
    sanitised = counting(monkeypatch, parse_json, "sanitize_html")
    content_type, url = CASES["jsonfeed.json"]
    feed = read_feed((FIXTURES / "jsonfeed.json").read_bytes(), url, content_type, now=NOW)
    assert (dates, sanitised) == ([], [])
    (note,) = feed.entries(only={"17"}).entries
    assert note.guid == "17" and note.authors == ("Notes desk",)
    assert len(dates) == 2 and sanitised == []  # its dates; it has no HTML content


def test_an_entry_that_fails_to_normalise_is_named_not_raised(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broken(value: str | None) -> datetime | None:
        raise RuntimeError("date parser bug")

    monkeypatch.setattr(parse_fast, "parse_date", broken)
    feed = read_feed(_wire_feed(), "https://wire.example/rss", now=NOW)
    assert len(feed.guids) == 50  # keys need no dates
    parsed = feed.entries(only={"wire-3"})
    assert parsed.entries == ()
    assert parsed.error == "parser failed on entry 'wire-3': RuntimeError: date parser bug"


_URL_CHARS = st.sampled_from(list("abcXY09.-_~/:?#;@%&=+!$'()*,[] \t\n\x00\x7fé\u3000"))


@settings(max_examples=400, deadline=None)
@given(
    st.sampled_from(["http://", "https://", "HTTP://", "http:///", "https://h.example"]),
    st.lists(_URL_CHARS, max_size=24).map("".join),
    st.sampled_from(["", "http://feed.example/a/b", "https://feed.example/", "ftp://x/"]),
)
def test_join_shortcut_is_feedparsers_urljoin(scheme: str, rest: str, base: str) -> None:
    """`join` returns plain absolute URLs without calling urllib: only where urllib would too."""
    href = scheme + rest
    assert join(base, href) == _urljoin(base, href)


def _rss_item(title: str, body: str, comments: int) -> bytes:
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0" '
        'xmlns:slash="http://purl.org/rss/1.0/modules/slash/"><channel><title>T</title>'
        f"<item><guid>g1</guid><title>{title}</title><link>https://e.org/1</link>"
        f"<description>{body}</description><slash:comments>{comments}</slash:comments>"
        "<pubDate>Mon, 23 Nov 2026 10:00:00 GMT</pubDate></item></channel></rss>"
    ).encode()


def _json_item(title: str, body: str, comments: int) -> bytes:
    item = {
        "id": "g1",
        "title": title,
        "content_html": body,
        "_comments": comments,
        "url": "https://e.org/1",
    }
    return json.dumps(
        {"version": "https://jsonfeed.org/version/1.1", "title": "T", "items": [item]}
    ).encode()


@pytest.mark.parametrize(
    ("make", "fast"), [(_rss_item, True), (_rss_item, False), (_json_item, True)]
)
def test_fingerprints_notice_edits_and_ignore_the_rest(make: Any, fast: bool) -> None:
    def fingerprint(title: str, body: str, comments: int) -> str:
        feed = read_feed(make(title, body, comments), "https://e.org/feed", now=NOW, fast=fast)
        (value,) = feed.fingerprints().values()
        return str(value)

    first = fingerprint("Offensive on Falluja", "Troops advanced.", 3)
    assert fingerprint("Offensive on Falluja", "Troops advanced.", 7) == first  # comments
    assert fingerprint("Offensive on Falluja: families flee", "Troops advanced.", 3) != first
    assert fingerprint("Offensive on Falluja", "Troops advanced. Aid arrived.", 3) != first


def test_known_items_are_skipped_unread_unless_edited_moved_or_never_stored(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`item_hashes(stored)` of one read is the `known` of the next: items stored as they are
    are skipped before they are parsed; an entry that was not stored, an edited item, or the
    same markup under another base URL is read again."""
    url = "https://wire.example/rss"
    first = read_feed(_wire_feed(), url, now=NOW)
    known = first.item_hashes(set(first.guids) - {"wire-4"})  # wire-4 failed to store
    assert len(known) == 49
    parsed = counting(monkeypatch, parse_fast, "_item")
    edited = _wire_feed().replace(b"Item 7 near Mosul", b"Item 7 near Mosul, updated")
    again = read_feed(edited, url, now=NOW, known=known)
    assert again.guids == ("wire-4", "wire-7") and len(parsed) == 2
    assert again.entries(only={"wire-7"}).entries[0].title == "Item 7 near Mosul, updated"
    # Skipped items stay known; the items read become known once they are stored.
    assert len(again.item_hashes(set())) == 48
    assert len(again.item_hashes({"wire-4", "wire-7"})) == 50
    elsewhere = read_feed(_wire_feed(), "https://mirror.example/rss", now=NOW, known=known)
    assert len(elsewhere.guids) == 50
    slow = read_feed(_wire_feed(), url, now=NOW, fast=False, known=known)
    assert len(slow.guids) == 50 and slow.item_hashes(set(slow.guids)) == frozenset()
