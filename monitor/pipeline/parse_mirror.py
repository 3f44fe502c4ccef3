"""parse_mirror: how feedparser 6.0 reads one XML element, for the fast path to read it the same.

Handler names (`dc_creator`, `content_encoded`), attributes, xml:base and xml:lang, the repairs
it applies to every UTF-8 value, people, and which elements it reads into nothing `Entry` has.
Anything these cannot mirror raises `Declined`, and the whole document goes to feedparser.
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

_NS_PREFIX: dict[str, str] = {k.lower(): v for k, v in StrictFeedParser.namespaces.items()}
_XML = "{http://www.w3.org/XML/1998/namespace}"
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
_EMAIL = re.compile(
    r"(([a-zA-Z0-9\_\-\.\+]+)@((\[[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\.)|(([a-zA-Z0-9\-]+\.)+))"
    r"([a-zA-Z]{2,4}|[0-9]{1,3})(\]?))(\?subject=\S+)?"
)
# No white space (urllib drops some), no `;` params, empty query or empty fragment (urllib
# drops those), a plain ASCII host: `urljoin` returns such a URL as it is, whatever the base.
_PLAIN_URL = re.compile(
    r"https?://[A-Za-z0-9.-]+(?::[0-9]+)?(?:/[^\s?#;]*)?(?:\?[^\s#]+)?(?:#\S+)?\Z", re.ASCII
)
_C1 = re.compile("[\x80-\x9f]")
_KEYS: dict[tuple[str, str | None], str] = {}


class Declined(Exception):
    """This document is feedparser's to read; the message says which rule sent it there."""


def key(el: Any) -> str:
    """feedparser's handler name for an element: `dc_creator`, `content_encoded`, `title`…"""
    cache_key = (el.tag, el.prefix)
    found = _KEYS.get(cache_key)
    if found is None:
        qname = etree.QName(el)
        local = qname.localname.lower()
        ns = (qname.namespace or "").lower()
        prefix = "" if "backend.userland.com/rss" in ns else _NS_PREFIX.get(ns)
        if prefix is None:
            prefix = (el.prefix or "").lower() if qname.namespace else ""
        found = _KEYS[cache_key] = f"{prefix}_{local}" if prefix else local
    return found


def attrs(el: Any) -> dict[str, str]:
    """Attributes by local name, `rel` and `type` lowercased, as feedparser sees them."""
    out = {}
    for name, value in el.attrib.items():
        local = (name if name[0] != "{" else name[name.index("}") + 1 :]).lower()
        out[local] = value.lower() if local in ("rel", "type") else value
    return out


def base(el: Any, parent_base: str | None) -> str | None:
    """xml:base (or a bare `base` attribute) applied as feedparser applies it."""
    given = el.get(_XML + "base") or el.get("base")
    if not given:
        return parent_base
    if parent_base:
        return make_safe_absolute_uri(parent_base, given) or parent_base
    return str(_urljoin(parent_base, given))


def join(base: str | None, href: str) -> str:
    """A URL joined to the xml:base in force, as feedparser joins it. An absolute http(s) URL
    that urllib's parse and unparse give back unchanged is returned at once (most of them)."""
    if _PLAIN_URL.match(href):
        return href
    return str(_urljoin(base or "", href))


def lang_attr(el: Any, inherited: str | None = None) -> str | None:
    """The element's own xml:lang (an explicit empty one means none), else `inherited`."""
    value = el.get(_XML + "lang", el.get("lang"))
    if value is None:
        return inherited
    return str(value).replace("_", "-") or None


def lang_at(el: Any) -> str | None:
    """The xml:lang in force at `el`; an explicit empty one resets it."""
    while el is not None:
        value = el.get(_XML + "lang", el.get("lang"))
        if value is not None:
            return str(value).replace("_", "-") or None
        el = el.getparent()
    return None


def leaf(el: Any) -> None:
    """Markup nested in a text element is feedparser's to interpret."""
    if len(el):
        raise Declined(f"markup inside {key(el)}")


def text(el: Any) -> str:
    return "".join(el.itertext()).strip() if len(el) else (el.text or "").strip()


def fix(value: str) -> str:
    """feedparser's repairs of every UTF-8 value: text that was UTF-8 read as Latin-1 is
    decoded again, and C1 controls become the windows-1252 characters they meant."""
    if value.isascii():
        return value
    with contextlib.suppress(UnicodeEncodeError, UnicodeDecodeError):
        value = value.encode("iso-8859-1").decode("utf-8")
    return value.translate(_cp1252) if _C1.search(value) else value


def feed_link(head: Any, feed_base: str | None) -> str | None:
    """The feed's own link: the last alternate `<link href>` or `<link>` text of the channel."""
    link = None
    for el in head:
        if isinstance(el.tag, str) and key(el) == "link":
            href = el.get("href")
            if href and el.get("rel", "alternate") == "alternate":
                link = join(feed_base, href)
            elif not href and el.text:
                link = join(feed_base, el.text.strip())
    return link


def child_text(head: Any, keys: tuple[str, ...]) -> str | None:
    """The text of the first child with one of these handler names that has any."""
    for el in head:
        if isinstance(el.tag, str) and key(el) in keys and el.text and el.text.strip():
            return str(el.text.strip())
    return None


def map_type(value: str) -> str:
    return str(StrictFeedParser.map_content_type(value))


def check_person(el: Any) -> None:
    """Declines a person element with parts `person` cannot mirror."""
    for child in el:
        if not isinstance(child.tag, str):
            continue
        if key(child) in _PERSON_PARTS:
            leaf(child)
        elif not inert(child):
            raise Declined(f"author element {key(child)}")


def person(el: Any) -> list[str]:
    """A person as feedparser names it: Atom's name (else email), or RSS's "mail (Name)".
    `check_person(el)` must have passed."""
    if len(el):
        parts = {
            key(c): fix(text(c)) for c in el if isinstance(c.tag, str) and key(c) in _PERSON_PARTS
        }
        name = parts.get("name") or parts.get("email")
        return [name] if name else []
    author = fix(text(el))
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


def inert(el: Any) -> bool:
    """True when feedparser reads nothing from `el` (or below) into Entry's fields."""
    name = key(el)
    if not len(el):
        return name in _INERT or not _has_handler(name)
    if name == "contributor":
        return all(key(c) in _PERSON_PARTS and not len(c) for c in el if isinstance(c.tag, str))
    if name not in _INERT and _has_handler(name):
        return False
    return all(inert(child) for child in el if isinstance(child.tag, str))


@functools.cache
def _has_handler(name: str) -> bool:
    return hasattr(StrictFeedParser, "_start_" + name) or hasattr(StrictFeedParser, "_end_" + name)
