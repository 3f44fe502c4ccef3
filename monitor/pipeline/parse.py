"""parse: bytes of a feed → ParsedFeed. No network, no database. (temporary minimal version)"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

import feedparser

from monitor.model import Entry, ParsedFeed


def parse_feed(
    body: bytes, url: str, content_type: str | None = None, *, now: datetime | None = None
) -> ParsedFeed:
    headers = {"content-type": content_type} if content_type else {}
    result = feedparser.parse(body, response_headers=headers)
    entries = []
    for e in result.entries:
        link = e.get("link")
        guid = e.get("id") or link or hashlib.sha1(e.get("title", "").encode()).hexdigest()
        content = e.get("content", [{}])[0].get("value", "") if e.get("content") else ""
        published = None
        if e.get("published_parsed"):
            published = datetime(*e.published_parsed[:6]).replace(tzinfo=UTC)
        entries.append(
            Entry(
                guid=guid,
                url=link,
                title=e.get("title", ""),
                summary=e.get("summary", ""),
                content=content,
                published=published,
            )
        )
    error = str(result.get("bozo_exception")) if result.get("bozo") else None
    return ParsedFeed(tuple(entries), error=error)
