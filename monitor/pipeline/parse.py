"""parse: bytes of a feed → ParsedFeed. No network, no database.

Three readers produce the same intermediate `RawEntry`, and one normaliser turns it into `Entry`:

- JSON Feed 1.0/1.1 (feedparser has no JSON reader): the json module.
- The fast path (`parse_fast.read_fast`): lxml over well-formed UTF-8 RSS and Atom, taken only
  when every element of every item is one whose meaning it mirrors from feedparser (see that
  module for the rule). About 5 times cheaper than feedparser (bench/parse.py); most of what
  remains is sanitising HTML, which no path may skip.
- feedparser, the reference, for everything else: other encodings, broken XML, DOCTYPEs, rare
  extensions, HTML pages.

Bad input never raises: a feed that yields no entries comes back as `ParsedFeed(entries=(),
error=…)` with a one-line reason.
"""

from __future__ import annotations

import hashlib
import html
import io
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from time import struct_time
from typing import Any
from xml.sax import SAXParseException

import feedparser
from feedparser.datetimes import _parse_date

from monitor.model import Entry, ParsedFeed
from monitor.pipeline.sanitize import collapse, html_to_text, safe_url, sanitize_html

MAX_BODY_BYTES = 16 * 1024 * 1024
# A clock a little ahead of ours is not "the future"; beyond this a date is clamped to now.
FUTURE_SLACK = timedelta(minutes=5)
_HTML_TYPES = frozenset({"text/html", "application/xhtml+xml", "html", "xhtml"})


@dataclass(frozen=True, slots=True)
class RawEntry:
    """One entry as a reader found it, before normalisation. `summary` and `contents` are
    already sanitised HTML when `*_html` is true, else plain text."""

    id: str | None
    link: str | None
    title: str
    title_html: bool
    summary: str
    summary_html: bool
    contents: tuple[tuple[str, bool], ...]  # (value, is_html), in document order
    published: datetime | None
    updated: datetime | None
    authors: tuple[str, ...]
    language: str | None


@dataclass(frozen=True, slots=True)
class RawFeed:
    """A reader's result: entries plus the feed-level fields `ParsedFeed` carries."""

    entries: list[RawEntry]
    parser: str
    title: str | None = None
    link: str | None = None
    language: str | None = None
    error: str | None = None


def parse_feed(
    body: bytes,
    url: str,
    content_type: str | None = None,
    *,
    now: datetime | None = None,
    fast: bool = True,
) -> ParsedFeed:
    """Parse one fetched feed body. `url` is where it came from (the base for relative links);
    `content_type` is the HTTP header, whose charset counts as it does for feedparser.
    `fast=False` sends XML to feedparser even when the fast path would take it.

    Dates later than `now` plus `FUTURE_SLACK` are clamped to `now`: a feed that claims an entry
    from next week must not sort above everything else for a week.
    """
    now = now or datetime.now(UTC)
    try:
        raw = _read(body, url, content_type, fast)
    except Exception as exc:  # a parser bug on one feed must not stop the daemon
        return ParsedFeed(entries=(), error=f"parser failed: {_describe(exc)}", parser="none")
    normalised = (_normalise(e, url, raw.language, now) for e in raw.entries)
    entries = tuple(_dedupe(e for e in normalised if e.title or e.url or e.summary or e.content))
    return ParsedFeed(
        entries=entries,
        title=raw.title,
        link=raw.link,
        language=raw.language,
        error=raw.error,
        parser=raw.parser,
    )


def _read(body: bytes, url: str, content_type: str | None, fast: bool) -> RawFeed:
    """Choose the reader: JSON Feed, the fast path, else feedparser."""
    if len(body) > MAX_BODY_BYTES:
        return RawFeed([], "none", error=f"body too large: {len(body)} bytes")
    head = body[:512].lstrip(b"\xef\xbb\xbf \t\r\n")
    if not head.strip(b"\x00"):
        return RawFeed([], "none", error="empty body")
    if head.startswith(b"{") or ("json" in (content_type or "").lower() and head[:1] != b"<"):
        return read_json_feed(body, url)
    from monitor.pipeline.parse_fast import read_fast  # late: parse_fast imports RawEntry

    if fast:
        read = read_fast(body, url, content_type)
        if isinstance(read, RawFeed):
            return read
    return read_feedparser(body, url, content_type)


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
    entries = [_from_feedparser(e, language) for e in dict.get(result, "entries", [])]
    error = None
    problem = dict.get(result, "bozo_exception")
    # Without a Content-Type header feedparser complains of its absence: that is no feed error.
    if problem is not None and not _is_noise(problem, content_type):
        error = _describe(problem)
    if not entries and not dict.get(result, "version"):
        error = _not_a_feed(body, error)
    elif not entries and error:
        error = f"no entries: {error}"
    return RawFeed(
        entries,
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


def _from_feedparser(e: dict[str, Any], feed_language: str | None) -> RawEntry:
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
    return RawEntry(
        id=_clean(dict.get(e, "id")),
        link=_clean(dict.get(e, "link")),
        title=str(dict.get(e, "title", "")),
        title_html=_is_html(dict.get(e, "title_detail")),
        summary=str(dict.get(e, "summary", "")),
        summary_html=_is_html(dict.get(e, "summary_detail"), default=True),
        contents=tuple(contents),
        published=_from_struct(dict.get(e, "published_parsed")),
        updated=_from_struct(dict.get(e, "updated_parsed")),
        authors=tuple(str(a) for a in authors if a),
        language=language or feed_language,
    )


def _is_html(detail: dict[str, Any] | None, *, default: bool = False) -> bool:
    if not detail:
        return default
    return str(detail.get("type", "")) in _HTML_TYPES


def _from_struct(value: struct_time | None) -> datetime | None:
    if not value:
        return None
    try:
        return datetime(*value[:6], tzinfo=UTC)
    except (TypeError, ValueError):
        return None


def parse_date(value: str | None) -> datetime | None:
    """A date string in any format feedparser knows → aware UTC datetime, or None."""
    if not value:
        return None
    try:
        return _from_struct(_parse_date(value.strip()))
    except Exception:  # feedparser's date handlers raise more than they document
        return None


# --- JSON Feed -------------------------------------------------------------------------------


def read_json_feed(body: bytes, url: str) -> RawFeed:
    """JSON Feed 1.0 and 1.1 (https://jsonfeed.org/version/1.1)."""
    try:
        doc = json.loads(body)
    except (ValueError, RecursionError) as exc:
        return RawFeed([], "json", error=f"not a feed: invalid JSON ({_describe(exc)})")
    if not isinstance(doc, dict) or not isinstance(doc.get("items"), list):
        return RawFeed([], "json", error="not a feed: JSON without an `items` list")
    language = _clean(doc.get("language"))
    base = _str(doc.get("home_page_url")) or url
    feed_authors = _json_authors(doc)
    entries = []
    for item in doc["items"]:
        if not isinstance(item, dict):
            continue
        summary = html.escape(_str(item.get("summary")), quote=False)
        content_html = _str(item.get("content_html"))
        if content_html:
            content = sanitize_html(content_html, base)
        else:
            content = html.escape(_str(item.get("content_text")), quote=False)
        raw_id = item.get("id")
        entries.append(
            RawEntry(
                id=_clean(str(raw_id)) if isinstance(raw_id, str | int) else None,
                link=_resolve(_str(item.get("url")) or _str(item.get("external_url")), url),
                title=_str(item.get("title")),
                title_html=False,
                summary=summary or content,  # as feedparser does for RSS: no summary → content
                summary_html=True,
                contents=((content, True),) if content else (),
                published=parse_date(_str(item.get("date_published"))),
                updated=parse_date(_str(item.get("date_modified"))),
                authors=_json_authors(item) or feed_authors,
                language=_clean(item.get("language")) or language,
            )
        )
    version = _str(doc.get("version"))
    error = None if "jsonfeed.org" in version else "JSON without a jsonfeed.org `version`"
    return RawFeed(
        entries,
        "json",
        title=_clean(doc.get("title")),
        link=_clean(doc.get("home_page_url")),
        language=language,
        error=error,
    )


def _json_authors(obj: dict[str, Any]) -> tuple[str, ...]:
    found = obj.get("authors")
    people = found if isinstance(found, list) else [obj.get("author")]  # 1.1, else 1.0
    names = (_str(p.get("name")) or _str(p.get("url")) for p in people if isinstance(p, dict))
    return tuple(n for n in names if n)


# --- normalisation ---------------------------------------------------------------------------


def _normalise(raw: RawEntry, feed_url: str, feed_language: str | None, now: datetime) -> Entry:
    """RawEntry → Entry: plain-text title, HTML bodies, resolved URL, clamped dates, a guid."""
    title = _text(raw.title, raw.title_html)
    summary = raw.summary if raw.summary_html else html.escape(raw.summary, quote=False)
    content = ""
    if raw.contents:  # the fullest body, as text, wins; the first on a tie
        value, is_html = max(raw.contents, key=lambda c: len(c[0]))
        content = value if is_html else html.escape(value, quote=False)
    url = _resolve(raw.link, feed_url)
    published = _clamp(raw.published, now)
    return Entry(
        guid=entry_key(raw.id, url, title, published, summary),
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
    basis = "\x1f".join((title, stamp, html_to_text(summary)))
    return "sha1:" + hashlib.sha1(basis.encode("utf-8")).hexdigest()


def _dedupe(entries: Iterable[Entry]) -> Iterable[Entry]:
    """A feed repeating a guid keeps the first such entry: later stages key on (feed, guid).
    (Entries with no title, link or text at all, debris of broken XML, never get here.)"""
    seen: set[str] = set()
    for entry in entries:
        if entry.guid not in seen:
            seen.add(entry.guid)
            yield entry


def _clamp(when: datetime | None, now: datetime) -> datetime | None:
    if when is None:
        return None
    return now.astimezone(UTC) if when > now + FUTURE_SLACK else when


def _resolve(link: str | None, base: str) -> str | None:
    """An http(s) link resolved against the feed URL; anything else (tag:, javascript:) → None."""
    if not link or not link.strip():
        return None
    url = safe_url(link, base)
    if url is None or not url.lower().startswith(("http://", "https://")):
        return None
    return url


def _text(value: str, is_html: bool) -> str:
    return html_to_text(value) if is_html else collapse(value)


def _clean(value: object) -> str | None:
    return value.strip() or None if isinstance(value, str) else None


def _str(value: object) -> str:
    return value if isinstance(value, str) else ""


def _describe(exc: object) -> str:
    """One short line for an exception: its type and first line of message."""
    if exc is None:
        return "unknown error"
    if isinstance(exc, SAXParseException):
        return f"broken XML at line {exc.getLineNumber()}: {exc.getMessage()}"
    lines = str(exc).strip().splitlines()
    first = lines[0] if lines else ""
    text = f"{type(exc).__name__}: {first}" if first else type(exc).__name__
    return text[:200]


_TITLE = re.compile(rb"<title[^>]*>(.*?)</title", re.I | re.S)


def _not_a_feed(body: bytes, error: str | None) -> str:
    """Why a body with no entries and no feed version is not a feed, in one line."""
    head = body[:4096].lower()
    if b"<html" in head or b"<!doctype html" in head:
        found = _TITLE.search(body[:65536])
        title = collapse(html.unescape(found.group(1).decode("utf-8", "replace"))) if found else ""
        return "not a feed: an HTML page" + (f" ({title[:80]})" if title else "")
    return "not a feed: " + (error or "no RSS, Atom or JSON Feed root element")
