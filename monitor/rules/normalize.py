"""normalize: text → words as the rules see them, keeping the way back to the original characters.

One function, `fold`, serves both queries and articles, so a term and the text it should match are
always normalised alike: HTML entities decoded, Unicode compatibility forms (NFKC/NFKD) unfolded,
diacritics removed, every quote and apostrophe form made one, a possessive ’s dropped, and every
character that is not a letter or digit (hyphens and dashes included) turned into a space. Case is
kept in `Folded.text` (case-sensitive terms need it); `.lower()` of it is the case-folded form and
has the same length, so positions carry over.

A query word written with an apostrophe inside it also stands for the word written without one
(`without_inner_apostrophes`): "Ba'ath" finds "Ba’ath" and "Baath".

Story clustering compares reports in a plainer form (`plain`, `plain_words`): lower case, without
accents or other combining marks, split at anything that is not a letter or digit ("ISIL’s" is
"isil" and "s"), no positions kept. Text hashes, shingles and terms are made of it, and text
hashes are stored: it must not change, or every stored article becomes a stranger to its reprint.
"""

from __future__ import annotations

import bisect
import functools
import html
import itertools
import operator
import re
import unicodedata
from dataclasses import dataclass

from monitor.rules import arabic

APOSTROPHES = "'‘’‚‛′ʹʻʼʽʾʿ`´＇"
# Invisible characters that may sit inside a word (soft hyphen, zero-width joiners, BOM).
_INVISIBLE = "\u00ad\u200b\u200c\u200d\u2060\ufeff"
_ENTITY = re.compile(r"&(?:#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});?")
_NON_ASCII_RUN = re.compile(r"[^\x00-\x7f]+")
# The non-ASCII marks of ordinary English news text, folded up front (all one character to one).
_COMMON_MARKS = (("’", "'"), ("‘", "'"), ("“", " "), ("”", " "), ("–", " "), ("—", " "), ("…", " "))
_SPECIAL = re.compile(_ENTITY.pattern + r"|[^\x00-\x7f]")
_POSSESSIVE_LOWER = re.compile(r"'s(?= |\Z)")
_POSSESSIVE_UPPER = re.compile(r"'S(?= |\Z)")


def _fold_char(ch: str) -> str:
    """The folded form of one character: '' (dropped), ' ' (a word break) or letters/digits."""
    if ch in APOSTROPHES:
        return "'"
    if ch in _INVISIBLE or unicodedata.category(ch) in ("Mn", "Me"):
        return ""
    if ch in arabic.FOLD:
        return arabic.FOLD[ch]
    if ch in "ßẞ":
        return "ss" if ch == "ß" else "SS"
    if ch == "ς":
        return "σ"
    if "\uac00" <= ch <= "\ud7a3":  # Hangul syllables: NFKD would split them into jamo
        return ch
    out = "".join(
        c for c in unicodedata.normalize("NFKD", ch) if unicodedata.category(c) not in ("Mn", "Me")
    )
    return out if out.isalnum() else " "


@functools.cache
def _tables() -> tuple[dict[int, str], dict[int, str], re.Pattern[str]]:
    """(table for every character, table for ASCII only, regex of characters that change length).

    Built once, lazily: a few tenths of a second for the Basic Multilingual Plane and the
    mathematical letters.
    """
    full: dict[int, str] = {}
    resizing: list[str] = []
    code_points = [*range(0x80, 0xD800), *range(0xE000, 0x10000), *range(0x1D400, 0x1D800)]
    for cp in code_points:
        ch = chr(cp)
        folded = _fold_char(ch)
        if folded != ch:
            full[cp] = folded
            if len(folded) != 1:
                resizing.append(re.escape(ch))
    ascii_table = {cp: (" " if not chr(cp).isalnum() else chr(cp)) for cp in range(0x80)}
    ascii_table[ord("'")] = "'"
    full.update({cp: v for cp, v in ascii_table.items() if v != chr(cp)})
    return full, ascii_table, re.compile("[" + "".join(resizing) + "]")


@dataclass(frozen=True, slots=True)
class Folded:
    """A string normalised for matching, with case kept, and how to map it back.

    `text` has letters, digits and spaces only (plus symbols beyond the tables, such as emoji).
    `starts[i]`/`ends[i]` give the original characters
    behind `text[i]`; both are None when the two strings line up one to one.
    """

    original: str
    text: str
    starts: tuple[int, ...] | None = None
    ends: tuple[int, ...] | None = None

    def span(self, start: int, end: int) -> tuple[int, int]:
        """The original span behind `text[start:end]` (end > start)."""
        if self.starts is None or self.ends is None:
            return start, end
        return self.starts[start], self.ends[end - 1]

    def word_starts(self) -> tuple[list[int], list[int]]:
        """(start, length) in `text` of each word `text.split()` returns, as two lists.

        `text` has no whitespace but single spaces, so splitting at each space and summing the
        lengths finds them, at C speed (a regex walk costs several times more).
        """
        lengths = list(map(len, self.text.split(" ")))
        starts = itertools.accumulate(map((1).__add__, lengths), initial=0)
        return list(itertools.compress(starts, lengths)), list(itertools.compress(lengths, lengths))


# Runs of two or more spaces, kept when splitting at them. Spelled with a two-space literal head
# (not "  +") so the regex engine jumps between runs with its fast prefix search instead of trying
# every single space.
_RUN = re.compile("(   *)")


def spaced(text: str) -> tuple[str, list[str]]:
    """(`" ".join(text.split())`, `text` split at its runs of spaces with the runs kept), for folded
    text (whose only whitespace is spaces). One C-level split serves both the single-spaced words
    and, later, `Gaps.of`; no list of words is built."""
    parts = _RUN.split(text)
    return " ".join(parts[::2]).strip(" "), parts


@dataclass(frozen=True, slots=True)
class Gaps:
    """Where `Folded.text` has more than one space, so a position in its words joined by single
    spaces (" ".join(text.split())) can be turned back into a position in `text`."""

    lead: int
    after: list[int]  # joined position of the first character after each run of spaces
    extra: list[int]  # spaces dropped up to and including that run (with the leading ones)

    @classmethod
    def of(cls, text: str, parts: list[str] | None = None) -> Gaps:
        """The gaps of `text`; `parts` is its split from `spaced`, if already made."""
        if parts is None:
            parts = _RUN.split(text)
        lead = len(text) - len(text.lstrip(" "))
        words, runs = parts[::2], parts[1::2]
        if lead > 1:  # the first run is the leading spaces, which `lead` counts
            words, runs = words[1:], runs[1:]
        # after[i] = (lengths of the pieces between runs, 0..i) + (i + 1) single spaces, less the
        # one leading space the join strips when `lead` is 1; extra[i] = lead + (lengths of runs
        # 0..i) - (i + 1). Two sums over half the parts each: no Python-level loop per gap.
        first = 1 - (lead == 1)
        after = list(
            map(
                operator.add,
                itertools.accumulate(map(len, words)),
                range(first, len(runs) + first),
            )
        )
        extra = list(
            map(operator.sub, itertools.accumulate(map(len, runs)), itertools.count(1 - lead))
        )
        return cls(lead, after, extra)

    def position(self, joined: int) -> int:
        """The position in `text` of the character at `joined` in the single-spaced words."""
        i = bisect.bisect_right(self.after, joined) - 1
        return joined + (self.extra[i] if i >= 0 else self.lead)


def fold(text: str) -> Folded:
    """Normalise `text` for matching (see the module docstring)."""
    full, ascii_table, resizing = _tables()
    if "&" in text and _ENTITY.search(text) is not None:
        return _drop_apostrophes(_fold_mapped(text, full))
    out = text
    for mark, folded_mark in _COMMON_MARKS:  # str.replace is far cheaper than a regex callback
        if mark in out:
            out = out.replace(mark, folded_mark)
    if out.isascii():  # no character of ASCII changes length
        out = out.translate(ascii_table)
    elif resizing.search(out):
        return _drop_apostrophes(_fold_mapped(text, full))
    elif len(out.encode("utf-8")) - len(out) > len(out) // 8:
        out = out.translate(full)  # mostly non-Latin text: one C-level pass is cheapest
    else:
        out = _NON_ASCII_RUN.sub(lambda m: m.group().translate(full), out).translate(ascii_table)
    return _drop_apostrophes(Folded(text, out))


def _fold_mapped(text: str, full: dict[int, str]) -> Folded:
    """Slow path for text whose length changes (entities, ligatures, stray combining marks)."""
    pieces: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    pos = 0
    for m in _SPECIAL.finditer(text):
        a, b = m.span()
        if a > pos:
            pieces.append(text[pos:a].translate(full))
            starts.extend(range(pos, a))
            ends.extend(range(pos + 1, a + 1))
        raw = m.group()
        decoded = html.unescape(raw) if raw.startswith("&") else raw
        folded = decoded.translate(full)
        pieces.append(folded)
        starts.extend([a] * len(folded))
        ends.extend([b] * len(folded))
        pos = b
    pieces.append(text[pos:].translate(full))
    starts.extend(range(pos, len(text)))
    ends.extend(range(pos + 1, len(text) + 1))
    return Folded(text, "".join(pieces), tuple(starts), tuple(ends))


def _drop_apostrophes(folded: Folded) -> Folded:
    """Possessive ’s disappears; other apostrophes split the word (ISIL’s → ISIL, don’t → don t).

    Length is preserved, so the span maps stay valid.
    """
    s = folded.text
    if "'" not in s:
        return folded
    # ’s before a space or the end, lower case first (as if replacing "'s " in `s + " "`): the
    # regex jumps between the few apostrophes, where str.replace of a three-character string
    # searches the whole text at every call, even when the possessive never occurs.
    s = _POSSESSIVE_UPPER.sub("  ", _POSSESSIVE_LOWER.sub("  ", s)).replace("'", " ")
    return Folded(folded.original, s, folded.starts, folded.ends)


# Before an apostrophe, an elided article or pronoun ("l’armée", "d’Ivoire", "dell’Iraq",
# "quest’anno"); after one, a contraction ("don’t", "we’ll", "I’m"): such an apostrophe joins two
# words, not the parts of one.
_ELISIONS = frozenset(
    "c d j l m n s t qu jusqu lorsqu puisqu quoiqu all dall dell nell sull un "
    "quell quest nessun sant bell".split()
)
_CONTRACTIONS = frozenset("d ll m re s t ve".split())
_INNER = re.compile(f"([^\\W\\d_]+)[{APOSTROPHES}](?=([^\\W\\d_]+))")


def without_inner_apostrophes(text: str) -> str:
    """`text` with each apostrophe inside a word taken out ("Ba'ath" → "Baath", "Sana’a" →
    "Sanaa"), except after an elision or before a contraction. For query words only: in articles
    an apostrophe always splits ("Ankara’da" has "Ankara"), so a transliteration written with
    its apostrophe in a query finds both spellings."""

    def inner(m: re.Match[str]) -> str:
        before, after = m.group(1), m.group(2)
        if before.lower() in _ELISIONS or after.lower() in _CONTRACTIONS:
            return m.group(0)
        return before

    return _INNER.sub(inner, text)


# Letters and digits: a plain word.
PLAIN_WORD = re.compile(r"[^\W_]+")


@functools.cache
def _combining() -> re.Pattern[str]:
    """Runs of combining marks of the Basic Multilingual Plane (Mn, Mc, Me): accents, Arabic
    vowel signs and hamza, the vowel signs of Devanagari or Tamil. They are not word characters
    to `re`, so a word with one would be cut in pieces; `plain` drops them all, so "Fallūja"
    meets "Falluja", "أ" meets "ا", and a Hindi word stays one (consonant) word. (Marks of the
    planes above made `re` three times slower.)"""
    marks = (chr(c) for c in range(0x10000) if unicodedata.category(chr(c)) in ("Mn", "Mc", "Me"))
    return re.compile("[" + "".join(map(re.escape, marks)) + "]+")


def plain(text: str) -> str:
    """Lower case without accents: "Fallūja" and "FALLUJA" are one word."""
    if text.isascii():
        return text.lower()
    return _combining().sub("", unicodedata.normalize("NFKD", text).casefold())


def plain_words(text: str) -> list[str]:
    """The words of `plain(text)`."""
    return PLAIN_WORD.findall(plain(text))


def words(text: str) -> list[str]:
    """The words of `text`, case kept."""
    return fold(text).text.split()


def lower_words(text: str) -> list[str]:
    """The case-folded words of `text`."""
    return fold(text).text.lower().split()


__all__ = [
    "APOSTROPHES",
    "PLAIN_WORD",
    "Folded",
    "Gaps",
    "fold",
    "lower_words",
    "plain",
    "plain_words",
    "spaced",
    "without_inner_apostrophes",
    "words",
]
