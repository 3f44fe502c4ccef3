"""parse_fast: well-formed UTF-8 RSS/Atom → RawFeed with lxml, meaning what feedparser means.

`read_fast` returns `Declined(reason)`, and feedparser (the reference) parses instead, unless
every one of these holds; tests/test_parse_corpora.py checks that whenever they hold, both
paths give equal entries over the shared corpora:

1. UTF-8 by every signal: no UTF-16/32 byte-order mark, an XML declaration (if any) and the HTTP
   charset (if any) say UTF-8, the HTTP media type (if any) is an XML one.
2. lxml parses the whole document strictly (no recovery) and it has no DOCTYPE.
3. The root is RSS 0.9x/2.0 `<rss>`, RSS 0.90/1.0 `<rdf:RDF>`, or Atom 0.3/1.0 `<feed>`, and
   every item sits in the channel or the root (none nested, none elsewhere).
4. Every element inside every item is one whose effect on `Entry` is mirrored below, one
   listed in `_INERT` (feedparser reads it, but not into any field `Entry` has), or one for
   which feedparser has no handler at all. Anything else (media:title, nested markup in RSS
   text, base64 or by-reference content…) goes to feedparser.
5. No HTML value holds what feedparser's sgmllib sanitiser and libxml2 read differently
   (`_AMBIGUOUS_HTML`: doctypes and CDATA inside HTML, whole documents, SVG, a filled iframe).

The mirrored rules copy feedparser 6.0's quirks on purpose: the first non-empty title wins, the
last link, id, summary and date win; a guid that is a permalink is resolved and stands in for a
missing link; content without a summary becomes the summary; an <image> or <source> resets
which title counts; dates go through feedparser's own date parser, and text through its mojibake
and windows-1252 fixes. HTML is sanitised by `sanitize.py` with feedparser's allowlists.
"""

from __future__ import annotations

import contextlib
import functools
import re
from typing import Any

from feedparser.api import StrictFeedParser
from feedparser.html import _cp1252
from feedparser.urls import _urljoin, make_safe_absolute_uri
from lxml import etree

from monitor.pipeline.parse import RawEntry, RawFeed, parse_date
from monitor.pipeline.sanitize import sanitize_html, xhtml_inner

_NS_PREFIX: dict[str, str] = {k.lower(): v for k, v in StrictFeedParser.namespaces.items()}
_ATOM = "http://www.w3.org/2005/Atom"
_ATOM03 = "http://purl.org/atom/ns#"
_RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
_XML = "{http://www.w3.org/XML/1998/namespace}"
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
_PUBLISHED = frozenset({"published", "pubdate", "issued", "dcterms_issued"})
_UPDATED = frozenset({"updated", "modified", "lastbuilddate", "dc_date", "dcterms_modified"})
_AUTHOR = frozenset({"author", "dc_creator", "dc_author", "itunes_author"})
_PERSON_PARTS = frozenset({"name", "email", "uri", "url", "homepage"})
# Read by feedparser into fields Entry does not have; harmless at any depth inside an item.
_INERT = frozenset(
    {
        "category", "dc_subject", "comments", "enclosure", "contributor", "dc_contributor",
        "media_content", "media_thumbnail", "media_group", "media_credit", "media_category",
        "media_rating", "media_keywords", "media_restriction", "media_license", "media_player",
        "itunes_image", "itunes_explicit", "itunes_block", "itunes_keywords", "itunes_category",
        "georss_point", "georss_line", "georss_polygon", "georss_box", "georss_where", "where",
        "psc_chapters", "psc_chapter", "cc_license", "creativecommons_license", "tags",
        "itunes_subtitle", "itunes_link", "dc_publisher", "rights", "dc_rights", "created",
        "dcterms_created", "expirationdate", "creativeCommons_license", "gml_point",
        "gml_linestring", "gml_polygon", "gml_exterior", "gml_linearring", "gml_pos",
        "gml_poslist",
    }
)  # fmt: skip
_PARSER = etree.XMLParser(
    resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False, remove_pis=True
)
_DECL = re.compile(rb"^<\?xml[^>]*?encoding\s*=\s*[\"']([^\"']+)", re.I)
_EMAIL = re.compile(
    r"(([a-zA-Z0-9\_\-\.\+]+)@((\[[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\.)|(([a-zA-Z0-9\-]+\.)+))"
    r"([a-zA-Z]{2,4}|[0-9]{1,3})(\]?))(\?subject=\S+)?"
)
_UTF8 = frozenset({"utf-8", "utf8"})
# Where sgmllib (feedparser) and libxml2 (here) read HTML differently, so the agreement test
# found different text: declarations other than comments (<!DOCTYPE, <![CDATA[, "<!'"), whole
# documents, SVG and MathML (feedparser keeps them), and elements libxml2 reads as raw text
# when they have content (an <iframe> with markup inside).
_AMBIGUOUS_HTML = re.compile(
    r"<!(?!--)|<(?:html|head|body|title|svg|math)\b"
    r"|<(?:iframe|noembed|noframes|xmp|textarea|plaintext)\b[^>]*>(?!\s*</)",
    re.I,
)


class Declined(Exception):
    """This document is feedparser's to read; the message says which rule sent it there."""


def read_fast(body: bytes, url: str, content_type: str | None) -> RawFeed | Declined:
    """The feed read with lxml, or `Declined(reason)` when the rule above sends it to feedparser."""
    if not _utf8_only(body, content_type):
        return Declined("not UTF-8 by every signal")
    try:
        root = etree.fromstring(body, _PARSER)
    except (etree.XMLSyntaxError, ValueError):
        return Declined("not well-formed XML")
    if root is None or root.getroottree().docinfo.doctype:
        return Declined("has a DOCTYPE")
    try:
        return _read(root, url)
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


def _read(root: Any, url: str) -> RawFeed:
    key = _key(root)
    atom = key == "feed" and etree.QName(root).namespace in (_ATOM, _ATOM03)
    if key not in ("rss", "rdf_rdf") and not atom:
        raise Declined(f"root element {key}")
    head = next((el for el in root if isinstance(el.tag, str) and _key(el) == "channel"), root)
    # Every element feedparser treats as an item, wherever it is ({*} includes no namespace).
    items = [el for el in root.iter("{*}item", "{*}entry") if _key(el) in ("item", "entry")]
    if any(item.getparent() not in (root, head) for item in items):
        raise Declined("items outside the expected place, or nested")
    feed_base = _base(root, url)
    lang = _lang_attr(root)
    language = lang or _child_text(head, ("language", "dc_language"))
    # xml:base and xml:lang in force at each distinct parent (the channel, usually just one).
    context = {}
    for parent in {id(i.getparent()): i.getparent() for i in items}.values():
        base: str | None = url
        for el in reversed([parent, *parent.iterancestors()]):
            base = _base(el, base)
        context[id(parent)] = (base, _lang_at(parent))
    entries = [_entry(item, *context[id(item.getparent())], atom) for item in items]
    title = next((el for el in head if _key(el) == "title"), None)
    return RawFeed(
        entries,
        "fast",
        title=(_fix(_text(title)) or None) if title is not None else None,
        link=_feed_link(head, feed_base),
        language=language,
    )


def _entry(item: Any, parent_base: str | None, parent_lang: str | None, atom: bool) -> RawEntry:
    """One item, child by child in document order, as feedparser's handlers would see it."""
    base = _base(item, parent_base)
    item_lang = _lang_attr(item, parent_lang)
    f: dict[str, Any] = {"title": None, "link": None, "id": None, "summary": None}
    contents: list[tuple[str, bool]] = []
    authors: list[str] = []
    langs: list[str | None] = []
    published = updated = None
    language = None
    title_locked = has_content = False
    if item.get(f"{{{_RDF}}}about"):
        f["id"] = item.get(f"{{{_RDF}}}about")
    for el in item:
        if not isinstance(el.tag, str):
            continue
        key = _key(el)
        if el.attrib:
            at, here, lang = _attrs(el), _base(el, base), _lang_attr(el, item_lang)
        else:
            at, here, lang = {}, base, item_lang
        if key in ("title", "dc_title"):
            if not title_locked:
                value, is_html = _value(el, at, "text/plain", here, atom)
                f["title"], f["title_html"] = value, is_html
                title_locked = bool(value)
                langs.insert(0, lang)
        elif key == "link":
            _leaf(el)
            href = at.get("url", at.get("uri", at.get("href")))
            rel = at.get("rel", "alternate")
            kind = _map_type(
                at.get("type", "application/atom+xml" if rel == "self" else "text/html")
            )
            if href:
                if rel == "alternate" and kind in _HTML_TYPES:
                    f["link"] = _urljoin(here or "", href)
            else:
                text = _fix(_text(el))
                text = _urljoin(here or "", text) if text else text
                f["link"] = re.sub("&([A-Za-z0-9_]+);", r"&\g<1>", text.replace("&amp;", "&"))
        elif key in ("id", "guid"):
            _leaf(el)
            is_link = at.get("ispermalink", "true") == "true"
            value = _fix(_text(el))
            f["id"] = _urljoin(here or "", value) if is_link and value else value
            if is_link and f["link"] is None:
                f["link"] = f["id"]
        elif key in ("description", "summary", "dc_description", "itunes_summary"):
            default = "text/html" if "description" in key else "text/plain"
            if f["summary"] is not None and not has_content:
                contents.append(_value(el, at, "text/plain", here, atom))
                has_content = True
            else:
                f["summary"], f["summary_html"] = _value(el, at, default, here, atom)
                langs.append(lang)
        elif key in _CONTENT:
            default = _CONTENT[key]
            if _map_type(at.get("type", default)) not in _TEXT_TYPES or at.get("src"):
                raise Declined("content of a binary type or by reference")
            contents.append(_value(el, at, default, here, atom))
            has_content = has_content or key not in ("body", "xhtml_body")
            langs.append(lang)
            if f["summary"] is None:
                f["summary"], f["summary_html"] = contents[-1][0], True
        elif key in _PUBLISHED:
            _leaf(el)
            published = parse_date(_fix(_text(el)))
        elif key in _UPDATED:
            _leaf(el)
            updated = parse_date(_fix(_text(el)))
        elif key in _AUTHOR:
            authors.extend(_author(el))
        elif key in ("language", "dc_language"):
            _leaf(el)
            language = _fix(_text(el))
        elif key == "image":
            _leaf(el)
            title_locked = False  # feedparser's <image> resets which title counts
        elif key == "source":
            title_locked = False  # so does <source>; what is inside goes to entry["source"]
        elif not _inert(el):
            raise Declined(f"item element {key}")
    return RawEntry(
        id=f["id"] or None,
        link=f["link"] or None,
        title=f["title"] or "",
        title_html=bool(f.get("title_html")),
        summary=f["summary"] or "",
        summary_html=f.get("summary_html", True),
        contents=tuple(contents),
        published=published,
        updated=updated,
        authors=tuple(authors),
        language=language or next((x for x in langs if x), None),
    )


def _value(
    el: Any, at: dict[str, str], default: str, base: str | None, atom: bool
) -> tuple[str, bool]:
    """A text construct's value and whether it is HTML (then sanitised, as feedparser does)."""
    kind = _map_type(at.get("type", default))
    if kind == "application/xhtml+xml":
        return sanitize_html(_fix(xhtml_inner(el).strip()), base), True
    _leaf(el)
    value = _fix(_text(el))
    if at.get("mode") not in (None, "escaped", "xml") or kind not in _TEXT_TYPES:
        raise Declined(f"{_key(el)} of type {kind}")  # Atom 0.3 modes, base64
    if not atom and kind == "text/plain" and StrictFeedParser.looks_like_html(value):
        kind = "text/html"
    if kind == "text/html":
        if _AMBIGUOUS_HTML.search(value):
            raise Declined("HTML that feedparser's sanitiser reads its own way")
        return sanitize_html(value, base), True
    return value, False


def _author(el: Any) -> list[str]:
    """A person as feedparser names it: Atom's name (else email), or RSS's "mail (Name)"."""
    parts = {}
    for child in el:
        if not isinstance(child.tag, str):
            continue
        if _key(child) in _PERSON_PARTS:
            _leaf(child)
            parts[_key(child)] = _fix(_text(child))
        elif not _inert(child):
            raise Declined(f"author element {_key(child)}")
    if len(el):
        name = parts.get("name") or parts.get("email")
        return [name] if name else []
    author = _fix(_text(el))
    found = _EMAIL.search(author)
    if not found:
        return [author] if author else []
    email = found.group(0)
    author = author.replace(email, "").replace("()", "").replace("<>", "")
    author = author.replace("&lt;&gt;", "").strip()
    if author.startswith("("):
        author = author[1:]
    if author.endswith(")"):
        author = author[:-1]
    return [author.strip() or email]


def _inert(el: Any) -> bool:
    """True when feedparser reads nothing from `el` (or below) into Entry's fields."""
    key = _key(el)
    if key == "contributor":
        return all(_key(c) in _PERSON_PARTS and not len(c) for c in el if isinstance(c.tag, str))
    if key not in _INERT and _has_handler(key):
        return False
    return all(_inert(child) for child in el if isinstance(child.tag, str))


@functools.cache
def _has_handler(key: str) -> bool:
    return hasattr(StrictFeedParser, "_start_" + key) or hasattr(StrictFeedParser, "_end_" + key)


def _key(el: Any) -> str:
    """feedparser's handler name for an element: `dc_creator`, `content_encoded`, `title`…"""
    cache_key = (el.tag, el.prefix)
    key = _KEYS.get(cache_key)
    if key is None:
        qname = etree.QName(el)
        local = qname.localname.lower()
        ns = (qname.namespace or "").lower()
        prefix = "" if "backend.userland.com/rss" in ns else _NS_PREFIX.get(ns)
        if prefix is None:
            prefix = (el.prefix or "").lower() if qname.namespace else ""
        key = _KEYS[cache_key] = f"{prefix}_{local}" if prefix else local
    return key


_KEYS: dict[tuple[str, str | None], str] = {}


def _attrs(el: Any) -> dict[str, str]:
    out = {}
    for name, value in el.attrib.items():
        local = etree.QName(name).localname.lower()
        out[local] = value.lower() if local in ("rel", "type") else value
    return out


def _base(el: Any, parent_base: str | None) -> str | None:
    """xml:base (or a bare `base` attribute) applied as feedparser applies it."""
    given = el.get(_XML + "base") or el.get("base")
    if not given:
        return parent_base
    if parent_base:
        return make_safe_absolute_uri(parent_base, given) or parent_base
    return str(_urljoin(parent_base, given))


def _lang_attr(el: Any, inherited: str | None = None) -> str | None:
    """The element's own xml:lang (an explicit empty one means none), else `inherited`."""
    value = el.get(_XML + "lang", el.get("lang"))
    if value is None:
        return inherited
    return value.replace("_", "-") or None


def _lang_at(el: Any) -> str | None:
    """The xml:lang in force at `el`; an explicit empty one resets it."""
    while el is not None:
        value = el.get(_XML + "lang", el.get("lang"))
        if value is not None:
            return value.replace("_", "-") or None
        el = el.getparent()
    return None


def _feed_link(head: Any, base: str | None) -> str | None:
    link = None
    for el in head:
        if isinstance(el.tag, str) and _key(el) == "link":
            href = el.get("href")
            if href and el.get("rel", "alternate") == "alternate":
                link = _urljoin(base or "", href)
            elif not href and el.text:
                link = _urljoin(base or "", el.text.strip())
    return link


def _child_text(head: Any, keys: tuple[str, ...]) -> str | None:
    for el in head:
        if isinstance(el.tag, str) and _key(el) in keys and el.text and el.text.strip():
            return str(el.text.strip())
    return None


def _leaf(el: Any) -> None:
    """Markup nested in a text element is feedparser's to interpret."""
    if len(el):
        raise Declined(f"markup inside {_key(el)}")


def _text(el: Any) -> str:
    return "".join(el.itertext()).strip() if len(el) else (el.text or "").strip()


def _fix(value: str) -> str:
    """feedparser's repairs of every UTF-8 value: text that was UTF-8 read as Latin-1 is
    decoded again, and C1 controls become the windows-1252 characters they meant."""
    if value.isascii():
        return value
    with contextlib.suppress(UnicodeEncodeError, UnicodeDecodeError):
        value = value.encode("iso-8859-1").decode("utf-8")
    return value.translate(_cp1252) if _C1.search(value) else value


_C1 = re.compile("[\x80-\x9f]")


def _map_type(value: str) -> str:
    return str(StrictFeedParser.map_content_type(value))
