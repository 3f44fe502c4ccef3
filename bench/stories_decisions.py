"""bench/stories_decisions.py: dump every story decision of a stream, to compare two versions.

Streams ECB+ (shuffled, as bench/stories.py does), then both corpora with 10,000 filler stories
in the window (`--window N` changes that; 0 skips it), through `pipeline.record` into SQLite (or the
database at `--url`, which must be empty), and writes one line per article: its id, story (as
the id of the story's first article, so runs compare whatever ids the database hands out),
reason and score. Compare two dumps with `diff`.

    python bench/stories_decisions.py OUT.tsv [--window N] [--url URL]
"""

from __future__ import annotations

import random
import sys
import tempfile
from datetime import timedelta
from pathlib import Path

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench import stories as b
from monitor.pipeline.links import canonical_url
from monitor.storage import Store
from monitor.storage.tables import article


def dump(store: Store, docs: list[b.Doc], feed: str, out: list[str]) -> None:
    pred, _ = b.stream(store, docs, feed=feed)
    with store.read() as conn:
        rows = {
            r.canonical_url: r
            for r in conn.execute(
                sa.select(
                    article.c.canonical_url,
                    article.c.story_id,
                    article.c.story_reason,
                    article.c.story_score,
                )
            )
        }
    first: dict[object, str] = {}  # story id → its first article
    for d in docs:
        first.setdefault(pred[d.id], d.id)
    for d in docs:
        url = canonical_url(d.url or f"https://bench.invalid/{d.id}")
        r = rows[url]
        out.append(f"{feed}\t{d.id}\t{first[pred[d.id]]}\t{r.story_reason}\t{r.story_score}")


def main() -> None:
    import argparse

    parser = argparse.ArgumentParser(
        description="Dump every story decision of a stream, to compare two versions."
    )
    parser.add_argument("out", type=Path, help="the file to write, one line per article")
    parser.add_argument(
        "--window", type=int, default=10_000, help="filler stories in the window (0: none)"
    )
    parser.add_argument("--url", help="an empty database to record into (default: SQLite)")
    args = parser.parse_args()
    target, window, url = args.out, args.window, args.url
    ecb_docs = b.ecb(b.SEED)
    out: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        store = Store.open(url) if url else b.fresh_store(Path(tmp), "ecb")
        dump(store, ecb_docs, "ecb", out)
        store.close()
        if window:
            uci_docs = b.uci()
            timed = [
                b.Doc(
                    d.id,
                    d.title,
                    d.text,
                    d.url,
                    d.gold,
                    d.topic,
                    b.T0 + timedelta(milliseconds=10 * i),
                )
                for i, d in enumerate([*ecb_docs, *uci_docs])
            ]
            store = b.fresh_store(Path(tmp), "window")
            b.fill(store, window, b.vocabulary([*ecb_docs, *uci_docs]), random.Random(window))
            dump(store, timed, "window", out)
            store.close()
    target.write_text("\n".join(out) + "\n", encoding="utf-8")
    print(f"{len(out)} decisions in {target}")


if __name__ == "__main__":
    main()
