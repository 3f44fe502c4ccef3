"""sitemap: bytes of a sitemap → its recent URLs as entries, or an index's recent children.

Reads the three shapes publishers use (sitemaps.org 0.9 and Google's older 0.84 namespace,
or none): a Google News sitemap (`<url><loc>` with `<news:news>`: publication date, title,
language), a plain sitemap (`<url><loc>` with `<lastmod>`), and a sitemap index
(`<sitemap><loc><lastmod>`), whose children the caller fetches (`children`). A `.xml.gz`
body is unpacked within the size cap. No network, no database.

Hostile XML gets the defences of the feed reader (`parse_fast`): no entities resolved, no
DTD or network access, no huge trees, and a document with a DOCTYPE is refused (a sitemap
never needs one, and that is where entity bombs live). Broken XML is read again in lxml's
recovery mode, and whatever entries it yields are used with the error noted, as for feeds.

An entry is a page to fetch and extract, as for a summary-only feed: its guid is its URL, its
title the news title (else empty, so the page's own title is used), its date the publication
date (else `lastmod`). URLs dated before `max_age` are left out (a news sitemap lists two days
of articles; a plain one may list every page the site ever had), and at most `max_urls` are
read, the most recent first, so a first poll of a 50,000-URL sitemap is bounded.
"""

from __future__ import annotations

import functools
import hashlib
import re
import zlib
from collections.abc import Container, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from lxml import etree

from monitor.pipeline.parse_raw import RawEntry, RawFeed, RawItem, ReadyItem, parse_date
from monitor.pipeline.parse_raw import resolve_link as _resolve

_PARSER = etree.XMLParser(
    resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False, remove_pis=True
)
_RECOVER = etree.XMLParser(
    resolve_entities=False,
    no_network=True,
    load_dtd=False,
    huge_tree=False,
    remove_pis=True,
    recover=True,
)
GZIP_MAGIC = b"\x1f\x8b"
_DOCTYPE = "refused: a sitemap with a DOCTYPE (entity declarations are not read)"


@dataclass(frozen=True, slots=True)
class Child:
    """A sitemap named by an index."""

    url: str
    lastmod: datetime | None


@dataclass(slots=True)
class Sitemap:
    """What one sitemap body held: entries (a urlset) or children (an index), and why it held
    nothing usable when `error` is set and both are empty."""

    feed: RawFeed
    children: list[Child] = field(default_factory=list)
    is_index: bool = False
    error: str | None = None


def read_sitemap(
    body: bytes,
    url: str,
    *,
    now: datetime,
    max_age: float,
    max_urls: int,
    max_bytes: int,
    known: Container[bytes] = (),
) -> Sitemap:
    """Read one sitemap body fetched from `url`. URLs whose hash (see `_hash`) is in `known`
    are skipped before their dates are read: stored as they are, or left out last time."""
    if body[:2] == GZIP_MAGIC:
        unpacked = _gunzip(body, max_bytes)
        if unpacked is None:
            return _failed(f"gzip body unpacks past {max_bytes:,} bytes, or is corrupt")
        body = unpacked
    root, error = _parse(body)
    if root is None:
        return _failed(error or "not XML")
    name = etree.QName(root).localname
    cutoff = now - timedelta(seconds=max_age)
    if name == "sitemapindex":
        children = _children(root, url, cutoff)
        return Sitemap(RawFeed([], "sitemap", error=error), children, True, error)
    if name != "urlset":
        what = "a feed: use kind feed" if name in ("rss", "feed", "RDF") else f"<{name}>"
        return _failed(f"not a sitemap: the root element is {what}")
    pieces = _pieces(body, root) if error is None else None
    return Sitemap(_urlset(root, url, now, cutoff, max_urls, known, error, pieces), error=error)


_COMMENTS = re.compile(rb"<!--.*?-->", re.S)
_FIRST_ELEMENT = re.compile(rb"<(?![?!])(?:[\w.-]+:)?([\w.-]+)")


def is_index(body: bytes, max_bytes: int) -> bool:
    """Whether the body is a sitemap index, from the name of its first element alone: the
    cheap test a poll makes before it decides to fetch children (`read_sitemap` reads it
    properly)."""
    if body[:2] == GZIP_MAGIC:
        body = _gunzip(body, max_bytes) or b""
    found = _FIRST_ELEMENT.search(_COMMENTS.sub(b"", body[:16384]))
    return found is not None and found.group(1) == b"sitemapindex"


def _failed(error: str) -> Sitemap:
    return Sitemap(RawFeed([], "sitemap", error=error), error=error)


def _gunzip(body: bytes, max_bytes: int) -> bytes | None:
    """The unpacked body, or None when it is corrupt or grows past `max_bytes` (a gzip bomb)."""
    unpacker = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    try:
        out = unpacker.decompress(body, max_bytes + 1)
    except zlib.error:
        return None
    return None if len(out) > max_bytes or unpacker.unconsumed_tail else out


def _parse(body: bytes) -> tuple[Any, str | None]:
    """The root element, strictly; else what recovery salvages, with the reason. A DOCTYPE is
    refused outright."""
    head = body[:1024]
    if b"<!DOCTYPE" in head or b"<!doctype" in head:
        return None, _DOCTYPE
    try:
        root = etree.fromstring(body, _PARSER)
    except etree.XMLSyntaxError as exc:
        error = f"broken XML: {exc.msg}"[:200]
    except ValueError as exc:
        return None, f"not XML: {exc}"[:200]
    else:
        if root is not None and root.getroottree().docinfo.doctype:
            return None, _DOCTYPE
        return root, None
    try:
        root = etree.fromstring(body, _RECOVER)
    except (etree.XMLSyntaxError, ValueError):
        root = None
    if root is None or root.getroottree().docinfo.doctype:
        return None, error
    return root, error


def _text(el: Any, name: str) -> str:
    """The stripped text of the first child element named `name` (any namespace)."""
    found = el.find(f"{{*}}{name}")
    if found is None:
        found = el.find(name)
    return (found.text or "").strip() if found is not None else ""


def sitemap_date(value: str) -> datetime | None:
    """A W3C datetime (what sitemaps use) quickly, anything else through feedparser's parser."""
    if not value:
        return None
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        return parse_date(value)
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


def _children(root: Any, url: str, cutoff: datetime) -> list[Child]:
    """The index's children modified since `cutoff` (or undated), newest first, undated last
    in document order."""
    found = []
    for el in root.iterchildren("{*}sitemap", "sitemap"):
        loc = _resolve(_text(el, "loc"), url)
        if loc is None:
            continue
        lastmod = sitemap_date(_text(el, "lastmod"))
        if lastmod is None or lastmod >= cutoff:
            found.append(Child(loc, lastmod))
    dated = sorted((c for c in found if c.lastmod), key=lambda c: c.lastmod or cutoff, reverse=True)
    return dated + [c for c in found if c.lastmod is None]


_NEWS_FIELDS = frozenset({"title", "publication_date", "language"})


def _local(tag: object) -> str:
    return tag.rpartition("}")[2] if isinstance(tag, str) else ""


def _fields(url: Any) -> dict[str, str]:
    """A `<url>`'s loc and lastmod, and its news title, publication date and language, in one
    walk of its children (the elements are matched by local name: any namespace or none)."""
    fields: dict[str, str] = {}
    for child in url:
        name = _local(child.tag)
        if name in ("loc", "lastmod"):
            fields.setdefault(name, (child.text or "").strip())
        elif name == "news":
            for part in child.iter():
                inner = _local(part.tag)
                if inner in _NEWS_FIELDS:
                    fields.setdefault(inner, (part.text or "").strip())
    return fields


def _seed(base: str) -> hashlib.blake2b:
    """The hash of the sitemap's URL (its links' base), made once per sitemap: `_hash` goes on
    from a copy of it rather than hashing the URL again for each of its hundreds of `<url>`s."""
    return hashlib.blake2b(base.encode("utf-8", "surrogatepass"), digest_size=8)


def _hash(el: Any, seed: hashlib.blake2b) -> bytes:
    """The sitemap's URL (`seed`) and the `<url>` element's markup, hashed in C: a URL with
    the same hash reads the same, so a known one is skipped before it is walked."""
    digest = seed.copy()
    digest.update(etree.tostring(el, with_tail=False))
    return digest.digest()


def _pieces(body: bytes, root: Any) -> list[bytes] | None:
    """The markup of each of the root's children as written, when every child is a `<url>`
    whose markup can be cut out of the body unambiguously: as many `<url` start tags in the
    whole body as children (so none is nested in another, none sits in a comment), as many
    `</url>` end tags (so none is self-closing), and no comment, CDATA section or processing
    instruction among them. The i-th piece then runs from the i-th start tag to the i-th end
    tag (in well-formed XML, text cannot hold a `<`), so it holds that element's whole markup:
    any change to the element changes the piece's hash. A known URL is skipped by a hash of
    those bytes, found and hashed in C, without serialising its element (`_hash`). None
    otherwise: the elements are serialised. What stands before the first `<url>` or after the
    last (an XML declaration, a stylesheet instruction, a comment) does not matter."""
    children = len(root)
    if not children:
        return None
    first = root[0]
    tag = first.tag
    if not isinstance(tag, str) or etree.QName(tag).localname != "url":
        return None
    if any(child.tag != tag for child in root):
        return None
    name = (f"{first.prefix}:url" if first.prefix else "url").encode("utf-8", "surrogatepass")
    starts = [m.start() for m in _start_tag(name).finditer(body)]
    end = b"</" + name + b">"
    if len(starts) != children or body.count(end) != children:
        return None
    pieces = body[starts[0] :].split(end)
    del pieces[-1]  # what follows the last `</url>`
    # White space before an element is no part of it (nor of its hash).
    pieces = [piece.lstrip(b" \t\r\n") for piece in pieces]
    opening = b"<" + name
    if any(b"<!" in p or b"<?" in p or not p.startswith(opening) for p in pieces):
        return None
    return pieces


@functools.lru_cache(maxsize=8)
def _start_tag(name: bytes) -> re.Pattern[bytes]:
    """A `<url>` start tag (or an empty-element tag) of this qualified name."""
    return re.compile(b"<" + re.escape(name) + rb"[\s/>]")


def _elements(
    root: Any,
    seed: hashlib.blake2b,
    known: Container[bytes],
    skipped: list[bytes],
    pieces: list[bytes] | None,
) -> Iterator[tuple[int, bytes, Any]]:
    """The `<url>` elements not `known` (their hash in `skipped`), with their position and
    hash: of their markup as written (`_pieces`), else as serialised (`_hash`)."""
    if pieces is None:
        for position, el in enumerate(root.iterchildren("{*}url", "url")):
            digest = _hash(el, seed)
            if digest in known:
                skipped.append(digest)
            else:
                yield position, digest, el
        return
    children: list[Any] | None = None
    for position, piece in enumerate(pieces):
        hasher = seed.copy()
        hasher.update(piece)
        digest = hasher.digest()
        if digest in known:
            skipped.append(digest)
            continue
        if children is None:
            children = list(root)
        yield position, digest, children[position]


def _urlset(
    root: Any,
    url: str,
    now: datetime,
    cutoff: datetime,
    max_urls: int,
    known: Container[bytes],
    error: str | None,
    pieces: list[bytes] | None = None,
) -> RawFeed:
    fresh: list[tuple[datetime | None, int, ReadyItem, bytes]] = []
    skipped: list[bytes] = []
    seed = _seed(url)
    for position, digest, el in _elements(root, seed, known, skipped, pieces):
        fields = _fields(el)
        loc, lastmod = fields.get("loc", ""), fields.get("lastmod", "")
        title = fields.get("title", "")
        published = fields.get("publication_date", "")
        language = fields.get("language", "")
        link = _resolve(loc, url)
        when = sitemap_date(published) or sitemap_date(lastmod)
        if link is None or (when is not None and when < cutoff):
            skipped.append(digest)  # never an entry: the next read skips it unread too
            continue
        entry = RawEntry(
            title=title,
            title_html=False,
            summary="",
            summary_html=False,
            contents=(),
            published=min(when, now) if when else None,
            updated=sitemap_date(lastmod),
            authors=(),
            language=language or None,
        )
        fresh.append((when, position, ReadyItem(link, entry, link), digest))
    # The most recent first, undated ones after in document order; beyond `max_urls` dropped
    # for this poll only (not remembered: a later poll may still reach them).
    fresh.sort(key=lambda f: (f[0] is None, -(f[0].timestamp() if f[0] else 0.0), f[1]))
    kept = fresh[:max_urls]
    items: list[RawItem] = [f[2] for f in kept]
    return RawFeed(
        items,
        "sitemap",
        error=error,
        item_hashes=[f[3] for f in kept],
        skipped=skipped,
    )
