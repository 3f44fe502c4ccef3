"""stemming: Snowball stems for watchlists with `stem: true` (English) or `stem: <language>`,
and for the words story clustering compares (`stem_in`, by language code), cached per language
and word.

Articles repeat their vocabulary, so a bounded cache makes stemming a dictionary lookup for almost
every word; snowballstemmer uses the C PyStemmer when it is installed.
"""

from __future__ import annotations

import functools
import unicodedata

import snowballstemmer  # type: ignore[import-untyped]

_CACHE_LIMIT = 200_000
_stemmers: dict[str, object] = {}
_caches: dict[str, dict[str, str]] = {}


# Words reach the stemmer folded (every word is matched that way), but some stemmers read an
# ending by the letter folding replaced: Snowball's French finds feminine and plural participles
# by their accent ("attaquées" stems to "attaqu", "attaquees" to "attaque"), its Arabic finds the
# feminine ending by ta marbuta (folded to ha, "الحكومه" keeps it, "الحكومة" loses it). Endings
# that stand for those letters get them back first, so the forms meet again.
_ACCENTS = {"french": (("ees", "ées"), ("ee", "ée")), "arabic": (("ه", "ة"),)}


# Language codes (wordfreq's, as `fingerprint.frequency_language` gives them) → Snowball's names.
# Not Hindi or Tamil: folding drops their vowel signs, and their stemmers read word endings by
# them.
CODES = {
    "en": "english",
    "ar": "arabic", "ca": "catalan", "cs": "czech", "da": "danish", "de": "german", "el": "greek",
    "es": "spanish", "fa": "persian", "fi": "finnish", "fr": "french", "hu": "hungarian",
    "id": "indonesian", "it": "italian", "lt": "lithuanian", "nb": "norwegian", "nl": "dutch",
    "pl": "polish", "pt": "portuguese", "ro": "romanian", "ru": "russian", "sh": "serbian",
    "sv": "swedish", "tr": "turkish",
}  # fmt: skip


def available(language: str) -> bool:
    """Whether this installation stems `language` (PyStemmer, when installed, may know fewer)."""
    return language in snowballstemmer.algorithms()


def stem(word: str, language: str = "english") -> str:
    """The stem of a lower-case word (`graves` → `grave`), folded like the word (no accents);
    words it cannot stem come back as is."""
    cache = _caches.get(language)
    if cache is None:
        _stemmers[language] = snowballstemmer.stemmer(language)
        cache = _caches[language] = {}
    found = cache.get(word)
    if found is None:
        if len(cache) >= _CACHE_LIMIT:
            cache.clear()
        spelled = word
        for folded, accented in _ACCENTS.get(language, ()):
            if word.endswith(folded) and len(word) > len(folded) + 1:
                spelled = word[: -len(folded)] + accented
                break
        stemmed = str(_stemmers[language].stemWord(spelled))  # type: ignore[attr-defined]
        found = cache[word] = _unaccent(stemmed) if stemmed != word else stemmed
    return found or word


def stem_in(word: str, code: str = "en") -> str:
    """`stem` in the language of `code` ("en", "fr"); a language Snowball lacks keeps its words
    as they are. Called for every word of every article: a cached stem is one lookup."""
    language = CODES.get(code)
    if language is None or not _stems(language):
        return word
    cache = _caches.get(language)
    found = cache.get(word) if cache is not None else None
    return found or stem(word, language)


@functools.cache
def _stems(language: str) -> bool:
    """`available`, asked once per language."""
    return available(language)


def _unaccent(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


def stem_all(words: list[str], language: str = "english") -> list[str]:
    cache = _caches.get(language) or {}
    return [cache.get(w) or stem(w, language) for w in words]
