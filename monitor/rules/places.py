"""places: a place name → the place it means and every spelling to match for it, each drop with its
reason, and the variant keys that catch the spellings no list has.

The gazetteer (see gazetteer: GeoNames cities, ISO 3166-2 subdivisions, curated regions) is an
optional extra: `pip install 'monitor[places]'`. Kept: the name as written, then the place's
spellings in scripts that put spaces between words (Latin, Arabic, Cyrillic, …), minus codes,
lower-case romanisations and single words that are common words in English, German, French or
Spanish (wordfreq): "Mosel" is a German river. A spelling that is a common word in another big
language of news ("chama" in Portuguese), a typed name that is a common word ("Karma") and a
spelling all of whose words are common ("Dar‘ā", which is "dar a") match only as capitalised.
The Latin-script spellings that stand for the place in English also give it its variant keys
(placekey): "Telafar" then matches a watch on Tal Afar though no list has it.
"""

from __future__ import annotations

import functools
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from monitor.rules import placekey
from monitor.rules.gazetteer import INSTALL_HINT, Kind, Place, Resolution, resolve, resolve_all
from monitor.rules.normalize import lower_words
from monitor.watchlist import PlacesGroup

_UNSPACED_SCRIPTS = ("CJK", "HIRAGANA", "KATAKANA", "THAI", "LAO", "KHMER", "MYANMAR", "TIBETAN")


@dataclass(frozen=True, slots=True)
class Spelling:
    """One spelling to match for `place`; `case`: only with this capitalisation."""

    place: str
    spelling: str
    case: bool = False
    why: str = "gazetteer"
    english: bool = False  # as written, added, curated or the gazetteer's own name: keyed


@dataclass(frozen=True, slots=True)
class Dropped:
    spelling: str
    reason: str


@dataclass(frozen=True, slots=True)
class Variants:
    """What a place matches beyond its spellings: text whose words have one of `keys`, unless
    they are one of its `spellings` (matched as such) or `refused` (dropped or excluded)."""

    place: str
    keys: tuple[str, ...]
    spellings: frozenset[str]
    refused: frozenset[str]


@dataclass
class PlaceExpansion:
    """What `monitor places NAME` shows: what the name resolved to and why, the spellings kept
    and those dropped, and the variant keys."""

    name: str
    resolution: Resolution
    kept: list[Spelling] = field(default_factory=list)
    dropped: list[Dropped] = field(default_factory=list)
    variants: Variants | None = None

    @property
    def place(self) -> Place | None:
        return self.resolution.place

    def to_dict(self) -> dict[str, Any]:
        r = self.resolution
        return {
            "name": self.name,
            "place": None if r.place is None else _place_dict(r.place),
            "why": r.why,
            "ambiguous": [_place_dict(p) for p in r.ambiguous],
            "others": [_place_dict(p) for p in r.others],
            "nearest": [_place_dict(p) for p in r.nearest],
            "kept": [{"spelling": s.spelling, "case": s.case, "why": s.why} for s in self.kept],
            "dropped": [{"spelling": d.spelling, "reason": d.reason} for d in self.dropped],
            "variant_keys": list(self.variants.keys) if self.variants else [],
        }


def _place_dict(place: Place) -> dict[str, Any]:
    return {
        "name": place.name,
        "country": place.country,
        "kind": place.kind.value,
        "population": place.population,
        "source": place.source,
        "id": place.ident,
        "text": str(place),
    }


@dataclass(frozen=True, slots=True)
class GroupProblem:
    loc: tuple[str | int, ...]
    message: str


@dataclass
class Expansion:
    spellings: list[Spelling] = field(default_factory=list)
    variants: list[Variants] = field(default_factory=list)
    problems: list[GroupProblem] = field(default_factory=list)


def _key(text: str) -> str:
    return " ".join(lower_words(text))


def expand(name: str, add: Iterable[str] = (), exclude: Iterable[str] = ()) -> PlaceExpansion:
    """The spellings of one place, as `monitor places NAME` lists them."""
    return _expand(name, tuple(add), tuple(exclude))


@functools.lru_cache(maxsize=4096)
def _expand(name: str, add: tuple[str, ...], exclude: tuple[str, ...]) -> PlaceExpansion:
    """`expand`, remembered: watchlists share places, and filtering spellings costs."""
    resolution = resolve(name)
    place = resolution.place
    out = PlaceExpansion(name, resolution)
    excluded = {_key(e) for e in exclude}
    seen: set[str] = set()
    typed = resolution.typed
    for spelled, why in [(typed, "as written"), *((a, "added by you") for a in add)]:
        if _key(spelled) not in seen and _key(spelled) not in excluded:
            seen.add(_key(spelled))
            common = why == "as written" and placekey.common_word(spelled)
            note = f"{why}; {common}, so only as capitalised" if common else why
            out.kept.append(Spelling(typed, spelled, bool(common), note, True))
    if place is None:
        return out
    for spelled in place.spellings:
        key = _key(spelled)
        if not key or key in seen:
            continue
        seen.add(key)
        if key in excluded:
            out.dropped.append(Dropped(spelled, "excluded by you"))
        elif spelled in place.curated:
            common = placekey.common_word(spelled)
            note = f"places.yaml; {common}, so only as capitalised" if common else "places.yaml"
            out.kept.append(Spelling(typed, spelled, bool(common), note, True))
        elif reason := _reject(spelled):
            out.dropped.append(Dropped(spelled, reason))
        elif common := placekey.common_word(spelled) or placekey.common_words(spelled):
            english = spelled == place.name or place.kind is Kind.REGION
            note = f"{common}, so only as capitalised"
            out.kept.append(Spelling(typed, spelled, True, note, english))
        else:
            english = spelled == place.name or place.kind is Kind.REGION
            out.kept.append(Spelling(typed, spelled, english=english))
    out.variants = _variants(place, out)
    return out


def _variants(place: Place, expansion: PlaceExpansion) -> Variants | None:
    """The variant keys of the Latin-script spellings kept that stand for the place as English
    writes it: the name as written or added, the gazetteer's own name, and every spelling of a
    region (ISO 3166-2's and places.yaml's, curated). GeoNames' other spellings are in many
    languages ("Al Xudayda", "Tripol"); keyed too, they would widen what matches by guesswork.
    None when no key is long enough."""
    keys = dict.fromkeys(
        key
        for s in expansion.kept
        if s.english
        for key in placekey.name_keys(lower_words(s.spelling))
    )
    if not keys:
        return None
    return Variants(
        expansion.resolution.typed,
        tuple(keys),
        frozenset(_key(s.spelling) for s in expansion.kept),
        frozenset(_key(d.spelling) for d in expansion.dropped),
    )


def expand_group(group: PlacesGroup) -> Expansion:
    """Every spelling and variant key of every place of a group; unknown and ambiguous places
    and a missing gazetteer are problems located at the place's entry."""
    out = Expansion()
    try:
        resolve_all(group.places)
    except ImportError:
        out.problems.append(GroupProblem(("places",), INSTALL_HINT))
        return out
    for number, name in enumerate(group.places):
        expansion = expand(name, group.add, group.exclude)
        problem = place_problem(expansion.resolution)
        if problem is not None:
            out.problems.append(GroupProblem(("places", number), problem))
            continue
        out.spellings += expansion.kept
        if expansion.variants is not None:
            out.variants.append(expansion.variants)
    return out


def place_problem(resolution: Resolution) -> str | None:
    """Why a resolution cannot be used as it is (unknown, ambiguous), naming the candidates."""
    name = resolution.name
    if resolution.place is None:
        near = "; ".join(_listed(p) for p in resolution.nearest)
        hint = f"; nearest: {near}" if near else ""
        return (
            f"{resolution.why} (GeoNames cities of 1,000 people or more, ISO 3166-2 regions,"
            f" places.yaml){hint}; check the spelling, or list it under add:"
        )
    if resolution.ambiguous:
        places = [resolution.place, *resolution.ambiguous]
        listed = "; ".join(_listed(p) for p in places)
        pick = f"{name.strip()}, {resolution.place.country}"
        return f"{name!r} is ambiguous: {listed}; write the country, e.g. {pick!r}"
    return None


def _listed(place: Place) -> str:
    return f"{place.name}, {place.country} ({place.kind}{_people(place)})"


def _people(place: Place) -> str:
    return f", population {place.population:,}" if place.population else ""


def _reject(spelling: str) -> str | None:
    """Why a gazetteer spelling is not worth matching, or None to keep it."""
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
    return placekey.common_word(spelling, placekey.DROP_LANGUAGES)


def _script(ch: str) -> str:
    return unicodedata.name(ch, "UNKNOWN").split(" ")[0]


__all__ = [
    "INSTALL_HINT",
    "Expansion",
    "GroupProblem",
    "PlaceExpansion",
    "Spelling",
    "Variants",
    "expand",
    "expand_group",
    "place_problem",
    "resolve_all",
]
