"""Watch rules as a user meets them: queries in a watchlist, articles in, matches with hits out."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from monitor import config
from monitor.errors import ConfigError
from monitor.model import Article, RuleMatch, Severity
from monitor.rules import Matcher, RulesError, compile_watchlists
from monitor.watchlist import WatchlistSettings

FIXTURES = Path(__file__).parent / "fixtures" / "rules"
SEEDS = Path(__file__).resolve().parents[2] / "shared" / "seeds"


def watchlist(
    rules: dict[str, str] | list[dict[str, object]], name: str = "w", **extra: object
) -> WatchlistSettings:
    if isinstance(rules, dict):
        rules = [{"name": rule, "query": query} for rule, query in rules.items()]
    data = {"version": 1, "name": name, "channels": ["log"], "rules": rules, **extra}
    return WatchlistSettings.model_validate(data)


def article(text: str = "", title: str = "", **fields: str) -> Article:
    return Article(
        url=fields.pop("url", "https://example.org/a"),
        canonical_url="",
        title=title,
        text=text,
        **fields,
    )  # type: ignore[arg-type]


def names(matches: list[RuleMatch]) -> list[str]:
    return [m.rule for m in matches]


def matches(query: str, text: str = "", title: str = "", **fields: object) -> bool:
    groups = fields.pop("groups", {})
    matcher = compile_watchlists([watchlist({"r": query}, groups=groups, **fields)])
    return bool(matcher.match(article(text, title)))


def load_fixture(name: str) -> Article:
    title, _, body = (FIXTURES / name).read_text(encoding="utf-8").partition("\n\n")
    return article(body, title)


# --- the example watchlist of the foundation issue -------------------------------------------


def test_example_watchlist_matches_own_fixture_with_spans_on_original_text() -> None:
    data = yaml.safe_load((FIXTURES / "iraq.yaml").read_text(encoding="utf-8"))
    matcher = compile_watchlists([WatchlistSettings.model_validate(data)])
    story = load_fixture("northern-push.txt")
    found = matcher.match(story)
    assert names(found) == ["offensive", "mass-grave"]
    offensive, grave = found
    assert offensive.severity is Severity.HIGH and grave.severity is Severity.CRITICAL
    fields = {"title": story.title, "text": story.text}
    spelled = {(h.field, fields[h.field][h.start : h.end]) for h in offensive.hits}
    assert ("title", "Tal Afar") in spelled and ("title", "offensive") in spelled
    spelled = [(h.term, story.text[h.start : h.end]) for h in grave.hits]
    assert ('"mass grave"', "mass grave") in spelled  # the sidebar line is in this text
    assert ('"mass grave"', "mass-grave") in spelled


@pytest.mark.skipif(not SEEDS.is_dir(), reason="../shared/seeds is not here")
@pytest.mark.parametrize(
    ("seed", "expected"),
    [("bbc-falluja.txt", ["offensive"]), ("aljazeera-tal-afar.txt", ["mass-grave"])],
)
def test_seed_articles_alert_on_the_example_watchlist(seed: str, expected: list[str]) -> None:
    data = yaml.safe_load((FIXTURES / "iraq.yaml").read_text(encoding="utf-8"))
    matcher = compile_watchlists([WatchlistSettings.model_validate(data)])
    title, _, body = (SEEDS / seed).read_text(encoding="utf-8").partition("\n")
    found = matcher.match(article(body, title))
    assert names(found) == expected
    for hit in found[0].hits:
        original = body if hit.field == "text" else title
        assert original[hit.start : hit.end].strip() == original[hit.start : hit.end]
        assert hit.end > hit.start


# --- normalisation -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "text"),
    [
        ("falluja", "FALLUJA FALLS TO ARMY"),  # upper-case headline
        ("Fallujah", "fighting near Fallūjah on Monday"),  # diacritics
        ("Erbil", "reporting from ÉRBIL"),
        ("ISIL", "ISIL’s defences broke"),  # possessive with a curly apostrophe
        ("ISIL's", "ISIL’s defences broke"),
        ('"Nida\'"', "the Nida’ district"),
        # A transliteration written with its apostrophe finds both spellings.
        ("Ba'ath", "the Ba’ath party"),
        ("Ba'ath", "the Baath party"),
        ("Sana’a", "flights to Sanaa resumed"),
        ('"al-Qa\'ida"', "an al-Qaida cell"),
        # In articles an apostrophe splits: a name keeps its case ending or elision apart.
        ("Ankara", "Ankara'da yapılan toplantı"),
        ("Angelo", "a Sant'Angelo"),
        ("armée", "l’armée avance"),
        ('"Cote d\'Ivoire"', "in Côte d’Ivoire"),
        ('"break through"', "forces “break through” lines"),  # curly quotes
        ('"mass grave"', "a mass-grave site"),  # hyphen as a word break
        ("offensive", "the counter-offensive began"),
        ("offensive", "the counter—offensive began"),  # em dash
        ('"al-Nasr"', "the al Nasr neighbourhood"),
        ("strasse", "the Straße was closed"),
        ("fiance", "her ﬁancé said"),  # ligature and accent
        ("Falluja", "in Fal\u00adluja"),  # a soft hyphen inside the word
    ],
)
def test_case_accents_apostrophes_and_hyphens_do_not_matter(query: str, text: str) -> None:
    assert matches(query, text)


@pytest.mark.parametrize(
    ("query", "text"),
    [
        ("ball", "the football match"),
        ("grave", "an engraved stone"),
        ("IS", "ISIL fighters"),
        ('"mass grave"', "mass of grave concerns"),
        ("Afar", "Tal-Afari traders"),
    ],
)
def test_words_only_match_whole_words(query: str, text: str) -> None:
    assert not matches(query, text)


def test_both_spellings_of_a_transliteration_are_highlighted_as_written() -> None:
    text = "Strikes on Ma’rib and Sana&#8217;a; the Ba'ath office in Sanaa."
    matcher = compile_watchlists([watchlist({"r": "Ma'rib AND Sana'a AND Ba'ath"})])
    (found,) = matcher.match(article(text))
    assert sorted(text[h.start : h.end] for h in found.hits) == [
        "Ba'ath",
        "Ma’rib",
        "Sana&#8217;a",
        "Sanaa",
    ]
    # Written without the apostrophe, a query word is only that spelling.
    assert not matches("Baath", "the Ba’ath party")


def test_html_entities_are_decoded_and_hits_point_into_the_encoded_title() -> None:
    title = "Troops &lsquo;break through&rsquo; in Tal&nbsp;Afar &amp; Mosul"
    matcher = compile_watchlists([watchlist({"r": '"break through" AND "Tal Afar"'})])
    (found,) = matcher.match(article(title=title))
    assert [title[h.start : h.end] for h in found.hits] == ["break through", "Tal&nbsp;Afar"]
    assert not matches("amp", title=title)
    assert not matches("nbsp", title=title)


# --- Boolean operators and proximity -----------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("army troops", True),  # side by side: AND
        ("army AND navy", False),
        ("army OR navy", True),
        ("army NOT navy", True),
        ("army NOT troops", False),
        ("army AND NOT (navy OR airport)", False),
        ("(navy OR airport) army", True),
        ("army OR navy AND pilots", True),  # AND binds tighter: army OR (navy AND pilots)
        ("NOT navy army", True),
        ('"army troops"', False),  # a phrase needs the words in order, side by side
        ('"the army"', True),
    ],
)
def test_boolean_operators(query: str, expected: bool) -> None:
    text = "The army said troops had reached the old airport road."
    assert matches(query, text) is expected


def test_near_counts_words_either_way_and_across_sentences_and_paragraphs() -> None:
    text = "Shelling hit Mosul at dawn. The offensive resumed.\n\nLater, aid reached the city."
    assert matches("offensive NEAR/4 Mosul", text)  # 3 words between, other order, new sentence
    assert not matches("offensive NEAR/2 Mosul", text)
    assert matches("Mosul NEAR/4 offensive", text)
    assert matches("offensive NEAR/3 aid", text)  # across a paragraph break: later, aid
    assert not matches("offensive NEAR/1 aid", text)


def test_near_takes_groups_phrases_and_or_lists() -> None:
    text = "A mass grave was found two kilometres outside Tal Afar on Friday."
    groups = {"cities": ["Mosul", "Tal Afar"]}
    assert matches('"mass grave" NEAR/5 @cities', text, groups=groups)
    assert not matches('"mass grave" NEAR/4 @cities', text, groups=groups)
    assert matches("(grave OR graves) NEAR/8 (Mosul OR Afar)", text)
    assert matches("(grave NEAR/6 Afar) NEAR/3 Friday", text)


def test_near_needs_two_different_occurrences_in_the_same_field() -> None:
    assert not matches("Mosul NEAR/3 Mosul", "fighting in Mosul today")
    assert matches("Mosul NEAR/3 Mosul", "Mosul, and again Mosul")
    assert not matches("offensive NEAR/20 Mosul", text="Mosul", title="The offensive")


# --- groups, severity, results -----------------------------------------------------------------


def test_group_members_are_phrases_and_hits_name_the_group() -> None:
    matcher = compile_watchlists(
        [watchlist({"r": "@cities"}, groups={"cities": ["Tal Afar", "Mosul"]})]
    )
    assert matcher.match(article("Tal and Afar are two words here")) == []
    (found,) = matcher.match(article("Residents fled Tal Afar."))
    assert [h.term for h in found.hits] == ["@cities: Tal Afar"]


def test_results_are_ordered_by_watchlist_then_rule_and_can_be_filtered() -> None:
    first = watchlist({"b": "army", "a": "troops"})
    second = watchlist({"c": "army"}, name="other")
    matcher = compile_watchlists([first, second])
    story = article("The army said troops had arrived.")
    found = matcher.match(story)
    assert [(m.watchlist, m.rule) for m in found] == [("w", "b"), ("w", "a"), ("other", "c")]
    assert matcher.match(story) == found
    assert [m.rule for m in matcher.match(story, watchlists=["other"])] == ["c"]
    assert Matcher().match(story) == []


def test_snippet_is_about_200_characters_of_body_around_the_hit_cut_at_words() -> None:
    filler = "Nothing of note happened in the long afternoon that followed. " * 8
    text = filler + "Then a mass grave was reported near the river. " + filler
    (found,) = compile_watchlists([watchlist({"r": '"mass grave"'})]).match(
        article(text, title="A mass grave")
    )
    assert "mass grave was reported" in found.snippet
    assert found.snippet.startswith("…") and found.snippet.endswith("…")
    assert 150 <= len(found.snippet) <= 205
    inner = found.snippet.strip("…")
    assert inner in " ".join(text.split())
    assert inner.split()[0] in text.split() and inner.split()[-1] in text.split()


# --- errors ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "message", "column", "carets"),
    [
        ("offensive NEAR/15 @towns", "unknown group @towns", 19, "^^^^^^"),
        ("offensive NEAR/0 Mosul", "NEAR/n needs a whole number", 11, "^^^^^^"),
        ("offensive NEAR Mosul", "NEAR needs a distance", 11, "^^^^"),
        ('"mass grave', "quote is never closed", 1, "^"),
        ("(army OR navy", "( is never closed", 1, "^"),
        ("army OR", "the query ends", 8, "^"),
        ("army navy OR airport", "ambiguous", 6, "^"),
        ("army and navy", "operators are written in capitals: AND", 6, "^^^"),
        ("gr*ve", "wildcard * may only end", 3, "^"),
        ("army NEAR/3 (navy AND airport)", "not an AND", 13, "^" * 18),
        ("place:Mosul", "unknown field place:", 1, "^^^^^^"),
        ("NOT army", "can hold without finding", 1, "^^^^^^^^"),
        ("army )", "closes nothing", 6, "^"),
    ],
)
def test_query_errors_name_the_column_and_underline_it(
    query: str, message: str, column: int, carets: str
) -> None:
    with pytest.raises(RulesError) as caught:
        compile_watchlists([watchlist({"r": query}, groups={"cities": ["Mosul"]})])
    (problem,) = caught.value.problems
    assert problem.loc == ("rules", 0, "query")
    first, shown, underline = problem.message.split("\n")
    assert message in first and first.endswith(f"at column {column}")
    assert shown == "  " + query
    assert underline == "  " + " " * (column - 1) + carets


def test_every_problem_of_every_watchlist_is_reported_at_once(tmp_path: Path) -> None:
    (tmp_path / "watchlists").mkdir()
    for name in ("iraq.yaml", "broken.yaml"):
        (tmp_path / "watchlists" / name).write_text((FIXTURES / name).read_text("utf-8"), "utf-8")
    (tmp_path / "monitor.yaml").write_text(
        "version: 1\nchannels:\n  log: {kind: log}\n", encoding="utf-8"
    )
    with pytest.raises(ConfigError) as caught:
        config.load(tmp_path / "monitor.yaml", env={})
    lines = [str(p).split("\n")[0] for p in caught.value.problems]
    broken = str(tmp_path / "watchlists" / "broken.yaml")
    assert lines == [
        f"{broken}:6: groups.odd[1]: a wildcard needs at least 3 letters before *, as in grave*"
        " at column 1",
        f"{broken}:8: rules[0].query: unknown group @towns (groups: @cities, @odd) at column 19",
        f"{broken}:9: rules[1].query: NEAR/n needs a whole number of words from 1 to 1000"
        " at column 11",
        f"{broken}:11: rules[2].query: this quote is never closed at column 1",
        f"{broken}:12: rules[2].exclude: the query ends where a word, phrase or @group was"
        " expected at column 10",
    ]
