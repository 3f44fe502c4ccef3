"""regions: the places `places:` groups know besides GeoNames' cities — ISO 3166-2's subdivisions
(pycountry, with the names its translations give them) and places.yaml's curated regions — and
the spellings places.yaml adds to cities; with the record type every gazetteer source shares.

places.yaml is read and validated (pydantic, unknown keys forbidden) once per process.
"""

from __future__ import annotations

import functools
import importlib.resources
from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field

REGION_WEIGHT = 100_000  # a first-level division counts as much as a city of 100,000 people
# Words that name a subdivision's kind, and the English ones news writes after a name.
_KINDS = {
    "governorate": ("Governorate", "Province"),
    "province": ("Province",),
    "region": ("Region",),
    "state": ("State",),
    "district": ("District",),
    "popularate": ("District",),
    "regional state": ("Region",),
    "autonomous region": ("Region",),
}
_TRANSLATIONS = ("en", "fr", "de", "es", "ru", "uk")


class Kind(StrEnum):
    CITY = "city"
    REGION = "region"


@dataclass(frozen=True, slots=True)
class Place:
    """A place a name can mean: `ident` is "geonames:<id>", "iso:<code>" or "regions:<name>"."""

    ident: str
    name: str
    country: str
    population: int
    kind: Kind
    spellings: tuple[str, ...]
    source: str
    curated: frozenset[str] = frozenset()  # spellings places.yaml adds: kept even if common

    @property
    def weight(self) -> int:
        return self.population if self.kind is Kind.CITY else REGION_WEIGHT

    def __str__(self) -> str:
        people = f"population {self.population:,}, " if self.population else ""
        return f"{self.name}, {self.country} ({self.kind}, {people}{self.source})"


class _Region(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    country: str = Field(pattern=r"^[A-Z]{2}$")
    spellings: list[str] = Field(min_length=1)
    source: str


class _Alias(BaseModel):
    model_config = ConfigDict(extra="forbid")
    iso: str = Field(pattern=r"^[A-Z]{2}-[0-9A-Z]{1,3}$")
    spellings: list[str] = Field(min_length=1)
    source: str


class _City(BaseModel):
    model_config = ConfigDict(extra="forbid")
    geonames: int
    spellings: list[str] = Field(min_length=1)
    source: str


class _Curated(BaseModel):
    model_config = ConfigDict(extra="forbid")
    version: Literal[1]
    regions: list[_Region]
    aliases: list[_Alias]
    cities: list[_City]


@functools.cache
def _curated() -> _Curated:
    text = importlib.resources.files("monitor.rules").joinpath("places.yaml").read_text("utf-8")
    return _Curated.model_validate(yaml.safe_load(text))


@functools.cache
def curated_cities() -> dict[int, tuple[str, ...]]:
    return {c.geonames: tuple(c.spellings) for c in _curated().cities}


@functools.cache
def regions() -> tuple[Place, ...]:
    """ISO 3166-2's subdivisions and places.yaml's regions, each with its spellings."""
    import gettext

    import pycountry

    curated = _curated()
    aliases = {a.iso: a for a in curated.aliases}
    translations = []
    for language in _TRANSLATIONS:
        try:
            translations.append(
                gettext.translation("iso3166-2", pycountry.LOCALES_DIR, languages=[language])
            )
        except OSError:  # pragma: no cover - a pycountry built without that language
            continue
    out = []
    for sub in pycountry.subdivisions:
        names = [sub.name, *(t.gettext(sub.name) for t in translations)]
        spellings = [*names, *_typed(sub.name, sub.type)]
        source = f"ISO 3166-2 {sub.code}"
        added: list[str] = []
        if sub.code in aliases:
            added = aliases[sub.code].spellings
            spellings += added
            source += " and places.yaml"
        out.append(
            Place(
                f"iso:{sub.code}",
                sub.name,
                sub.country_code,
                0,
                Kind.REGION,
                tuple(dict.fromkeys(spellings)),
                f"{source} ({sub.type.lower()})",
                frozenset(added),
            )
        )
    for region in curated.regions:
        out.append(
            Place(
                f"regions:{region.name}",
                region.name,
                region.country,
                0,
                Kind.REGION,
                tuple(region.spellings),
                "places.yaml",
                frozenset(region.spellings),
            )
        )
    return tuple(out)


def _typed(name: str, kind: str) -> list[str]:
    """`name` with the words news puts after a subdivision's name ("Al Anbār Governorate",
    "Anbār Province"), with and without an article in front; none when the name has its kind
    word already ("Donetska oblast")."""
    words = name.split()
    if words[-1].lower() in _KIND_WORDS:
        return []
    bare = " ".join(words[1:]) if len(words) > 1 and words[0].lower() in _ARTICLES else None
    return [f"{n} {suffix}" for suffix in _KINDS.get(kind.lower(), ()) for n in (name, bare) if n]


_KIND_WORDS = frozenset("oblast province region state governorate district".split())
_ARTICLES = frozenset("al an ar as ad ash at az".split())


__all__ = ["REGION_WEIGHT", "Kind", "Place", "curated_cities", "regions"]
