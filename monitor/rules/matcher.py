"""matcher: one article → the `RuleMatch`es of every compiled rule, in one pass over its words.

The article's fields are folded once and their words joined by single spaces (a sentinel word
between fields); one Aho-Corasick pass over that string (and one over its stems in each language
that watchlists stem in) finds every key. Only rules triggered by a key found are evaluated, and
word positions are worked out only for the patterns those rules ask about.
"""

from __future__ import annotations

import collections
import itertools
import operator
from bisect import bisect_right
from collections.abc import Collection

from monitor.model import Article, RuleMatch
from monitor.rules import evidence
from monitor.rules.compile import Pattern, Program, Rule
from monitor.rules.evaluate import Occurrence, Span
from monitor.rules.lexer import FIELDS
from monitor.rules.normalize import Folded, Gaps, fold, spaced
from monitor.rules.placekey import ordinary, text_keys
from monitor.rules.stemming import stem_all

_SENTINEL = "\x01"  # a "word" between fields: no key contains it, so no phrase spans two fields
_GAP = " " + _SENTINEL + " "
_EMPTY = Folded("", "")
_EVIDENCE = operator.itemgetter(3)  # of a span: the occurrences that prove it
# Words before a place's name that make it the name of a body of water, not of the place.
WATERS = frozenset((water, "of") for water in ("gulf", "bay", "strait", "straits", "sea", "lake"))


def field_values(article: Article) -> tuple[str, ...]:
    """The article's fields in `FIELDS` order: title, summary, text, source, url, lang."""
    return (
        article.title,
        article.summary,
        article.text,
        article.source,
        article.url,
        article.language or "",
    )


class Scan:
    """One article's folded words and the keys found in them."""

    def __init__(self, program: Program, article: Article) -> None:
        self.program = program
        # Most articles leave several fields empty: those cost nothing.
        self.folded: list[Folded] = [fold(v) if v else _EMPTY for v in field_values(article)]
        spaced_fields = [spaced(f.text) if f.text else ("", [""]) for f in self.folded]
        joined = [text for text, _ in spaced_fields]
        self._parts = [parts for _, parts in spaced_fields]  # for Gaps.of, if a hit needs it
        # Where each field starts in the joined string, by the space before its first word: a
        # hit's field is bisected from its own leading space when asked for, so the words of
        # each field are never counted (only the hits' words are, while finding them).
        self.field_spaces: list[int] = []
        chars = 0
        for text in joined:
            self.field_spaces.append(chars)
            chars += len(text) + 3 if text else 2
        self._field_words: list[int] | None = None  # index of each field's first word, if asked
        self.cased = " " + "".join(t + _GAP if t else _SENTINEL + " " for t in joined)
        self.lower = self.cased.lower()
        self.found: dict[int, list[tuple[int, int]]] = collections.defaultdict(list)  # (word, char)
        if program.automaton is not None:
            self._find(program.automaton, self.lower)
        self.words: list[str] = []  # the words of `lower`, when stems or variant keys need them
        if program.stem_automata or program.variant_automaton is not None:
            self.words = words = self.lower.split()
            for language, automaton in program.stem_automata.items():
                self._find(automaton, " " + " ".join(stem_all(words, language)) + " ")
            if program.variant_automaton is not None:
                keys = text_keys(
                    words, program.variant_words, program.variant_memo, program.variant_signals
                )
                if keys is not None:
                    self._find_variants(program.variant_automaton, keys)
        self.memo: dict[int, list[Span] | None] = {}
        self._word_chars: dict[int, int] | None = None  # made when a hit needs it
        self._gaps: dict[int, Gaps] = {}

    def _find(self, automaton: object, text: str) -> None:
        """Record each key hit as (first word, first character) in `text`.

        Hits come in order of their last character, so the words before each are counted in one
        pass over the text (spaces up to the hit's end, less the key's own spaces), instead of
        recounting from the start for every hit.
        """
        found = self.found
        count = text.count
        counted = total = 0  # spaces in text[:counted]
        for end, (key, length, spaces) in automaton.iter(text):  # type: ignore[attr-defined]
            total += count(" ", counted, end + 1)
            counted = end + 1
            found[key].append((total - spaces, counted - length))

    def _find_variants(self, automaton: object, text: str) -> None:
        """Record each variant key hit as (first word, end word): `text` has a key for each word
        of `lower`, so words count alike."""
        found = self.found
        count = text.count
        counted = total = 0
        for end, (key, _, spaces) in automaton.iter(text):  # type: ignore[attr-defined]
            total += count(" ", counted, end + 1)
            counted = end + 1
            found[key].append((total - spaces, total - 1))

    def candidates(self) -> list[Rule]:
        """The rules a found key triggers whose other required key sets each meet a found key
        too, in rule order: set checks that turn most rules away before any evaluation. A key
        set that many rules need (a places group's hundreds of spellings) is checked once."""
        triggered: set[int] = set().union(*map(self.program.key_rules.__getitem__, self.found))
        found = set(self.found)
        rules = self.program.rules
        met: dict[frozenset[int], bool] = {}  # the compiler makes equal key sets one object

        def meets(keys: frozenset[int]) -> bool:
            answer = met.get(keys)
            if answer is None:
                answer = met[keys] = not found.isdisjoint(keys)
            return answer

        return [
            rule
            for rule in map(rules.__getitem__, sorted(triggered))
            if rule.must <= found and (not rule.needs or all(map(meets, rule.needs)))
        ]

    def spans(self, pattern: int, label: int) -> list[Span]:
        """Each occurrence of `pattern` as a span labelled `label` (see `Positions.spans`); each
        is asked for once per article, its leaf evaluator keeping the answer."""
        p = self.program.patterns[pattern]
        if p.variant >= 0:
            return self._variant_spans(p, label)
        hits = self.found.get(p.key, ())
        if p.case_key is not None:
            case_key, cased = p.case_key, self.cased
            hits = [hit for hit in hits if cased.startswith(case_key, hit[1])]
        if p.place and hits:
            hits = [hit for hit in hits if not self.in_waters(hit[0])]
        fields, words = p.fields, p.words
        if self.program.stemmed[p.key]:  # characters of `stems`: the field from the word instead
            starts, where = self.field_words(), 0
        else:
            starts, where = self.field_spaces, 1
        out: list[Span] = []
        for hit in hits:
            field = bisect_right(starts, hit[where]) - 1
            if field in fields:
                occurrence = (hit[0], hit[0] + words, field, label)
                out.append((hit[0], hit[0] + words, field, (occurrence,)))
        return out

    def _variant_spans(self, p: Pattern, label: int) -> list[Span]:
        """`spans` of a variant key: its hits whose words are not a spelling the place matches
        anyway, nor one refused for it, nor ordinary words (placekey.ordinary)."""
        variants = self.program.variants[p.variant]
        starts = self.field_words()
        out: list[Span] = []
        for first, end in self.found.get(p.key, ()):
            field = bisect_right(starts, first) - 1
            if field not in p.fields:
                continue
            words = self.words[first:end]
            spelled = " ".join(words)
            if (
                spelled in variants.spellings
                or spelled in variants.refused
                or ordinary(words)
                or self.in_waters(first)
            ):
                continue
            occurrence = (first, end, field, label)
            out.append((first, end, field, (occurrence,)))
        return out

    def in_waters(self, word: int) -> bool:
        """Whether the word at `word` follows "Gulf of", "Sea of" or the like: the Gulf of Aden is
        not Aden, nor the Gulf of Sirte Sirte."""
        if not self.words:
            self.words = self.lower.split()
        before = self.words[max(0, word - 2) : word]
        return (len(before) == 2 and (before[0], before[1]) in WATERS) or before[-1:] == ["lake"]

    def field_words(self) -> list[int]:
        """The index of each field's first word (the spaces before it in `lower`, less one)."""
        if self._field_words is None:
            count = self.lower.count
            self._field_words = [count(" ", 0, space + 1) - 1 for space in self.field_spaces]
        return self._field_words

    def original_span(self, occurrence: Occurrence) -> tuple[int, int]:
        """Character offsets in the original field of an occurrence's words."""
        start, end, field, _ = occurrence
        if self._word_chars is None:  # where words start in `lower`, from the hits found there
            stemmed = self.program.stemmed
            # (word, character) pairs make the dict at C speed
            self._word_chars = dict(
                itertools.chain.from_iterable(
                    hits for key, hits in self.found.items() if not stemmed[key]
                )
            )
        char = self._word_chars.get(start)  # the space before the word
        folded = self.folded[field]
        if char is None:  # found through stems alone: count the words of the field instead
            first = self.field_words()[field]
            starts, lengths = folded.word_starts()
            last = end - 1 - first
            return folded.span(starts[start - first], starts[last] + lengths[last])
        char += 1
        after = char  # every word in `lower` is followed by a space: skip to the last one's
        for _ in range(end - start):
            after = self.lower.find(" ", after + 1)
        gaps = self._gaps.get(field)
        if gaps is None:
            gaps = self._gaps[field] = Gaps.of(folded.text, self._parts[field])
        base = self.field_spaces[field] + 1
        return folded.span(gaps.position(char - base), gaps.position(after - 1 - base) + 1)


class Matcher:
    """Every watchlist's rules, compiled; `match` checks one article against all of them."""

    def __init__(self, program: Program | None = None) -> None:
        self._program = program or Program()

    @property
    def rule_count(self) -> int:
        return len(self._program.rules)

    def match(self, article: Article, watchlists: Collection[str] | None = None) -> list[RuleMatch]:
        """The rules `article` matches (only those of `watchlists`, if given), in watchlist and
        rule order, each with its hits and a snippet."""
        program = self._program
        if not program.rules:
            return []
        scan = Scan(program, article)
        out: list[RuleMatch] = []
        proof: evidence.Evidence | None = None  # made for the first rule that matches
        for rule in scan.candidates():
            if watchlists is not None and rule.watchlist not in watchlists:
                continue
            spans = rule.query(scan)
            if spans is None:
                continue
            occurrences = set(itertools.chain.from_iterable(map(_EVIDENCE, spans)))
            if len(occurrences) < rule.min_hits:
                continue
            if rule.exclude is not None and rule.exclude(scan) is not None:
                continue
            if proof is None:
                proof = evidence.Evidence(
                    scan, field_values(article), program.labels, program.variant_labels
                )
            hits, snippet = proof.of(occurrences)
            out.append(RuleMatch(rule.watchlist, rule.name, rule.severity, hits, snippet))
        return out


__all__ = ["FIELDS", "Matcher", "Scan", "field_values"]
