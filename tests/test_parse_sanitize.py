"""sanitize: the one HTML → text that parse (titles, entry keys) and extract (article text) share.

tests/test_extract.py covers the paragraph form as articles need it; these cover what parse
relies on, and the cases the two former implementations disagreed on.
"""

from __future__ import annotations

from datetime import UTC, datetime

from monitor.pipeline import extract
from monitor.pipeline.parse import entry_key, parse_feed
from monitor.pipeline.sanitize import html_line, html_to_text


def test_extract_reads_text_with_the_shared_function() -> None:
    assert extract.html_to_text is html_to_text


def test_text_after_a_comment_is_kept() -> None:
    """WordPress puts `<!--more-->` in summaries; the words after it are the story."""
    assert html_to_text("<p>Intro.</p><!--more--><p>Rest of it.</p>") == "Intro.\n\nRest of it."
    assert html_to_text("<p>a<!-- note -->b</p>") == "ab"


def test_one_line_keeps_every_word_and_separates_blocks() -> None:
    assert html_line("<p>The offensive began.</p><p>READ MORE: Mosul</p>") == (
        "The offensive began. READ MORE: Mosul"
    )
    assert html_line("Intro<p>Body</p>tail<br>next") == "Intro Body tail next"
    assert html_line("Troops &amp; tanks\u00a0near <b>Falluja</b>") == "Troops & tanks near Falluja"
    assert html_line("<script>track()</script><style>p{}</style>Text") == "Text"
    assert html_line("") == ""


def test_html_titles_keep_promo_words() -> None:
    """A headline that starts like a promo line is still the headline."""
    body = (
        b'<feed xmlns="http://www.w3.org/2005/Atom"><title>Wire</title><entry>'
        b"<id>urn:1</id><title type='html'>WATCH: &lt;b&gt;Convoy&lt;/b&gt; reaches Mosul</title>"
        b"</entry></feed>"
    )
    for fast in (True, False):
        (entry,) = parse_feed(body, "https://wire.example/atom", fast=fast).entries
        assert entry.title == "WATCH: Convoy reaches Mosul"


def test_entry_key_hashes_text_not_markup() -> None:
    when = datetime(2026, 6, 1, tzinfo=UTC)
    plain = entry_key(None, None, "Baiji", when, "Power returns. Queues shorten.")
    marked = entry_key(None, None, "Baiji", when, "<p>Power returns.</p><p>Queues shorten.</p>")
    assert plain == marked and plain.startswith("sha1:")
