"""stemming: Snowball stems for watchlists with `stem: true` (English) or `stem: <language>`,
cached per language and word.

Articles repeat their vocabulary, so a bounded cache makes stemming a dictionary lookup for almost
every word; snowballstemmer uses the C PyStemmer when it is installed.
"""

from __future__ import annotations

import snowballstemmer  # type: ignore[import-untyped]

_CACHE_LIMIT = 200_000
_stemmers: dict[str, object] = {}
_caches: dict[str, dict[str, str]] = {}


def stem(word: str, language: str = "english") -> str:
    """The stem of a lower-case word (`graves` → `grave`); words it cannot stem come back as is."""
    cache = _caches.get(language)
    if cache is None:
        _stemmers[language] = snowballstemmer.stemmer(language)
        cache = _caches[language] = {}
    found = cache.get(word)
    if found is None:
        if len(cache) >= _CACHE_LIMIT:
            cache.clear()
        found = cache[word] = str(_stemmers[language].stemWord(word)) or word  # type: ignore[attr-defined]
    return found


def stem_all(words: list[str], language: str = "english") -> list[str]:
    cache = _caches.get(language) or {}
    return [cache.get(w) or stem(w, language) for w in words]
