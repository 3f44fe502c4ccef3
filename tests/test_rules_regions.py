"""regions: ISO 3166-2's subdivisions and places.yaml's curated places."""

from __future__ import annotations

from monitor.rules import regions
from monitor.rules.regions import Kind


def test_curated_places_file_is_valid_and_sourced() -> None:
    curated = regions._curated()
    assert all(r.source.strip() for r in (*curated.regions, *curated.aliases, *curated.cities))
    iso = {p.ident for p in regions.regions()}
    assert all(f"iso:{a.iso}" in iso for a in curated.aliases)  # every alias names a real code


def test_subdivisions_carry_their_translations_and_the_words_news_puts_after_them() -> None:
    by_code = {p.ident: p for p in regions.regions()}
    anbar = by_code["iso:IQ-AN"]
    assert anbar.kind is Kind.REGION and anbar.name == "Al Anbār"
    assert {"Anbār Governorate", "Anbar Province", "Al-Anbar", "Анбар"} <= set(anbar.spellings)
    donetsk = by_code["iso:UA-14"]
    assert "Донецкая область" in donetsk.spellings  # pycountry's Russian translation
    assert not any(s.endswith("oblast Region") for s in donetsk.spellings)
    darfur = by_code["regions:Darfur"]
    assert darfur.source == "places.yaml" and "دارفور" in darfur.spellings
