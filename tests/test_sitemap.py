"""Sitemaps read as the published formats say: news, plain with lastmod, indexes; hostile XML."""

from __future__ import annotations

import gzip
from collections.abc import Collection
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from monitor.model import Entry
from monitor.pipeline import parse
from monitor.pipeline.sitemap import Sitemap, read_sitemap
from tests.conftest import FIXTURES

SITEMAPS = FIXTURES / "sources" / "sitemaps"
BASE = "https://courier.example.org"
NOW = datetime(2025, 4, 17, 9, 0, tzinfo=UTC)
TWO_DAYS = 2 * 86400.0


def body(name: str) -> bytes:
    return (SITEMAPS / name).read_bytes().replace(b"{{BASE}}", BASE.encode())


def read(
    data: bytes,
    *,
    now: datetime = NOW,
    max_age: float = TWO_DAYS,
    max_urls: int = 200,
    max_bytes: int = 5_000_000,
    known: Collection[bytes] = (),
) -> Sitemap:
    return read_sitemap(
        data,
        f"{BASE}/sitemaps/x.xml",
        now=now,
        max_age=max_age,
        max_urls=max_urls,
        max_bytes=max_bytes,
        known=known,
    )


def entries(data: bytes, **kw: Any) -> list[Entry]:
    found = read(data, **kw)
    feed = parse.FeedItems(found.feed, f"{BASE}/sitemaps/x.xml", NOW)
    return list(feed.entries().entries)


def test_a_news_sitemap_gives_title_date_and_language_and_no_summary() -> None:
    got = entries(body("news.xml"))
    assert [(e.url, e.title, e.language) for e in got] == [
        (
            f"{BASE}/articles/news/2025/04/16/sinjar-grave-survey.html",
            "Forensic team starts work at a burial site near Sinjar",
            "en",
        ),
        (
            f"{BASE}/articles/news/2025/04/16/tal-afar-shelling-resumes.html",
            "Shelling resumes on the edge of Tal Afar",
            "en",
        ),
        (
            f"{BASE}/articles/news/2025/04/15/ramadi-bridge-reopens.html",
            "Ramadi\u2019s old iron bridge reopens to traffic",
            "en",
        ),
    ]
    first = got[0]
    assert first.published == datetime(2025, 4, 16, 7, 45, tzinfo=UTC)
    # The guid is the URL, and with no summary the pipeline fetches each page.
    assert first.guid == first.url and first.summary == "" and first.content == ""


def test_urls_older_than_max_age_are_left_out_and_stay_out() -> None:
    data = body("posts-2025-04.xml")
    found = read(data)
    urls = [i.link() for i in found.feed.items]
    assert f"{BASE}/articles/news/2025/04/02/spring-timetable.html" not in urls
    assert len(urls) == 3
    # The old URL is remembered as settled: the next read skips it without reading its date.
    feed = parse.FeedItems(found.feed, BASE, NOW)
    settled = feed.item_hashes(stored=set(feed.guids))
    again = read(data, known=settled)
    assert again.feed.items == [] and len(again.feed.skipped) == 4
    # Ten days later nothing is recent any more.
    later = read(data, now=datetime(2025, 4, 27, tzinfo=UTC))
    assert later.feed.items == []


def test_at_most_max_urls_the_most_recent_first() -> None:
    got = entries(body("posts-2025-04.xml"), max_urls=2)
    assert [e.url.rsplit("/", 1)[1] for e in got] == [
        "sinjar-grave-survey.html",
        "tal-afar-shelling-resumes.html",
    ]


def test_an_index_names_only_its_recent_children_newest_first() -> None:
    found = read(body("index.xml"))
    assert found.is_index
    assert [c.url for c in found.children] == [f"{BASE}/sitemaps/posts-2025-04.xml"]
    wider = read(body("index.xml"), max_age=400 * 86400.0)
    assert [c.url.rsplit("/", 1)[1] for c in wider.children] == [
        "posts-2025-04.xml",
        "posts-2025-03.xml",
        "pages.xml",
    ]


def test_undated_urls_are_kept_and_sitemaps_without_a_namespace_are_read() -> None:
    data = b"<urlset><url><loc>https://a.example/one-two-three</loc></url></urlset>"
    got = entries(data)
    assert [e.url for e in got] == ["https://a.example/one-two-three"]
    assert got[0].published is None


def test_a_gzipped_sitemap_is_unpacked_within_the_size_cap() -> None:
    packed = gzip.compress(body("news.xml"))
    assert len(entries(packed)) == 3
    bomb = gzip.compress(b"<urlset>" + b" " * 3_000_000 + b"</urlset>")
    found = read(bomb, max_bytes=1_000_000)
    assert "gzip body unpacks past 1,000,000 bytes" in (found.error or "")


def test_an_entity_bomb_is_refused_and_no_entity_is_expanded() -> None:
    bomb = (FIXTURES / "feeds" / "xml-bomb.xml").read_bytes()
    found = read(bomb)
    assert found.feed.items == [] and "DOCTYPE" in (found.error or "")
    # An external entity in a body that hides its DOCTYPE past the head is not read either.
    sneaky = (
        b"<?xml version='1.0'?>" + b"<!-- pad -->" * 100 + b"<!DOCTYPE u [<!ENTITY x SYSTEM "
        b"'file:///etc/passwd'>]><urlset><url><loc>https://a.example/x-y-z</loc>"
        b"<news:news xmlns:news='n'><news:title>&x;</news:title></news:news></url></urlset>"
    )
    assert entries(sneaky) == [] and "DOCTYPE" in (read(sneaky).error or "")


def test_broken_xml_yields_what_recovery_salvages_with_the_error_noted() -> None:
    cut = body("news.xml")[:-200]
    found = read(cut)
    assert found.feed.items and "broken XML" in (found.error or "")


def test_a_feed_given_as_a_sitemap_says_so() -> None:
    rss = (FIXTURES / "feeds" / "rss-no-guids.xml").read_bytes()
    found = read(rss)
    assert found.error == "not a sitemap: the root element is a feed: use kind feed"


def test_links_that_are_not_http_are_dropped(tmp_path: Path) -> None:
    data = (
        b"<urlset><url><loc>javascript:alert(1)</loc></url>"
        b"<url><loc>https://a.example/fine-page-here</loc></url></urlset>"
    )
    assert [e.url for e in entries(data)] == ["https://a.example/fine-page-here"]


NEW_URL = (
    b"<url><loc>" + BASE.encode() + b"/articles/news/2025/04/17/mosul-market.html</loc>"
    b"<news:news><news:publication_date>2025-04-17T08:00:00+00:00</news:publication_date>"
    b"<news:title>Market reopens in Mosul</news:title></news:news></url>\n  "
)


@pytest.mark.parametrize("comment", [False, True], ids=["plain", "with a comment"])
def test_a_new_url_on_top_and_an_edited_one_are_read_again_and_the_rest_skipped(
    comment: bool,
) -> None:
    """A news sitemap grows at the top: the URLs it had are skipped by the hash of their markup
    (the one that was first too), whether the sitemap is written plainly or not."""
    data = body("news.xml")
    if comment:
        data = data.replace(b"<url>", b"<!-- story --><url>", 1)
    first = read(data)
    feed = parse.FeedItems(first.feed, BASE, NOW)
    known = feed.item_hashes(stored=set(feed.guids))
    grown = data.replace(b"<url>", NEW_URL + b"<url>", 1)
    grown = grown.replace(b"old iron bridge reopens", b"old iron bridge opens again")
    again = read(grown, known=known)
    got = sorted((i.link() or "").rsplit("/", 1)[1] for i in again.feed.items)
    assert got == ["mosul-market.html", "ramadi-bridge-reopens.html"]
    assert len(again.feed.skipped) == 2


def _url(slug: str, title: str, inner: bytes = b"") -> bytes:
    return (
        b"<url><loc>" + BASE.encode() + b"/articles/" + slug.encode() + b".html</loc>"
        b"<news:news><news:publication_date>2025-04-17T08:00:00+00:00</news:publication_date>"
        b"<news:title>" + title.encode() + b"</news:title></news:news>" + inner + b"</url>"
    )


def _urlset(*urls: bytes, head: bytes = b"", tail: bytes = b"") -> bytes:
    return (
        b'<?xml version="1.0" encoding="UTF-8"?>' + head + b'<urlset xmlns:news="'
        b'http://www.google.com/schemas/sitemap-news/0.9">' + b"\n".join(urls) + b"</urlset>" + tail
    )


@pytest.mark.parametrize(
    "odd",
    [
        # An empty <url/> first and a <url> nested in the one after: as many </url> as
        # children, but the markup of one does not line up with its element.
        lambda title: _urlset(b"<url/>", _url("kirkuk", title, b"<url>x</url>")),
        lambda title: _urlset(_url("kirkuk", title, b"<!-- kept -->"), _url("basra", "Port")),
        lambda title: _urlset(_url("kirkuk", f"<![CDATA[{title}]]>"), _url("basra", "Port")),
        lambda title: _urlset(_url("kirkuk", title).replace(b"</url>", b"</url >"), _url("b", "P")),
    ],
    ids=["nested and empty", "comment inside", "CDATA title", "end tag with a space"],
)
def test_an_edited_url_is_read_again_however_oddly_the_sitemap_is_written(odd: Any) -> None:
    """Whatever the markup, a URL whose entry changed is never taken for a known one: an
    article would be lost."""
    first = read(odd("Curfew lifted in Kirkuk"))
    feed = parse.FeedItems(first.feed, BASE, NOW)
    known = feed.item_hashes(stored=set(feed.guids))
    again = read(odd("Curfew imposed again in Kirkuk"), known=known)
    titles = [i.title for i in parse.FeedItems(again.feed, BASE, NOW).entries().entries]
    assert titles == ["Curfew imposed again in Kirkuk"]


@pytest.mark.parametrize(
    ("head", "tail"),
    [
        (b'<?xml-stylesheet type="text/xsl" href="/sitemap.xsl"?>', b""),
        (b"<!-- generated by a plugin -->", b"<!-- cached 0.2 s -->"),
    ],
    ids=["stylesheet", "comments outside"],
)
def test_a_stylesheet_or_comments_around_the_urls_keep_each_urls_markup_as_written(
    head: bytes, tail: bytes
) -> None:
    """Most news sitemaps come with a stylesheet instruction or a generator's comment: each
    URL is still cut out as written (hashed without serialising it), byte for byte up to its
    end tag."""
    from lxml import etree

    from monitor.pipeline.sitemap import _pieces

    urls = (_url("kirkuk", "Curfew lifted"), _url("basra", "Port reopens"))
    data = _urlset(*urls, head=head, tail=tail)
    assert _pieces(data, etree.fromstring(data)) == [u.removesuffix(b"</url>") for u in urls]
