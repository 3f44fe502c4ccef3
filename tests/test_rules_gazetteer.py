"""gazetteer: names as reporters spell them → the place they mean, or the candidates."""

from __future__ import annotations

import pytest

from monitor.rules import gazetteer
from monitor.rules.gazetteer import Kind

NAMES = [
    "Hodeidah",
    "Sana'a",
    "Sana’a",
    "Telafar",
    "Fallouja",
    "Mosul",
    "al-Raqqa",
    "Nusseirat",
    "Tripoli",
    "Tripoli, LY",
    "Tripoli, Lebanon",
    "Idlib",
    "Idlib Governorate",
    "Anbar",
    "Darfur",
    "Donbas",
    "Gaza Strip",
    "Sinjar District",
    "Nineveh",
    "Donetsk region",
    "Kiev",
    "Atlantis Minor",
    "Mosul, FR",
]


@pytest.fixture(scope="module")
def resolved() -> dict[str, gazetteer.Resolution]:
    return gazetteer.resolve_all(NAMES)  # one pass over the gazetteer for every test here


@pytest.mark.parametrize(
    ("name", "place", "country", "how"),
    [
        ("Hodeidah", "Al Ḩudaydah", "YE", "variant"),  # GeoNames has Hodeida, not Hodeidah
        ("Sana'a", "Sanaa", "YE", "lists"),
        ("Sana’a", "Sanaa", "YE", "lists"),  # a curly apostrophe is the same
        ("Telafar", "Tall ‘Afar", "IQ", "variant"),
        ("Fallouja", "Al Fallūjah", "IQ", "variant"),
        ("al-Raqqa", "Ar Raqqah", "SY", "lists"),  # as "Raqqa"
        ("Nusseirat", "An Nuşayrāt", "PS", "variant"),  # the likeliest spelling, not Nazareth
        ("Kiev", "Kyiv", "UA", "lists"),
    ],
)
def test_lookup_forgives_spellings(
    resolved: dict[str, gazetteer.Resolution], name: str, place: str, country: str, how: str
) -> None:
    found = resolved[name]
    assert found.place is not None, found.why
    assert (found.place.name, found.place.country, found.place.kind) == (place, country, Kind.CITY)
    assert how in found.why and not found.ambiguous


def test_the_most_populous_candidate_wins(resolved: dict[str, gazetteer.Resolution]) -> None:
    hodeidah = resolved["Hodeidah"]
    assert hodeidah.place is not None and hodeidah.place.population == 734_699
    assert "Hodeidah ≈ El-Hodeidah" in hodeidah.why
    assert all(p.population < 734_699 for p in hodeidah.others)


def test_tripoli_is_ambiguous_until_a_country_settles_it(
    resolved: dict[str, gazetteer.Resolution],
) -> None:
    tripoli = resolved["Tripoli"]
    assert tripoli.place is not None and tripoli.place.country == "LY"
    assert [p.country for p in tripoli.ambiguous] == ["LB"]
    for name, country in (("Tripoli, LY", "LY"), ("Tripoli, Lebanon", "LB")):
        settled = resolved[name]
        assert settled.place is not None and settled.place.country == country
        assert not settled.ambiguous and settled.typed == "Tripoli"


@pytest.mark.parametrize(
    ("name", "source"),
    [
        ("Anbar", "ISO 3166-2 IQ-AN"),
        ("Nineveh", "ISO 3166-2 IQ-NI"),
        ("Idlib Governorate", "ISO 3166-2 SY-ID"),
        ("Donetsk region", "ISO 3166-2 UA-14"),
        ("Darfur", "places.yaml"),
        ("Donbas", "places.yaml"),
        ("Gaza Strip", "places.yaml"),
        ("Sinjar District", "places.yaml"),
    ],
)
def test_regions_resolve_to_regions(
    resolved: dict[str, gazetteer.Resolution], name: str, source: str
) -> None:
    found = resolved[name]
    assert found.place is not None and found.place.kind is Kind.REGION
    assert found.place.source.startswith(source)


def test_a_city_wins_over_its_region_which_stays_a_candidate(
    resolved: dict[str, gazetteer.Resolution],
) -> None:
    idlib = resolved["Idlib"]
    assert idlib.place is not None and idlib.place.kind is Kind.CITY
    assert any(p.kind is Kind.REGION and p.country == "SY" for p in idlib.others)


def test_an_unknown_name_offers_the_nearest(resolved: dict[str, gazetteer.Resolution]) -> None:
    lost = resolved["Atlantis Minor"]
    assert lost.place is None and "no place called 'Atlantis Minor'" in lost.why
    assert "Atlantis" in [p.name for p in lost.nearest]
    assert resolved["Mosul, FR"].place is None  # a country keeps only its places
    assert "in FR" in resolved["Mosul, FR"].why and resolved["Mosul, FR"].nearest
