"""bench/places.py: places as reporters spell them — recall, lookups, false hits, speed.

- Recall: every (place, spelling) pair of `bench/places-data/place_spellings.tsv` (places and
  regions of current and recent conflict areas, each spelling with where it comes from). A
  watchlist has one group per place (`places: [NAME]`) and one rule per group; a spelling is
  recalled when the sentence "Fighting was reported in SPELLING on Tuesday." matches its place's
  rule. The claimed sources are checked too: a spelling said to come from GeoNames, ISO 3166-2
  or places.yaml must be one of the resolved place's spellings there (folded alike).
- Lookups: `places: [SPELLING]` must resolve to the place its row names; a spelling that several
  places share counts as right when it is reported ambiguous with the right place among the
  candidates and "SPELLING, CC" resolves to it (that is how a user settles it).
- False hits: one watchlist of all those places (`@places`) over the real text of
  `../shared/corpora`: the 982 ECB+ articles, the 6,366 UCI headlines, the 181 ground-truth texts of
  the extraction benchmark and every item of the 38 feed snapshots. Every hit is printed; a hit is
  false unless `bench/places-data/place_hits_true.tsv` lists it (corpus, document, text matched,
  place) with the reason it means that place — each was read in context by a person. The stop list
  (monitor/rules/placestop.txt) was built from false hits of the ECB+ and UCI corpora only; the
  extraction benchmark and the feeds are the held-out split, reported apart.
- Speed: bench/rules.py's generated rules at 10,000 rules (100 watchlists, each with a places
  group of ten of these places used by a tenth of its rules, so variant matching is on).

Last line: places_recall=… lookup_ok=… false_hits_per_1000=… articles_per_s=…
"""

from __future__ import annotations

import argparse
import csv
import gzip
import json
import os
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from monitor.model import Article
from monitor.pipeline.extract import feed_text
from monitor.pipeline.parse import parse_feed
from monitor.rules import compile_watchlists, gazetteer
from monitor.rules.normalize import lower_words
from monitor.rules.places import expand
from monitor.watchlist import WatchlistSettings

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "bench" / "places-data"
CORPORA = Path(os.environ.get("MONITOR_CORPORA", ROOT.parent / "shared" / "corpora"))
CHECKED = ("GeoNames", "ISO 3166-2", "places.yaml")


@dataclass(frozen=True)
class Pair:
    place: str
    spelling: str
    source: str


def pairs() -> list[Pair]:
    with (DATA / "place_spellings.tsv").open(encoding="utf-8") as f:
        lines = [line for line in f if not line.startswith("#")]
    return [
        Pair(r["place"], r["spelling"], r["source"]) for r in csv.DictReader(lines, delimiter="\t")
    ]


def folded(text: str) -> str:
    return " ".join(lower_words(text))


def watchlist(groups: dict[str, list[str]], rules: dict[str, str]) -> WatchlistSettings:
    return WatchlistSettings.model_validate(
        {
            "version": 1,
            "name": "places",
            "channels": ["log"],
            "groups": {name: {"places": names} for name, names in groups.items()},
            "rules": [{"name": name, "query": query} for name, query in rules.items()],
        }
    )


def check_sources(rows: list[Pair], resolved: dict[str, gazetteer.Resolution]) -> list[str]:
    """The rows whose source says GeoNames, ISO 3166-2 or places.yaml but whose spelling the
    resolved place does not have there."""
    wrong = []
    for row in rows:
        place = resolved[row.place].place
        if row.source not in CHECKED or place is None:
            continue
        kind = {"GeoNames": "geonames:", "ISO 3166-2": "iso:", "places.yaml": ""}[row.source]
        spellings = {folded(s) for s in place.spellings}
        if not place.ident.startswith(kind) or folded(row.spelling) not in spellings:
            wrong.append(f"{row.place} / {row.spelling}: not a {row.source} spelling of {place}")
    return wrong


def recall(rows: list[Pair], names: list[str]) -> tuple[float, list[str]]:
    groups = {f"p{i}": [name] for i, name in enumerate(names)}
    matcher = compile_watchlists(
        [watchlist(groups, {f"r{i}": f"@p{i}" for i in range(len(names))})]
    )
    number = {name: f"r{i}" for i, name in enumerate(names)}
    missed = []
    for row in rows:
        text = f"Fighting was reported in {row.spelling} on Tuesday."
        found = matcher.match(Article(url="", canonical_url="", title="", text=text))
        if number[row.place] not in {m.rule for m in found}:
            missed.append(f"{row.place} / {row.spelling} ({row.source})")
    return 1 - len(missed) / len(rows), missed


def lookups(rows: list[Pair], resolved: dict[str, gazetteer.Resolution]) -> tuple[float, list[str]]:
    by_spelling = gazetteer.resolve_all(row.spelling for row in rows)
    wrong = []
    for row in rows:
        want = resolved[row.place].place
        got = by_spelling[row.spelling]
        if want is None:
            wrong.append(f"{row.place}: resolves to nothing")
            continue
        if got.place is not None and got.place.ident == want.ident and not got.ambiguous:
            continue
        if any(p.ident == want.ident for p in (got.place, *got.ambiguous) if p is not None):
            settled = gazetteer.resolve(f"{row.spelling}, {want.country}").place
            if settled is not None and settled.ident == want.ident:
                continue
        wrong.append(f"{row.spelling} → {got.place} (want {want})")
    return 1 - len(wrong) / len(rows), wrong


def corpus() -> Iterator[tuple[str, str, Article]]:
    """(corpus, document id, article) for every text the precision run reads."""
    with (CORPORA / "ecbplus-event-clusters" / "ecbplus_docs.jsonl").open(encoding="utf-8") as f:
        for line in f:
            doc = json.loads(line)
            yield "ecbplus", doc["doc_id"], _article(doc["title"], doc["text"])
    uci = CORPORA / "uci-news-aggregator-subset" / "uci-news-aggregator_first6366.csv"
    with uci.open(encoding="utf-8") as f:
        for row in csv.DictReader(f):
            yield "uci", row["ID"], _article(row["TITLE"], "")
    truth = CORPORA / "article-extraction-benchmark" / "ground-truth.json"
    for key, page in json.loads(truth.read_text(encoding="utf-8")).items():
        yield "extraction", key[:12], _article("", page["articleBody"])
    for path in sorted((CORPORA / "news-feed-snapshots" / "feeds").iterdir()):
        body = path.read_bytes()
        if path.suffix == ".gz":
            body = gzip.decompress(body)
        elif path.suffix != ".xml":
            continue
        parsed = parse_feed(body, f"https://snapshot.test/{path.name}")
        for n, entry in enumerate(parsed.entries):
            yield "feeds", f"{path.name}#{n}", _article(entry.title, feed_text(entry))


def _article(title: str, text: str) -> Article:
    return Article(url="", canonical_url="", title=title, text=text)


HELD_OUT = ("extraction", "feeds")  # the stop list was built on the others


def known_true() -> set[tuple[str, str, str, str]]:
    path = DATA / "place_hits_true.tsv"
    with path.open(encoding="utf-8") as f:
        lines = [line for line in f if not line.startswith("#")]
    return {
        (r["corpus"], r["document"], folded(r["text"]), r["place"])
        for r in csv.DictReader(lines, delimiter="\t")
    }


def precision(names: list[str]) -> tuple[dict[str, int], dict[str, int], list[str], list[str]]:
    """(articles per corpus, false hits per corpus, false hits, true hits) of one watchlist of
    every place over the corpora."""
    matcher = compile_watchlists([watchlist({"places": names}, {"any": "@places"})])
    truth = known_true()
    articles: dict[str, int] = {}
    false: dict[str, int] = {}
    false_lines, true_lines = [], []
    seen = set()
    for name, doc, article in corpus():
        articles[name] = articles.get(name, 0) + 1
        for match in matcher.match(article):
            for hit in match.hits:
                value = getattr(article, hit.field)
                spelled = value[hit.start : hit.end]
                place = hit.term.split(" ≈ ", 1)[-1] if " ≈ " in hit.term else hit.term
                place = place.removeprefix("@places: ").split(" (")[0]
                key = (name, doc, folded(spelled), place)
                if key in seen:
                    continue
                seen.add(key)
                context = " ".join(value[max(0, hit.start - 60) : hit.end + 60].split())
                line = f"{name}\t{doc}\t{spelled}\t{place}\t{hit.term}\t…{context}…"
                if key in truth:
                    true_lines.append(line)
                else:
                    false[name] = false.get(name, 0) + 1
                    false_lines.append(line)
    return articles, false, false_lines, true_lines


def speed() -> tuple[float, float, float, float]:
    """(articles/s of wall time, of CPU time, compile s, gazetteer s) of bench/rules.py's setup
    at 10,000 rules with places groups (the gazetteer is read first, as a daemon does once at
    start)."""
    import random

    from bench import rules as bench_rules

    rng = random.Random(20240607)
    names = bench_rules.place_names(rng, 20000)
    rng.shuffle(names)
    watched, others = sorted(names[:4000]), names[4000:]
    articles = [bench_rules.article(rng, watched, others) for _ in range(200)]
    lists = bench_rules.watchlists(10000, watched, random.Random(10000))
    start = time.perf_counter()
    gazetteer.resolve_all(bench_rules.REAL_PLACES)
    for name in bench_rules.REAL_PLACES:
        expand(name)
    gazetteer_s = time.perf_counter() - start
    start = time.perf_counter()
    matcher = compile_watchlists(lists)
    compile_s = time.perf_counter() - start
    wall, cpu = bench_rules.rates(matcher.match, articles, 3.0)
    return wall, cpu, compile_s, gazetteer_s


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="recall and lookups only (CI smoke)")
    quick = parser.parse_args().quick
    if hasattr(os, "sched_setaffinity"):  # one core: MONITOR_BENCH_CPU picks which
        cpus = sorted(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {int(os.environ.get("MONITOR_BENCH_CPU", cpus[0]))})
    rows = pairs()
    names = list(dict.fromkeys(row.place for row in rows))
    if quick:
        rows = rows[::10]
        names = list(dict.fromkeys(row.place for row in rows))
    print(f"{len(rows)} spellings of {len(names)} places and regions")
    resolved = gazetteer.resolve_all(names)
    for problem in check_sources(rows, resolved):
        print("source claim wrong:", problem)
    place_recall, missed = recall(rows, names)
    for line in missed:
        print("missed:", line)
    lookup_ok, wrong = lookups(rows, resolved)
    for line in wrong:
        print("lookup wrong:", line)
    print(f"recall {place_recall:.3f}, lookups right {lookup_ok:.3f}")
    if quick:
        print(f"places_recall={place_recall:.3f} lookup_ok={lookup_ok:.3f}")
        return
    articles, false, false_lines, true_lines = precision(names)
    print("\nhits judged true (bench/places-data/place_hits_true.tsv):")
    for line in true_lines:
        print("  true", line)
    print("\nfalse hits (not in the known-true list):")
    for line in false_lines:
        print("  FALSE", line)
    total = sum(articles.values())
    print(f"\n{'corpus':<12} {'articles':>8} {'false':>6} {'per 1,000':>9}")
    for name, count in articles.items():
        hits = false.get(name, 0)
        print(f"{name:<12} {count:>8} {hits:>6} {1000 * hits / count:>9.2f}")
    held = sum(articles[n] for n in HELD_OUT)
    held_false = sum(false.get(n, 0) for n in HELD_OUT)
    print(f"held-out (extraction + feeds): {held_false} false in {held} articles")
    per_1000 = 1000 * sum(false.values()) / total
    rate, cpu_rate, compile_s, gazetteer_s = speed()
    print(
        f"10,000 rules with places groups: compile {compile_s:.2f} s (gazetteer read first:"
        f" {gazetteer_s:.2f} s), {rate:.0f} articles/s ({cpu_rate:.0f} per CPU second)"
    )
    print(
        f"places_recall={place_recall:.3f} lookup_ok={lookup_ok:.3f}"
        f" false_hits_per_1000={per_1000:.2f} articles_per_s={rate:.0f}"
        f" cpu_articles_per_s={cpu_rate:.0f} compile_s={compile_s:.2f} articles={total}"
        f" true_hits={len(true_lines)}"
    )


if __name__ == "__main__":
    main()
