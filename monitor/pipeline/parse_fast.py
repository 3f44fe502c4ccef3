"""parse_fast: well-formed UTF-8 RSS/Atom → RawFeed with lxml, meaning what feedparser means.

`read_fast` returns `Declined(reason)`, and feedparser (the reference) parses instead, unless
every one of these holds; tests/test_parse_corpora.py checks that whenever they hold, both
paths give equal entries over the shared corpora:

1. UTF-8 by every signal: no UTF-16/32 byte-order mark, an XML declaration (if any) and the HTTP
   charset (if any) say UTF-8, the HTTP media type (if any) is an XML one.
2. lxml parses the whole document strictly (no recovery) and it has no DOCTYPE.
3. The root is RSS 0.9x/2.0 `<rss>`, RSS 0.90/1.0 `<rdf:RDF>`, or Atom 0.3/1.0 `<feed>`, and
   every item sits in the channel or the root (none nested, none elsewhere).
4. Every element inside every item is one whose effect on `Entry` is mirrored here (with
   `parse_mirror`), one listed in `parse_mirror._INERT` (feedparser reads it, but not into any
   field `Entry` has), or one for which feedparser has no handler at all. Anything else
   (media:title, nested markup in RSS text, base64 or by-reference content…) goes to feedparser.
5. No HTML value holds what feedparser's sgmllib sanitiser and libxml2 read differently
   (`_AMBIGUOUS_HTML`: doctypes and CDATA inside HTML, whole documents, SVG, a filled iframe).

The mirrored rules copy feedparser 6.0's quirks on purpose: the first non-empty title wins, the
last link, id, summary and date win; a guid that is a permalink is resolved and stands in for a
missing link; content without a summary becomes the summary; an <image> or <source> resets
which title counts; dates go through feedparser's own date parser, and text through its mojibake
and windows-1252 fixes. HTML is sanitised by `sanitize.py` with feedparser's allowlists.

All the checks above run in `read_fast`, over every item, since any of them may send the whole
document to feedparser; so do the title (which one counts depends on its value) and the id (the
guid). What only converts (sanitising and repairing HTML, links, dates, people) is recorded in
a `FastItem` and done by its `finish()`, for the entries the caller wants.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Container
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

from feedparser.api import StrictFeedParser
from lxml import etree

from monitor.pipeline.parse_mirror import (
    Declined,
    attrs,
    base,
    check_person,
    child_text,
    feed_link,
    fix,
    inert,
    join,
    key,
    lang_at,
    lang_attr,
    leaf,
    map_type,
    person,
    text,
)
from monitor.pipeline.parse_raw import RawEntry, RawFeed, RawItem, fingerprint_of, parse_date
from monitor.pipeline.sanitize import sanitize_html, xhtml_inner

__all__ = ["Declined", "FastItem", "read_fast"]

_ATOM = "http://www.w3.org/2005/Atom"
_ATOM03 = "http://purl.org/atom/ns#"
_RDF_ABOUT = "{http://www.w3.org/1999/02/22-rdf-syntax-ns#}about"
_HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
_TEXT_TYPES = _HTML_TYPES | {"text/plain"}
# Elements feedparser reads as an entry's content, with their default type.
_CONTENT = {
    "content": "text/plain",
    "content_encoded": "text/html",
    "fullitem": "text/html",
    "body": "application/xhtml+xml",
    "xhtml_body": "application/xhtml+xml",
}
# What each element an item may hold means to feedparser; any other is inert or declined.
_ROLES = {
    "title": "title", "dc_title": "title", "link": "link", "id": "id", "guid": "id",
    "description": "summary", "summary": "summary", "dc_description": "summary",
    "itunes_summary": "summary", **{name: "content" for name in _CONTENT},
    "published": "published", "pubdate": "published", "issued": "published",
    "dcterms_issued": "published", "updated": "updated", "modified": "updated",
    "lastbuilddate": "updated", "dc_date": "updated", "dcterms_modified": "updated",
    "author": "author", "dc_creator": "author", "dc_author": "author",
    "itunes_author": "author", "language": "language", "dc_language": "language",
    "image": "image", "source": "source",
}  # fmt: skip
_NEEDS_ATTRS = frozenset({"title", "link", "id", "summary", "content"})
_NEEDS_LANG = frozenset({"title", "summary", "content"})
_NO_ATTRS: dict[str, str] = {}
_PARSER = etree.XMLParser(
    resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False, remove_pis=True
)
_DECL = re.compile(rb"^<\?xml[^>]*?encoding\s*=\s*[\"']([^\"']+)", re.I)
_UTF8 = frozenset({"utf-8", "utf8"})
_ENTITY_LIKE = re.compile("&([A-Za-z0-9_]+);")
# Where sgmllib (feedparser) and libxml2 (here) read HTML differently, so the agreement test
# found different text: declarations other than comments (<!DOCTYPE, <![CDATA[, "<!'"), whole
# documents, SVG and MathML (feedparser keeps them), and elements libxml2 reads as raw text
# when they have content (an <iframe> with markup inside). ASCII-only, so that it finds the
# same in a value before and after `fix` (which changes only non-ASCII characters): HTML is
# checked here and repaired only if its entry is wanted.
_AMBIGUOUS_HTML = re.compile(
    r"<!(?!--)|<(?:html|head|body|title|svg|math)\b"
    r"|<(?:iframe|noembed|noframes|xmp|textarea|plaintext)\b[^>]*>(?!\s*</)",
    re.I | re.ASCII,
)


class _Value(NamedTuple):
    """A text construct, checked but not yet converted: `kind` is "text" (`source` is the
    text), "html" (`source` is the markup, to sanitise), "raw html" (the same, still to `fix`)
    or "xhtml" (`source` is the element)."""

    kind: str
    source: Any
    el: Any
    parent_base: str | None  # the xml:base in force around `el`


class _Link(NamedTuple):
    """Where the entry's link comes from: an `href`, an element's text, or a permalink guid."""

    kind: str  # "href" | "text" | "guid"
    value: str
    el: Any
    parent_base: str | None


@dataclass(slots=True)
class FastItem:
    """One item read by the fast path (see `parse_raw.RawItem`). Everything that can decline
    the document is checked when it is built; only conversions wait for `finish()`."""

    id: str | None
    titled: bool
    title: str
    title_html: bool
    link_from: _Link | None
    summary: _Value | int | None  # an int: the summary is that content, as HTML
    contents: list[_Value]
    published: Any  # the last element of each, or None
    updated: Any
    authors: list[Any]
    language: Any  # the item's own <language>
    langs: list[str | None]  # xml:lang of title, summary, contents, in feedparser's order

    def link(self) -> str | None:
        found = self.link_from
        if found is None:
            return None
        if found.kind == "guid":
            return found.value or None
        here = base(found.el, found.parent_base)
        if found.kind == "href":
            return join(here, found.value) or None
        value = join(here, found.value) if found.value else found.value
        value = value.replace("&amp;", "&")
        return (_ENTITY_LIKE.sub(r"&\g<1>", value) if "&" in value else value) or None

    def fingerprint(self) -> str:
        values = [self.summary, *self.contents]
        return fingerprint_of(self.title, *(_source(v) for v in values))

    def finish(self) -> RawEntry:
        contents = tuple(_convert(v) for v in self.contents)
        if self.summary is None:
            summary, summary_html = "", True
        elif isinstance(self.summary, int):
            summary, summary_html = contents[self.summary][0], True
        else:
            summary, summary_html = _convert(self.summary)
        return RawEntry(
            title=self.title,
            title_html=self.title_html,
            summary=summary,
            summary_html=summary_html,
            contents=contents,
            published=_date(self.published),
            updated=_date(self.updated),
            authors=tuple(name for el in self.authors for name in person(el)),
            language=_text_of(self.language) or next((x for x in self.langs if x), None),
        )


def _source(value: _Value | int | None) -> str:
    """What a text construct says, unconverted (XHTML as its markup)."""
    if value is None or isinstance(value, int):
        return ""
    if value.kind == "xhtml":
        return str(etree.tostring(value.source, encoding="unicode"))
    return str(value.source)


def _date(el: Any) -> datetime | None:
    return parse_date(fix(text(el))) if el is not None else None


def item_date(item: FastItem) -> datetime | None:
    """The item's published date, else its updated one (which items `parse_limit` keeps)."""
    return _date(item.published) or _date(item.updated)


def _text_of(el: Any) -> str | None:
    return fix(text(el)) if el is not None else None


def read_fast(
    body: bytes, url: str, content_type: str | None, known: Container[bytes] = ()
) -> RawFeed | Declined:
    """The feed read with lxml, or `Declined(reason)` when the rule above sends it to feedparser.
    An item whose markup hashes (`item_hash`) to one in `known` is skipped unread: the caller
    has stored it as it is (most items of a changed feed are the ones it had last time)."""
    if not _utf8_only(body, content_type):
        return Declined("not UTF-8 by every signal")
    try:
        root = etree.fromstring(body, _PARSER)
    except (etree.XMLSyntaxError, ValueError):
        return Declined("not well-formed XML")
    if root is None or root.getroottree().docinfo.doctype:
        return Declined("has a DOCTYPE")
    try:
        return _read(root, url, known)
    except Declined as declined:
        return declined


def _utf8_only(body: bytes, content_type: str | None) -> bool:
    if body[:2] in (b"\xff\xfe", b"\xfe\xff") or body[:1] == b"\x00":
        return False
    head = body[3:] if body.startswith(b"\xef\xbb\xbf") else body
    declared = _DECL.match(head[:200])
    if declared and declared.group(1).decode("ascii", "replace").strip().lower() not in _UTF8:
        return False
    if content_type:
        media, _, params = content_type.partition(";")
        if "xml" not in media and "rss" not in media and "atom" not in media:
            return False
        charset = re.search(r"charset\s*=\s*[\"']?([\w.:-]+)", params, re.I)
        if charset and charset.group(1).lower() not in _UTF8:
            return False
    return True


def item_hash(el: Any, context: tuple[str | None, str | None]) -> bytes:
    """The item's markup and the base URL and language it inherits, hashed: an item with the
    same hash reads the same."""
    digest = hashlib.blake2b(etree.tostring(el, with_tail=False), digest_size=8)
    digest.update("\0".join(x or "" for x in context).encode())
    return digest.digest()


def _read(root: Any, url: str, known: Container[bytes] = ()) -> RawFeed:
    root_key = key(root)
    atom = root_key == "feed" and etree.QName(root).namespace in (_ATOM, _ATOM03)
    if root_key not in ("rss", "rdf_rdf") and not atom:
        raise Declined(f"root element {root_key}")
    head = next((el for el in root if isinstance(el.tag, str) and key(el) == "channel"), root)
    # Every element feedparser treats as an item, wherever it is ({*} includes no namespace).
    found = [el for el in root.iter("{*}item", "{*}entry") if key(el) in ("item", "entry")]
    if any(item.getparent() not in (root, head) for item in found):
        raise Declined("items outside the expected place, or nested")
    feed_base = base(root, url)
    language = lang_attr(root) or child_text(head, ("language", "dc_language"))
    # xml:base and xml:lang in force at each distinct parent (the channel, usually just one).
    context = {}
    for parent in {id(i.getparent()): i.getparent() for i in found}.values():
        parent_base: str | None = url
        for el in reversed([parent, *parent.iterancestors()]):
            parent_base = base(el, parent_base)
        context[id(parent)] = (parent_base, lang_at(parent))
    items: list[RawItem] = []
    hashes: list[bytes] = []
    skipped: list[bytes] = []
    for el in found:
        inherited = context[id(el.getparent())]
        digest = item_hash(el, inherited)
        if digest in known:
            skipped.append(digest)
        else:
            items.append(_item(el, *inherited, atom))
            hashes.append(digest)
    title = next((el for el in head if key(el) == "title"), None)
    return RawFeed(
        items,
        "fast",
        title=(fix(text(title)) or None) if title is not None else None,
        link=feed_link(head, feed_base),
        language=language,
        item_hashes=hashes,
        skipped=skipped,
    )


def _item(item: Any, parent_base: str | None, parent_lang: str | None, atom: bool) -> FastItem:
    """One item, child by child in document order, as feedparser's handlers would see it:
    every check now, the title and the id now (the first picks which title counts, the second
    is the guid), the conversions of everything else recorded for `FastItem.finish`."""
    item_base = base(item, parent_base)
    item_lang = lang_attr(item, parent_lang)
    ident: str | None = item.get(_RDF_ABOUT) or None
    title: tuple[str, bool] | None = None
    link_from: _Link | None = None
    summary: _Value | int | None = None
    contents: list[_Value] = []
    authors: list[Any] = []
    title_langs: list[str | None] = []
    body_langs: list[str | None] = []
    published = updated = language = None  # the last such element of each
    title_locked = has_content = False
    for el in item:
        if not isinstance(el.tag, str):
            continue
        name = key(el)
        role = _ROLES.get(name)
        if role is None:
            if not inert(el):
                raise Declined(f"item element {name}")
            continue
        if role in _NEEDS_ATTRS:  # (its xml:base is applied only when a URL needs it)
            if el.attrib:
                at = attrs(el)
                lang = lang_attr(el, item_lang) if role in _NEEDS_LANG else None
            else:
                at, lang = _NO_ATTRS, item_lang
        if role == "title":
            if not title_locked:
                title = _convert(_value(el, at, "text/plain", item_base, atom))
                title_locked = bool(title[0])
                title_langs.append(lang)
        elif role == "link":
            leaf(el)
            href = at.get("url", at.get("uri", at.get("href")))
            rel = at.get("rel", "alternate")
            kind = map_type(
                at.get("type", "application/atom+xml" if rel == "self" else "text/html")
            )
            if href:
                if rel == "alternate" and kind in _HTML_TYPES:
                    link_from = _Link("href", href, el, item_base)
            else:
                link_from = _Link("text", fix(text(el)), el, item_base)
        elif role == "id":
            leaf(el)
            is_link = at.get("ispermalink", "true") == "true"
            value = fix(text(el))
            ident = join(base(el, item_base), value) if is_link and value else value
            if is_link and link_from is None:
                link_from = _Link("guid", ident, None, None)
        elif role == "summary":
            if summary is not None and not has_content:
                contents.append(_value(el, at, "text/plain", item_base, atom))
                has_content = True
            else:
                default = "text/html" if "description" in name else "text/plain"
                summary = _value(el, at, default, item_base, atom)
                body_langs.append(lang)
        elif role == "content":
            default = _CONTENT[name]
            if map_type(at.get("type", default)) not in _TEXT_TYPES or at.get("src"):
                raise Declined("content of a binary type or by reference")
            contents.append(_value(el, at, default, item_base, atom))
            has_content = has_content or name not in ("body", "xhtml_body")
            body_langs.append(lang)
            if summary is None:
                summary = len(contents) - 1
        elif role == "author":
            check_person(el)
            authors.append(el)
        elif role == "source":
            title_locked = False  # <source> resets which title counts; its inside is not ours
        else:  # published, updated, language, image: text only
            leaf(el)
            if role == "published":
                published = el
            elif role == "updated":
                updated = el
            elif role == "language":
                language = el
            else:
                title_locked = False  # feedparser's <image> resets which title counts
    title_text, title_html = title or ("", False)
    return FastItem(
        id=ident or None,
        titled=not title_html and bool(title_text.strip()),
        title=title_text,
        title_html=title_html,
        link_from=link_from,
        summary=summary,
        contents=contents,
        published=published,
        updated=updated,
        authors=authors,
        language=language,
        langs=[*reversed(title_langs), *body_langs],  # feedparser puts each title's first
    )


def _value(
    el: Any, at: dict[str, str], default: str, parent_base: str | None, atom: bool
) -> _Value:
    """A text construct checked as feedparser would read it; converted later by `_convert`."""
    kind = map_type(at.get("type", default))
    if kind == "application/xhtml+xml":
        return _Value("xhtml", el, el, parent_base)
    leaf(el)
    if at.get("mode") not in (None, "escaped", "xml") or kind not in _TEXT_TYPES:
        raise Declined(f"{key(el)} of type {kind}")  # Atom 0.3 modes, base64
    value = text(el)
    fixed = kind == "text/plain"
    if fixed:
        value = fix(value)
        if atom or not _looks_like_html(value):
            return _Value("text", value, el, parent_base)
    if _AMBIGUOUS_HTML.search(value):
        raise Declined("HTML that feedparser's sanitiser reads its own way")
    return _Value("html" if fixed else "raw html", value, el, parent_base)


def _looks_like_html(value: str) -> bool:
    """feedparser's test, which needs a close tag or an entity: most titles have neither."""
    return ("<" in value or "&" in value) and bool(StrictFeedParser.looks_like_html(value))


def _convert(value: _Value) -> tuple[str, bool]:
    """A checked text construct's value, and whether it is HTML (sanitised, as feedparser does)."""
    if value.kind == "text":
        return value.source, False
    here = base(value.el, value.parent_base)
    if value.kind == "xhtml":
        return sanitize_html(fix(xhtml_inner(value.source).strip()), here), True
    return sanitize_html(value.source if value.kind == "html" else fix(value.source), here), True
