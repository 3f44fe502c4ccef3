"""The rest of the rule language: ONEAR, wildcards, field scopes, =IS, stemming, min_hits,
exclude, places groups, and what `monitor test` prints."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import trafilatura

from monitor.model import Article
from monitor.rules import RulesError, compile_watchlists, places, stemming
from monitor.rules.explain import render, render_place, to_json
from monitor.rules.normalize import fold, plain, plain_words
from monitor.watchlist import WatchlistSettings

FIXTURES = Path(__file__).parent / "fixtures" / "rules"
SEEDS = Path(__file__).resolve().parents[2] / "shared" / "seeds"


def compiled(query: str, **extra: object):  # type: ignore[no-untyped-def]
    rules = [{"name": "r", "query": query, **extra.pop("rule", {})}]  # type: ignore[dict-item]
    data = {"version": 1, "name": "w", "channels": ["log"], "rules": rules, **extra}
    return compile_watchlists([WatchlistSettings.model_validate(data)])


def story(text: str = "", title: str = "", **fields: str) -> Article:
    return Article(url=fields.pop("url", ""), canonical_url="", title=title, text=text, **fields)  # type: ignore[arg-type]


def matches(query: str, text: str = "", title: str = "", **extra: object) -> bool:
    fields = {k: extra.pop(k) for k in ("summary", "source", "url", "language") if k in extra}
    return bool(compiled(query, **extra).match(story(text, title, **fields)))  # type: ignore[arg-type]


def test_onear_keeps_the_order_near_does_not() -> None:
    text = "Mosul was shelled before the offensive."
    assert matches("Mosul ONEAR/4 offensive", text)
    assert not matches("offensive ONEAR/4 Mosul", text)
    assert matches("offensive NEAR/4 Mosul", text)


@pytest.mark.parametrize(
    ("query", "text", "expected"),
    [
        ("grave*", "two graves were found", True),
        ("grave*", "a gravel road", True),  # a prefix is a prefix
        ("grave*", "an engraved stone", False),  # but only at the start of a word
        ('"mass grave*"', "mass graves near the prison", True),
        ('"mass grave*"', "mass of graves", False),
    ],
)
def test_trailing_wildcards(query: str, text: str, expected: bool) -> None:
    assert matches(query, text) is expected


def test_field_scopes() -> None:
    assert matches("title:Mosul", title="Battle for Mosul", text="nothing here")
    assert not matches("title:Mosul", title="Battle", text="Mosul")
    assert matches("text:Mosul", text="Mosul")
    assert matches("summary:Mosul", summary="Mosul")
    assert not matches("Mosul", source="mosul-daily")  # unscoped means title, summary and text
    assert matches("source:mosul-daily", source="mosul-daily")
    assert matches("url:aljazeera.com", url="https://www.aljazeera.com/news/x")
    assert matches("lang:en AND Mosul", text="Mosul", language="en-GB")
    assert not matches("lang:ar AND Mosul", text="Mosul", language="en")
    assert matches('title:("mass grave" OR Mosul)', title="Mosul raid")


def test_case_sensitive_terms_only_fire_on_that_case() -> None:
    assert matches("=IS NEAR/3 Falluja", "IS fighters left Falluja")
    assert not matches("=IS NEAR/3 Falluja", "It is Falluja, he said")
    assert not matches("=IS", "IS IT OVER? Is it?".lower())
    assert matches('="Islamic State"', "the Islamic State group")
    assert not matches('="Islamic State"', "an islamic state of mind")


def test_stemming_is_off_by_default_and_matches_plurals_when_on() -> None:
    assert not matches('"mass grave"', "two mass graves")
    assert matches('"mass grave"', "two mass graves", stem=True)
    assert matches("offensives", "the offensive began", stem=True)
    assert not matches("grave", "gravel", stem=True)


def test_stemming_in_another_language() -> None:
    assert matches('"charnier découvert"', "des charniers découverts près de Goma", stem="french")
    assert matches("réfugié", "les réfugiés de Goma", stem="french")
    assert matches("attaque", "deux écoles attaquées", stem="french")  # a feminine plural
    assert matches('"personne déplacée"', "des personnes déplacées", stem="french")
    assert matches("secuestro", "tres periodistas secuestrados", stem="spanish")
    assert matches("حكومة", "قالت الحكومة إن", stem="arabic")  # "government", "the government"
    assert not matches("secuestro", "tres periodistas secuestrados", stem=True)  # English stems
    with pytest.raises(ValueError, match="stem"):
        compiled("x", stem="klingon")


def test_a_stem_language_this_installation_lacks_is_a_config_problem(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(stemming, "available", lambda language: language != "polish")
    with pytest.raises(RulesError) as info:
        compiled("x", stem="polish")
    (problem,) = info.value.problems
    assert problem.loc == ("stem",) and "no polish stemmer" in problem.message


def test_watchlists_stemming_in_different_languages_each_keep_their_own() -> None:
    def watchlist(name: str, query: str, stem: object) -> WatchlistSettings:
        rules = [{"name": name, "query": query}]
        data = {"version": 1, "name": name, "channels": ["log"], "rules": rules, "stem": stem}
        return WatchlistSettings.model_validate(data)

    matcher = compile_watchlists(
        [
            watchlist("fr", '"fosse commune"', "french"),
            watchlist("en", '"mass grave"', True),
            watchlist("exact", "graves", False),
        ]
    )
    found = matcher.match(story("Les fosses communes et les mass graves: deux graves rapports."))
    assert sorted(m.rule for m in found) == ["en", "exact", "fr"]
    found = matcher.match(story("Une fosse commune; a mass grave."))
    assert sorted(m.rule for m in found) == ["en", "fr"]
    text = "deux fosses communes"
    (fr,) = [m for m in matcher.match(story(text)) if m.rule == "fr"]
    assert [text[h.start : h.end] for h in fr.hits] == ["fosses communes"]


def test_min_hits_counts_occurrences_of_the_query_terms() -> None:
    text = "Mosul. Later Mosul again. Then Mosul."
    assert matches("Mosul", text, rule={"min_hits": 3})
    assert not matches("Mosul", text, rule={"min_hits": 4})


def test_exclude_vetoes_the_rule() -> None:
    text = "Troops rehearsed the offensive near Mosul in a drill."
    assert matches("offensive NEAR/5 Mosul", text)
    assert not matches("offensive NEAR/5 Mosul", text, rule={"exclude": "drill OR exercise"})
    assert (
        matches(
            "offensive NEAR/5 Mosul",
            text,
            rule={"exclude": "NOT lang:en"},
        )
        is False
    )
    assert matches("offensive", text + " x", rule={"exclude": "exercise"})


def test_a_sidebar_dropped_by_extraction_does_not_count() -> None:
    html = (FIXTURES / "sidebar-page.html").read_text(encoding="utf-8")
    assert "mass grave" in html  # only in the sidebar
    text = trafilatura.extract(html) or ""
    assert "Engineers cleared" in text and "mass grave" not in text
    assert not compiled('"mass grave"').match(story(text, "Engineers clear the road"))


# --- places ------------------------------------------------------------------------------------

PLACES = {"cities": {"places": ["Tal Afar", "Mosul"]}}


def test_places_match_spellings_the_user_never_wrote() -> None:
    matcher = compiled("offensive NEAR/10 @cities", groups=PLACES)
    for spelled in ("Telafer", "Tall ‘Afar", "Tal Afar", "Mossul", "Al Mawsil"):
        (found,) = matcher.match(story(f"The offensive on {spelled} began."))
        hit = next(h for h in found.hits if h.term.startswith("@cities"))
        assert (
            found.hits
            and story(f"The offensive on {spelled} began.").text[hit.start : hit.end] == spelled
        )


def test_places_in_arabic_script_match_arabic_text_with_attached_prefixes() -> None:
    matcher = compiled("@cities", groups=PLACES)
    for text in ("بدأ الهجوم على تلعفر", "اشتباكات في الموصل", "وصلت القوات بالموصل", "الْمَوْصِل"):
        assert matcher.match(story(text)), text


def test_places_drop_ordinary_words_unless_added() -> None:
    assert not compiled("@cities", groups=PLACES).match(story("Wine from the Mosel valley"))
    added = {"cities": {"places": ["Mosul"], "add": ["Mosel"]}}
    assert compiled("@cities", groups=added).match(story("Wine from the Mosel valley"))
    excluded = {"cities": {"places": ["Mosul"], "exclude": ["Mossul"]}}
    assert not compiled("@cities", groups=excluded).match(story("Kämpfe um Mossul"))


def test_a_place_that_is_a_common_word_matches_only_capitalised() -> None:
    matcher = compiled("@towns", groups={"towns": {"places": ["Karma"]}})
    assert matcher.match(story("Troops entered Karma at dawn."))
    assert not matcher.match(story("It was bad karma, he said."))


def test_unknown_place_is_a_located_error() -> None:
    with pytest.raises(RulesError) as caught:
        compiled("@cities", groups={"cities": {"places": ["Mosul", "Atlantis Minor"]}})
    (problem,) = caught.value.problems
    assert problem.loc == ("groups", "cities", "places", 1)
    assert "no place called 'Atlantis Minor'" in problem.message


@pytest.mark.skipif(not SEEDS.is_dir(), reason="../shared/seeds is not here")
def test_seeds_match_a_places_watchlist() -> None:
    matcher = compiled(
        "(offensive OR graves) NEAR/15 @cities",
        groups={"cities": {"places": ["Falluja", "Tal Afar", "Mosul"]}},
    )
    for seed in ("bbc-falluja.txt", "aljazeera-tal-afar.txt"):
        title, _, body = (SEEDS / seed).read_text(encoding="utf-8").partition("\n")
        assert matcher.match(story(body, title)), seed


# --- explanations ------------------------------------------------------------------------------


def test_render_marks_each_hit_and_json_carries_the_hit_text() -> None:
    article = story("Fighting resumed. The offensive on Tal Afar began at dawn.", "Dawn raid")
    found = compiled("offensive NEAR/5 @cities", groups=PLACES).match(article)
    plain = render(article, found)
    assert plain.splitlines()[0] == "MEDIUM w / r"
    assert "The **offensive** on **Tal Afar** began" in plain
    coloured = render(article, found, colour=True)
    assert "\x1b[1;31moffensive\x1b[0m" in coloured
    data = json.loads(json.dumps(to_json(article, found)))
    assert [(h["term"], h["text"]) for h in data[0]["hits"]] == [
        ("offensive", "offensive"),
        ("@cities: Tal Afar", "Tal Afar"),
    ]
    assert render(article, []) == "no rule matches"


def test_monitor_places_shows_spellings_kept_and_dropped_with_reasons() -> None:
    expansion = places.expand("Mosul", exclude=["Musil"])
    assert expansion.place is not None and expansion.place.country == "IQ"
    kept = [s.spelling for s in expansion.kept]
    assert kept[0] == "Mosul" and "Mossoul" in kept and "الموصل" in kept
    dropped = {d.spelling: d.reason for d in expansion.dropped}
    assert dropped["Mosel"].startswith("a common word in de")
    assert dropped["OSM"] == "a code, not a name"
    assert "lower-case romanisation" in dropped["almwsl"]
    assert dropped["Musil"] == "excluded by you"
    text = render_place(expansion)
    assert text.splitlines()[0].startswith("Mosul → Mosul, IQ")
    assert "  - Mosel  (a common word in de" in text
    assert json.loads(json.dumps(expansion.to_dict()))["kept"][0]["spelling"] == "Mosul"
    assert "not in the gazetteer" in render_place(places.expand("Atlantis Minor"))


def test_case_folding_never_changes_lengths() -> None:
    """Hits are mapped back through positions, so lower-casing the folded text must keep them."""
    every = "".join(chr(c) for c in range(0x20, 0x10000) if not 0xD800 <= c < 0xE000)
    folded = fold(every).text
    assert len(folded.lower()) == len(folded)


def test_the_plain_form_clustering_compares_is_lower_case_without_marks() -> None:
    """Clustering's words: one word for every spelling of a name's accents and case, split at
    apostrophes (unlike matching, which drops a possessive), the same in every script."""
    assert plain("Fallūja") == plain("FALLUJA") == "falluja"
    assert plain_words("ISIL’s fighters, near Tal-Afar") == [
        "isil",
        "s",
        "fighters",
        "near",
        "tal",
        "afar",
    ]
    assert plain_words("أعلنت الحكومة") == plain_words("اعلنت الحكومة")
    assert fold("ISIL’s").text.split() == ["ISIL"]


@pytest.mark.parametrize(
    ("word", "code", "stem"),
    [
        ("attacks", "en", "attack"),
        ("attaquées", "fr", stemming.stem("attaquees", "french")),
        ("москве", "ru", stemming.stem("москве", "russian")),
        ("attacks", "ja", "attacks"),  # no Snowball stemmer: the word as it is
    ],
)
def test_stems_by_language_code_are_the_rules_stems(word: str, code: str, stem: str) -> None:
    assert stemming.stem_in(plain(word), code) == stem
