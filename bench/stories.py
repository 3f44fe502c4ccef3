"""bench/stories.py: story clustering measured on real labelled news, through the real code.

Each corpus is fed as a stream through `monitor.pipeline.record` (fingerprints,
candidate lookups, the join-or-open decision and every state write, into a SQLite file):

- ECB+ (`../shared/corpora/ecbplus-event-clusters`): 982 articles, 86 events, two similar
  events per topic; in a shuffled order whose seed is printed, all inside one story window (no
  dates: the hardest case). Scored on all topics and on topics 36–45 alone (the customary test
  split; the weights in `monitor.pipeline.stories` were fitted on topics 1–35 only).
- UCI News Aggregator (`../shared/corpora/uci-news-aggregator-subset`): 6,366 headlines from
  1,948 publishers, in timestamp order, headline only.
- Copies: every ECB+ article with 150 words or more again, lightly edited (new title, a word in
  twenty changed, the last sentence dropped), as a syndicated copy would be; all must join.

Figures: B-cubed precision/recall/F1 and pairwise F1 against the gold clusters; on ECB+ the
hard-negative merge rate (pairs of articles from the two events of one topic put in one story);
the same for a baseline (same canonical URL or same title). Speed: a store holding no other
stories, then 10,000, then 100,000 synthetic stories in the window (written straight into the
tables), each takes both corpora as one stream (7,348 articles), on one core. Fingerprints are
counted in the time (extraction and matching are not: bench/rules.py and bench/poll.py measure
those). The lookup column (finding each article's story: same text, copies, candidates,
scoring) should stay flat as the window grows; what grows is the writes, as the indexes they
land in get bigger.

`--quick` (a CI smoke run, a minute or two): ECB+, then the speed of a 10,000-story window
only (ECB+ and 1,000 UCI headlines); what it skips prints as nan on the last line.

`--quality`: the clustering figures only (ECB+, UCI, copies), without the speed rows.

`--fit` refits the weights of the rewrite score in memory (ECB+ topics 1–35 for articles with
text, the first half of UCI by time for headline-only items) and prints them.
Last line: ecb_test_f1=… ecb_all_f1=… ecb_hard_neg_merge=… uci_f1=… baseline_ecb_test_f1=…
baseline_uci_f1=… articles_per_s=… lookup_ms_10k=… lookup_ms_100k=…
"""

from __future__ import annotations

import csv
import json
import math
import os
import random
import re
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import sqlalchemy as sa

from monitor.model import Article
from monitor.pipeline import cluster
from monitor.pipeline.fingerprint import BANDS, fingerprint
from monitor.pipeline.links import canonical_url
from monitor.pipeline.record import FeedBatch, NewEntry, record
from monitor.storage import Store
from monitor.storage import feeds as feed_store

CORPORA = Path(
    os.environ.get("MONITOR_CORPORA", Path(__file__).resolve().parents[2] / "shared" / "corpora")
)
SEED = 20251123
WINDOW_S = 72 * 3600.0
BATCH = 50  # entries per transaction, as a feed's new entries are recorded
T0 = datetime(2026, 11, 23, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Doc:
    id: str
    title: str
    text: str
    url: str | None
    gold: str
    topic: int = 0
    at: datetime = T0


def ecb(seed: int = SEED) -> list[Doc]:
    path = CORPORA / "ecbplus-event-clusters" / "ecbplus_docs.jsonl"
    docs = []
    for line in path.read_text(encoding="utf-8").splitlines():
        d = json.loads(line)
        url = re.sub(r"\s+", "", d["url"]) if d.get("url") else None
        docs.append(Doc(d["doc_id"], d["title"], d["text"], url, d["event_cluster"], d["topic"]))
    random.Random(seed).shuffle(docs)
    return [
        Doc(d.id, d.title, d.text, d.url, d.gold, d.topic, T0 + timedelta(seconds=i))
        for i, d in enumerate(docs)
    ]


def uci() -> list[Doc]:
    path = CORPORA / "uci-news-aggregator-subset" / "uci-news-aggregator_first6366.csv"
    with path.open(encoding="utf-8", newline="") as f:
        rows = sorted(csv.DictReader(f), key=lambda r: (int(r["TIMESTAMP"]), int(r["ID"])))
    return [
        Doc(
            "uci-" + r["ID"],
            r["TITLE"],
            "",
            r["URL"],
            r["STORY"],
            at=datetime.fromtimestamp(int(r["TIMESTAMP"]) / 1000, UTC),
        )
        for r in rows
    ]


def copies(docs: Sequence[Doc], seed: int = SEED) -> list[Doc]:
    """A lightly edited syndicated copy of every article of 150 words or more."""
    rng = random.Random(seed)
    out = []
    for d in docs:
        words = d.text.split()
        if len(words) < 150:
            continue
        sentences = re.split(r"(?<=[.!?])\s+", d.text)
        body = " ".join(sentences[:-1]) if len(sentences) > 3 else d.text
        edited = [w if rng.random() > 0.05 else rng.choice(words) for w in body.split()]
        out.append(
            Doc(
                "copy-" + d.id,
                "Copy: " + d.title[:60],
                " ".join(edited),
                None,
                d.gold,
                d.topic,
                d.at,
            )
        )
    return out


# -- streaming through the store -------------------------------------------------------------


def stream(
    store: Store, docs: Sequence[Doc], *, feed: str = "bench"
) -> tuple[dict[str, int], float]:
    """Record `docs` in order, a batch per transaction; their story ids at the end (a story
    repair may have moved some), and the seconds taken."""
    from monitor.storage.tables import article

    feed_store.sync(store, [feed_store.FeedSpec(feed, f"https://bench.invalid/{feed}", 600)], T0)
    feed_id = next(f.id for f in feed_store.all_feeds(store) if f.name == feed)
    articles: dict[str, int] = {}
    memory = cluster.Memory()  # the clustering memory a daemon keeps for its store
    started = time.perf_counter()
    for i in range(0, len(docs), BATCH):
        chunk = docs[i : i + BATCH]
        entries = []
        for d in chunk:
            url = d.url or f"https://bench.invalid/{d.id}"
            item = Article(url=url, canonical_url=canonical_url(url), title=d.title, text=d.text)
            entries.append(NewEntry(d.id, item, fingerprint(d.title, d.text)))
        (done,) = record(
            store, memory, [FeedBatch(feed_id, entries, chunk[-1].at)], window_s=WINDOW_S
        )
        for d, r in zip(chunk, done, strict=True):
            if r.article_id is None:
                raise SystemExit(f"{d.id} not stored: {r.error}")
            articles[d.id] = r.article_id
    seconds = time.perf_counter() - started
    with store.read() as conn:
        final = {int(a): s for a, s in conn.execute(sa.select(article.c.id, article.c.story_id))}
    return {doc: final[a] for doc, a in articles.items()}, seconds


def fresh_store(folder: Path, name: str) -> Store:
    return Store.open(f"sqlite:///{folder}/{name}.db")


# -- scores -----------------------------------------------------------------------------------


def bcubed(
    pred: Mapping[str, object], gold: dict[str, str], ids: Iterable[str]
) -> tuple[float, float, float]:
    """B-cubed precision, recall and F1 over `ids`, against whole predicted and gold clusters."""
    by_pred: dict[object, set[str]] = defaultdict(set)
    by_gold: dict[str, set[str]] = defaultdict(set)
    for i in pred:
        by_pred[pred[i]].add(i)
        by_gold[gold[i]].add(i)
    ids = list(ids)
    p = r = 0.0
    for i in ids:
        both = len(by_pred[pred[i]] & by_gold[gold[i]])
        p += both / len(by_pred[pred[i]])
        r += both / len(by_gold[gold[i]])
    p, r = p / len(ids), r / len(ids)
    return p, r, 2 * p * r / (p + r) if p + r else 0.0


def pairwise(pred: Mapping[str, object], gold: dict[str, str], ids: Iterable[str]) -> float:
    """Pairwise F1 over the pairs of `ids` (counted by cluster sizes, not pair by pair)."""
    from collections import Counter

    ids = list(ids)

    def pairs(counts: Counter[object]) -> int:
        return sum(n * (n - 1) // 2 for n in counts.values())

    both = pairs(Counter((pred[i], gold[i]) for i in ids))
    predicted = pairs(Counter(pred[i] for i in ids))
    true = pairs(Counter(gold[i] for i in ids))
    p = both / predicted if predicted else 1.0
    r = both / true if true else 1.0
    return 2 * p * r / (p + r) if p + r else 0.0


def hard_negative_merges(pred: Mapping[str, object], docs: Sequence[Doc]) -> float:
    """Of the pairs of articles from the two different events of one ECB+ topic, the share
    put in one story."""
    merged = total = 0
    by_topic: dict[int, list[Doc]] = defaultdict(list)
    for d in docs:
        by_topic[d.topic].append(d)
    for group in by_topic.values():
        for n, a in enumerate(group):
            for b in group[n + 1 :]:
                if a.gold != b.gold:
                    total += 1
                    merged += pred[a.id] == pred[b.id]
    return merged / total if total else 0.0


def baseline(docs: Sequence[Doc]) -> dict[str, object]:
    """Same canonical URL or same title (case and spacing folded): one cluster."""
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        while parent.setdefault(x, x) != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for d in docs:
        keys = ["title:" + " ".join(d.title.casefold().split())]
        if d.url:
            keys.append("url:" + canonical_url(d.url))
        for k in keys:
            parent[find(k)] = find(d.id)
    return {d.id: find(d.id) for d in docs}


# -- a window full of other stories ---------------------------------------------------------


def vocabulary(docs: Sequence[Doc]) -> tuple[list[str], list[int], list[str], list[int]]:
    """Terms and names of the corpora with their document counts, to draw fillers from."""
    terms: dict[str, int] = defaultdict(int)
    names: dict[str, int] = defaultdict(int)
    for d in docs:
        fp = fingerprint(d.title, d.text)
        for t in fp.terms:
            terms[t] += 1
        for e in fp.entities:
            names[e] += 1
    return list(terms), list(terms.values()), list(names), list(names.values())


def fill(
    store: Store,
    n: int,
    vocab: tuple[list[str], list[int], list[str], list[int]],
    rng: random.Random,
) -> None:
    """Write `n` synthetic stories active in the last 70 hours straight into the tables, one
    article each, with terms and names drawn from the corpora by frequency (so lookups meet
    them as they would meet real stories) and random MinHash bands; 5,000 per transaction, and
    checkpointed before the timed stream starts."""
    from monitor.pipeline import stories as algo
    from monitor.storage import stories as story_store
    from monitor.storage.tables import article, article_band, story, story_key

    if n == 0:
        return
    term_list, term_weights, name_list, name_weights = vocab
    with store.read() as conn:
        first = _next_id(conn, story.c.id)
        first_article = _next_id(conn, article.c.id)
    for start in range(0, n, 5000):
        with store.write() as conn:
            stories, keys, articles, bands = [], [], [], []
            for i in range(start, min(n, start + 5000)):
                seen = T0 - timedelta(seconds=rng.uniform(0, 70 * 3600))
                content = {t: rng.uniform(1, 3) for t in rng.choices(term_list, term_weights, k=30)}
                entities = {e: rng.uniform(1, 3) for e in rng.choices(name_list, name_weights, k=8)}
                title = dict(list(content.items())[:6])
                ranked = sorted(
                    [(w, "e:" + k) for k, w in entities.items()]
                    + [(w, "t:" + k) for k, w in content.items()],
                    reverse=True,
                )
                lookup = tuple(k for _, k in ranked[: algo.INDEX_KEYS])
                vec = algo.Vectors(_unit(content), _unit(entities), _unit(title), False, lookup)
                sid, aid = first + i, first_article + i
                stories.append(
                    {
                        "id": sid,
                        "title": f"filler {i}",
                        "first_seen_at": seen,
                        "last_seen_at": seen,
                        "article_count": 1,
                        "profile": algo.merge(None, vec).to_json(),
                    }
                )
                keys.extend(
                    {
                        "key": story_store.key_of(k),
                        "story_id": sid,
                        "seen_at": seen,
                    }
                    for k in set(vec.index_keys())
                )
                articles.append(
                    {
                        "id": aid,
                        "canonical_url": f"urn:filler:{i}",
                        "url": f"urn:filler:{i}",
                        "source": "filler",
                        "title": f"filler {i}",
                        "summary": "",
                        "text": "",
                        "text_hash": f"{rng.getrandbits(128):032x}",
                        "language": None,
                        "authors": "",
                        "published_at": None,
                        "fetched_at": seen,
                        "extraction": "feed",
                        "extraction_error": None,
                        "story_id": sid,
                        "story_reason": "new",
                        "signature": rng.randbytes(512),
                    }
                )
                bands.extend(
                    {
                        "key": rng.getrandbits(63),
                        "article_id": aid,
                        "seen_at": seen,
                    }
                    for _ in range(BANDS)
                )
            conn.execute(story.insert(), stories)
            conn.execute(story_key.insert(), keys)
            conn.execute(article.insert(), articles)
            conn.execute(article_band.insert(), bands)
    if store.dialect == "sqlite":  # the timed stream should not pay for copying the fill's WAL
        raw = store.engine.raw_connection()
        try:
            raw.cursor().execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            raw.close()


def _next_id(conn: sa.Connection, column: sa.Column[int]) -> int:
    """The id after the highest one in `column`'s table."""
    return int(conn.scalar(sa.select(sa.func.max(column))) or 0) + 1


def _unit(v: dict[str, float]) -> dict[str, float]:
    norm = sum(x * x for x in v.values()) ** 0.5
    return {k: x / norm for k, x in v.items()}


# -- the run --------------------------------------------------------------------------------


def scores(
    pred: Mapping[str, object], docs: Sequence[Doc], ids: Iterable[str] | None = None
) -> str:
    gold = {d.id: d.gold for d in docs}
    chosen = list(ids) if ids is not None else [d.id for d in docs]
    p, r, f1 = bcubed(dict(pred), gold, chosen)
    pw = pairwise(dict(pred), gold, chosen)
    return f"{p:>6.3f} {r:>6.3f} {f1:>6.3f} {pw:>9.3f}"


def main(quick: bool = False, quality_only: bool = False) -> None:
    if hasattr(os, "sched_setaffinity"):  # one core: MONITOR_BENCH_CPU picks which (default: first)
        cpus = sorted(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {int(os.environ.get("MONITOR_BENCH_CPU", cpus[0]))})
    ecb_docs, uci_docs = ecb(SEED), uci()
    test_ids = [d.id for d in ecb_docs if d.topic >= 36]
    print(f"ECB+ order: random.Random({SEED}).shuffle; UCI in timestamp order; window 72h")
    print(f"{'run':<34} {'P':>6} {'R':>6} {'F1':>6} {'pair F1':>9} {'hard-neg':>9} {'art/s':>7}")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        figures: dict[str, float] = dict.fromkeys(
            ("uci_f1", "baseline_uci_f1", "articles_per_s", "lookup_ms_10k", "lookup_ms_100k"),
            math.nan,
        )
        store = fresh_store(folder, "ecb")
        ecb_pred, seconds = stream(store, ecb_docs)
        store.close()
        hard = hard_negative_merges(ecb_pred, ecb_docs)
        rate = len(ecb_docs) / seconds
        row = scores(ecb_pred, ecb_docs)
        print(f"{'monitor  ECB+ all topics':<34} {row} {hard:>9.3f} {rate:>7.0f}")
        test_hard = hard_negative_merges(ecb_pred, [d for d in ecb_docs if d.topic >= 36])
        row = scores(ecb_pred, ecb_docs, test_ids)
        print(f"{'monitor  ECB+ topics 36-45':<34} {row} {test_hard:>9.3f}")
        base = baseline(ecb_docs)
        base_hard = hard_negative_merges(base, ecb_docs)
        print(f"{'baseline ECB+ all topics':<34} {scores(base, ecb_docs)} {base_hard:>9.3f}")
        print(f"{'baseline ECB+ topics 36-45':<34} {scores(base, ecb_docs, test_ids)}")
        gold = {d.id: d.gold for d in ecb_docs}
        figures["ecb_test_f1"] = bcubed(dict(ecb_pred), gold, test_ids)[2]
        figures["ecb_all_f1"] = bcubed(dict(ecb_pred), gold, gold)[2]
        figures["ecb_hard_neg_merge"] = hard
        figures["baseline_ecb_test_f1"] = bcubed(base, gold, test_ids)[2]

        if quick:
            quick_speed(folder, ecb_docs, uci_docs, figures)
            print_figures(figures)
            return
        store = fresh_store(folder, "uci")
        uci_pred, seconds = stream(store, uci_docs)
        store.close()
        row = scores(uci_pred, uci_docs)
        print(f"{'monitor  UCI headlines':<34} {row} {'':>9} {len(uci_docs) / seconds:>7.0f}")
        base = baseline(uci_docs)
        print(f"{'baseline UCI headlines':<34} {scores(base, uci_docs)}")
        gold = {d.id: d.gold for d in uci_docs}
        figures["uci_f1"] = bcubed(dict(uci_pred), gold, gold)[2]
        figures["baseline_uci_f1"] = bcubed(base, gold, gold)[2]

        copied = copies(ecb_docs)
        originals = {c.id.removeprefix("copy-") for c in copied}
        mixed = [d for d in ecb_docs if d.id in originals]
        stream_docs = [
            x for d in mixed for x in (d, next(c for c in copied if c.id == "copy-" + d.id))
        ]
        store = fresh_store(folder, "copies")
        pred, _ = stream(store, stream_docs)
        store.close()
        joined = sum(pred[c.id] == pred[c.id.removeprefix("copy-")] for c in copied)
        print(f"near-duplicate copies joined to their original: {joined}/{len(copied)}")
        if quality_only:
            print_figures(figures)
            return

        print(f"\n{HEADER}")
        vocab = vocabulary([*ecb_docs, *uci_docs])
        timed = [
            Doc(d.id, d.title, d.text, d.url, d.gold, d.topic, T0 + timedelta(milliseconds=10 * i))
            for i, d in enumerate([*ecb_docs, *uci_docs])
        ]
        for size in (0, 10_000, 100_000):
            store = fresh_store(folder, f"window{size}")
            fill(store, size, vocab, random.Random(size))
            figures["articles_per_s"], lookup_ms = speed_row(store, size, timed)
            if size:
                figures[f"lookup_ms_{size // 1000}k"] = lookup_ms
    print_figures(figures)


def quick_speed(
    folder: Path, ecb_docs: Sequence[Doc], uci_docs: Sequence[Doc], figures: dict[str, float]
) -> None:
    """--quick: the speed row of a 10,000-story window only, for ECB+ and the first 1,000
    UCI headlines."""
    print(f"\n{HEADER}")
    docs = [*ecb_docs, *uci_docs[:1000]]
    timed = [
        Doc(d.id, d.title, d.text, d.url, d.gold, d.topic, T0 + timedelta(milliseconds=10 * i))
        for i, d in enumerate(docs)
    ]
    store = fresh_store(folder, "window10000")
    fill(store, 10_000, vocabulary(docs), random.Random(10_000))
    figures["articles_per_s"], figures["lookup_ms_10k"] = speed_row(store, 10_000, timed)


HEADER = f"{'stories in the window':<24} {'articles/s':>10} {'ms/article':>10} {'lookup ms':>10}"


def speed_row(store: Store, size: int, timed: Sequence[Doc]) -> tuple[float, float]:
    """Stream `timed` into a store holding `size` other stories; print articles/s, ms per
    article, and the part of it spent finding each article's story (the lookups and scoring,
    from the `monitor_story_lookup_seconds` histogram: the rest is fingerprints and writes)."""
    from monitor import metrics

    def lookup_s() -> float:
        return metrics.REGISTRY.get_sample_value("monitor_story_lookup_seconds_sum") or 0.0

    before = lookup_s()
    _, seconds = stream(store, timed, feed="timed")
    store.close()
    rate = len(timed) / seconds
    lookup_ms = 1000 * (lookup_s() - before) / len(timed)
    print(f"{size:<24,} {rate:>10.0f} {1000 / rate:>10.2f} {lookup_ms:>10.2f}")
    return rate, lookup_ms


def print_figures(figures: Mapping[str, float]) -> None:
    print(
        " ".join(
            f"{k}={figures[k]:.0f}" if k == "articles_per_s" else f"{k}={figures[k]:.3f}"
            for k in (
                "ecb_test_f1",
                "ecb_all_f1",
                "ecb_hard_neg_merge",
                "uci_f1",
                "baseline_ecb_test_f1",
                "baseline_uci_f1",
                "articles_per_s",
                "lookup_ms_10k",
                "lookup_ms_100k",
            )
        )
    )


if __name__ == "__main__":
    if "--fit" in sys.argv:
        from stories_fit import fit

        fit()
    else:
        main(quick="--quick" in sys.argv, quality_only="--quality" in sys.argv)
