"""parse_json: a JSON Feed 1.0/1.1 body → RawFeed (https://jsonfeed.org/version/1.1).

feedparser has no JSON reader, so this is the reference for JSON Feed. Each item's id, link and
title are read at once; its bodies are sanitised and its dates and authors read in `finish()`.
"""

from __future__ import annotations

import html
import html.entities
import json
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from monitor.pipeline.parse_raw import (
    RawEntry,
    RawFeed,
    RawItem,
    describe,
    fingerprint_of,
    parse_date,
    resolve_link,
)
from monitor.pipeline.sanitize import sanitize_html


@dataclass(frozen=True, slots=True)
class JsonItem:
    """One item of a JSON Feed; see `parse_raw.RawItem`."""

    id: str | None
    titled: bool
    doc: dict[str, Any]  # the item's own object
    url: str  # where the feed came from
    base: str  # what relative URLs in its HTML are resolved against
    feed_authors: tuple[str, ...]
    language: str | None

    def link(self) -> str | None:
        item = self.doc
        return resolve_link(_str(item.get("url")) or _str(item.get("external_url")), self.url)

    def fingerprint(self) -> str:
        item = self.doc
        return fingerprint_of(
            *(_str(item.get(k)) for k in ("title", "summary", "content_html", "content_text"))
        )

    def finish(self) -> RawEntry:
        item = self.doc
        summary = html.escape(_str(item.get("summary")), quote=False)
        content_html = _str(item.get("content_html"))
        if content_html:
            content = sanitize_html(content_html, self.base)
        else:
            content = html.escape(_str(item.get("content_text")), quote=False)
        return RawEntry(
            title=_references(_str(item.get("title"))),
            title_html=False,
            summary=summary or content,  # as feedparser does for RSS: no summary → content
            summary_html=True,
            contents=((content, True),) if content else (),
            published=parse_date(_str(item.get("date_published"))),
            updated=parse_date(_str(item.get("date_modified"))),
            authors=_authors(item) or self.feed_authors,
            language=_clean(item.get("language")) or self.language,
        )


def item_date(item: JsonItem) -> datetime | None:
    """The item's published date, else its modified one (which items `parse_limit` keeps)."""
    doc = item.doc
    return parse_date(_str(doc.get("date_published"))) or parse_date(_str(doc.get("date_modified")))


# A character reference with its semicolon: "&amp;", "&#8217;", "&#x2019;".
_REFERENCE = re.compile(r"&(?:#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});")


def _references(title: str) -> str:
    """A JSON Feed title is plain text, yet publishers often escape it as HTML ("R&amp;D"):
    complete references are decoded, as they would be in an RSS title; a bare "&" ("AT&T",
    "this&nothing") stays as written, where `html.unescape` would read legacy entities."""
    if "&" not in title:
        return title

    def decoded(m: re.Match[str]) -> str:
        ref = m.group(0)
        known = ref[1] == "#" or ref[1:] in html.entities.html5  # "&copyright;" is not "©right;"
        return html.unescape(ref) if known else ref

    return _REFERENCE.sub(decoded, title)


def read_json_feed(body: bytes, url: str) -> RawFeed:
    """JSON Feed 1.0 and 1.1; anything else is "not a feed", with the reason."""
    try:
        doc = json.loads(body)
    except (ValueError, RecursionError) as exc:
        return RawFeed([], "json", error=f"not a feed: invalid JSON ({describe(exc)})")
    if not isinstance(doc, dict) or not isinstance(doc.get("items"), list):
        return RawFeed([], "json", error="not a feed: JSON without an `items` list")
    language = _clean(doc.get("language"))
    base = _str(doc.get("home_page_url")) or url
    feed_authors = _authors(doc)
    items: list[RawItem] = []
    for item in doc["items"]:
        if not isinstance(item, dict):
            continue
        raw_id = item.get("id")
        items.append(
            JsonItem(
                id=_clean(str(raw_id)) if isinstance(raw_id, str | int) else None,
                titled=bool(_str(item.get("title")).strip()),
                doc=item,
                url=url,
                base=base,
                feed_authors=feed_authors,
                language=language,
            )
        )
    version = _str(doc.get("version"))
    error = None if "jsonfeed.org" in version else "JSON without a jsonfeed.org `version`"
    return RawFeed(
        items,
        "json",
        title=_clean(doc.get("title")),
        link=_clean(doc.get("home_page_url")),
        language=language,
        error=error,
    )


def _authors(obj: dict[str, Any]) -> tuple[str, ...]:
    found = obj.get("authors")
    people = found if isinstance(found, list) else [obj.get("author")]  # 1.1, else 1.0
    names = (_str(p.get("name")) or _str(p.get("url")) for p in people if isinstance(p, dict))
    return tuple(n for n in names if n)


def _clean(value: object) -> str | None:
    return value.strip() or None if isinstance(value, str) else None


def _str(value: object) -> str:
    return value if isinstance(value, str) else ""
