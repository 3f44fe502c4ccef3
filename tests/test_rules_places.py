"""places groups as a user writes them: spellings both ways, variants, regions, ambiguity, and
what `monitor check`, `monitor test` and `monitor places` say."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from monitor.cli import main
from monitor.model import Article
from monitor.rules import Matcher, RulesError, compile_watchlists
from monitor.rules.gazetteer import resolve_all
from monitor.watchlist import WatchlistSettings


@pytest.fixture(scope="module", autouse=True)
def _gazetteer_read_once() -> None:
    """Every name this module uses, resolved in one pass over the gazetteer (a pass per new
    name would cost seconds each)."""
    resolve_all(
        "Tal Afar|Telafar|Falluja|Fallouja|Deir ez-Zor|Deir Ezzor|Idlib|Edlib|Hodeidah|Al Hudaydah"
        "|Sana'a|Sanaa|Rakhine|Kabul|Afrin|Geneina|Mosul|Darfur|Donetsk region|Nineveh|Aden"
        "|Tripoli|Tripoli, LY|Tal Afaq".split("|")
    )


def compiled(query: str, places: list[str], **group: list[str]) -> Matcher:
    data = {
        "version": 1,
        "name": "w",
        "channels": ["log"],
        "groups": {"cities": {"places": places, **group}},
        "rules": [{"name": "r", "query": query}],
    }
    return compile_watchlists([WatchlistSettings.model_validate(data)])


def story(text: str) -> Article:
    return Article(url="", canonical_url="", title="", text=text)


def place_hits(matcher: Matcher, text: str) -> list[tuple[str, str]]:
    """(hit label, text it covers) of each place hit."""
    return [
        (h.term, text[h.start : h.end])
        for m in matcher.match(story(text))
        for h in m.hits
        if h.term.startswith("@cities")
    ]


def test_telafar_offensive_resumes() -> None:
    matcher = compiled("offensive NEAR/10 @cities", ["Tal Afar"])
    text = "Telafar offensive resumes"
    assert place_hits(matcher, text) == [("@cities: Telafar ≈ Tal Afar", "Telafar")]


@pytest.mark.parametrize(
    ("written", "spelled"),
    [
        ("Tal Afar", "Telafar"),
        ("Telafar", "Tal Afar"),
        ("Tal Afar", "Talafar"),
        ("Falluja", "Fallouja"),
        ("Fallouja", "Falluja"),
        ("Deir ez-Zor", "Deir Ezzor"),
        ("Deir Ezzor", "Deir ez-Zor"),
        ("Idlib", "Edlib"),
        ("Edlib", "Idlib"),
        ("Hodeidah", "al-Hudaydah"),
        ("Al Hudaydah", "Hodeidah"),
        ("Sana'a", "Sanaa"),
        ("Sanaa", "Sana’a"),
    ],
)
def test_the_issues_spellings_match_both_ways(written: str, spelled: str) -> None:
    matcher = compiled("@cities", [written])
    text = f"Clashes were reported in {spelled} on Sunday."
    hits = place_hits(matcher, text)
    assert hits and all(covered in spelled for _, covered in hits), hits


def test_variants_stay_whole_words_case_insensitive_and_only_for_places() -> None:
    matcher = compiled("@cities", ["Tal Afar"])
    assert place_hits(matcher, "TELAFAR OFFENSIVE") == [("@cities: TELAFAR ≈ Tal Afar", "TELAFAR")]
    assert place_hits(matcher, "the telafar road")  # case does not matter
    assert not place_hits(matcher, "Telafari militias")  # whole words only
    plain = compile_watchlists(
        [
            WatchlistSettings.model_validate(
                {
                    "version": 1,
                    "name": "w",
                    "channels": ["log"],
                    "groups": {"cities": ["Tal Afar"]},
                    "rules": [{"name": "r", "query": "@cities OR Falluja"}],
                }
            )
        ]
    )
    assert not plain.match(story("Telafar and Fallouja"))  # plain words and groups: as written


def test_ordinary_words_that_share_a_key_with_a_place_do_not_match() -> None:
    matcher = compiled("@cities", ["Rakhine", "Kabul", "Afrin", "Geneina", "Mosul"])
    for text in (
        "Pirates are raking in millions.",
        "He suspected a cabal of insiders.",
        "Zac Efron wants a reunion.",
        "Jeanine puts Four under simulation.",
        "Wine from the Mosel valley.",
    ):
        assert not matcher.match(story(text)), text
    assert place_hits(matcher, "Fighting near Mossul and Efrin.")  # their spellings still do


def test_arabic_and_cyrillic_names_keep_working() -> None:
    matcher = compiled("@cities", ["Tal Afar", "Mosul"])
    for text in ("بدأ الهجوم على تلعفر", "وصلت القوات بالموصل", "Бои за Таль-Афар"):
        assert matcher.match(story(text)), text


def test_a_region_matches_its_own_spellings() -> None:
    darfur = compiled("@cities", ["Darfur"])
    for text in ("Fighting spread across Darfur.", "a displacement camp in Dar Fur", "دارفور"):
        assert darfur.match(story(text)), text
    donetsk = compiled("@cities", ["Donetsk region"])
    assert donetsk.match(story("Shelling in the Donetsk Oblast overnight"))
    assert donetsk.match(story("Shelling in Donetska oblast overnight"))
    assert not donetsk.match(story("Shelling in Donetsk overnight"))  # the city is not the region
    nineveh = compiled("@cities", ["Nineveh"])
    for spelled in ("Nineveh province", "Ninewa", "Ninawa governorate", "نينوى"):
        assert nineveh.match(story(f"Returns to {spelled} continue.")), spelled


def test_gulf_of_aden_is_not_aden() -> None:
    matcher = compiled("@cities", ["Aden"])
    assert not matcher.match(story("Pirates attacked a tanker in the Gulf of Aden."))
    assert matcher.match(story("The port of Aden reopened."))


def test_tripoli_without_a_country_is_a_located_problem_naming_both() -> None:
    with pytest.raises(RulesError) as caught:
        compiled("@cities", ["Mosul", "Tripoli"])
    (problem,) = caught.value.problems
    assert problem.loc == ("groups", "cities", "places", 1)
    assert "'Tripoli' is ambiguous" in problem.message
    assert "Tripoli, LY" in problem.message and "Tripoli, LB" in problem.message
    matcher = compiled("@cities", ["Tripoli, LY"])
    assert matcher.match(story("Clashes in Tripoli overnight."))


WATCHLIST = """version: 1
name: north
channels: [log]
groups:
  cities:
    places: [Mosul, Tal Afaq, Tripoli]
rules:
  - {name: offensive, query: "offensive NEAR/10 @cities"}
"""


def test_monitor_check_lists_unknown_and_ambiguous_places_with_candidates(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "watchlists").mkdir()
    (tmp_path / "watchlists" / "north.yaml").write_text(WATCHLIST)
    (tmp_path / "monitor.yaml").write_text("version: 1\nchannels:\n  log: {kind: log}\n")
    code = main(["check", "-c", str(tmp_path / "monitor.yaml")])
    err = capsys.readouterr().err
    assert code == 2
    where = f"{tmp_path / 'watchlists' / 'north.yaml'}:6: groups.cities.places"
    unknown = next(line for line in err.splitlines() if "Tal Afaq" in line)
    assert unknown.startswith(f"{where}[1]: no place called 'Tal Afaq'")
    assert "nearest: Tall ‘Afar, IQ (city" in unknown
    ambiguous = next(line for line in err.splitlines() if "Tripoli" in line)
    assert ambiguous.startswith(f"{where}[2]: 'Tripoli' is ambiguous")


def test_monitor_test_and_alert_hits_say_which_spelling_and_that_it_is_a_variant(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "watchlists").mkdir()
    (tmp_path / "watchlists" / "north.yaml").write_text(
        WATCHLIST.replace(", Tal Afaq, Tripoli", ", Tal Afar")
    )
    (tmp_path / "monitor.yaml").write_text("version: 1\nchannels:\n  log: {kind: log}\n")
    note = tmp_path / "note.txt"
    note.write_text("Telafar offensive resumes\n\nThe offensive on Telafar resumed at dawn.\n")
    config = str(tmp_path / "monitor.yaml")
    assert main(["test", "-c", config, str(note)]) == 0
    out = capsys.readouterr().out
    assert "**Telafar**" in out and "@cities: Telafar ≈ Tal Afar ×" in out
    assert main(["test", "-c", config, "--json", str(note)]) == 0
    (found,) = json.loads(capsys.readouterr().out)
    assert {(h["term"], h["text"]) for h in found["hits"]} >= {
        ("@cities: Telafar ≈ Tal Afar", "Telafar")
    }


def test_monitor_places_says_what_why_which_kind_and_the_other_candidates(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["places", "Hodeidah"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0].startswith("Hodeidah → Al Ḩudaydah, YE (city, population 734,699")
    assert lines[1] == "  why: a variant spelling: Hodeidah ≈ El-Hodeidah"
    assert "other candidates" in out and "variant keys: hadada" in out
    assert main(["places", "Darfur", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert (data["place"]["kind"], data["place"]["source"]) == ("region", "places.yaml")
    assert main(["places", "Tripoli"]) == 0
    assert "problem: 'Tripoli' is ambiguous" in capsys.readouterr().out
    assert main(["places", "Tal Afaq"]) == 1
    out = capsys.readouterr().out
    assert "not in the gazetteer" in out and "Tall ‘Afar, IQ" in out
