"""explain: matches of an article → text for a terminal (hits highlighted) or JSON-ready dicts;
and a place's spellings as `monitor places NAME` prints them.

`monitor test` prints these; alerts carry the same hits and snippet. Highlighting works on the
original field text, so what is marked is exactly what the writer wrote.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from monitor.model import Article, Hit, RuleMatch, Severity
from monitor.rules.evidence import SNIPPET_CHARS, window
from monitor.rules.lexer import FIELDS
from monitor.rules.matcher import field_values
from monitor.rules.places import PlaceExpansion, place_problem

_BOLD_RED, _BOLD, _DIM, _RESET = "\x1b[1;31m", "\x1b[1m", "\x1b[2m", "\x1b[0m"
_SEVERITY_COLOUR = {
    Severity.LOW: "\x1b[36m",
    Severity.MEDIUM: "\x1b[33m",
    Severity.HIGH: "\x1b[31m",
    Severity.CRITICAL: "\x1b[1;41;97m",
}
_SPACES = re.compile(r"\s+")


def render(article: Article, matches: Sequence[RuleMatch], *, colour: bool = False) -> str:
    """One block per match: severity, watchlist/rule, then each field's passages with the hits
    marked (bold red with `colour`, else between ** **), then the list of hits."""
    if not matches:
        return "no rule matches"
    values = dict(zip(FIELDS, field_values(article), strict=True))
    blocks = []
    for match in matches:
        severity = match.severity.value.upper()
        if colour:
            severity = f"{_SEVERITY_COLOUR[match.severity]}{severity}{_RESET}"
        lines = [f"{severity} {match.watchlist} / {match.rule}"]
        for name in FIELDS:
            field_hits = [h for h in match.hits if h.field == name]
            for passage in _passages(values[name], field_hits, colour):
                lines.append(f"  {name}: {passage}")
        terms = sorted({h.term for h in match.hits})
        listed = ", ".join(f"{t} ×{sum(1 for h in match.hits if h.term == t)}" for t in terms)
        lines.append(f"  {_DIM if colour else ''}hits: {listed}{_RESET if colour else ''}")
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


def to_json(article: Article, matches: Sequence[RuleMatch]) -> list[dict[str, Any]]:
    """The matches as plain dicts (for `--json` and alerts), each hit with the text it covers."""
    values = dict(zip(FIELDS, field_values(article), strict=True))
    return [
        {
            "watchlist": m.watchlist,
            "rule": m.rule,
            "severity": m.severity.value,
            "snippet": m.snippet,
            "hits": [
                {
                    "term": h.term,
                    "field": h.field,
                    "start": h.start,
                    "end": h.end,
                    "text": values[h.field][h.start : h.end],
                }
                for h in m.hits
            ],
        }
        for m in matches
    ]


def _passages(text: str, hits: Sequence[Hit], colour: bool) -> list[str]:
    """Passages of about a snippet's length covering every hit, hits marked."""
    out = []
    pending = sorted(hits, key=lambda h: (h.start, h.end))
    while pending:
        first = pending[0]
        a, b = window(text, first.start, first.end, SNIPPET_CHARS)
        a = min(a, first.start)
        inside = [h for h in pending if h.start >= a and h.end <= max(b, first.end)]
        b = max(b, max(h.end for h in inside))
        pending = [h for h in pending if h not in inside]
        out.append(_mark(text, a, b, inside, colour))
    return out


def _mark(text: str, a: int, b: int, hits: Sequence[Hit], colour: bool) -> str:
    opening, closing = (_BOLD_RED, _RESET) if colour else ("**", "**")
    pieces = ["…" if a > 0 else ""]
    pos = a
    for hit in hits:
        if hit.start < pos:  # overlapping hits (a term inside a phrase): marked once
            continue
        pieces += [_flat(text[pos : hit.start]), opening, _flat(text[hit.start : hit.end]), closing]
        pos = hit.end
    pieces += [_flat(text[pos:b]), "…" if b < len(text) else ""]
    return "".join(pieces).strip()


def _flat(text: str) -> str:
    return _SPACES.sub(" ", text)


def render_place(expansion: PlaceExpansion) -> str:
    """What `monitor places NAME` prints: the place found and why, the other candidates, the
    variant keys, each spelling kept, each dropped and why."""
    r = expansion.resolution
    problem = place_problem(r)
    if r.place is None:
        lines = [f"{expansion.name}: not in the gazetteer ({r.why})"]
        if r.nearest:
            lines.append("nearest:")
            lines += [f"  {p}" for p in r.nearest]
        lines.append("(list it under add: to match it anyway)")
        return "\n".join(lines)
    lines = [f"{expansion.name} → {r.place}", f"  why: {r.why}"]
    if problem is not None:
        lines.append(f"  problem: {problem}")
    if r.others:
        lines.append(f"other candidates ({len(r.others)}):")
        lines += [f"  {p}" for p in r.others[:10]]
        if len(r.others) > 10:
            lines.append(f"  … and {len(r.others) - 10} more")
    keys = expansion.variants.keys if expansion.variants else ()
    lines.append(
        "variant keys: " + ", ".join(keys) + " (other spellings with these keys match too)"
        if keys
        else "variant keys: none (too short to stand for one place; only the spellings below match)"
    )
    kept = [
        f"  + {s.spelling}" + (f"  ({s.why})" if s.why != "gazetteer" else "")
        for s in expansion.kept
    ]
    dropped = [f"  - {d.spelling}  ({d.reason})" for d in expansion.dropped]
    return "\n".join(
        [*lines, f"matched ({len(kept)}):", *kept, f"dropped ({len(dropped)}):", *dropped]
    )
