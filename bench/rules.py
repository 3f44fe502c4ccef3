"""bench/rules.py: articles per second through the compiled matcher at 10 to 10,000 rules.

Rules and articles are generated here (seeded, so every run sees the same ones): 4,000 watched
place names built from Arabic-style syllables (16,000 more that nobody watches), event phrases,
NEAR/ONEAR, wildcards, scopes, =ACRONYMS and @groups; 5,000-character articles of ordinary English
with places, events and acronyms mixed in, and now and then a real place in a spelling no
gazetteer lists. Each watchlist also has a `places:` group of five of 60 real places, used by about
one rule in twenty, so variant matching is on (`--no-places` leaves the groups out, to compare;
they need the gazetteer, `pip install 'monitor[places]'`). The table shows how many rules match per
article.
The baseline is one compiled regular expression per rule (its terms as a word-bounded
alternation), which is only the prefilter part of a real regex engine, so the ratio is a floor.
Runs on one core; articles/s is of wall time, cpu art/s of this process's CPU time (the steadier
on a machine shared with other work). Last line:
rules=10000 articles_per_s=… baseline_articles_per_s=… speedup=… compile_s=… rss_mb=…
cpu_articles_per_s=…
"""

from __future__ import annotations

import argparse
import functools
import os
import random
import re
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from monitor.model import Article
from monitor.rules import compile_watchlists
from monitor.rules.gazetteer import resolve_all
from monitor.rules.places import expand
from monitor.watchlist import WatchlistSettings

SIZES = (10, 100, 1000, 10000)
ARTICLE_CHARS = 5000
RULES_PER_WATCHLIST = 100

SYLLABLES = "al tal ka ram mo sul fal lu ja ha di ba qa ra za bir nas sa mar dar kut hit ana rut"
EVENTS = [
    "offensive",
    "mass grave",
    "car bomb",
    "air strike",
    "ceasefire",
    "evacuation",
    "shelling",
    "hostages",
    "siege",
    "checkpoint",
    "curfew",
    "ambush",
    "refugees",
    "displaced families",
    "suicide attack",
    "roadside bomb",
    "militants",
    "clashes",
    "artillery",
    "protest",
]
ACRONYMS = ["IS", "ISIL", "PMF", "CTS", "UN", "ICRC", "WFP", "KDP"]
# Real places of conflict areas for the `places:` groups, and spellings of some that no gazetteer
# lists (their variant keys find them).
REAL_PLACES = (
    "Mosul, Tal Afar, Falluja, Ramadi, Tikrit, Kirkuk, Erbil, Samarra, Hawija, Anbar, Nineveh,"
    " Sinjar District, Aleppo, Raqqa, Deir ez-Zor, Idlib, Homs, Kobani, Palmyra, Afrin, Manbij,"
    " Hodeidah, Sanaa, Aden, Taiz, Marib, Mukalla, Khartoum, Omdurman, El Fasher, Geneina, Darfur,"
    " Kharkiv, Bakhmut, Avdiivka, Mariupol, Zaporizhzhia, Kherson, Donbas, Luhansk, Crimea,"
    " Gaza Strip, Khan Younis, Jabalia, Jenin, Nablus, West Bank, Benghazi, Misrata, Sirte,"
    " Kandahar, Kunduz, Helmand, Mogadishu, Kismayo, Timbuktu, Kidal, Sittwe, Goma, North Kivu"
).split(", ")
VARIANT_SPELLINGS = ["Telafar", "Fallouja", "Deir Ezzor", "Edlib", "Hodeida", "Khan Yunis"]
_FILLER_WORDS = (
    "the of and to in a is that for it as was with be by on not he this are or his from at which "
    "but have an they you were her she there been one all we their has would when if so no will "
    "more can said who what about up out them than into some could time these two may then do "
    "first any like now my such our over man me even most made after also did many before must "
    "through back years where much your way well down should because each just those people how "
    "too little state good very make world still own see men work long get here between both "
    "life being under never day same another know while last might us great old year off come "
    "since against go came right used take three officials government forces city residents "
    "report week road aid region local police army military minister meeting talks council"
)
FILLER = _FILLER_WORDS.split()


def place_names(rng: random.Random, n: int) -> list[str]:
    syllables = SYLLABLES.split()
    names: set[str] = set()
    while len(names) < n:
        word = "".join(rng.choice(syllables) for _ in range(rng.randint(2, 3))).capitalize()
        names.add(
            f"{rng.choice(['Tal', 'Al', 'Ras', 'Bir'])} {word}" if rng.random() < 0.3 else word
        )
    return sorted(names)


def rule_query(rng: random.Random, places: list[str], real: bool = True) -> str:
    place, other = rng.sample(places, 2)
    event, event2 = rng.sample(EVENTS, 2)
    quoted = f'"{event}"' if " " in event else event
    if real and rng.random() < 1 / 20:
        return f"{quoted} NEAR/10 @real"
    return rng.choice(
        [
            f'{quoted} NEAR/{rng.randint(5, 20)} ("{place}" OR "{other}")',
            f'"{place}" AND ({quoted} OR "{event2}")',
            f'"{place}" ONEAR/8 {quoted}',
            f"{event.split()[0][:4]}* NEAR/10 @cities",
            f'={rng.choice(ACRONYMS)} NEAR/6 "{place}"',
            f'title:"{place}" OR ("{place}" AND {quoted} NOT exercise)',
        ]
    )


def watchlists(
    n_rules: int, places: list[str], rng: random.Random, real: bool = True
) -> list[WatchlistSettings]:
    out = []
    for w in range(max(1, n_rules // RULES_PER_WATCHLIST)):
        count = min(RULES_PER_WATCHLIST, n_rules)
        rules = [{"name": f"r{i}", "query": rule_query(rng, places, real)} for i in range(count)]
        groups: dict[str, object] = {"cities": rng.sample(places, 5)}
        if real:
            groups["real"] = {"places": rng.sample(REAL_PLACES, 5)}
        data = {
            "version": 1,
            "name": f"w{w}",
            "channels": ["log"],
            "groups": groups,
            "rules": rules,
        }
        out.append(WatchlistSettings.model_validate(data))
    return out


def article(rng: random.Random, places: list[str], others: list[str]) -> Article:
    """About 850 words: 1% place names (a quarter of them watched), 1.5% event words, a few
    acronyms, the rest ordinary English, with the punctuation and curly marks of real text."""
    words: list[str] = []
    length = 0
    while length < ARTICLE_CHARS:
        roll = rng.random()
        if roll < 0.01:
            word = rng.choice(places if rng.random() < 0.25 else others)
        elif roll < 0.025:
            word = rng.choice(EVENTS)
        elif roll < 0.03:
            word = rng.choice(ACRONYMS)
        elif roll < 0.0301:
            word = rng.choice(VARIANT_SPELLINGS)
        else:
            word = rng.choice(FILLER)
        if rng.random() < 0.08:
            word += rng.choice([".", ",", "’s", " –", ":"])
        words.append(word)
        length += len(word) + 1
    text = " ".join(words)[:ARTICLE_CHARS]
    title = " ".join(rng.choice(FILLER + places[:50]) for _ in range(10)).capitalize()
    return Article(url="https://example.org/story", canonical_url="", title=title, text=text)


def baseline(queries: list[str]) -> list[re.Pattern[str]]:
    """One regex per rule: its words and phrases as a case-insensitive, word-bounded alternation."""
    out = []
    for query in queries:
        terms = re.findall(r'"([^"]+)"|([^\s()"]+)', query)
        words = [a or b for a, b in terms if (a or b) not in ("AND", "OR", "NOT")]
        words = [w.split(":")[-1].lstrip("=").rstrip("*") for w in words if "/" not in w]
        alternation = "|".join(re.escape(w).replace(r"\ ", r"[\s\-]+") for w in words)
        out.append(re.compile(rf"\b(?:{alternation})", re.IGNORECASE))
    return out


def search_all(patterns: list[re.Pattern[str]], item: Article) -> list[re.Match[str] | None]:
    text = item.title + "\n" + item.text
    return [p.search(text) for p in patterns]


def rate(work: object, articles: list[Article], seconds: float) -> float:
    return rates(work, articles, seconds)[0]


def rates(work: object, articles: list[Article], seconds: float) -> tuple[float, float]:
    """(items per second of wall time, items per second of this process's CPU time): on a
    machine shared with other work the second is the steadier."""
    done, start, cpu = 0, time.perf_counter(), time.process_time()
    while True:
        for item in articles:
            work(item)  # type: ignore[operator]
            done += 1
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return done / elapsed, done / (time.process_time() - cpu)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--no-places", action="store_true", help="no places groups: variant matching off"
    )
    parser.add_argument(
        "--sizes",
        default=",".join(map(str, SIZES)),
        help="rule counts to measure, comma-separated (default: %(default)s)",
    )
    args = parser.parse_args()
    sizes = [int(n) for n in args.sizes.split(",")]
    if hasattr(os, "sched_setaffinity"):  # one core: MONITOR_BENCH_CPU picks which (default: first)
        cpus = sorted(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {int(os.environ.get("MONITOR_BENCH_CPU", cpus[0]))})
    rng = random.Random(20240607)
    names = place_names(rng, 20000)
    rng.shuffle(names)
    places, others = sorted(names[:4000]), names[4000:]  # watched, and places nobody watches
    articles = [article(rng, places, others) for _ in range(200)]
    if not args.no_places:  # read once, as a daemon does at start: not part of a compile
        start = time.perf_counter()
        resolve_all(REAL_PLACES)  # all 60 in one pass over the gazetteer
        for name in REAL_PLACES:
            expand(name)  # the word lists are read once, with the first
        print(f"gazetteer and word lists read in {time.perf_counter() - start:.2f} s")
    print(
        f"{'rules':>6} {'compile_s':>9} {'articles/s':>10} {'cpu art/s':>10} {'baseline/s':>10}"
        f" {'speedup':>8} {'matches/article':>15}"
    )
    row = ""
    for size in sizes:
        lists = watchlists(size, places, random.Random(size), not args.no_places)
        start = time.perf_counter()
        matcher = compile_watchlists(lists)
        compile_s = time.perf_counter() - start
        matched = sum(len(matcher.match(a)) for a in articles) / len(articles)
        fast, fast_cpu = rates(matcher.match, articles, 2.0)
        patterns = baseline([r.query for w in lists for r in w.rules])
        sample = articles[: max(2, 2000 // size)]
        slow = rate(functools.partial(search_all, patterns), sample, 1.0)
        rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(
            f"{size:>6} {compile_s:>9.3f} {fast:>10.0f} {fast_cpu:>10.0f} {slow:>10.1f}"
            f" {fast / slow:>8.0f} {matched:>15.2f}"
        )
        row = (
            f"rules={size} articles_per_s={fast:.0f} baseline_articles_per_s={slow:.1f}"
            f" speedup={fast / slow:.0f} compile_s={compile_s:.2f} rss_mb={rss_mb:.0f}"
            f" cpu_articles_per_s={fast_cpu:.0f}"
        )
    print(row)


if __name__ == "__main__":
    main()
