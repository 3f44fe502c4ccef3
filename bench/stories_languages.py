"""bench/stories_languages.py: reports in other languages than English, weighed as English and
weighed in the language their feed declares (`fingerprint.frequency_language`).

No labelled non-English news corpus is at hand, so this measures the risk that matters most:
unrelated reports looking alike. It takes every feed in `../shared/corpora/news-feed-snapshots`
that declares a language other than English, parses it with the real parser, and scores each
item against each other item of the same feed as a one-article story (`stories.score`). Items of
one snapshot are mostly different stories (a few are the same one: two polls of one election).
Printed per feed: the median and 90th percentile of the title-and-lead cosine between two items,
and the share of ordered pairs that would join, both ways.

    python bench/stories_languages.py

Last line: joins_as_english=… joins_in_language=… (the share over all those pairs, news feeds
only: `ibash-org-ru` is printed but not counted, as it is a site of chat-log jokes, every item
titled "Цитата #n", which join one another as headlines whatever the weighting).
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.stories import CORPORA
from monitor.pipeline import stories as algo
from monitor.pipeline.extract import feed_text
from monitor.pipeline.fingerprint import fingerprint, frequency_language
from monitor.pipeline.parse import parse_feed

NOT_NEWS = frozenset({"ibash-org-ru_windows-1251.xml"})


def feeds() -> list[tuple[str, str, list[tuple[str, str]]]]:
    """(file name, declared language, [(title, text)]) of the non-English snapshots."""
    out = []
    for path in sorted((CORPORA / "news-feed-snapshots" / "feeds").glob("*.xml")):
        parsed = parse_feed(path.read_bytes(), f"https://snapshot.test/{path.name}")
        items = [(e.title, feed_text(e)) for e in parsed.entries]
        language = next((e.language for e in parsed.entries if e.language), parsed.language)
        if language and frequency_language(language) != "en" and len(items) >= 5:
            out.append((path.name, language, items))
    return out


def pairs(items: list[tuple[str, str]], language: str | None) -> tuple[list[float], int, int]:
    """Content cosines of every ordered pair, how many would join, and how many pairs."""
    vecs = [algo.vectors(fingerprint(t, x, language=language or "en")) for t, x in items]
    alone = [algo.merge(None, v) for v in vecs]
    cosines, joins, n = [], 0, 0
    for i, v in enumerate(vecs):
        for j, story in enumerate(alone):
            if i == j:
                continue
            n += 1
            cosines.append(algo.features(v, story)[0])
            joins += algo.score(v, story) >= 0
    return sorted(cosines), joins, n


def main() -> None:
    total = {False: 0, True: 0}
    count = 0
    head = f"{'feed':<42} {'lang':<6} {'items':>5}  "
    columns = f"{'as English: cos median/p90, joins':<36} in its language: cos median/p90, joins"
    print(head + columns)
    for name, language, items in feeds():
        row = f"{name[:42]:<42} {language:<6} {len(items):>5}  "
        news = name not in NOT_NEWS
        for own in (False, True):
            cosines, joins, n = pairs(items, language if own else None)
            median, p90 = cosines[len(cosines) // 2], cosines[int(len(cosines) * 0.9)]
            row += f"{median:.3f} / {p90:.3f}, {joins:>3} of {n:<6} ({joins / n:.2%})     "
            total[own] += joins if news else 0
        count += n if news else 0
        print(row.rstrip() + ("" if news else "  (not news: left out of the totals)"))
    english, own_language = total[False] / count, total[True] / count
    print(f"joins_as_english={english:.4f} joins_in_language={own_language:.4f}")


if __name__ == "__main__":
    main()
