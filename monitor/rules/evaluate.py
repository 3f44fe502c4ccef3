"""evaluate: a resolved query → a Python closure that decides it over one article's scanned words.

Every node yields where it holds, as spans `(start, end, field, evidence)`: word positions
[start, end) in one field and the term occurrences `(start, end, field, label)` that prove it; or
None when it does not hold. NOT yields an empty list when it holds (it proves by absence).
Proximity is decided over all pairs of spans, so nested NEARs mean exactly what they say.
Callers never change the lists they are given, so shared answers can be handed out as they are.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

Occurrence = tuple[int, int, int, int]  # start word, end word, field, label
Span = tuple[int, int, int, tuple[Occurrence, ...]]
Evaluator = Callable[["Positions"], list[Span] | None]


class Positions(Protocol):
    found: dict[int, list[tuple[int, int]]]  # key → (first word, first character) of each hit
    memo: dict[int, list[Span] | None]  # answers of shared evaluators for this article

    def spans(self, pattern: int, label: int) -> list[Span]:
        """Each occurrence of a pattern, by start, as the span it proves labelled `label`:
        `(start, end, field, ((start, end, field, label),))` with word positions."""
        ...


@dataclass(frozen=True, slots=True)
class Leaf:
    """A term as the evaluator sees it: the patterns that spell it, and the label its hits carry."""

    patterns: tuple[int, ...]
    keys: tuple[int, ...]  # the AC key of each pattern
    label: int


@dataclass(frozen=True, slots=True)
class AnyOf:
    leaves: tuple[Leaf, ...]


@dataclass(frozen=True, slots=True)
class AllOf:
    children: tuple[Resolved, ...]


@dataclass(frozen=True, slots=True)
class OneOf:
    children: tuple[Resolved, ...]


@dataclass(frozen=True, slots=True)
class NoneOf:
    child: Resolved


@dataclass(frozen=True, slots=True)
class Within:
    left: Resolved
    right: Resolved
    distance: int
    ordered: bool


Resolved = AnyOf | AllOf | OneOf | NoneOf | Within


def build(node: Resolved, shared: dict[Resolved, Evaluator]) -> Evaluator:
    """The evaluator of `node`. Identical term lists (a group or a word used by many rules) get
    one evaluator through `shared`, and it computes its answer once per article. Only they are
    shared: the operators above them keep no answers, so sharing them would save nothing per
    article and cost hashing whole subtrees at every level while compiling."""
    if isinstance(node, AnyOf):
        evaluator = shared.get(node)
        if evaluator is None:
            evaluator = shared[node] = _leaves(node.leaves, len(shared))
        return evaluator
    if isinstance(node, AllOf):
        return _all([build(c, shared) for c in node.children])
    if isinstance(node, OneOf):
        return _one([build(c, shared) for c in node.children])
    if isinstance(node, NoneOf):
        return _none(build(node.child, shared))
    left, right = build(node.left, shared), build(node.right, shared)
    return _within(left, right, node.distance, node.ordered)


def _leaves(leaves: Sequence[Leaf], ident: int) -> Evaluator:
    triples = [
        (p, key, leaf.label)
        for leaf in leaves
        for p, key in zip(leaf.patterns, leaf.keys, strict=True)
    ]
    if len(triples) == 1:
        return _leaf(*triples[0], ident)
    if len(triples) > _MANY:
        return _many(triples, ident)

    def evaluate(scan: Positions) -> list[Span] | None:
        memo = scan.memo
        if ident in memo:
            return memo[ident]
        out: list[Span] = []
        found = scan.found
        for pattern, key, label in triples:
            if key in found:
                out += scan.spans(pattern, label)
        memo[ident] = result = out or None
        return result

    return evaluate


# Above this many spellings (a places group has dozens a place), a term list looks up the keys
# the article has instead of asking about each of its own.
_MANY = 16


def _many(triples: list[tuple[int, int, int]], ident: int) -> Evaluator:
    """`_leaves` for a long list: the same answer, in the same order, from the few keys found."""
    positions: dict[int, list[int]] = {}
    for number, (_, key, _) in enumerate(triples):
        positions.setdefault(key, []).append(number)
    keys = frozenset(positions)

    def evaluate(scan: Positions) -> list[Span] | None:
        memo = scan.memo
        if ident in memo:
            return memo[ident]
        present = keys.intersection(scan.found)
        out: list[Span] = []
        if present:
            for number in sorted(n for key in present for n in positions[key]):
                pattern, _, label = triples[number]
                out += scan.spans(pattern, label)
        memo[ident] = result = out or None
        return result

    return evaluate


def _leaf(pattern: int, key: int, label: int, ident: int) -> Evaluator:
    """`_leaves` for the usual single spelling: the same answer without the loop."""

    def evaluate(scan: Positions) -> list[Span] | None:
        memo = scan.memo
        if ident in memo:
            return memo[ident]
        result = (scan.spans(pattern, label) or None) if key in scan.found else None
        memo[ident] = result
        return result

    return evaluate


def _all(children: list[Evaluator]) -> Evaluator:
    def evaluate(scan: Positions) -> list[Span] | None:
        out: list[Span] = []
        for child in children:
            spans = child(scan)
            if spans is None:
                return None
            out += spans
        return out

    return evaluate


def _one(children: list[Evaluator]) -> Evaluator:
    def evaluate(scan: Positions) -> list[Span] | None:
        out: list[Span] | None = None
        for child in children:
            spans = child(scan)
            if spans is not None:
                out = spans if out is None else out + spans
        return out

    return evaluate


def _none(child: Evaluator) -> Evaluator:
    def evaluate(scan: Positions) -> list[Span] | None:
        return [] if child(scan) is None else None

    return evaluate


def _within(left: Evaluator, right: Evaluator, distance: int, ordered: bool) -> Evaluator:
    def evaluate(scan: Positions) -> list[Span] | None:
        a = left(scan)
        if not a:
            return None
        b = right(scan)
        if not b:
            return None
        return near_pairs(a, b, distance, ordered) or None

    return evaluate


# The most spans one proximity operator yields for one article. Each level of a chain
# `a NEAR b NEAR c NEAR d` pairs every span below with every one in reach, so over an article
# repeating the rule's words the spans multiply level by level (uncapped, a hostile article of
# 9,000 words takes 13 s and 1.4 GB for one rule); the first ones in the text prove it as well.
MAX_SPANS = 10_000


def near_pairs(a: list[Span], b: list[Span], distance: int, ordered: bool) -> list[Span]:
    """Every pair (x from a, y from b) in one field, not overlapping, with at most `distance`
    words between them (x before y when `ordered`), as the span covering both; the first
    `MAX_SPANS` of them, x by x."""
    out: list[Span] = []
    if len(a) * len(b) <= 16:  # the usual case: a few occurrences each; compare them all
        for xs, xe, xf, xev in a:
            for ys, ye, yf, yev in b:
                if yf == xf and (
                    (ys >= xe and ys - xe <= distance)
                    or (not ordered and ye <= xs and xs - ye <= distance)
                ):
                    out.append((min(xs, ys), max(xe, ye), xf, xev + yev))
        return out
    b = sorted(b, key=lambda span: span[0])
    starts = [span[0] for span in b]
    longest = max(span[1] - span[0] for span in b)
    for x in a:
        if len(out) >= MAX_SPANS:
            break
        xs, xe, xf, xev = x
        # y after x: y.start in [xe, xe + distance]; y before x: y.end in [xs - distance, xs].
        lo = xs - distance - longest if not ordered else xe
        i = bisect.bisect_left(starts, lo)
        j = bisect.bisect_right(starts, xe + distance)
        for ys, ye, yf, yev in b[i:j]:
            if yf != xf:
                continue
            if ys >= xe or (not ordered and ye <= xs and xs - ye <= distance):
                out.append((min(xs, ys), max(xe, ye), xf, xev + yev))
    return out
