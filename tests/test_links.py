"""Article keys: which links name the same article (pure functions, no network)."""

from __future__ import annotations

import pytest

from monitor.pipeline import links
from monitor.pipeline.links import canonical_url


@pytest.mark.parametrize(
    "variant",
    [
        "https://news.example.org/world/story-1",
        "http://news.example.org/world/story-1",
        "https://www.news.example.org/world/story-1/",
        "https://m.news.example.org/world/story-1",
        "https://NEWS.example.org:443/world/story-1#comments",
        "https://news.example.org/world/story-1?utm_source=rss&utm_medium=feed",
        "https://news.example.org/world/story-1?fbclid=abc&gclid=def",
        "https://amp.news.example.org/world/story-1",
        "https://news.example.org/world/story-1/amp",
        "https://news.example.org/world/story-1/amp/",
        "https://news.example.org/amp/world/story-1",
        "https://news.example.org/world/story-1?amp=1",
        "https://news.example.org/world/story-1?amp",
        "https://news.example.org/world/story-1?outputType=amp",
        "https://news.example.org/world/story-1.amp",
        "https://news.example.org/world/story-1?smid=tw-share",
        "https://news.example.org/world/story-1?CMP=share_btn_link",
        "https://news.example.org/world/story-1?ocid=msedgntp&cvid=4f2a",
        "https://news.example.org/world/story-1?mod=rss&at_medium=RSS",
    ],
)
def test_tracking_host_and_amp_variants_share_one_key(variant: str) -> None:
    assert canonical_url(variant) == canonical_url("https://news.example.org/world/story-1")


def test_meaningful_differences_stay_different() -> None:
    base = canonical_url("https://news.example.org/world/story-1")
    assert canonical_url("https://news.example.org/world/story-2") != base
    assert canonical_url("https://news.example.org/world/story-1?id=7") != base
    assert canonical_url("https://other.example.org/world/story-1") != base
    assert canonical_url("https://news.example.org:8443/world/story-1") != base
    assert canonical_url("https://news.example.org/world/ampere-record") != base


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ("https://e.org/article?articleId=77", "https://e.org/article?articleId=78"),
        ("https://e.org/Details?key=1001&utm_source=rss", "https://e.org/Details?key=1002"),
        ("https://e.org/news.php?story=9", "https://e.org/news.php?story=10"),
        ("https://www.youtube.com/watch?v=abc", "https://www.youtube.com/watch?v=xyz"),
    ],
)
def test_a_query_that_names_the_article_is_kept(one: str, other: str) -> None:
    """Many sites tell their articles apart by a query parameter of their own: dropping it made
    every article of such a site one article, and all but the first were lost."""
    assert canonical_url(one) != canonical_url(other)
    assert canonical_url(one + "&utm_medium=feed&fbclid=x") == canonical_url(one)


@pytest.mark.parametrize(
    "declared",
    [
        "https://paper.example/",
        "https://www.paper.example",
        "https://paper.example/news/",
        "https://paper.example/news/world",
        "https://paper.example/index.html",
    ],
)
def test_a_home_or_section_page_given_as_canonical_is_not_the_article(declared: str) -> None:
    link = "https://paper.example/news/world/2026/03/09/bridge-reopens.html?utm_source=rss"
    assert links.page_canonical(link, declared) == canonical_url(link)


@pytest.mark.parametrize(
    "declared",
    [
        "https://paper.example/2026/03/09/bridge-reopens",  # the article's own address
        "https://wire.example/story/bridge-reopens",  # a syndicated copy naming its original
        "https://paper.example/news?id=4412",  # an article named by its query
    ],
)
def test_a_canonical_that_names_an_article_is_used(declared: str) -> None:
    link = "https://paper.example/news/world/bridge-reopens.html?utm_source=rss"
    assert links.page_canonical(link, declared) == canonical_url(declared)


def test_odd_urls_do_not_crash() -> None:
    for odd in ("", "not a url", "mailto:desk@example.org", "https://", "http://[::1"):
        assert isinstance(canonical_url(odd), str)
