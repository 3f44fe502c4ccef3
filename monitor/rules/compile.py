"""compile: validated watchlists → one `Program` (every term's spellings in Aho-Corasick automata,
each rule an evaluator plus the keys that can trigger it), or every problem found, located.

A key is a term's folded words between single spaces, with a leading space and (unless it ends in a
wildcard) a trailing one, so a hit in the scanned text (words joined the same way) always sits on
word boundaries. Each rule is triggered by the cheapest set of keys one of which must occur for it
to hold; an article's scan evaluates only the rules whose trigger keys it contains.
"""

from __future__ import annotations

import contextlib
import dataclasses
import gc
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

import ahocorasick

from monitor.model import Severity
from monitor.rules import arabic, placekey, places, stemming
from monitor.rules.evaluate import (
    AllOf,
    AnyOf,
    Evaluator,
    Leaf,
    NoneOf,
    OneOf,
    Resolved,
    Within,
    build,
)
from monitor.rules.lexer import FIELDS, QueryError
from monitor.rules.parser import parse, parse_member
from monitor.rules.problems import RuleProblem
from monitor.rules.query import And, Group, Near, Node, Not, Or, Term
from monitor.rules.stemming import stem
from monitor.watchlist import PlacesGroup, RuleSettings, WatchlistSettings

FIELD_INDEX = {name: i for i, name in enumerate(FIELDS)}
UNSCOPED = frozenset({FIELD_INDEX["title"], FIELD_INDEX["summary"], FIELD_INDEX["text"]})


@dataclass(frozen=True, slots=True)
class Pattern:
    """One spelling to find: AC key `key`, in these fields, spanning `words` words; `case_key`,
    when set, is the key with case kept, which the text must equal too."""

    key: int
    fields: frozenset[int]
    words: int
    case_key: str | None = None
    variant: int = -1  # a variant key: the index of its place's `Variants` in the program
    place: bool = False  # a place's spelling: not after "Gulf of" and the like (matcher.WATERS)


@dataclass(frozen=True, slots=True)
class Rule:
    index: int
    watchlist: str
    name: str
    severity: Severity
    min_hits: int
    query: Evaluator
    exclude: Evaluator | None
    needs: tuple[frozenset[int], ...] = ()  # key sets that must each meet the article…
    must: frozenset[int] = frozenset()  # …and the keys of those with one key, as one subset check


@dataclass
class Program:
    """Everything the matcher needs, built once per configuration."""

    keys: list[str] = field(default_factory=list)
    stemmed: list[str | None] = field(default_factory=list)  # stem language, or VARIANT_KEYS
    patterns: list[Pattern] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)
    key_rules: list[tuple[int, ...]] = field(default_factory=list)
    rules: list[Rule] = field(default_factory=list)
    automaton: ahocorasick.Automaton | None = None
    stem_automata: dict[str, ahocorasick.Automaton] = field(default_factory=dict)  # by language
    variant_automaton: ahocorasick.Automaton | None = None  # over the words' variant keys
    variant_words: frozenset[str] = frozenset()  # the words of the variant keys
    variant_memo: dict[str, str] = field(default_factory=dict)  # a text word → its key there
    variant_signals: set[str] = field(default_factory=set)  # see placekey.text_keys
    variants: list[places.Variants] = field(default_factory=list)
    variant_labels: frozenset[int] = frozenset()  # labels that name the spelling found


# `Program.stemmed` of a key found in the text's variant keys (see placekey), not its words.
VARIANT_KEYS = "variant keys"


@dataclass
class Member:
    """A group member and the label its hits carry; for a place's variant keys, `variants`."""

    term: Term
    label: str
    stem: str | None  # the stem language
    variants: places.Variants | None = None
    place: str | None = None  # the place a places group's member spells


# A leaf's identity: words, joined words, wildcard, case-sensitive, field, label, stem language.
_LeafId = tuple[tuple[str, ...], tuple[str, ...], bool, bool, str | None, str, str | None]


def compile_program(watchlists: Sequence[WatchlistSettings]) -> tuple[Program, list[RuleProblem]]:
    with _no_cycle_collection():
        return _compile(watchlists)


_MANY_YOUNG = 100_000  # objects made since the last collection: see _no_cycle_collection


@contextlib.contextmanager
def _no_cycle_collection() -> Iterator[None]:
    """Compiling makes hundreds of thousands of small objects that all stay, none in cycles; the
    cyclic collector, triggered by their number, would walk the whole heap again and again while
    they are made (a fifth of the compile time at 10,000 rules), so it waits until the end.

    Then, when they are many, it walks them once, straight into the oldest generation. Left
    young, the first matches after compiling would pay for them three times over as they aged
    through the generations (0.2-0.4 s at 10,000 rules, which make some 300,000 objects). A few
    watchlists make a few thousand, not worth a walk of the whole heap."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
            if gc.get_count()[0] > _MANY_YOUNG:
                gc.collect()


def _compile(watchlists: Sequence[WatchlistSettings]) -> tuple[Program, list[RuleProblem]]:
    compiler = _Compiler()
    names = [
        p
        for w in watchlists
        for g in w.groups.values()
        if isinstance(g, PlacesGroup)
        for p in g.places
    ]
    if names:
        with contextlib.suppress(ImportError):  # each places group reports it
            places.resolve_all(names)  # one scan of the gazetteer for every watchlist
    for index, watchlist in enumerate(watchlists):
        compiler.watchlist(index, watchlist)
    return compiler.finish(), compiler.problems


class _Compiler:
    def __init__(self) -> None:
        self.program = Program()
        self.problems: list[RuleProblem] = []
        self._keys: dict[tuple[str | None, str], int] = {}
        self._patterns: dict[Pattern, int] = {}
        self._labels: dict[str, int] = {}
        self._cost: dict[Leaf, tuple[float, frozenset[int]]] = {}
        # Rules repeat their terms and groups: each distinct one is spelled out once.
        self._leaves: dict[_LeafId, Leaf] = {}
        self._group_leaves: dict[tuple[str, str | None], AnyOf] = {}  # this watchlist's
        self._triggers: dict[int, list[int]] = {}
        self._shared: dict[Resolved, Evaluator] = {}
        self._variant_index: dict[places.Variants, int] = {}
        self._variant_labels: set[int] = set()
        self._place_of: dict[Leaf, str] = {}  # leaves that spell a place of a places group
        self._interned: dict[frozenset[int], frozenset[int]] = {}  # one object per key set

    def watchlist(self, index: int, watchlist: WatchlistSettings) -> None:
        groups: dict[str, list[Member]] = {}
        self._group_leaves.clear()
        language = watchlist.stem_language
        if language is not None and not stemming.available(language):
            message = f"this installation has no {language} stemmer (snowballstemmer >= 3.1 has)"
            self.problems.append(RuleProblem(index, ("stem",), message))
            return
        for name, spec in watchlist.groups.items():
            groups[name] = self.group(index, name, spec, language)
        for number, settings in enumerate(watchlist.rules):
            self.rule(index, ("rules", number), watchlist, settings, groups)

    def rule(
        self,
        index: int,
        where: tuple[str, int],
        watchlist: WatchlistSettings,
        settings: RuleSettings,
        groups: dict[str, list[Member]],
    ) -> None:
        problems = len(self.problems)
        stem_words = watchlist.stem_language
        query = self.query(index, (*where, "query"), settings.query, groups, stem_words)
        exclude = None
        if settings.exclude is not None:
            exclude = self.query(index, (*where, "exclude"), settings.exclude, groups, stem_words)
        if query is None or len(self.problems) > problems:
            return
        trigger, conjuncts = _requirements(query, self)
        if trigger is None:
            error = QueryError(
                "this query can hold without finding any of its terms (NOT only says what must be"
                " absent); add a word, phrase or @group it must find",
                settings.query,
                0,
                len(settings.query),
            )
            self.problems.append(RuleProblem(index, (*where, "query"), error.render()))
            return
        needs = [n for n in conjuncts if n != trigger[1]]
        rule_index = len(self.program.rules)
        for key in sorted(trigger[1]):
            self._triggers.setdefault(key, []).append(rule_index)
        self.program.rules.append(
            Rule(
                rule_index,
                watchlist.name,
                settings.name,
                settings.severity,
                settings.min_hits,
                build(query, self._shared),
                build(exclude, self._shared) if exclude is not None else None,
                tuple(self._interned.setdefault(n, n) for n in needs if len(n) > 1),
                frozenset(k for n in needs if len(n) == 1 for k in n),
            )
        )

    def group(
        self, index: int, name: str, spec: list[str] | PlacesGroup, stem_words: str | None
    ) -> list[Member]:
        if isinstance(spec, PlacesGroup):
            expansion = places.expand_group(spec)
            for problem in expansion.problems:
                self.problems.append(
                    RuleProblem(index, ("groups", name, *problem.loc), problem.message)
                )
            members = []
            for s in expansion.spellings:
                try:
                    term = dataclasses.replace(parse_member(s.spelling), case=s.case)
                except QueryError:
                    continue  # a gazetteer spelling with nothing to search for
                label = f"@{name}: {s.place}" + (
                    "" if s.spelling == s.place else f" ({s.spelling})"
                )
                members.append(Member(term, label, None, None, s.place))
            for variants in expansion.variants:
                label = f"@{name}: ≈ {variants.place}"
                members.append(Member(Term(label, ()), label, None, variants, variants.place))
            if not members and not expansion.problems:
                self.problems.append(
                    RuleProblem(index, ("groups", name), f"group {name!r} expands to no spelling")
                )
            return members
        out = []
        for number, text in enumerate(spec):
            if not str(text).strip():
                continue
            try:
                term = parse_member(str(text))
            except QueryError as exc:
                self.problems.append(RuleProblem(index, ("groups", name, number), exc.render()))
                continue
            out.append(Member(term, f"@{name}: {term.text}", stem_words))
        return out

    def query(
        self,
        index: int,
        loc: tuple[str | int, ...],
        text: str,
        groups: dict[str, list[Member]],
        stem_words: str | None,
    ) -> Resolved | None:
        try:
            tree = parse(text)
        except QueryError as exc:
            self.problems.append(RuleProblem(index, loc, exc.render()))
            return None
        missing = [g for g in _groups(tree) if g.name not in groups]
        for ref in missing:
            known = ", ".join("@" + name for name in groups) or "none defined"
            message = f"unknown group @{ref.name} (groups: {known})"
            error = QueryError(message, text, ref.start, ref.end)
            self.problems.append(RuleProblem(index, loc, error.render()))
        if missing:
            return None
        return self.resolve(tree, groups, stem_words)

    def resolve(
        self, node: Node, groups: dict[str, list[Member]], stem_words: str | None
    ) -> Resolved:
        if isinstance(node, Term):
            return AnyOf((self.leaf(node, node.field, node.text, stem_words),))
        if isinstance(node, Group):
            members = groups[node.name]
            found = self._group_leaves.get((node.name, node.field))
            if found is None:
                leaves = tuple(
                    self.variant_leaf(m.variants, node.field, m.label)
                    if m.variants is not None
                    else self.leaf(m.term, node.field, m.label, m.stem, m.place is not None)
                    for m in members
                )
                for member, leaf in zip(members, leaves, strict=True):
                    if member.place is not None:
                        self._place_of[leaf] = member.place
                found = self._group_leaves[(node.name, node.field)] = AnyOf(leaves)
            return found
        if isinstance(node, And):
            return AllOf(tuple(self.resolve(c, groups, stem_words) for c in node.children))
        if isinstance(node, Or):
            return OneOf(tuple(self.resolve(c, groups, stem_words) for c in node.children))
        if isinstance(node, Not):
            return NoneOf(self.resolve(node.child, groups, stem_words))
        left = self.resolve(node.left, groups, stem_words)
        right = self.resolve(node.right, groups, stem_words)
        return Within(left, right, node.distance, node.ordered)

    def leaf(
        self,
        term: Term,
        scope: str | None,
        label: str,
        stem_words: str | None,
        place: bool = False,
    ) -> Leaf:
        """The leaf of `term` searched in field `scope` (None: title, summary and text)."""
        ident = (term.words, term.joined, term.wildcard, term.case, scope, label, stem_words)
        found = self._leaves.get(ident)
        if found is not None:
            return found
        fields = UNSCOPED if scope is None else frozenset({FIELD_INDEX[scope]})
        stemmed = None if term.wildcard or term.case else stem_words
        tail = "" if term.wildcard else " "
        patterns = []
        spellings = (term.words, term.joined) if term.joined else (term.words,)
        for words, first in ((w, f) for w in spellings for f in arabic.with_proclitics(w[0])):
            spelled = [first, *words[1:]]
            folded = [w.lower() for w in spelled]
            if stemmed:
                folded = [stem(w, stemmed) for w in folded]
            key = self.key(stemmed, " " + " ".join(folded) + tail)
            case_key = " " + " ".join(spelled) + tail if term.case else None
            pattern = Pattern(key, fields, len(spelled), case_key, place=place)
            patterns.append(self.pattern(pattern))
        keys = tuple(self.program.patterns[p].key for p in patterns)
        leaf = self._leaves[ident] = Leaf(tuple(patterns), keys, self.label(label))
        self._cost[leaf] = (_cost(term), frozenset(keys))
        return leaf

    def variant_leaf(self, variants: places.Variants, scope: str | None, label: str) -> Leaf:
        """The leaf that finds a place by its variant keys in field `scope`."""
        ident = ((), variants.keys, False, False, scope, label, VARIANT_KEYS)
        found = self._leaves.get(ident)
        if found is not None:
            return found
        fields = UNSCOPED if scope is None else frozenset({FIELD_INDEX[scope]})
        if variants not in self._variant_index:
            self._variant_index[variants] = len(self.program.variants)
            self.program.variants.append(variants)
        number = self._variant_index[variants]
        patterns = tuple(
            self.pattern(
                Pattern(
                    self.key(VARIANT_KEYS, f" {k} "), fields, k.count(" ") + 1, None, number, True
                )
            )
            for key in variants.keys
            for k in placekey.with_articles(key)
        )
        keys = tuple(self.program.patterns[p].key for p in patterns)
        label_index = self.label(label)
        self._variant_labels.add(label_index)
        leaf = self._leaves[ident] = Leaf(patterns, keys, label_index)
        self._cost[leaf] = (0.02, frozenset(keys))  # a name: rare
        return leaf

    def key(self, stemmed: str | None, text: str) -> int:
        found = self._keys.get((stemmed, text))
        if found is None:
            found = self._keys[(stemmed, text)] = len(self.program.keys)
            self.program.keys.append(text)
            self.program.stemmed.append(stemmed)
        return found

    def pattern(self, pattern: Pattern) -> int:
        found = self._patterns.get(pattern)
        if found is None:
            found = self._patterns[pattern] = len(self.program.patterns)
            self.program.patterns.append(pattern)
        return found

    def label(self, text: str) -> int:
        found = self._labels.get(text)
        if found is None:
            found = self._labels[text] = len(self.program.labels)
            self.program.labels.append(text)
        return found

    def leaf_keys(self, leaf: Leaf) -> tuple[float, frozenset[int]]:
        return self._cost[leaf]

    def place_of(self, leaf: Leaf) -> str | None:
        return self._place_of.get(leaf)

    def finish(self) -> Program:
        program = self.program
        program.key_rules = [tuple(self._triggers.get(k, ())) for k in range(len(program.keys))]
        program.automaton = _automaton(program, None)
        program.variant_automaton = _automaton(program, VARIANT_KEYS)
        program.variant_words = frozenset(
            word
            for key, kind in zip(program.keys, program.stemmed, strict=True)
            if kind == VARIANT_KEYS
            for word in key.split()
            if word != placekey.ARTICLE_KEY
        )
        program.variant_labels = frozenset(self._variant_labels)
        for language in sorted({s for s in program.stemmed if s not in (None, VARIANT_KEYS)}):
            automaton = _automaton(program, language)
            if automaton is not None:
                program.stem_automata[language] = automaton
        return program


def _automaton(program: Program, stemmed: str | None) -> ahocorasick.Automaton | None:
    """The keys of one kind in an automaton whose value for each is (index, length, spaces): what
    the scan needs per hit, handed over with it rather than looked up."""
    automaton = ahocorasick.Automaton()
    for index, (key, is_stemmed) in enumerate(zip(program.keys, program.stemmed, strict=True)):
        if is_stemmed == stemmed:
            automaton.add_word(key, (index, len(key), key.count(" ")))
    if len(automaton) == 0:
        return None
    automaton.make_automaton()
    return automaton


def _groups(node: Node) -> list[Group]:
    if isinstance(node, Group):
        return [node]
    if isinstance(node, And | Or):
        return [g for c in node.children for g in _groups(c)]
    if isinstance(node, Not):
        return _groups(node.child)
    if isinstance(node, Near):
        return _groups(node.left) + _groups(node.right)
    return []


def _cost(term: Term) -> float:
    """A guess at how often a term occurs, to pick the rarest trigger: names (capitalised, not
    acronyms, or in another script) are rare, phrases rarer than words, short words common, and
    prefixes the most common."""
    if term.wildcard:
        return 2.0
    first = term.words[0]
    cost = 1.0 if len(term.words) == 1 else 0.2
    if (first[:1].isupper() and not first.isupper()) or not first.isascii():
        cost *= 0.02
    return cost * 6 / max(2, sum(len(w) for w in term.words))


def _requirements(
    query: Resolved, compiler: _Compiler
) -> tuple[tuple[float, frozenset[int]] | None, list[frozenset[int]]]:
    """(trigger, conjuncts) of `query`: a cheapest (cost, keys) one key of which occurs whenever it
    holds (None if it can hold with none), and the key sets that must each have a hit for it to
    hold, a cheap check before evaluating. Each node's answer is worked out once."""
    memo: dict[int, tuple[float, frozenset[int]] | None] = {}  # by id: the nodes outlive it

    def required(node: Resolved) -> tuple[float, frozenset[int]] | None:
        if id(node) not in memo:
            memo[id(node)] = _required(node, required, compiler)
        return memo[id(node)]

    def conjuncts(node: Resolved) -> list[frozenset[int]]:
        if isinstance(node, AllOf):
            return [k for c in node.children for k in conjuncts(c)]
        if isinstance(node, Within):
            return conjuncts(node.left) + conjuncts(node.right)
        found = required(node)
        return [] if found is None else [found[1]]

    return required(query), conjuncts(query)


def _required(
    node: Resolved,
    required: Callable[[Resolved], tuple[float, frozenset[int]] | None],
    compiler: _Compiler,
) -> tuple[float, frozenset[int]] | None:
    """(cost, keys): a cheapest set of keys at least one of which occurs whenever `node` holds;
    `required` answers the same for its children."""
    if isinstance(node, AnyOf):
        if len(node.leaves) == 1:
            return compiler.leaf_keys(node.leaves[0])
        # The spellings of one place stand for one name: it occurs about as often as the name
        # as written (its first spelling), not as often as all its spellings together.
        cost, keys = 0.0, frozenset[int]()
        per_place: dict[str, float] = {}
        for leaf in node.leaves:
            c, k = compiler.leaf_keys(leaf)
            keys |= k
            place = compiler.place_of(leaf)
            if place is None:
                cost += c
            else:
                per_place.setdefault(place, c)
        return cost + sum(per_place.values()), keys
    if isinstance(node, OneOf):
        parts = [required(c) for c in node.children]
        if any(p is None for p in parts):
            return None
        found = [p for p in parts if p is not None]
        return sum(p[0] for p in found), frozenset().union(*(p[1] for p in found))
    if isinstance(node, NoneOf):
        return None
    children = node.children if isinstance(node, AllOf) else (node.left, node.right)
    options = [p for p in map(required, children) if p is not None]
    return min(options, key=lambda p: p[0]) if options else None
