"""parse: bytes of a feed → its entries, normalised. No network, no database.

Two steps, so that entries already stored cost next to nothing (a poll of a changed feed
usually finds 5 new entries among 50):

    feed = read_feed(body, url, content_type)     # FeedItems: feed fields, errors, guids
    new = store_says_which_are_new(feed.guids)
    parsed = feed.entries(only=new)               # ParsedFeed: only those normalised

`parse_feed(...)` is both in one call, for every entry.

Three readers produce the same intermediate form (`parse_raw`), which `FeedItems` keys and
normalises into `Entry`:

- JSON Feed 1.0/1.1 (`parse_json`; feedparser has no JSON reader).
- The fast path (`parse_fast.read_fast`): lxml over well-formed UTF-8 RSS and Atom, taken only
  when every element of every item is one whose meaning it mirrors from feedparser (see that
  module for the rule). It checks every item in `read_feed` but sanitises, converts and dates
  only the entries asked for.
- feedparser, the reference, for everything else: other encodings, broken XML, DOCTYPEs, rare
  extensions, HTML pages. It does all the work in `read_feed`; it is the slow fallback anyway.

Bad input never raises: a feed that yields no entries comes back with no guids and `error` set
to a one-line reason.
"""

from __future__ import annotations

import hashlib
import html
import io
import re
from collections.abc import Collection, Container
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple
from urllib.parse import urljoin

import feedparser
import lxml.html
from lxml import etree

from monitor.model import Entry, ParsedFeed
from monitor.pipeline.parse_fast import read_fast
from monitor.pipeline.parse_json import read_json_feed
from monitor.pipeline.parse_limit import DEFAULT_MAX_ENTRIES, READ_FACTOR, newest, some_items
from monitor.pipeline.parse_raw import (
    RawEntry,
    RawFeed,
    RawItem,
    ReadyItem,
    describe,
    from_struct,
    resolve_link,
)
from monitor.pipeline.sanitize import collapse, html_line

MAX_BODY_BYTES = 16 * 1024 * 1024
# A clock a little ahead of ours is not "the future"; beyond this a date is clamped to now.
FUTURE_SLACK = timedelta(minutes=5)
_HTML_TYPES = frozenset({"text/html", "application/xhtml+xml", "html", "xhtml"})


def read_feed(
    body: bytes,
    url: str,
    content_type: str | None = None,
    *,
    now: datetime | None = None,
    fast: bool = True,
    known: Container[bytes] = (),
    max_entries: int = DEFAULT_MAX_ENTRIES,
) -> FeedItems:
    """Read one fetched feed body as far as its entries' guids. `url` is where it came from
    (the base for relative links); `content_type` is the HTTP header, whose charset counts as it
    does for feedparser. `fast=False` sends XML to feedparser even when the fast path would take
    it. `now` is the clock for clamping dates (see `FeedItems`). Items whose markup hash is in
    `known` (`FeedItems.item_hashes` of an earlier read) are skipped on the fast path. Of more
    than `max_entries` items, the newest are kept (`parse_limit`; `FeedItems.dropped` counts
    the others)."""
    now = now or datetime.now(UTC)
    try:
        read = _read(body, url, content_type, fast, known, READ_FACTOR * max_entries)
        raw, dropped = newest(read, max_entries)
        return FeedItems(raw, url, now, dropped)
    except Exception as exc:  # a parser bug on one feed must not stop the daemon
        return FeedItems(RawFeed([], "none", error=f"parser failed: {describe(exc)}"), url, now)


def parse_feed(
    body: bytes,
    url: str,
    content_type: str | None = None,
    *,
    now: datetime | None = None,
    fast: bool = True,
) -> ParsedFeed:
    """Every entry of one fetched feed body: `read_feed(...).entries()`."""
    return read_feed(body, url, content_type, now=now, fast=fast).entries()


class _Keyed(NamedTuple):
    guid: str
    item: RawItem
    url: str | None
    resolved: bool  # whether `url` is known yet
    entry: Entry | None  # normalised already, when keying it needed its text


class FeedItems:
    """A feed read as far as its guids: what the store needs to say which entries are new.

    `guids` are the entries' keys in document order, each once (a feed repeating a guid keeps
    the first such entry: later stages key on (feed, guid)), entries with no title, link or text
    at all (debris of broken XML) left out. A key is the feed's own id; else the entry's resolved
    link; else a hash of its title, date and summary text (`entry_key`), the one case that
    normalises the entry here.
    """

    __slots__ = (
        *("guids", "parser", "title", "link", "language", "error", "dropped"),
        *("_feed_url", "_now", "_keyed", "_hashes", "_settled"),
    )

    def __init__(self, raw: RawFeed, feed_url: str, now: datetime, dropped: int = 0) -> None:
        self.dropped = dropped  # items past `max_entries`, left out
        self.parser = raw.parser
        self.title = raw.title
        self.link = raw.link
        self.language = raw.language
        self.error = raw.error
        self._feed_url = feed_url
        self._now = now
        keyed: dict[str, _Keyed] = {}
        # Markup hashes (fast path only): by guid, and those settled already, which need no
        # store: items skipped as known, and debris or repeated guids, which are never stored.
        self._hashes: dict[str, bytes] = {}
        self._settled = list(raw.skipped)
        hashes = raw.item_hashes or [b""] * len(raw.items)
        for item, digest in zip(raw.items, hashes, strict=True):
            found = self._key(item)
            if found is not None and found.guid not in keyed:
                keyed[found.guid] = found
                if digest:
                    self._hashes[found.guid] = digest
            elif digest:
                self._settled.append(digest)
        self._keyed = tuple(keyed.values())
        self.guids = tuple(keyed)

    def item_hashes(self, stored: Collection[str]) -> frozenset[bytes]:
        """The markup hashes of the items a later read may skip (its `known`): those skipped or
        never stored this time, and those of the `stored` guids (in the store as they are now).
        Empty when the fast path did not read the feed."""
        return frozenset(
            [*self._settled, *(h for guid, h in self._hashes.items() if guid in stored)]
        )

    def fingerprints(self) -> dict[str, str]:
        """guid → a hash of what the entry says (title, summary, content as written): with the
        stored one it tells an edited entry from an unchanged one without normalising either."""
        return {keyed.guid: keyed.item.fingerprint() for keyed in self._keyed}

    def entries(self, only: Collection[str] | None = None) -> ParsedFeed:
        """The entries whose guid is in `only` (all of them by default), in document order.
        An entry that fails to normalise is left out and named in `error`."""
        entries = []
        failed = []
        for keyed in self._keyed:
            if only is not None and keyed.guid not in only:
                continue
            try:
                entries.append(keyed.entry or self._finish(keyed))
            except Exception as exc:  # one odd entry must not cost the others
                failed.append(f"parser failed on entry {keyed.guid[:100]!r}: {describe(exc)}")
        return ParsedFeed(
            entries=tuple(entries),
            title=self.title,
            link=self.link,
            language=self.language,
            error="; ".join(e for e in (self.error, *failed[:1]) if e) or None,
            parser=self.parser,
        )

    def _key(self, item: RawItem) -> _Keyed | None:
        ident = item.id.strip() if item.id else ""
        if ident and item.titled:  # keyed by its id, and no debris: the link can wait
            return _Keyed(ident, item, None, False, None)
        url = resolve_link(item.link(), self._feed_url)
        if url:
            return _Keyed(ident or url, item, url, True, None)
        entry = _normalise(item.finish(), url, ident or None, self.language, self._now)
        if not (entry.title or entry.summary or entry.content):
            return None
        return _Keyed(entry.guid, item, url, True, entry)

    def _finish(self, keyed: _Keyed) -> Entry:
        url = keyed.url if keyed.resolved else resolve_link(keyed.item.link(), self._feed_url)
        return _normalise(keyed.item.finish(), url, keyed.guid, self.language, self._now)


def _read(
    body: bytes,
    url: str,
    content_type: str | None,
    fast: bool,
    known: Container[bytes] = (),
    max_items: int | None = None,
) -> RawFeed:
    """Choose the reader: JSON Feed, the fast path, else feedparser, which reads `max_items` items
    at most (see `parse_limit.some_items`)."""
    if len(body) > MAX_BODY_BYTES:
        return RawFeed([], "none", error=f"body too large: {len(body)} bytes")
    head = body[:512].lstrip(b"\xef\xbb\xbf \t\r\n")
    if not head.strip(b"\x00"):
        return RawFeed([], "none", error="empty body")
    if head.startswith(b"{") or ("json" in (content_type or "").lower() and head[:1] != b"<"):
        return read_json_feed(body, url)
    if fast:
        read = read_fast(body, url, content_type, known)
        if isinstance(read, RawFeed):
            return read
    cut = 0
    if max_items is not None:
        body, cut = some_items(body, max_items)
    return replace(read_feedparser(body, url, content_type), unread=cut)


# --- feedparser, the reference ---------------------------------------------------------------


def read_feedparser(body: bytes, url: str, content_type: str | None = None) -> RawFeed:
    """Everything feedparser accepts. Its sanitiser and relative-URI resolver stay on."""
    headers = {"content-location": url}
    if content_type:
        headers["content-type"] = content_type
    # Bytes wrapped in BytesIO: feedparser never treats them as a URL or a file name.
    result = feedparser.parse(io.BytesIO(body), response_headers=headers)
    feed: dict[str, Any] = dict.get(result, "feed", {})
    language = _clean(dict.get(feed, "language"))
    items: list[RawItem] = [_from_feedparser(e, language) for e in dict.get(result, "entries", [])]
    error = None
    problem = dict.get(result, "bozo_exception")
    # Without a Content-Type header feedparser complains of its absence: that is no feed error.
    if problem is not None and not _is_noise(problem, content_type):
        error = describe(problem)
    if not items and not dict.get(result, "version"):
        error = _not_a_feed(body, error, url)
    elif not items and error:
        error = f"no entries: {error}"
    return RawFeed(
        items,
        "feedparser",
        title=_text(dict.get(feed, "title", ""), _is_html(dict.get(feed, "title_detail"))) or None,
        link=_clean(dict.get(feed, "link")),
        language=language,
        error=error,
    )


def _is_noise(problem: object, content_type: str | None) -> bool:
    """feedparser complaints that are no fault of the feed: a missing Content-Type, and RFC 3023's
    rule that `text/xml` without a charset means US-ASCII (feedparser then decodes as declared)."""
    if isinstance(problem, feedparser.NonXMLContentType):
        return content_type is None
    if isinstance(problem, feedparser.CharacterEncodingOverride):
        return "declared as us-ascii" in str(problem) and "charset" not in (content_type or "")
    return False


def _from_feedparser(e: dict[str, Any], feed_language: str | None) -> ReadyItem:
    details = [dict.get(e, "title_detail"), dict.get(e, "summary_detail")]
    contents = [
        (str(c.get("value", "")), _is_html(c))
        for c in dict.get(e, "content", [])
        if str(c.get("type", "text/html")) in _HTML_TYPES | {"text/plain"}
    ]
    details.extend(dict.get(e, "content", []))
    language = _clean(dict.get(e, "language"))  # the item's own <language> or dc:language
    language = language or next(
        (d.get("language") for d in details if d and d.get("language")), None
    )
    authors = [a.get("name") or a.get("email") for a in dict.get(e, "authors", []) if a]
    entry = RawEntry(
        title=str(dict.get(e, "title", "")),
        title_html=_is_html(dict.get(e, "title_detail")),
        summary=str(dict.get(e, "summary", "")),
        summary_html=_is_html(dict.get(e, "summary_detail"), default=True),
        contents=tuple(contents),
        published=from_struct(dict.get(e, "published_parsed")),
        updated=from_struct(dict.get(e, "updated_parsed")),
        authors=tuple(str(a) for a in authors if a),
        language=language or feed_language,
    )
    return ReadyItem(_clean(dict.get(e, "id")), entry, _clean(dict.get(e, "link")))


def _is_html(detail: dict[str, Any] | None, *, default: bool = False) -> bool:
    if not detail:
        return default
    return str(detail.get("type", "")) in _HTML_TYPES


# --- normalisation ---------------------------------------------------------------------------


def _normalise(
    raw: RawEntry, url: str | None, guid: str | None, feed_language: str | None, now: datetime
) -> Entry:
    """RawEntry → Entry: plain-text title, HTML bodies, clamped dates, and `guid` (else the
    content hash of `entry_key`)."""
    title = _text(raw.title, raw.title_html)
    summary = raw.summary if raw.summary_html else html.escape(raw.summary, quote=False)
    content = ""
    if raw.contents:  # the fullest body, as text, wins; the first on a tie
        value, is_html = max(raw.contents, key=lambda c: len(c[0]))
        content = value if is_html else html.escape(value, quote=False)
    published = _clamp(raw.published, now)
    return Entry(
        guid=guid or entry_key(None, url, title, published, summary),
        url=url,
        title=title,
        summary=summary.strip(),
        content=content.strip(),
        published=published,
        updated=_clamp(raw.updated, now),
        authors=tuple(dict.fromkeys(a.strip() for a in raw.authors if a.strip())),
        language=raw.language or feed_language,
    )


def entry_key(
    guid: str | None, url: str | None, title: str, published: datetime | None, summary: str
) -> str:
    """The entry's stable identity: the feed's own id; else its resolved link; else
    `sha1:` + a hash of title, published time and summary *text*, so the key does not move when
    only markup or the parser in use changes between polls."""
    if guid and guid.strip():
        return guid.strip()
    if url:
        return url
    stamp = published.isoformat() if published else ""
    basis = "\x1f".join((title, stamp, html_line(summary)))
    return "sha1:" + hashlib.sha1(basis.encode("utf-8")).hexdigest()


def _clamp(when: datetime | None, now: datetime) -> datetime | None:
    if when is None:
        return None
    return now.astimezone(UTC) if when > now + FUTURE_SLACK else when


def _text(value: str, is_html: bool) -> str:
    return html_line(value) if is_html else collapse(value)


def _clean(value: object) -> str | None:
    return value.strip() or None if isinstance(value, str) else None


_TITLE = re.compile(rb"<title[^>]*>(.*?)</title", re.I | re.S)


def _not_a_feed(body: bytes, error: str | None, url: str) -> str:
    """Why a body with no entries and no feed version is not a feed, in one line; for a web
    page, the feeds it names, since a site's address in place of its feed's is the usual slip."""
    head = body[:4096].lower()
    if b"<html" in head or b"<!doctype html" in head:
        found = _TITLE.search(body[:65536])
        title = collapse(html.unescape(found.group(1).decode("utf-8", "replace"))) if found else ""
        message = "not a feed: an HTML page" + (f" ({title[:80]})" if title else "")
        feeds = advertised_feeds(body, url)
        if feeds:
            message += f"; it names its feeds: {', '.join(feeds)}; use one of them as the url"
        return message
    return "not a feed: " + (error or "no RSS, Atom or JSON Feed root element")


_FEED_TYPES = ("application/rss+xml", "application/atom+xml", "application/feed+json")
ADVERTISED_MAX = 3


def advertised_feeds(page: bytes, url: str) -> list[str]:
    """The feeds a web page names in its head (`<link rel="alternate" type="application/rss+xml"
    href=…>` and the Atom and JSON Feed kinds), as absolute URLs, first ones first."""
    try:
        root = lxml.html.document_fromstring(page[:262_144])
    except (etree.ParserError, ValueError):
        return []
    base = next((b.get("href") for b in root.iter("base") if b.get("href")), None)
    if base:
        url = urljoin(url, base.strip())
    found: list[str] = []
    for link in root.iter("link"):
        rel = (link.get("rel") or "").lower().split()
        kind = (link.get("type") or "").lower().split(";")[0].strip()
        href = (link.get("href") or "").strip().replace(" ", "%20")
        if "alternate" in rel and kind in _FEED_TYPES and href:
            absolute = urljoin(url, href)
            if absolute.startswith(("http://", "https://")) and absolute not in found:
                found.append(absolute)
    return found[:ADVERTISED_MAX]
