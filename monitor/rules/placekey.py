"""placekey: a place name's words → the key that the ways English-language news spells it share.

Arabic, Persian, Pashto, Ukrainian or Burmese names reach English text through many
transliterations: Tal Afar, Telafar, Talafar; Falluja, Fallujah, Fallouja; Deir ez-Zor, Deir
Ezzor, Dayr az Zawr; Hodeidah, Hudaydah, Al Hudaydah. A spelling a gazetteer does not list still
keeps the same consonants in the same order, the vowels in the same places, and drops or adds
only what writers are free to drop or add: which vowel, a doubled letter, a final h, the article
al-. `word_key` writes a word as that shared skeleton:

1. consonant spellings of one sound are made one: sch → sh, tch → ch, dzh, dj, zh → j, kh → k,
   gh → g, ph → f, th → t, dh → d, ck, q, c (not in ch) → k, x → ks (Kharkiv/Charkiw aside:
   `ch` stays `ch`, as writers use it for three different sounds);
2. an article assimilated and glued on is dropped: Ezzor, Arraqqa, Assuwayda → zor, raqqa, suwayda;
3. a final h after a vowel is dropped: Fallujah → falluja, Nineveh → nineve;
4. doubled letters are written once: Fallujah → falujah, Zaporizhzhia → zaporijia;
5. w after a vowel and before a consonant or the end is part of the vowel (Mawsil, Zawr); any
   other w is v (Ninawa → ninava, as Nineveh);
6. every run of vowels (a, e, i, o, u, y) is one `a`: which vowel varies, where one stands does not
   (Idlib/Edlib → adlab, Hodeidah/Hudaydah → hadada, Kyiv/Kiev → kav).

Article words (al, el, ad, as-, …) stand apart in a name and drop out before keying
(`is_article`), so "Al Hudaydah" and "Hudaydah" share a key, as do "Deir ez-Zor" and "Deir Zor".
A name of several words has the key of its words, and a name of two also the key of its words
written as one (Tal Afar → "tal afar" and "talafar", which is Telafar's).

Only ASCII letters are keyed: Arabic-script and Cyrillic words are their own key, and only
Latin-script spellings get variant keys (those scripts match by their gazetteer spellings).
`monitor.pipeline.fingerprint.skeleton` keys names for story clustering in a coarser way
(consonants only); this module is where a shared version would live, since the pipeline may import
rules but not the other way round.
"""

from __future__ import annotations

import functools
import importlib.resources
import math
import re

from monitor.rules.normalize import lower_words

# Arabic's definite article as English-language writers romanise it, assimilated or not.
ARTICLES = frozenset("al el il ul ad ed ud ar er as es us ash esh at et ath az ez an en".split())
_REWRITES = (
    ("sch", "sh"),
    ("tch", "ch"),
    ("dzh", "j"),
    ("dj", "j"),
    ("zh", "j"),
    ("kh", "k"),
    ("gh", "g"),
    ("ph", "f"),
    ("th", "t"),
    ("dh", "d"),
    ("ck", "k"),
    ("q", "k"),
    ("x", "ks"),
)
_C_NOT_CH = re.compile(r"c(?!h)")
_ASSIMILATED = re.compile(r"^[ae](sh|[tdrzsnl])\1(?=[aeiouy])")
_FINAL_H = re.compile(r"(?<=[aeiouy])h$")
_DOUBLE = re.compile(r"([a-z])\1+")
_W_VOWEL = re.compile(r"(?<=[aeiouy])w(?![aeiouy])")
_VOWELS = re.compile(r"[aeiouy]+")
# A key with fewer consonants than this is too short to stand for one place (Gaza, Hama, Sanaa):
# such places match only the spellings the gazetteer and the user list.
MIN_CONSONANTS = 3


@functools.lru_cache(maxsize=200_000)
def word_key(word: str) -> str:
    """The key of one folded, lower-case word (see the module docstring); other words as they
    are. Remembered: the words of names and of news repeat."""
    if not word.isascii() or not word.isalpha():
        return word
    for old, new in _REWRITES:
        if old in word:
            word = word.replace(old, new)
    if "c" in word:
        word = _C_NOT_CH.sub("k", word)
    if word[0] in "ae":
        word = _ASSIMILATED.sub(r"\1", word)
    if word[-1:] == "h":
        word = _FINAL_H.sub("", word)
    word = _DOUBLE.sub(r"\1", word)
    if "w" in word:
        word = _W_VOWEL.sub("", word).replace("w", "v")
    return _VOWELS.sub("a", word)


def is_article(word: str) -> bool:
    """Whether a folded, lower-case word is an article that keys drop ("al", "ez", …)."""
    return word in ARTICLES


def name_keys(words: list[str]) -> list[str]:
    """The keys of a name's folded, lower-case words: word by word, then written as one word;
    article words dropped; only keys of letters that have `MIN_CONSONANTS` consonants or more."""
    kept = [w for w in words if not is_article(w)] or words
    if not all(w.isascii() and w.isalpha() for w in kept):
        return []
    out = [" ".join(map(word_key, kept))]
    if len(kept) == 2:  # "Tal Afar" is also "Talafar"; longer names are not written as one word
        out.append(word_key("".join(kept)))
    return [k for k in dict.fromkeys(out) if consonants(k) >= MIN_CONSONANTS]


COMMON_WORD_ZIPF = 3.5  # wordfreq's scale: 3.5 ≈ 3 uses per million words
# ≈ 3 uses per ten million: a word, not a guessed spelling of a place (in English; in the other
# languages a word of their small lists, Zipf 3 or more: see `_scores`)
KNOWN_WORD_ZIPF = 2.5
# The languages of the news a deployment is likely to read, in wordfreq's lists: a spelling that
# is a common word in one of them is matched only as capitalised ("chama" is Portuguese, "сада"
# Russian), and dropped when it is common in one of the first four ("Mosel" is German's river).
# Not dropped in the others: there a common spelling is often the place's own exonym, frequent
# because of it (Turkish "Musul", Italian "Misurata"), which no word list tells apart.
WORD_LANGUAGES = (
    "en",
    "de",
    "fr",
    "es",
    "pt",
    "it",
    "nl",
    "pl",
    "tr",
    "id",
    "ru",
    "uk",
    "ar",
    "fa",
)
DROP_LANGUAGES = WORD_LANGUAGES[:4]


def common_word(spelling: str, languages: tuple[str, ...] = WORD_LANGUAGES) -> str | None:
    """ "a common word in de (Zipf 3.6)" when a one-word spelling is common in one of
    `languages`."""
    words = lower_words(spelling)
    if len(words) != 1:
        return None
    return _common(words[0], languages)


def common_words(spelling: str) -> str | None:
    """ "all its words are common words" when a spelling of several words has only words common
    in a big language ("Dar‘ā" is "dar a", Portuguese for "give to")."""
    words = lower_words(spelling)
    if len(words) < 2 or not all(len(w) == 1 or _zipf(w) >= COMMON_WORD_ZIPF for w in words):
        return None
    return "all its words are common words"


def _common(word: str, languages: tuple[str, ...] = WORD_LANGUAGES) -> str | None:
    scores = _scores(word)
    lang = max(languages, key=lambda k: scores[k])
    if scores[lang] < COMMON_WORD_ZIPF:
        return None
    return f"a common word in {lang} (Zipf {scores[lang]:.1f})"


def _zipf(word: str) -> float:
    return max(_scores(word).values())


@functools.lru_cache(maxsize=100_000)
def _scores(word: str) -> dict[str, float]:
    """`word`'s Zipf frequency in each of `WORD_LANGUAGES` (0 when unlisted)."""
    tables = _tables()
    return {
        lang: math.log10(f) + 9 if (f := tables[lang].get(word)) else 0.0 for lang in WORD_LANGUAGES
    }


@functools.cache
def _tables() -> dict[str, dict[str, float]]:
    """wordfreq's word → frequency tables: in English the full one (story clustering reads it
    too), in the others the small ones, which hold the words of Zipf 3 or more (the full ones
    would cost some 600 MB and seconds to read). Looked up directly: `zipf_frequency` tokenises
    its word first, which costs more than a thousand lookups of words already folded."""
    from wordfreq import get_frequency_dict

    return {
        lang: get_frequency_dict(lang, wordlist="best" if lang == "en" else "small")
        for lang in WORD_LANGUAGES
    }


@functools.cache
def stop_words() -> frozenset[str]:
    """placestop.txt: words found to share a key with a place that wordfreq does not count as
    common (names of people, brands, words of other languages), never taken for a variant."""
    text = importlib.resources.files("monitor.rules").joinpath("placestop.txt").read_text("utf-8")
    lines = (line.split("#", 1)[0].strip() for line in text.splitlines())
    return frozenset(" ".join(lower_words(line)) for line in lines if line)


def ordinary(words: list[str]) -> bool:
    """Whether folded, lower-case words that have a place's variant key are ordinary words, not
    a spelling of the place: every one of them (articles aside) a known word of a big language
    (`KNOWN_WORD_ZIPF`: "raking", "cabal", "Efron") or in the stop list, or the whole in the
    stop list."""
    stop = stop_words()
    if " ".join(words) in stop:
        return True
    if any(w in _NAME_ARTICLES for w in words[1:-1]):
        return False  # "Ain al-Arab", "Deir ez-Zor": an Arabic article inside is a name's shape
    named = [w for w in words if not is_article(w)] or words
    return all(map(known, named))


def known(word: str) -> bool:
    """Whether a folded, lower-case word is a known word of a big language of news, or in the
    stop list: never a guessed spelling of a place on its own."""
    return word in stop_words() or _zipf(word) >= KNOWN_WORD_ZIPF


# The article forms that are no English, French or Spanish word of their own.
_NAME_ARTICLES = ARTICLES - frozenset("an as at en es et er us il".split())
# An article word's key in text: a word of its own, which keys of names with an article inside
# allow for ("Deir ez Zor": " dar \x02 zar " besides " dar zar ").
ARTICLE_KEY = "\x02"
OTHER_KEY = "\x03"  # the key in text of a word no watched name has in its keys
_TEXT_KEYS_MAX = 500_000


def text_keys(
    words: list[str], wanted: frozenset[str], memo: dict[str, str], signals: set[str]
) -> str | None:
    """The variant keys of a text's folded, lower-case words, between single spaces and with a
    space at each end, one key per word so a hit's words are counted as in the text; a word
    whose key is not in `wanted` (the words of the keys watched) nor an article's is
    `OTHER_KEY`. `memo` remembers each word's key for the caller (one per compiled program,
    bounded), so an article costs a few passes at C speed, and keying the words not seen before.

    None when the text has no signal: a word with a wanted key that is no known word, or an
    Arabic article between two words with wanted keys. Every hit that `ordinary` lets through
    has one, so without one there is nothing to scan for (most texts). `signals` collects the
    signal words as words are keyed."""
    distinct = set(words)
    unseen = distinct.difference(memo)
    if unseen:  # words not seen before: a few a text
        if len(memo) > _TEXT_KEYS_MAX:
            memo.clear()
            signals.clear()
            unseen = distinct
        for word in unseen:
            key = ARTICLE_KEY if word in ARTICLES else word_key(word)
            if key == ARTICLE_KEY or key in wanted:
                memo[word] = key
                if key != ARTICLE_KEY and not known(word):
                    signals.add(word)
            else:
                memo[word] = OTHER_KEY
    if signals.isdisjoint(distinct) and (
        _NAME_ARTICLES.isdisjoint(distinct) or not _article_inside(words, memo)
    ):
        return None
    return " " + " ".join(map(memo.__getitem__, words)) + " "


def _article_inside(words: list[str], memo: dict[str, str]) -> bool:
    """Whether an Arabic article stands between two words with watched keys ("Ain al-Arab",
    whose words are both known words), the other shape `ordinary` lets through."""
    plain = (OTHER_KEY, ARTICLE_KEY)
    for article in _NAME_ARTICLES.intersection(words):
        at = 0
        while True:
            try:
                at = words.index(article, at + 1)
            except ValueError:
                break
            before, after = words[at - 1], words[at + 1 : at + 2]
            if after and memo[before] not in plain and memo[after[0]] not in plain:
                return True
    return False


def with_articles(key: str) -> list[str]:
    """A name's key and its forms with an article word between any two of its words, as text
    writes them ("dar zar": also "dar \x02 zar" for "Deir ez-Zor")."""
    words = key.split(" ")
    forms = [words[0]]
    for word in words[1:]:
        forms = [f"{f} {word}" for f in forms] + [f"{f} {ARTICLE_KEY} {word}" for f in forms]
    return forms


def consonants(key: str) -> int:
    """The consonant sounds of a key: its letters less vowels, spaces and the h of sh and ch."""
    return len(key) - key.count("a") - key.count(" ") - key.count("sh") - key.count("ch")


__all__ = [
    "ARTICLES",
    "MIN_CONSONANTS",
    "common_word",
    "common_words",
    "is_article",
    "known",
    "name_keys",
    "ordinary",
    "stop_words",
    "text_keys",
    "with_articles",
    "word_key",
]
