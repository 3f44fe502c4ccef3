"""parse: golden files (a feed we wrote in, the expected entries out) and hostile input.

Each `tests/fixtures/feeds/NAME.*` has `NAME.expected.json` beside it. After a deliberate change
in output, rewrite them and review the diff:

    MONITOR_UPDATE_GOLDEN=1 python -m pytest tests/test_parse.py -k golden
"""

from __future__ import annotations

import json
import os
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.model import Entry, ParsedFeed
from monitor.pipeline.parse import (
    FUTURE_SLACK,
    MAX_BODY_BYTES,
    advertised_feeds,
    entry_key,
    parse_feed,
)

FIXTURES = Path(__file__).parent / "fixtures" / "feeds"
NOW = datetime(2026, 6, 3, 12, 0, tzinfo=UTC)
# name → (Content-Type header or None, feed URL)
CASES: dict[str, tuple[str | None, str]] = {
    "rss2-content-encoded.xml": ("application/rss+xml", "https://desk.example/feed.xml"),
    "atom-relative-links.xml": (None, "https://wire.example/feeds/world.atom"),
    "rss-no-guids.xml": (None, "https://bulletin.example/rss"),
    "windows-1252.xml": ("text/xml", "https://cp1252.example/rss"),
    "jsonfeed.json": ("application/feed+json", "https://notes.example/feed.json"),
    "xml-bomb.xml": (None, "https://bomb.example/rss"),
    "html-error-page.html": ("text/html; charset=utf-8", "https://down.example/rss"),
    "truncated.xml": (None, "https://cut.example/rss"),
    "future-date.xml": (None, "https://skew.example/rss"),
}


def as_json(feed: ParsedFeed) -> dict[str, Any]:
    def when(value: datetime | None) -> str | None:
        return value.isoformat() if value else None

    def entry(e: Entry) -> dict[str, Any]:
        return {
            "guid": e.guid,
            "url": e.url,
            "title": e.title,
            "summary": e.summary,
            "content": e.content,
            "published": when(e.published),
            "updated": when(e.updated),
            "authors": list(e.authors),
            "language": e.language,
        }

    return {
        "parser": feed.parser,
        "error": feed.error,
        "title": feed.title,
        "link": feed.link,
        "language": feed.language,
        "entries": [entry(e) for e in feed.entries],
    }


def parse_fixture(name: str) -> ParsedFeed:
    content_type, url = CASES[name]
    return parse_feed((FIXTURES / name).read_bytes(), url, content_type, now=NOW)


@pytest.mark.parametrize("name", sorted(CASES))
def test_golden(name: str) -> None:
    got = as_json(parse_fixture(name))
    golden = FIXTURES / (name.rsplit(".", 1)[0] + ".expected.json")
    if os.environ.get("MONITOR_UPDATE_GOLDEN"):
        golden.write_text(json.dumps(got, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        pytest.skip(f"rewrote {golden.name}")
    assert got == json.loads(golden.read_text(encoding="utf-8"))


def test_every_fixture_has_a_golden_file() -> None:
    feeds = {p.name for p in FIXTURES.iterdir() if not p.name.endswith(".expected.json")}
    assert feeds == set(CASES)


# --- what a reader of the alerts would check, fixture by fixture ------------------------------


def test_rss_content_is_sanitised_and_links_resolved() -> None:
    feed = parse_fixture("rss2-content-encoded.xml")
    first = feed.entries[0]
    assert first.guid == "desk-20260603-0412"
    assert first.published == datetime(2026, 6, 3, 1, 12, tzinfo=UTC)
    assert "“long night”" in first.content
    assert "<script" not in first.content and "track(" not in first.content
    assert "onclick" not in first.content
    assert 'href="https://desk.example/maps/tal-afar"' in first.content
    assert first.summary.startswith("Forces pushed")
    assert first.authors == ("Noor Haddad",)
    assert first.language == "en-gb"  # the channel's <language>


def test_atom_xml_base_and_plain_title() -> None:
    mosul, ramadi = parse_fixture("atom-relative-links.xml").entries
    assert mosul.url == "https://wire.example/world/mosul/graves-counted"
    assert mosul.title == "Mosul: “We counted the graves”"
    assert 'href="https://wire.example/reports/grave-site"' in mosul.content
    assert mosul.published == datetime(2026, 6, 3, 5, 15, tzinfo=UTC)
    assert mosul.language == "en"
    assert ramadi.url == "https://wire.example/iraq/ramadi/return"
    assert ramadi.language == "ar"


def test_entries_without_guid_get_stable_keys() -> None:
    feed = parse_fixture("rss-no-guids.xml")
    hit, baiji = feed.entries  # the repeated Baiji item is kept once
    assert hit.guid == hit.url == "https://bulletin.example/news/curfew-lifted"
    assert baiji.url is None
    assert baiji.guid.startswith("sha1:")
    assert parse_fixture("rss-no-guids.xml").entries[1].guid == baiji.guid
    # The key depends on the text, not on markup or on which parser ran.
    marked_up = "<p>" + baiji.summary + "</p>"
    assert entry_key(None, None, baiji.title, baiji.published, marked_up) == baiji.guid
    assert entry_key(None, None, baiji.title, None, baiji.summary) != baiji.guid


def test_windows_1252_curly_quotes_and_entity_title() -> None:
    (entry,) = parse_fixture("windows-1252.xml").entries
    assert entry.title == "Falluja’s market reopens & traders return"
    assert "“business is slow”" in entry.summary and "cafés" in entry.summary


def test_json_feed() -> None:
    feed = parse_fixture("jsonfeed.json")
    assert feed.parser == "json" and feed.error is None
    water, note = feed.entries
    assert water.url == "https://notes.example/2026/06/ramadi-water"
    assert water.title == "Water returns to Ramadi’s east bank"
    assert "<script" not in water.content and "javascript:" not in water.content
    assert water.published == datetime(2026, 6, 1, 5, 30, tzinfo=UTC)
    assert water.authors == ("Huda Nasser",) and water.language == "en-GB"
    assert note.guid == "17" and note.authors == ("Notes desk",) and note.language == "en"
    assert note.content == "Checkpoints on the highway &lt; 5 km apart &amp; busy."


def test_json_feed_titles_have_their_references_decoded() -> None:
    titles = [
        "R&amp;D cuts at the port &#8217;s &#x2014; &eacute;",
        "AT&T, this&nothing, &bogus, &copyright; 2026",
    ]
    body = json.dumps(
        {
            "version": "https://jsonfeed.org/version/1.1",
            "title": "t",
            "items": [{"id": str(n), "title": t} for n, t in enumerate(titles)],
        }
    ).encode()
    feed = parse_feed(body, "https://notes.example/feed.json", "application/feed+json", now=NOW)
    assert [e.title for e in feed.entries] == [
        "R&D cuts at the port ’s — é",
        "AT&T, this&nothing, &bogus, &copyright; 2026",
    ]


def test_xml_bomb_is_neither_expanded_nor_fetched() -> None:
    started = time.process_time()
    feed = parse_fixture("xml-bomb.xml")
    assert time.process_time() - started < 2
    text = json.dumps(as_json(feed))
    assert "lollollol" not in text
    assert "root:" not in text  # /etc/passwd was not read
    assert feed.parser == "feedparser"


def test_html_error_page_is_a_clear_error() -> None:
    feed = parse_fixture("html-error-page.html")
    assert feed.entries == ()
    assert feed.error == "not a feed: an HTML page (503 Service Unavailable)"


def test_a_site_page_in_place_of_its_feed_names_the_feeds_it_links() -> None:
    page = b"""<!DOCTYPE html><html><head><title>Ramadi Notes</title>
<link rel="stylesheet" href="/style.css">
<link rel="alternate" type="application/rss+xml" title="All" href="/feeds/all.rss">
<link rel="Alternate" type="application/atom+xml; charset=utf-8" href="https://cdn.example/a.atom">
<link rel="alternate" type="application/rss+xml" href="/feeds/all.rss">
<link rel="alternate" hreflang="ar" href="/ar/">
</head><body><p>Welcome</p></body></html>"""
    feed = parse_feed(page, "https://notes.example/news/", "text/html", now=NOW)
    assert feed.entries == ()
    assert feed.error == (
        "not a feed: an HTML page (Ramadi Notes); it names its feeds: "
        "https://notes.example/feeds/all.rss, https://cdn.example/a.atom; "
        "use one of them as the url"
    )
    based = b"""<html><head><base href="https://static.example/en/">
<link rel="alternate" type="application/feed+json" href="top stories.json"></head></html>"""
    assert advertised_feeds(based, "https://notes.example/") == [
        "https://static.example/en/top%20stories.json"
    ]


def test_truncated_feed_keeps_complete_entries() -> None:
    feed = parse_fixture("truncated.xml")
    assert feed.error  # the breakage is reported...
    assert feed.entries[0].title == "Samarra bridge reopens"  # ...and the entries still used
    assert feed.entries[0].summary.startswith("Traffic crossed")


def test_future_dates_are_clamped_to_now() -> None:
    scheduled, skewed, undated, garbled = parse_fixture("future-date.xml").entries
    assert scheduled.published == NOW
    assert skewed.published == NOW + timedelta(minutes=2) < NOW + FUTURE_SLACK
    assert undated.published is None and garbled.published is None
    assert all(e.published is None or e.published.tzinfo == UTC for e in (scheduled, skewed))


# --- hostile and odd input: never raise, always a reason ---------------------------------------


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"", "empty body"),
        (b"   \n\t ", "empty body"),
        (bytes(range(256)) * 40, "not a feed"),
        (b"\x89PNG\r\n\x1a\n" + b"\x00\xff" * 5000, "not a feed"),
        (b"{not json", "not a feed: invalid JSON"),
        (b'{"items": "nope"}', "not a feed: JSON without an `items` list"),
    ],
)
def test_bad_bodies_give_a_reason(body: bytes, reason: str) -> None:
    feed = parse_feed(body, "https://bad.example/feed", now=NOW)
    assert feed.entries == ()
    assert feed.error is not None and feed.error.startswith(reason)
    assert "\n" not in feed.error


def test_a_valid_empty_feed_is_not_an_error() -> None:
    feed = parse_feed(
        b"<rss version='2.0'><channel><title>Quiet</title></channel></rss>",
        "https://quiet.example/feed",
        now=NOW,
    )
    assert (feed.entries, feed.error, feed.title) == ((), None, "Quiet")


def test_huge_body_is_refused_without_parsing() -> None:
    body = b"<rss>" + b" " * MAX_BODY_BYTES + b"</rss>"
    feed = parse_feed(body, "https://big.example/feed", now=NOW)
    assert (feed.entries, feed.parser) == ((), "none")
    assert feed.error and feed.error.startswith("body too large")


def _rss(title: str, encoding: str, declare: bool = True) -> bytes:
    decl = f'<?xml version="1.0" encoding="{encoding}"?>' if declare else ""
    doc = (
        f"{decl}<rss version='2.0'><channel><item><title>{title}</title>"
        "<link>https://enc.example/1</link></item></channel></rss>"
    )
    return doc.encode(encoding)


@pytest.mark.parametrize(
    ("body", "content_type", "title"),
    [
        (_rss("Tal Afar – “offensive”", "utf-16"), None, "Tal Afar – “offensive”"),
        (_rss("Новости Мосула", "windows-1251"), None, "Новости Мосула"),
        (_rss("Новости Мосула", "windows-1251", declare=False), "text/xml; charset=windows-1251",
         "Новости Мосула"),
        (_rss("摩苏尔新闻", "gb2312"), None, "摩苏尔新闻"),
        (_rss("Réfugiés à Falluja", "iso-8859-1", declare=False), None, "Réfugiés à Falluja"),
    ],
)  # fmt: skip
def test_encodings(body: bytes, content_type: str | None, title: str) -> None:
    feed = parse_feed(body, "https://enc.example/feed", content_type, now=NOW)
    assert [e.title for e in feed.entries] == [title]
    assert feed.parser == "feedparser"  # only UTF-8 takes the fast path


def test_utf8_feed_takes_the_fast_path_and_agrees() -> None:
    body = (FIXTURES / "rss2-content-encoded.xml").read_bytes()
    fast = parse_feed(body, "https://desk.example/feed.xml", now=NOW)
    slow = parse_feed(body, "https://desk.example/feed.xml", now=NOW, fast=False)
    assert (fast.parser, slow.parser) == ("fast", "feedparser")
    assert [(e.guid, e.url, e.title, e.published) for e in fast.entries] == [
        (e.guid, e.url, e.title, e.published) for e in slow.entries
    ]


@settings(max_examples=60, deadline=None)
@given(st.binary(max_size=2000), st.integers(min_value=0, max_value=1700))
def test_mangled_feeds_never_raise(noise: bytes, cut: int) -> None:
    """Any prefix of a real feed, with junk spliced in, gives entries or a reason."""
    body = (FIXTURES / "rss2-content-encoded.xml").read_bytes()
    mangled = body[:cut] + noise + body[cut:]
    feed = parse_feed(mangled, "https://fuzz.example/feed", now=NOW)
    assert feed.entries or feed.error
    assert all(isinstance(e.guid, str) and e.guid for e in feed.entries)
