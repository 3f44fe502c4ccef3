"""The fast matcher agrees with a direct, obviously-correct evaluator on random queries and texts.

The reference below shares only the front end with the engine (parser and `fold`): it looks for
every term by walking the words of every field, and decides proximity over every pair, with no
automaton, no triggers and no position arithmetic.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from itertools import product

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from monitor.model import Article, Hit
from monitor.rules import compile_watchlists
from monitor.rules.lexer import FIELDS
from monitor.rules.matcher import field_values
from monitor.rules.normalize import fold
from monitor.rules.parser import parse, parse_member
from monitor.rules.query import And, Group, Near, Node, Not, Or, Term
from monitor.rules.stemming import stem
from monitor.watchlist import WatchlistSettings

BODY = ("title", "summary", "text")


@dataclass(frozen=True)
class Occ:
    field: str
    start: int  # word index in the field
    end: int
    label: str


Span = tuple[str, int, int, frozenset[Occ]]


class Reference:
    def __init__(self, watchlist: WatchlistSettings, article: Article) -> None:
        self.watchlist = watchlist
        self.values = dict(zip(FIELDS, field_values(article), strict=True))
        self.folded = {name: fold(value) for name, value in self.values.items()}
        self.words = {name: f.text.split() for name, f in self.folded.items()}

    def word_equal(self, text_word: str, query_word: str, term: Term, last: bool) -> bool:
        if not term.case:
            text_word, query_word = text_word.lower(), query_word.lower()
            if self.watchlist.stem and not term.wildcard:
                text_word, query_word = stem(text_word), stem(query_word)
        if last and term.wildcard:
            return text_word.startswith(query_word)
        return text_word == query_word

    def term(self, term: Term, label: str, scope: str | None) -> list[Span]:
        out = []
        for name in [scope] if scope else BODY:
            words = self.words[name]
            n = len(term.words)
            for i in range(len(words) - n + 1):
                if all(
                    self.word_equal(words[i + k], term.words[k], term, k == n - 1) for k in range(n)
                ):
                    out.append((name, i, i + n, frozenset({Occ(name, i, i + n, label)})))
        return out

    def node(self, node: Node) -> list[Span] | None:
        if isinstance(node, Term):
            return self.term(node, node.text, node.field) or None
        if isinstance(node, Group):
            spans = []
            members = self.watchlist.groups[node.name]
            assert isinstance(members, list)
            for member in members:
                term = parse_member(str(member))
                spans += self.term(term, f"@{node.name}: {term.text}", node.field)
            return spans or None
        if isinstance(node, And):
            results = [self.node(c) for c in node.children]
            if any(r is None for r in results):
                return None
            return [s for r in results if r for s in r]
        if isinstance(node, Or):
            results = [r for r in (self.node(c) for c in node.children) if r is not None]
            return [s for r in results for s in r] if results else None
        if isinstance(node, Not):
            return [] if self.node(node.child) is None else None
        assert isinstance(node, Near)
        left, right = self.node(node.left), self.node(node.right)
        if not left or not right:
            return None
        pairs = []
        for (fa, sa, ea, oa), (fb, sb, eb, ob) in product(left, right):
            b_after = sb >= ea and sb - ea <= node.distance
            b_before = eb <= sa and sa - eb <= node.distance
            if fa == fb and (b_after or (b_before and not node.ordered)):
                pairs.append((fa, min(sa, sb), max(ea, eb), oa | ob))
        return pairs or None

    def hits(self, spans: list[Span]) -> list[Hit]:
        found = set()
        for _, _, _, occs in spans:
            for o in occs:
                word_spans = [m.span() for m in re.finditer(r"\S+", self.folded[o.field].text)]
                start = word_spans[o.start][0]
                end = word_spans[o.end - 1][1]
                a, b = self.folded[o.field].span(start, end)
                found.add(Hit(o.label, o.field, a, b))
        return sorted(found, key=lambda h: (FIELDS.index(h.field), h.start, h.end, h.term))

    def match(self) -> list[tuple[str, list[Hit]]]:
        out = []
        for rule in self.watchlist.rules:
            spans = self.node(parse(rule.query))
            if spans is None:
                continue
            occurrences = {o for span in spans for o in span[3]}
            if len(occurrences) < rule.min_hits:
                continue
            if rule.exclude is not None and self.node(parse(rule.exclude)) is not None:
                continue
            out.append((rule.name, self.hits(spans)))
        return out


# --- random queries and texts over a small vocabulary, so terms do meet ------------------------

WORDS = ["mosul", "falluja", "army", "offensive", "grave", "graves", "mass", "tal", "afar", "is"]
PREFIXES = ["grav*", "mas*", "off*", "fal*"]
SEPARATORS = [" ", " ", " ", ", ", ". ", "-", "’s ", "\n\n", " “", "” "]


def spelled(word: str, style: int) -> str:
    return [word, word.upper(), word.capitalize()][style]


terms = st.one_of(
    st.sampled_from(WORDS),
    st.sampled_from(PREFIXES),
    st.builds(lambda a, b: f'"{a} {b}"', st.sampled_from(WORDS), st.sampled_from(WORDS)),
    st.builds(lambda w, s: "=" + spelled(w, s), st.sampled_from(WORDS), st.integers(0, 2)),
    st.builds(lambda f, w: f"{f}:{w}", st.sampled_from(BODY), st.sampled_from(WORDS)),
    st.just("@places"),
)
proximity = st.recursive(
    terms,
    lambda inner: st.one_of(
        st.builds(lambda a, b: f"({a} OR {b})", inner, inner),
        st.builds(
            lambda a, b, n, o: f"({a} {'ONEAR' if o else 'NEAR'}/{n} {b})",
            inner,
            inner,
            st.integers(1, 4),
            st.booleans(),
        ),
    ),
    max_leaves=4,
)
queries = st.recursive(
    proximity,
    lambda inner: st.one_of(
        st.builds(lambda a, b: f"({a} AND {b})", inner, inner),
        st.builds(lambda a, b: f"({a} {b})", inner, inner),
        st.builds(lambda a, b: f"({a} OR {b})", inner, inner),
        st.builds(lambda a, b: f"({a} AND NOT {b})", inner, inner),
    ),
    max_leaves=6,
)
texts = st.lists(
    st.tuples(st.sampled_from(WORDS), st.integers(0, 2), st.sampled_from(SEPARATORS)),
    min_size=3,
    max_size=30,
).map(lambda parts: "".join(spelled(w, s) + sep for w, s, sep in parts))
rules = st.lists(
    st.tuples(queries, st.integers(1, 3), st.one_of(st.none(), proximity)), min_size=1, max_size=4
)


def make_watchlist(
    rule_specs: list[tuple[str, int, str | None]], stem_words: bool
) -> WatchlistSettings:
    return WatchlistSettings.model_validate(
        {
            "version": 1,
            "name": "random",
            "channels": ["log"],
            "stem": stem_words,
            "groups": {"places": ["Tal Afar", "Mosul", "falluja*"]},
            "rules": [
                {"name": f"r{i}", "query": q, "min_hits": n, "exclude": x}
                for i, (q, n, x) in enumerate(rule_specs)
            ],
        }
    )


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rules, st.booleans(), texts, texts, texts)
def test_engine_agrees_with_reference(
    rule_specs: list[tuple[str, int, str | None]],
    stem_words: bool,
    title: str,
    summary: str,
    text: str,
) -> None:
    watchlist = make_watchlist(rule_specs, stem_words)
    story = Article(
        url="https://example.org/x", canonical_url="", title=title, text=text, summary=summary
    )
    fast = compile_watchlists([watchlist]).match(story)
    expected = Reference(watchlist, story).match()
    event(f"{len(expected)} of {len(rule_specs)} rules match")
    assert [(m.rule, list(m.hits)) for m in fast] == expected


def test_reference_sees_what_a_reader_sees() -> None:
    """The reference itself, on a case small enough to check by eye."""
    watchlist = make_watchlist([("(army NEAR/2 mosul)", 1, None), ("=IS", 1, None)], False)
    story = Article(url="", canonical_url="", title="", text="The army, near Mosul. It is IS.")
    result = Reference(watchlist, story).match()
    assert [(name, [story.text[h.start : h.end] for h in hits]) for name, hits in result] == [
        ("r0", ["army", "Mosul"]),
        ("r1", ["IS"]),
    ]
