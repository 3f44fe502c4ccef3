"""parse_raw: what every feed reader hands to `parse.py`, and the helpers they share.

A reader returns a `RawFeed` of `RawItem`s. An item knows at once what its guid is made of (its
own id, and its link on demand); the costly rest (sanitising HTML, dates, authors) waits in
`finish()`, so that entries already stored never pay for it. No I/O.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from time import struct_time
from typing import Protocol
from xml.sax import SAXParseException

from feedparser.datetimes import _parse_date

from monitor.pipeline.sanitize import harmless_url


@dataclass(frozen=True, slots=True)
class RawEntry:
    """An entry's fields as its reader found them, before normalisation. `summary` and
    `contents` are already sanitised HTML when `*_html` is true, else plain text."""

    title: str
    title_html: bool
    summary: str
    summary_html: bool
    contents: tuple[tuple[str, bool], ...]  # (value, is_html), in document order
    published: datetime | None
    updated: datetime | None
    authors: tuple[str, ...]
    language: str | None


class RawItem(Protocol):
    """One entry as far as its guid needs: `id` is the feed's own id (unstripped), `link()` the
    entry's link before it is resolved against the feed URL. `titled` is true when the entry
    surely has a plain, non-empty title, so it is no debris whatever its link: then the link of
    an entry with an id is never needed to key it. `finish()` does the rest of the work."""

    @property
    def id(self) -> str | None: ...

    @property
    def titled(self) -> bool: ...

    def link(self) -> str | None: ...

    def finish(self) -> RawEntry: ...

    def fingerprint(self) -> str:
        """A hash of the entry's title, summary and content as the feed wrote them, cheap to
        compute before anything is converted: a change means the publisher edited the entry
        (attributes, comment counts and dates do not count)."""
        ...


def fingerprint_of(*parts: object) -> str:
    digest = hashlib.blake2b(digest_size=16)
    for part in parts:
        digest.update(str(part).encode("utf-8", "surrogatepass"))
        digest.update(b"\x00")
    return digest.hexdigest()


@dataclass(frozen=True, slots=True)
class ReadyItem:
    """An item whose reader did all the work at once (feedparser does; it cannot be split)."""

    id: str | None
    entry: RawEntry
    raw_link: str | None

    @property
    def titled(self) -> bool:
        return not self.entry.title_html and bool(self.entry.title.strip())

    def link(self) -> str | None:
        return self.raw_link

    def finish(self) -> RawEntry:
        return self.entry

    def fingerprint(self) -> str:
        e = self.entry
        return fingerprint_of(e.title, e.summary, *(value for value, _ in e.contents))


@dataclass(frozen=True, slots=True)
class RawFeed:
    """A reader's result: items plus the feed-level fields `ParsedFeed` carries."""

    items: list[RawItem]
    parser: str
    title: str | None = None
    link: str | None = None
    language: str | None = None
    error: str | None = None
    # The fast path only: a hash of each item's markup, parallel to `items`, and the hashes of
    # the items it skipped because the caller knew them already (see `parse_fast.read_fast`).
    item_hashes: list[bytes] | None = None
    skipped: list[bytes] = field(default_factory=list)
    # Items past the reader's limit, left unread (see `parse_limit`).
    unread: int = 0


def parse_date(value: str | None) -> datetime | None:
    """A date string in any format feedparser knows → aware UTC datetime, or None."""
    if not value:
        return None
    try:
        return from_struct(_parse_date(value.strip()))
    except Exception:  # feedparser's date handlers raise more than they document
        return None


def from_struct(value: struct_time | None) -> datetime | None:
    """feedparser's `*_parsed` (a UTC struct_time) → aware datetime; None when unusable."""
    if not value:
        return None
    try:
        return datetime(*value[:6], tzinfo=UTC)
    except (TypeError, ValueError):
        return None


def resolve_link(link: str | None, base: str) -> str | None:
    """An http(s) link resolved against the feed URL; anything else (tag:, javascript:) → None."""
    if not link or not link.strip():
        return None
    url = harmless_url(link, base)
    if url is None or not url.lower().startswith(("http://", "https://")):
        return None
    return url


def describe(exc: object) -> str:
    """One short line for an exception: its type and first line of message."""
    if exc is None:
        return "unknown error"
    if isinstance(exc, SAXParseException):
        return f"broken XML at line {exc.getLineNumber()}: {exc.getMessage()}"
    lines = str(exc).strip().splitlines()
    first = lines[0] if lines else ""
    text = f"{type(exc).__name__}: {first}" if first else type(exc).__name__
    return text[:200]
