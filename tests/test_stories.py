"""stories: the keys that make two reports the same article."""

from __future__ import annotations

import pytest

from monitor.pipeline.stories import canonical_url, text_hash


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
    ],
)
def test_tracking_and_host_variants_share_one_key(variant: str) -> None:
    assert canonical_url(variant) == canonical_url("https://news.example.org/world/story-1")


def test_meaningful_differences_stay_different() -> None:
    base = canonical_url("https://news.example.org/world/story-1")
    assert canonical_url("https://news.example.org/world/story-2") != base
    assert canonical_url("https://news.example.org/world/story-1?id=7") != base
    assert canonical_url("https://other.example.org/world/story-1") != base
    assert canonical_url("https://news.example.org:8443/world/story-1") != base


def test_odd_urls_do_not_crash() -> None:
    for odd in ("", "not a url", "mailto:desk@example.org", "https://", "http://[::1"):
        assert isinstance(canonical_url(odd), str)


def test_text_hash_ignores_markup_case_accents_and_spacing() -> None:
    body = "Troops entered Fallūja on Monday. " * 10
    assert text_hash("A", body) == text_hash("B", body.upper().replace(" ", "  "))
    assert text_hash("A", body) == text_hash("A", body.replace("ū", "u"))
    assert text_hash("A", body) != text_hash("A", body + " More.")
    # Short texts are too generic alone: the title counts.
    assert text_hash("Storm hits coast", "Read more.") != text_hash("Market opens", "Read more.")
