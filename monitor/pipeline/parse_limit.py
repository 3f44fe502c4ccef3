"""parse_limit: at most `max_entries` items of one fetched feed go on, the newest. No I/O.

A feed of 100,000 items (16 MB) once took 134 s and 1.6 GB to ingest: every item is keyed,
looked up, read, matched and stored. A news feed carries tens of items; one that carries
thousands is an archive or an attack, and its newest items are the news. So the items a reader
found are cut to the newest `max_entries` (by published date, else updated; undated items come
after dated ones, in document order), kept in document order, and the number left out is told
to the caller, which records it in the feed's state.

feedparser, though, reads a whole document before any item can be left out (20 s for 100,000
items), so a body it is to read keeps `READ_FACTOR` × `max_entries` items at most
(`some_items`): its first ones, or its last ones when the dates of its first and last items say
it lists the oldest first. Items left out there are counted too. The cut is of bytes: a UTF-16
body is read whole.
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import datetime

from monitor.pipeline.parse_fast import FastItem, item_date
from monitor.pipeline.parse_json import JsonItem
from monitor.pipeline.parse_json import item_date as json_date
from monitor.pipeline.parse_raw import RawFeed, RawItem, ReadyItem, parse_date

DEFAULT_MAX_ENTRIES = 1000
READ_FACTOR = 2
# The start tag of an RSS item or an Atom entry, with any namespace prefix.
_ITEM_START = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?(?:item|entry)[\s/>]", re.IGNORECASE)


def some_items(body: bytes, max_items: int) -> tuple[bytes, int]:
    """`body` with `max_items` of its items at most, the first or, when its last item is dated
    later than its first, the last (feedparser reads the cut ends as it reads any broken feed);
    and how many items were cut."""
    starts = [found.start() for found in _ITEM_START.finditer(body)]
    if len(starts) <= max_items:
        return body, 0
    first, last = _date_at(body, starts[0]), _date_at(body, starts[-1])
    if first is not None and last is not None and last > first:  # oldest first
        return body[: starts[0]] + body[starts[-max_items] :], len(starts) - max_items
    return body[: starts[max_items]], len(starts) - max_items


_DATE = re.compile(
    rb"<(?:[A-Za-z_][\w.-]*:)?(?:pubDate|published|updated|date|issued|modified)(?:\s[^>]*)?>"
    rb"\s*([^<]{1,100}?)\s*<",
    re.IGNORECASE,
)


def _date_at(body: bytes, start: int) -> datetime | None:
    """The first date written in the item that starts at `start`."""
    found = _DATE.search(body, start, start + 8192)
    return parse_date(found.group(1).decode("latin-1")) if found else None


def newest(raw: RawFeed, max_entries: int) -> tuple[RawFeed, int]:
    """`raw` with at most `max_entries` items, the newest, and how many were left out (those its
    reader left unread included)."""
    count = len(raw.items)
    if count <= max_entries:
        return raw, raw.unread
    order = sorted(range(count), key=lambda i: _rank(raw.items[i], i))
    kept = sorted(order[:max_entries])
    hashes = [raw.item_hashes[i] for i in kept] if raw.item_hashes else None
    dropped = count - len(kept) + raw.unread
    return replace(raw, items=[raw.items[i] for i in kept], item_hashes=hashes), dropped


def _rank(item: RawItem, position: int) -> tuple[int, float, int]:
    """Sorts newest first: dated items by date, latest first; then undated ones; ties and
    undated items in document order."""
    when = _date(item)
    return (0, -when.timestamp(), position) if when is not None else (1, 0.0, position)


def _date(item: RawItem) -> datetime | None:
    try:
        if isinstance(item, FastItem):
            return item_date(item)
        if isinstance(item, JsonItem):
            return json_date(item)
        if isinstance(item, ReadyItem):
            return item.entry.published or item.entry.updated
    except (ValueError, OverflowError):  # a date no clock can hold: as if undated
        return None
    return None  # a reader this module does not know: document order
