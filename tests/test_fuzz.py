"""Fuzzing the parsers of text from outside: feeds (any server can send one) and rule queries
(any watchlist file). Part of the threat list in test_hostile.py.

No input may raise anything but the documented errors (a feed: nothing, its problems are the
`error` of what comes back; a query: `QueryError`; a watchlist: `RulesError`), and the work each
takes is bounded by its size. Work is counted, not timed: the Python and C function calls made
while parsing (`Work`), which a clock on a shared machine cannot give. A recursion that grows
with nesting, or a loop over every pair of items, shows up as calls far past the bound.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from types import FrameType, TracebackType
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from monitor.model import Article, Entry
from monitor.pipeline import parse
from monitor.rules import RulesError, compile_watchlists
from monitor.rules.lexer import QueryError
from monitor.rules.parser import parse as parse_query
from monitor.watchlist import WatchlistSettings

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
URL = "https://fuzz.example/feed"
FUZZ = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow], database=None
)


@pytest.fixture(scope="module", autouse=True)
def _warm() -> None:
    """First uses load tables and caches once per process: not work that grows with input."""
    parse_query('offensive AND ("mass grave" OR @x) NEAR/5 title:Falluja')
    for body in (b"<rss><channel><item><title>x</title></item></channel></rss>", b"{}", b"<x"):
        parse.read_feed(body, URL, now=NOW).entries()


class Work:
    """Counts the function calls (Python and C) made inside the block."""

    def __enter__(self) -> Work:
        self.calls = 0
        sys.setprofile(self._count)
        return self

    def _count(self, frame: FrameType, event: str, arg: Any) -> None:
        if event in ("call", "c_call"):
            self.calls += 1

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        sys.setprofile(None)


# -- feeds ---------------------------------------------------------------------------------------

# Calls for reading one feed: a fixed cost (feedparser sets itself up for each document) and a
# cost per byte. Measured over 1,500 examples of these strategies: at most 1,977 calls, and 19
# per byte beyond 50 bytes; a real 4 KB feed that feedparser reads takes 7,320. The bound leaves
# five times that room, and none for work that grows faster than the input.
FEED_CALLS_FIXED = 10_000
FEED_CALLS_PER_BYTE = 100

_XML = [
    '<?xml version="1.0" encoding="utf-8"?>',
    '<?xml version="1.0" encoding="iso-8859-1"?>',
    '<!DOCTYPE rss [<!ENTITY e "&#38;#60;b&#38;#62;">]>',
    '<rss version="2.0">',
    "</rss>",
    '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://purl.org/rss/1.0/">',
    "</rdf:RDF>",
    '<feed xmlns="http://www.w3.org/2005/Atom" xml:base="http://fuzz.example/a/" xml:lang="ar">',
    "</feed>",
    "<channel>",
    "</channel>",
    "<item>",
    "</item>",
    "<entry>",
    "</entry>",
    "<title>",
    '<title type="html">',
    "</title>",
    "<link>",
    '<link rel="alternate" type="text/html" href="../b?x=1&amp;y=2"/>',
    "</link>",
    '<guid isPermaLink="false">',
    "<guid>",
    "</guid>",
    "<id>",
    "</id>",
    "<description>",
    "</description>",
    '<content type="html">',
    '<content type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml">',
    "</div></content>",
    "</content>",
    '<content:encoded xmlns:content="http://purl.org/rss/1.0/modules/content/">',
    "</content:encoded>",
    "<pubDate>",
    "</pubDate>",
    "<updated>",
    "</updated>",
    "<author><name>",
    "</name></author>",
    "<![CDATA[",
    "]]>",
    "&amp;",
    "&lt;script&gt;alert(1)&lt;/script&gt;",
    "&#0;",
    "&#x1b;",
    "&e;",
    "&bogus;",
    "<p>",
    "</p>",
    "<b><i>",
    "<script>evil()</script>",
    '<a href="javascript:alert(1)">x</a>',
    '<img src="x" onerror="y">',
    "Mon, 07 Dec 2026 10:00:00 +0000",
    "2026-12-07T10:00:00Z",
    "9999-99-99T99:99:99",
    "Offensive on Falluja",
    "https://fuzz.example/a",
    "\x1b]0;x\x07",
    "\u202e",
    "\ufeff",
    "\x00",
]


def pieces(vocabulary: list[str], text: int, most: int) -> st.SearchStrategy[list[str]]:
    """Lists of known pieces and bits of any text between them."""
    return st.lists(st.one_of(st.sampled_from(vocabulary), st.text(max_size=text)), max_size=most)


@st.composite
def xml_feeds(draw: st.DrawFn) -> bytes:
    parts = draw(pieces(_XML, 12, 80))
    encoding = draw(st.sampled_from(["utf-8", "latin-1", "utf-16"]))
    return "".join(parts).encode(encoding, errors="replace")


_JSON_KEYS = [
    "id",
    "url",
    "external_url",
    "title",
    "summary",
    "content_html",
    "content_text",
    "date_published",
    "date_modified",
    "authors",
    "author",
    "language",
]
_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=10,
)


@st.composite
def json_feeds(draw: st.DrawFn) -> bytes:
    items = draw(
        st.lists(
            st.dictionaries(st.sampled_from(_JSON_KEYS), _json_values, max_size=8) | _json_values,
            max_size=6,
        )
    )
    doc: dict[str, Any] = {"version": "https://jsonfeed.org/version/1.1", "items": items}
    doc.update(
        draw(st.dictionaries(st.sampled_from(["title", "language", "home_page_url"]), _json_values))
    )
    return json.dumps(doc).encode()


def read_whole(body: bytes, content_type: str | None) -> None:
    with Work() as work:
        feed = parse.read_feed(body, URL, content_type, now=NOW)
        parsed = feed.entries()
    assert work.calls <= FEED_CALLS_FIXED + FEED_CALLS_PER_BYTE * len(body), (work.calls, body)
    assert all(isinstance(g, str) and g for g in feed.guids)
    assert feed.error is None or isinstance(feed.error, str)
    assert len(parsed.entries) <= len(feed.guids)
    for entry in parsed.entries:
        assert isinstance(entry, Entry) and isinstance(entry.title, str)
        assert entry.url is None or entry.url.startswith(("http://", "https://"))


@FUZZ
@given(st.binary(max_size=3000), st.sampled_from([None, "application/rss+xml", "text/html"]))
def test_any_bytes_read_as_a_feed_raise_nothing_in_bounded_work(
    body: bytes, content_type: str | None
) -> None:
    read_whole(body, content_type)


@FUZZ
@given(xml_feeds(), st.sampled_from([None, "application/atom+xml; charset=utf-8", "text/xml"]))
def test_feed_shaped_xml_raises_nothing_in_bounded_work(
    body: bytes, content_type: str | None
) -> None:
    read_whole(body, content_type)


@FUZZ
@given(json_feeds())
def test_json_feeds_raise_nothing_in_bounded_work(body: bytes) -> None:
    read_whole(body, "application/feed+json")


# -- rule queries ---------------------------------------------------------------------------------

# Calls for parsing one query: a fixed cost and a cost per character (measured over 1,500
# examples: at most 372 calls, and 4.1 per character beyond 50).
QUERY_CALLS_FIXED = 2_000
QUERY_CALLS_PER_CHAR = 25

_TOKENS = [
    "offensive",
    "Falluja",
    "mass",
    "grave*",
    "gr*ve",
    "ab*",
    "*",
    '"mass grave"',
    '"',
    "“",
    "”",
    "„",
    "«",
    "»",
    "(",
    ")",
    "AND",
    "OR",
    "NOT",
    "and",
    "Or",
    "NEAR/5",
    "ONEAR/3",
    "NEAR/0",
    "NEAR/1001",
    "NEAR/x",
    "NEAR",
    "near/5",
    "@cities",
    "@",
    "@nope",
    "@bad!",
    "title:",
    "TITLE:",
    "foo:",
    "url:",
    "=",
    "=IS",
    "Tal Afar",
    "تلعفر",
    "l'offensive",
    "\x1b",
    "\t",
    "\n",
    "",
]


@st.composite
def queries(draw: st.DrawFn) -> str:
    tokens = draw(pieces(_TOKENS, 4, 40))
    separator = draw(st.sampled_from([" ", "", "  "]))
    return separator.join(tokens)


@FUZZ
@given(queries())
def test_any_query_parses_or_names_its_column_in_bounded_work(query: str) -> None:
    with Work() as work:
        try:
            parse_query(query)
        except QueryError as exc:
            assert 0 <= exc.start < exc.end <= len(query) + 1, (exc.start, exc.end, query)
            assert exc.message and f"at column {exc.start + 1}" in exc.render()
    assert work.calls <= QUERY_CALLS_FIXED + QUERY_CALLS_PER_CHAR * len(query), (work.calls, query)


@st.composite
def nested(draw: st.DrawFn) -> str:
    """A query wrapped or chained as deep as an attacker likes."""
    inner = draw(queries())
    depth = draw(st.integers(min_value=0, max_value=1500))
    how = draw(st.sampled_from(["parentheses", "not", "near", "mixed"]))
    if how == "parentheses":
        return "(" * depth + inner + ")" * depth
    if how == "not":
        return "NOT " * depth + inner
    if how == "near":
        return " NEAR/3 ".join(["offensive"] * depth + [inner])
    return "(offensive AND NOT " * depth + inner + ")" * depth


@FUZZ
@given(nested())
def test_queries_of_any_depth_parse_or_are_refused_in_bounded_work(query: str) -> None:
    with Work() as work:
        try:
            parse_query(query)
        except QueryError as exc:
            assert 0 <= exc.start < exc.end <= len(query) + 1
    assert work.calls <= QUERY_CALLS_FIXED + QUERY_CALLS_PER_CHAR * len(query), (work.calls, query)


@FUZZ
@given(st.lists(queries(), min_size=1, max_size=3))
def test_any_watchlist_of_queries_compiles_or_lists_its_problems(texts: list[str]) -> None:
    rules = [{"name": f"r{i}", "query": q} for i, q in enumerate(texts) if q.strip()]
    if not rules:
        return
    watchlist = WatchlistSettings(
        version=1,
        name="w",
        channels=["c"],
        groups={"cities": ["Mosul", "Tal Afar", "تلعفر"]},
        rules=rules,
    )
    try:
        matcher = compile_watchlists([watchlist])
    except RulesError as exc:
        assert {p.loc[:2] for p in exc.problems} <= {("rules", i) for i in range(len(rules))}
        return
    article = Article(
        url="https://fuzz.example/a",
        canonical_url="https://fuzz.example/a",
        title="Offensive on Falluja and Tal Afar",
        text="The mass grave near Mosul. " * 20 + "Is it offensive? l'offensive tal afar",
    )
    for found in matcher.match(article):
        assert found.watchlist == "w" and found.rule.startswith("r")
