"""extract: article text from pages and feeds, without the boilerplate that would mislead rules."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from monitor.model import Entry
from monitor.pipeline import extract
from tests.conftest import FIXTURES

PAGES = FIXTURES / "pages"
NAMES = ["mosul-cancer-ward", "ramadi-power-station", "tal-afar-water"]
SIDEBAR = {
    "mosul-cancer-ward": "Offensive stalls near Mosul",
    "ramadi-power-station": "Mass grave uncovered outside Ramadi",
    "tal-afar-water": "Telafar offensive enters its third day",
}


@pytest.mark.parametrize("name", NAMES)
def test_page_keeps_the_article_and_drops_sidebars_and_promo_lines(name: str) -> None:
    page = extract.extract_page(
        (PAGES / f"{name}.html").read_bytes(), f"https://example.org/{name}"
    )
    assert page is not None
    expected = (PAGES / "expected" / f"{name}.txt").read_text().splitlines()
    paragraphs = [p for p in page.text.split("\n") if p]
    assert [p for p in paragraphs if p in expected] == expected  # every paragraph, in order
    extra = [p for p in paragraphs if p not in expected]
    assert extra == [], f"boilerplate kept: {extra}"
    assert SIDEBAR[name] not in page.text
    assert page.title


def test_page_metadata_canonical_and_date() -> None:
    html = (
        b"""<html lang="en"><head><title>Site | Story</title>
    <link rel="canonical" href="https://news.example.org/world/story-1">
    <meta property="article:published_time" content="2026-11-20T08:30:00Z"></head>
    <body><article><h1>Story</h1><p>"""
        + b"Long enough paragraph of real article text. " * 20
        + b"</p></article></body></html>"
    )
    page = extract.extract_page(html, "https://news.example.org/world/story-1?utm_source=rss")
    assert page is not None
    assert page.canonical_url == "https://news.example.org/world/story-1"
    assert page.published == datetime(2026, 11, 20, tzinfo=UTC)


def test_page_charset_from_the_http_header() -> None:
    body = (
        "<html><body><article><p>"
        + "Caf\u00e9 owners in Mosul reopened. " * 20
        + "</p></article></body></html>"
    ).encode("cp1252")
    page = extract.extract_page(body, "https://e.org/a", "text/html; charset=windows-1252")
    assert page is not None and "Caf\u00e9 owners" in page.text


def test_pages_without_an_article_give_none() -> None:
    assert extract.extract_page(b"", "https://e.org/") is None
    assert (
        extract.extract_page(b"<html><body><nav>Home</nav></body></html>", "https://e.org/") is None
    )


def test_html_to_text_keeps_paragraphs_and_decodes_entities() -> None:
    html = (
        "<p>Troops &amp; tanks moved toward Falluja&#8217;s edge.</p><p>Second&nbsp;para"
        "<br>new line</p><script>alert('x')</script><style>p{}</style><ul><li>one</li></ul>"
    )
    assert extract.html_to_text(html) == (
        "Troops & tanks moved toward Falluja\u2019s edge.\n\nSecond para\nnew line\n\none"
    )
    assert extract.html_to_text("plain text,  no   markup") == "plain text, no markup"
    assert extract.html_to_text("") == ""


def test_html_to_text_survives_hostile_nesting() -> None:
    deep = "<div>" * 50_000 + "deep text" + "</div>" * 50_000
    assert "deep text" in extract.html_to_text(deep)


def test_promo_lines_are_dropped_but_sentences_are_kept() -> None:
    html = (
        "<p>The offensive began at dawn.</p><p>READ MORE: Offensive stalls near Mosul</p>"
        "<p>OPINION: What next for Mosul?</p><p>Watch: the convoy arrives</p>"
        "<p>Watch the skies, the colonel said.</p><p>Analysis: a lowercase label stays.</p>"
    )
    assert extract.html_to_text(html).split("\n\n") == [
        "The offensive began at dawn.",
        "Watch the skies, the colonel said.",
        "Analysis: a lowercase label stays.",
    ]


def test_feed_text_prefers_the_fullest_body() -> None:
    entry = Entry(
        guid="1",
        url="https://e.org/1",
        title="T",
        summary="<p>Short.</p>",
        content="<p>" + "Much longer body text. " * 10 + "</p>",
    )
    assert extract.feed_text(entry).startswith("Much longer body text.")
    assert extract.needs_page(entry, "x" * 50, full_text_chars=1000, fetch_pages=True)
    assert not extract.needs_page(entry, "x" * 1000, full_text_chars=1000, fetch_pages=True)
    assert not extract.needs_page(entry, "x", full_text_chars=1000, fetch_pages=False)


def test_build_article_records_where_the_text_came_from() -> None:
    entry = Entry(guid="1", url="https://e.org/1", title="Title", summary="<p>Summary.</p>")
    page = extract.PageText(text="Page body.", title="Page title", canonical_url=None)
    from_page = extract.build_article(
        entry, source="wire", canonical_url="https://e.org/1", text="Summary.", page=page
    )
    assert (from_page.text, from_page.extraction, from_page.summary) == (
        "Page body.",
        "page",
        "Summary.",
    )
    fallback = extract.build_article(
        entry,
        source="wire",
        canonical_url="https://e.org/1",
        text="Summary.",
        page_error="HTTP 404",
    )
    assert (fallback.text, fallback.extraction, fallback.extraction_error) == (
        "Summary.",
        "fallback",
        "HTTP 404",
    )
