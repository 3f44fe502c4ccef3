"""evidence: the occurrences that proved a rule → `Hit`s on the original text, and a snippet.

Hits point into the article's original field strings (not the folded ones), so the CLI and alerts
can highlight exactly what the writer wrote. The snippet is about 200 characters of the field with
the densest cluster of hits, preferring the body, then the title, cut at word boundaries.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Protocol

from monitor.model import Hit
from monitor.rules.evaluate import Occurrence
from monitor.rules.lexer import FIELDS

SNIPPET_CHARS = 200
_PREFERENCE = ("text", "title", "summary", "source", "url", "lang")
_SPACES = re.compile(r"\s+")


class Spans(Protocol):
    def original_span(self, occurrence: Occurrence) -> tuple[int, int]: ...


def hits(scan: Spans, occurrences: Sequence[Occurrence], labels: Sequence[str]) -> tuple[Hit, ...]:
    """Distinct hits, ordered by field (title, summary, text, …), then position, then term."""
    found = set()
    for occurrence in occurrences:
        start, end = scan.original_span(occurrence)
        found.add(Hit(labels[occurrence[3]], FIELDS[occurrence[2]], start, end))
    order = {name: i for i, name in enumerate(FIELDS)}
    return tuple(sorted(found, key=lambda h: (order[h.field], h.start, h.end, h.term)))


def snippet(values: Sequence[str], found: Sequence[Hit], width: int = SNIPPET_CHARS) -> str:
    """About `width` characters around the strongest hit, whitespace collapsed, "…" where cut."""
    by_field = {name: [h for h in found if h.field == name] for name in FIELDS}
    name = next((n for n in _PREFERENCE if by_field[n] and n in ("text", "title", "summary")), None)
    if name is None:
        text = values[FIELDS.index("text")] or values[FIELDS.index("title")]
        return cut(text, 0, 0, width)
    field_hits = by_field[name]
    text = values[FIELDS.index(name)]
    best = max(
        field_hits,
        key=lambda h: (
            sum(1 for o in field_hits if abs(o.start - h.start) <= width // 2),
            -h.start,
        ),
    )
    return cut(text, best.start, best.end, width)


def cut(text: str, start: int, end: int, width: int = SNIPPET_CHARS) -> str:
    """About `width` characters of `text` centred on [start, end), cut at word boundaries."""
    a, b = window(text, start, end, width)
    body = _SPACES.sub(" ", text[a:b]).strip()
    return ("…" if a > 0 else "") + body + ("…" if b < len(text) else "")


def window(text: str, start: int, end: int, width: int = SNIPPET_CHARS) -> tuple[int, int]:
    """The bounds of about `width` characters of `text` around [start, end), at word boundaries."""
    if len(text) <= width:
        return 0, len(text)
    middle = (start + end) // 2
    a = max(0, min(middle - width // 2, len(text) - width))
    b = min(len(text), a + width)
    if a > 0:
        space = _SPACES.search(text, a)
        if space is not None and space.end() <= start:
            a = space.end()
    if b < len(text):
        last = max((m.start() for m in _SPACES.finditer(text, end, b)), default=None)
        if last is not None:
            b = last
    return a, b
