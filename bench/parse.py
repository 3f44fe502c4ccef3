"""bench/parse.py: CPU time of parse_feed (fast path where it applies) against plain
feedparser.parse, on the news-feed snapshots (when ../shared is present) and on a generated
50-item, ~20 KB RSS feed like the ones bench/poll.py serves. For that feed it also times what a
poll of a changed feed pays: `read_feed` (guids) plus `entries(only=…)` of 5 new entries of 50
(target: 1.5 ms on one core), and the same when the process knows the other 45 items from its
last poll and skips them unparsed.

    python bench/parse.py [--repeat N]

Prints one row per feed, then a last line of key=value pairs.
"""

from __future__ import annotations

import argparse
import gzip
import io
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import feedparser

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the checkout this script is in, not an installed copy

from monitor.pipeline.parse import parse_feed, read_feed  # noqa: E402

SNAPSHOTS = ROOT.parent / "shared/corpora/news-feed-snapshots"
PLACES = ["Falluja", "Tal Afar", "Mosul", "Ramadi", "Hit", "Baiji", "Samarra", "Tikrit"]


def generated_feed(items: int = 50) -> bytes:
    """An RSS 2.0 feed shaped like a news wire: short HTML descriptions, curly quotes, authors."""
    parts = [
        '<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0" '
        'xmlns:dc="http://purl.org/dc/elements/1.1/"><channel><title>Wire</title>'
        "<link>https://wire.example/</link><language>en</language>"
    ]
    for i in range(items):
        place = PLACES[i % len(PLACES)]
        parts.append(
            f"<item><title>Fighting reported near {place} as forces advance ({i})</title>"
            f"<link>https://wire.example/{i}</link>"
            f'<guid isPermaLink="false">wire-{i}</guid>'
            f"<pubDate>Mon, 0{1 + i % 9} Jun 2026 1{i % 10}:00:00 GMT</pubDate>"
            f"<dc:creator>Staff in {place}</dc:creator><category>World</category>"
            f"<description>&lt;p&gt;Residents of {place} said on Monday that the offensive "
            "had reached the outskirts, and officials said &#8220;the situation is under "
            "control&#8221;. Aid groups warned of shortages.&lt;/p&gt;</description></item>"
        )
    parts.append("</channel></rss>")
    return "".join(parts).encode()


def feedparser_parse(body: bytes) -> object:
    """feedparser on `body`, from a fresh file each call."""
    return feedparser.parse(io.BytesIO(body))


def cpu_ms(fn: Callable[[], object], repeat: int) -> float:
    """Best of `repeat` runs, in CPU milliseconds: the least disturbed by other processes."""
    best = float("inf")
    for _ in range(repeat):
        start = time.process_time()
        fn()
        best = min(best, time.process_time() - start)
    return best * 1000


def main() -> None:
    args = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    args.add_argument("--repeat", type=int, default=5)
    repeat = args.parse_args().repeat
    feeds: list[tuple[str, bytes]] = [("generated-50-items", generated_feed())]
    if SNAPSHOTS.is_dir():
        for path in sorted((SNAPSHOTS / "feeds").iterdir()):
            body = path.read_bytes()
            feeds.append((path.name, gzip.decompress(body) if path.suffix == ".gz" else body))
    print(
        f"{'feed':42} {'KB':>5} {'parser':>10} {'parse_feed':>10} {'feedparser':>10} {'ratio':>6}"
    )
    totals = {"fast": [0.0, 0.0, 0], "all": [0.0, 0.0, 0]}
    generated = (0.0, 0.0)
    for name, body in feeds:
        used = parse_feed(body, "https://news.example/feed").parser
        ours = cpu_ms(partial(parse_feed, body, "https://news.example/feed"), repeat)
        theirs = cpu_ms(partial(feedparser_parse, body), max(1, repeat // 2))
        print(
            f"{name[:42]:42} {len(body) / 1024:5.0f} {used:>10} {ours:8.2f}ms {theirs:8.2f}ms "
            f"{theirs / ours:5.1f}x"
        )
        if name == "generated-50-items":
            generated = (ours, theirs)
            continue
        for key in ("fast", "all") if used == "fast" else ("all",):
            totals[key][0] += ours
            totals[key][1] += theirs
            totals[key][2] += 1
    new5 = set(read_feed(feeds[0][1], "https://news.example/feed").guids[:5])
    read_ms = cpu_ms(lambda: read_feed(feeds[0][1], "https://news.example/feed"), repeat * 4)
    new5_ms = cpu_ms(
        lambda: read_feed(feeds[0][1], "https://news.example/feed").entries(only=new5), repeat * 4
    )
    # A poll of the same feed by a process that stored its other 45 items at the last poll:
    # those are skipped unparsed (`known`).
    first = read_feed(feeds[0][1], "https://news.example/feed")
    known = first.item_hashes(set(first.guids) - new5)
    known_ms = cpu_ms(
        lambda: read_feed(feeds[0][1], "https://news.example/feed", known=known).entries(),
        repeat * 4,
    )
    print(
        f"generated-50-items, two steps: read_feed {read_ms:.2f}ms, "
        f"read_feed + entries(only=5 new) {new5_ms:.2f}ms (parse_feed {generated[0]:.2f}ms), "
        f"the 45 others known and skipped {known_ms:.2f}ms"
    )
    fast_n = int(totals["fast"][2]) or 1
    all_n = int(totals["all"][2]) or 1
    fast_ms, fp_ms = totals["fast"][0] / fast_n, totals["fast"][1] / fast_n
    print(
        f"generated_fast_ms={generated[0]:.2f} generated_feedparser_ms={generated[1]:.2f} "
        f"generated_speedup={generated[1] / generated[0]:.1f} "
        f"generated_read_ms={read_ms:.2f} generated_new5_ms={new5_ms:.2f} "
        f"generated_known45_ms={known_ms:.2f} "
        f"snapshots={all_n} snapshots_fast={int(totals['fast'][2])} "
        f"fast_ms_per_feed={fast_ms:.2f} feedparser_ms_per_feed={fp_ms:.2f} "
        f"speedup={fp_ms / fast_ms:.1f} "
        f"all_ms_per_feed={totals['all'][0] / all_n:.2f} "
        f"all_feedparser_ms_per_feed={totals['all'][1] / all_n:.2f}"
    )


if __name__ == "__main__":
    main()
