"""evidence: the occurrences that proved a rule → `Hit`s on the original text, and a snippet.

Hits point into the article's original field strings (not the folded ones), so the CLI and alerts
can highlight exactly what the writer wrote. The snippet is about 200 characters of the field with
the densest cluster of hits, preferring the body, then the title, cut at word boundaries. A hit
of a place's variant key names the spelling found: "@cities: Telafar ≈ Tal Afar".
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterable, Sequence
from typing import Protocol

from monitor.model import Hit
from monitor.rules.evaluate import Occurrence
from monitor.rules.lexer import FIELDS

SNIPPET_CHARS = 200
_TITLE, _SUMMARY, _TEXT = (FIELDS.index(name) for name in ("title", "summary", "text"))
_PREFERENCE = (_TEXT, _TITLE, _SUMMARY)
_Key = tuple[int, int, int, str]  # field, start, end (in the original field), term: a hit
_SPACES = re.compile(r"\s+")


class Spans(Protocol):
    def original_span(self, occurrence: Occurrence) -> tuple[int, int]: ...


class Evidence:
    """One article's hits and snippets, for every rule it matches.

    Rules that match one article prove themselves with many of the same occurrences (a place, an
    event word), so each occurrence's original span and its `Hit` are worked out once per article
    and shared (a `Hit` is frozen, so sharing one object is safe).
    """

    __slots__ = ("_hits", "_keys", "_labels", "_snippets", "_span", "_values", "_variants")

    def __init__(
        self,
        scan: Spans,
        values: Sequence[str],
        labels: Sequence[str],
        variants: frozenset[int] = frozenset(),
    ) -> None:
        self._span = scan.original_span
        self._values = values
        self._labels = labels
        self._variants = variants  # labels of variant keys, "@group: ≈ Place"
        self._keys: dict[Occurrence, _Key] = {}
        self._hits: dict[_Key, Hit] = {}
        self._snippets: dict[_Key, str] = {}  # by the hit each is centred on

    def of(self, occurrences: Iterable[Occurrence]) -> tuple[tuple[Hit, ...], str]:
        """(hits, snippet) of a rule proved by `occurrences`: its distinct hits ordered by field
        (title, summary, text, …), then position, then term, and about `SNIPPET_CHARS` around
        the strongest of them."""
        keys = self._keys
        found = set()
        for occurrence in occurrences:
            key = keys.get(occurrence)
            if key is None:
                start, end = self._span(occurrence)
                term = self._labels[occurrence[3]]
                if occurrence[3] in self._variants:
                    spelled = " ".join(self._values[occurrence[2]][start:end].split())
                    term = term.replace(": ≈ ", f": {spelled} ≈ ", 1)
                key = keys[occurrence] = (occurrence[2], start, end, term)
                self._hits[key] = Hit(key[3], FIELDS[key[0]], start, end)
            found.add(key)
        # Plain tuples led by the field's index sort in that order without a key function.
        ordered = sorted(found)
        return tuple(map(self._hits.__getitem__, ordered)), self._snippet(ordered)

    def _snippet(self, ordered: list[_Key]) -> str:
        """About `SNIPPET_CHARS` around the strongest hit, whitespace collapsed, "…" where cut."""
        present = {key[0] for key in ordered}
        field = next((f for f in _PREFERENCE if f in present), None)
        values = self._values
        if field is None:
            return cut(values[_TEXT] or values[_TITLE], 0, 0)
        field_hits = [key for key in ordered if key[0] == field]
        best = field_hits[0]
        if len(field_hits) > 1:
            starts = [key[1] for key in field_hits]  # sorted: hits come ordered by position
            # The hit with the most others starting within half a snippet after it; the first on
            # ties.
            half = SNIPPET_CHARS // 2
            dense = [bisect.bisect_right(starts, s + half) - i for i, s in enumerate(starts)]
            best = field_hits[dense.index(max(dense))]
        # Rules matching one article often share their strongest hit; a cache per article, since
        # across articles (an LRU cache of them all) it misses four times in five.
        snippet = self._snippets.get(best)
        if snippet is None:
            snippet = self._snippets[best] = cut(values[field], best[1], best[2])
        return snippet


def cut(text: str, start: int, end: int, width: int = SNIPPET_CHARS) -> str:
    """About `width` characters of `text` centred on [start, end), cut at word boundaries."""
    a, b = window(text, start, end, width)
    body = text[a:b]
    # Space is the only whitespace character that is printable, so a printable piece with no
    # double space and none at either end is already collapsed: the usual case, checked in C
    # without making a string per word as split and join do.
    if not body.isprintable() or "  " in body or body[:1] == " " or body[-1:] == " ":
        body = " ".join(body.split())  # the same as collapsing \s+ and stripping, but cheaper
    return f"{'…' if a > 0 else ''}{body}{'…' if b < len(text) else ''}"  # one string made


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
