"""stemming: English Snowball stems for watchlists with `stem: true`, cached per word.

Articles repeat their vocabulary, so a bounded cache makes stemming a dictionary lookup for almost
every word; snowballstemmer uses the C PyStemmer when it is installed.
"""

from __future__ import annotations

import snowballstemmer  # type: ignore[import-untyped]

_CACHE_LIMIT = 200_000
_stemmer = snowballstemmer.stemmer("english")
_cache: dict[str, str] = {}


def stem(word: str) -> str:
    """The stem of a lower-case word (`graves` → `grave`); words it cannot stem come back as is."""
    found = _cache.get(word)
    if found is None:
        if len(_cache) >= _CACHE_LIMIT:
            _cache.clear()
        found = _cache[word] = str(_stemmer.stemWord(word)) or word
    return found


def stem_all(words: list[str]) -> list[str]:
    return [_cache.get(w) or stem(w) for w in words]
