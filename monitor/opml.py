"""opml: a feed reader's subscription list (OPML) in and out: categories become tags.

Reading takes what Miniflux, FreshRSS, Feedly, Inoreader, NetNewsWire and the like export:
outlines with an `xmlUrl` are feeds, wherever they sit; the text of every outline above a feed
(its category, and a category's parents) and its OPML 2.0 `category` attribute (`/a/b,/c`)
become its tags. The file is untrusted XML and gets the feed reader's defences (no entities,
no DTD, no network, no huge trees, no DOCTYPE).

Writing gives OPML 2.0 those readers import: `<head>` with a title and an RFC 822
`dateCreated`, one category outline per first tag (readers take one level of categories), and
per feed `type="rss"`, `text`, `title`, `xmlUrl`, `htmlUrl` when known, and `category` with
every tag, so that reading the file back gives the same feeds with the same tags.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from email.utils import format_datetime
from typing import Any

from lxml import etree

from monitor.errors import OpmlError

_PARSER = etree.XMLParser(
    resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False, remove_pis=True
)
TAG_MAX = 64


@dataclass(frozen=True, slots=True)
class Subscription:
    """One feed of an OPML list."""

    url: str
    title: str | None
    site: str | None
    tags: tuple[str, ...]


def tag_of(text: str) -> str | None:
    """A category's text as a tag: commas and slashes (which OPML's `category` uses as
    separators) become spaces, runs of space one, at most 64 characters."""
    cleaned = re.sub(r"\s+", " ", re.sub(r"[,/]", " ", text)).strip()[:TAG_MAX].strip()
    return cleaned or None


def read_opml(data: bytes) -> list[Subscription]:
    """Every feed outline of an OPML file, in document order, each URL once."""
    if b"<!DOCTYPE" in data[:2048].upper():
        raise OpmlError("refused: an OPML file with a DOCTYPE (entity declarations are not read)")
    try:
        root = etree.fromstring(data, _PARSER)
    except (etree.XMLSyntaxError, ValueError) as exc:
        raise OpmlError(f"not an OPML file: broken XML ({exc})") from None
    if root is None or etree.QName(root).localname.lower() != "opml":
        raise OpmlError("not an OPML file: the root element is not <opml>")
    if root.getroottree().docinfo.doctype:
        raise OpmlError("refused: an OPML file with a DOCTYPE (entity declarations are not read)")
    body = next((el for el in root if _name(el) == "body"), None)
    if body is None:
        raise OpmlError("not an OPML file: it has no <body>")
    found: dict[str, Subscription] = {}
    _walk(body, (), found)
    return list(found.values())


def _name(el: Any) -> str:
    return etree.QName(el).localname.lower() if isinstance(el.tag, str) else ""


def _attr(el: Any, name: str) -> str | None:
    """An attribute by name in any case (readers write xmlUrl, xmlurl, XMLURL), stripped."""
    for key, value in el.attrib.items():
        if etree.QName(key).localname.lower() == name.lower():
            return str(value).strip() or None
    return None


def _walk(parent: Any, above: tuple[str, ...], found: dict[str, Subscription]) -> None:
    for el in parent:
        if _name(el) != "outline":
            continue
        url = _attr(el, "xmlUrl")
        label = _attr(el, "title") or _attr(el, "text")
        if url is None:  # a category (or a folder of them)
            tag = tag_of(label or "")
            _walk(el, (*above, tag) if tag else above, found)
            continue
        if not re.match(r"^https?://\S+$", url, re.I) or url in found:
            continue
        categories = [
            tag_of(part.rsplit("/", 1)[-1])
            for part in (_attr(el, "category") or "").split(",")
            if part.strip()
        ]
        tags = tuple(dict.fromkeys(t for t in (*above, *categories) if t))
        site = _attr(el, "htmlUrl")
        found[url] = Subscription(
            url,
            label,
            site if site and re.match(r"^https?://\S+$", site, re.I) else None,
            tags,
        )


def write_opml(subscriptions: Sequence[Subscription], now: datetime, title: str) -> bytes:
    """OPML 2.0 of these feeds, grouped by their first tag (untagged ones at the top)."""
    root = etree.Element("opml", version="2.0")
    head = etree.SubElement(root, "head")
    etree.SubElement(head, "title").text = title
    etree.SubElement(head, "dateCreated").text = format_datetime(now, usegmt=True)
    body = etree.SubElement(root, "body")
    groups: dict[str, Any] = {}
    for sub in subscriptions:
        parent = body
        if sub.tags:
            parent = groups.get(sub.tags[0])
            if parent is None:
                parent = groups[sub.tags[0]] = etree.SubElement(
                    body, "outline", text=sub.tags[0], title=sub.tags[0]
                )
        name = sub.title or sub.url
        outline = etree.SubElement(parent, "outline", type="rss", text=name, title=name)
        outline.set("xmlUrl", sub.url)
        if sub.site:
            outline.set("htmlUrl", sub.site)
        if sub.tags:
            outline.set("category", ",".join(f"/{t}" for t in sub.tags))
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True))
