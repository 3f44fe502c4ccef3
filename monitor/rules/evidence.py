"""evidence: the occurrences that proved a rule → `Hit`s on the original text, and a snippet.

Hits point into the article's original field strings (not the folded ones), so the CLI and alerts
can highlight exactly what the writer wrote. The snippet is about 200 characters of the field with
the densest cluster of hits, preferring the body, then the title, cut at word boundaries.
"""

from __future__ import annotations

import bisect
import functools
import re
from collections.abc import Sequence
from typing import Protocol

from monitor.model import Hit
from monitor.rules.evaluate import Occurrence
from monitor.rules.lexer import FIELDS

SNIPPET_CHARS = 200
_PREFERENCE = ("text", "title", "summary")
_SPACES = re.compile(r"\s+")


class Spans(Protocol):
    def original_span(self, occurrence: Occurrence) -> tuple[int, int]: ...


def hits(scan: Spans, occurrences: Sequence[Occurrence], labels: Sequence[str]) -> tuple[Hit, ...]:
    """Distinct hits, ordered by field (title, summary, text, …), then position, then term."""
    # Plain tuples led by the field's index sort in that order without a key function.
    found = set()
    for occurrence in occurrences:
        start, end = scan.original_span(occurrence)
        found.add((occurrence[2], start, end, labels[occurrence[3]]))
    return tuple(Hit(term, FIELDS[field], start, end) for field, start, end, term in sorted(found))


def snippet(values: Sequence[str], found: Sequence[Hit], width: int = SNIPPET_CHARS) -> str:
    """About `width` characters around the strongest hit, whitespace collapsed, "…" where cut."""
    present = {h.field for h in found}
    name = next((n for n in _PREFERENCE if n in present), None)
    if name is None:
        text = values[FIELDS.index("text")] or values[FIELDS.index("title")]
        return cut(text, 0, 0, width)
    field_hits = [h for h in found if h.field == name]
    if len(field_hits) == 1:
        best = field_hits[0]
    else:
        starts = [h.start for h in field_hits]  # sorted: hits come ordered by position
        # The hit with the most others starting within half a snippet after it; the first on ties.
        dense = [bisect.bisect_right(starts, s + width // 2) - i for i, s in enumerate(starts)]
        best = field_hits[dense.index(max(dense))]
    return cut(values[FIELDS.index(name)], best.start, best.end, width)


@functools.lru_cache(maxsize=256)  # rules matching one article often share their strongest hit
def cut(text: str, start: int, end: int, width: int = SNIPPET_CHARS) -> str:
    """About `width` characters of `text` centred on [start, end), cut at word boundaries."""
    a, b = window(text, start, end, width)
    body = " ".join(text[a:b].split())  # the same as collapsing \s+ and stripping, but cheaper
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
        find = text.rfind  # the four spaces spelled out: no generator for a hot path
        last = max(
            find(" ", end, b), find("\n", end, b), find("\t", end, b), find("\u00a0", end, b)
        )
        if last >= 0:
            b = last
    return a, b
