"""Listing pages: the default reading on three layouts, and selectors where it is not enough."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from monitor.model import Entry
from monitor.pipeline import parse
from monitor.pipeline.listing import compile_selector, looks_like_article, read_listing
from tests.conftest import FIXTURES

LISTINGS = FIXTURES / "sources" / "listings"
BASE = "https://courier.example.org"
NOW = datetime(2025, 4, 17, tzinfo=UTC)
TAL_AFAR = f"{BASE}/articles/news/2025/04/16/tal-afar-shelling-resumes.html"
SINJAR = f"{BASE}/articles/news/2025/04/16/sinjar-grave-survey.html"
RAMADI = f"{BASE}/articles/news/2025/04/15/ramadi-bridge-reopens.html"
HARBOUR = f"{BASE}/articles/story/48213977/harbour-festival-crowds.html"


def entries(name: str, **selectors: str) -> list[Entry]:
    body = (LISTINGS / name).read_bytes()
    compiled = {k: compile_selector(v) for k, v in selectors.items()}
    raw = read_listing(body, f"{BASE}/section/", "text/html", **compiled)  # type: ignore[arg-type]
    return list(parse.FeedItems(raw, BASE, NOW).entries().entries)


def test_cards_in_main_are_read_without_selectors() -> None:
    got = entries("cards.html")
    # The header's link, the "Most read" aside, and the tag, author and paging links are not
    # articles of this page.
    assert [(e.url, e.title) for e in got] == [
        (TAL_AFAR, "Shelling resumes on the edge of Tal Afar"),
        (SINJAR, "Forensic team starts work at a burial site near Sinjar"),
        (RAMADI, "Ramadi\u2019s old iron bridge reopens to traffic"),
    ]
    assert got[0].published == datetime(2025, 4, 16, 6, 10, tzinfo=UTC)
    assert all(e.guid == e.url and not e.summary for e in got)


def test_an_old_table_layout_without_main_is_read_without_selectors() -> None:
    got = entries("list.html")
    assert [e.url for e in got] == [SINJAR, TAL_AFAR, HARBOUR, RAMADI]
    assert got[3].title == "Ramadi\u2019s old iron bridge reopens to traffic"  # &rsquo; decoded


def test_a_grid_of_image_links_takes_the_headline_beside_them() -> None:
    got = entries("grid.html")
    assert [(e.url, e.title) for e in got] == [
        (HARBOUR, "Harbour festival draws record crowds"),
        (RAMADI, "Ramadi\u2019s old iron bridge reopens to traffic"),
    ]  # the advertisement to another host is not an article of this site


def test_selectors_pick_items_links_titles_and_dates() -> None:
    got = entries("list.html", item="ul.headlines li", date=".when")
    assert [e.url for e in got] == [SINJAR, TAL_AFAR, HARBOUR, RAMADI]
    assert got[0].published == datetime(2025, 4, 16, 7, 45, tzinfo=UTC)
    grid = entries(
        "grid.html",
        item=".teaser:not(.teaser--ad)",
        link="a.teaser__media",
        title=".teaser__title",
        date="time",
    )
    assert [(e.url, e.title, e.published) for e in grid] == [
        (HARBOUR, "Harbour festival draws record crowds", datetime(2025, 4, 15, 19, 5, tzinfo=UTC)),
        (
            RAMADI,
            "Ramadi\u2019s old iron bridge reopens to traffic",
            datetime(2025, 4, 15, 15, 20, tzinfo=UTC),
        ),
    ]


def test_a_selector_that_matches_nothing_is_an_error_the_feed_state_shows() -> None:
    raw = read_listing(
        (LISTINGS / "cards.html").read_bytes(), BASE, item=compile_selector("div.no-such-thing")
    )
    assert raw.items == [] and raw.error == "no items matched the item selector"
    page = read_listing(b"<html><body><p>nothing here</p></body></html>", BASE)
    assert page.error == "no article links found"


def test_known_items_are_skipped_unread() -> None:
    body = (LISTINGS / "cards.html").read_bytes()
    first = parse.FeedItems(read_listing(body, BASE), BASE, NOW)
    known = first.item_hashes(stored=set(first.guids))
    again = read_listing(body, BASE, known=known)
    assert again.items == [] and len(again.skipped) == 3


@pytest.mark.parametrize(
    ("url", "article"),
    [
        (f"{BASE}/news/2025/04/16/anything", True),
        (f"{BASE}/world/20250416-convoy", True),
        (f"{BASE}/story/48213977", True),
        (f"{BASE}/politics/minister-resigns-after-vote", True),
        (f"{BASE}/world/", False),
        (f"{BASE}/world/?page=2", False),
        (f"{BASE}/tag/iraq-war-crimes-inquiry/", False),
        (f"{BASE}/author/staff-reporter-one/", False),
        (f"{BASE}/archive/2025/04/", False),
        ("https://ads.example.net/click-here-for-offers", False),
        ("https://m.courier.example.org/news/2025/04/16/x", True),
    ],
)
def test_what_looks_like_an_article(url: str, article: bool) -> None:
    assert looks_like_article(url, f"{BASE}/world/") is article


def test_the_http_charset_wins_over_the_page() -> None:
    body = (
        "<html><body><main><a href='/news/2025/04/16/a-b-c'>Compañía cierra planta</a>"
        "</main></body></html>"
    ).encode("latin-1")
    raw = read_listing(body, BASE, "text/html; charset=iso-8859-1")
    assert [i.finish().title for i in raw.items] == ["Compañía cierra planta"]
