"""bench/stories.py: story clustering measured on labelled news, through the real code, by
what an alert daemon's user would lose.

Each corpus is fed as a stream through `monitor.pipeline.record` (`Recorder`: fingerprints,
candidate lookups, the join-or-open decision, story repair and every state write, into a
SQLite file), each article with its feed and its publication date as the pipeline builds it
(`monitor.model.Article.published`, from the entry's date; a date ahead of the poll clamped to
it, as the parse stage does), at the moment a daemon would first see it:

- **live**: each feed is polled every `interval` (+0–10% jitter, as `fetch.next_poll` does),
  so a report is recorded at its feed's first poll after it was put out, with the other new
  reports of that poll, newest first, as a feed lists them;
- **backlog**: a daemon started after the last report polls every feed once: a month of
  reports recorded at one moment (the first poll of a fresh install, or after an outage).

Corpora:

- the **conflict stream** (`bench/corpora/conflict-stream/`, written for this bench): 275
  reports of 92 invented events in 13 cities, many distinct events in the same city within
  days. Train split (9 cities) and test split (4 cities: Kharkiv, El Fasher, Mogadishu,
  Kabul), each live and as a backlog. Nothing is tuned on the test split; the threshold table
  below is printed on the train split only. Its hand cases (`cases.yaml`) are checked too.
- **UCI News Aggregator** (`../shared/corpora/uci-news-aggregator-subset`): 6,366 headlines
  from 1,948 publishers over three days, each publisher a feed (its interval drawn once from
  5, 15, 30 or 60 minutes, seeded), dated by their timestamps; live and as a backlog, and in
  timestamp order 50 at a time, each batch at its last headline's time (as this bench fed it
  before it knew feeds).
- **ECB+** (`../shared/corpora/ecbplus-event-clusters`): 982 articles, 86 events, two
  similar events per topic, no dates: in a shuffled order whose seed is printed, all inside
  one story window (the hardest case). Scored on all topics and on topics 36–45 alone (the
  test split; the weights in `monitor.pipeline.stories` were fitted on topics 1–35 only).
- **copies**: every ECB+ article with 150 words or more again, lightly edited (new title, a
  word in twenty changed, the last sentence dropped), as a syndicated copy would be; all must
  join.

Figures, per corpus: B-cubed precision/recall/F1 and pairwise F1 against the gold events; on
ECB+ the hard-negative merge rate (pairs of articles from the two events of one topic put in
one story); and what a wrong join or split costs a user (`alert_figures`):

- `first_joined_other`: the share of gold events whose first report did not open a story of
  its own when it was recorded (Placement reason other than `new`): the moment its alert
  should have gone out, it joined a story of other events instead.
- `silenced`: the share of gold events that own no story at the end. A story is *owned* by
  the gold event of its first report: the earliest recorded of the articles it holds at the
  end (the report whose arrival opened it, or, for a story split off by repair, the earliest
  report that left with the split; its alert speaks of that report). An event that owns no
  story was never the subject of an alert.
- `extra_alerts`: the share of gold events that own two or more stories at the end: split
  into stories that each alerted on their own.

The baseline clusters by the same canonical URL or the same title.

Speed: a store holding no other stories, then 10,000, then 100,000 synthetic stories in the
window (written straight into the tables), each takes ECB+ and UCI as one stream (7,348
articles), on one core. Fingerprints are counted in the time (extraction and matching are not:
bench/rules.py and bench/poll.py measure those). The lookup column (finding each article's
story: same text, copies, candidates, scoring) should stay flat as the window grows; what grows
is the writes, as the indexes they land in get bigger.

The threshold table: the rewrite score's join threshold (0 in `monitor.pipeline.stories.decide`)
moved for the bench alone (`join_threshold`), over the conflict train split, UCI and ECB+
topics 1–35, with the precision, recall and alert figures each gives.

`--quick` (a CI smoke run, a minute or two): the conflict stream, ECB+, then the speed of a
10,000-story window only (ECB+ and 1,000 UCI headlines); what it skips prints as nan on the
last line.

`--quality`: the clustering figures only (conflict stream, ECB+, UCI, copies, thresholds),
without the speed rows.

`--fit` refits the weights of the rewrite score in memory on the training data only (the
conflict stream's train cities, ECB+ topics 1–35, the first half of UCI by time;
`bench/stories_fit.py`) and prints them with what each training stream's decisions cost.

Last line: conflict_first_joined_other=… conflict_extra_alerts=… uci_first_joined_other=…
uci_f1=… ecb_first_joined_other=… ecb_test_f1=… copies_joined=… articles_per_s=… ecb_all_f1=…
ecb_hard_neg_merge=… baseline_ecb_test_f1=… baseline_uci_f1=… lookup_ms_10k=…
lookup_ms_100k=… conflict_silenced=… conflict_f1=… conflict_backlog_first_joined_other=…
uci_silenced=… ecb_silenced=… (conflict_* on the test split, live unless named backlog).
"""

from __future__ import annotations

import csv
import hashlib
import json
import math
import os
import random
import re
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import sqlalchemy as sa

from bench import conflict_stream
from monitor.model import Article
from monitor.pipeline import cluster
from monitor.pipeline import stories as algo
from monitor.pipeline.fingerprint import BANDS, fingerprint
from monitor.pipeline.links import canonical_url
from monitor.pipeline.parse import FUTURE_SLACK
from monitor.pipeline.record import FeedBatch, NewEntry, placing_order, record
from monitor.storage import Store
from monitor.storage import feeds as feed_store

CORPORA = Path(
    os.environ.get("MONITOR_CORPORA", Path(__file__).resolve().parents[2] / "shared" / "corpora")
)
SEED = 20251123
WINDOW_S = 72 * 3600.0
BATCH = 50  # entries per transaction, as a feed's new entries are recorded
T0 = datetime(2026, 11, 23, tzinfo=UTC)
UCI_INTERVALS = (300.0, 900.0, 1800.0, 3600.0)
THRESHOLDS = (-1.0, -0.5, 0.0, 0.5, 1.0, 2.0, 3.0)


@dataclass(frozen=True, slots=True)
class Doc:
    """A labelled article. `at` is when the stream meets it: when its outlet put it out (the
    conflict stream, UCI), or its place in an undated stream (ECB+); `published` is the date its
    feed gives (None: none), and `feed` the feed it comes from."""

    id: str
    title: str
    text: str
    url: str | None
    gold: str
    topic: int = 0
    at: datetime = T0
    published: datetime | None = None
    feed: str = "bench"


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
    docs = []
    for r in rows:
        when = datetime.fromtimestamp(int(r["TIMESTAMP"]) / 1000, UTC)
        feed = "uci:" + r["PUBLISHER"]
        docs.append(
            Doc("uci-" + r["ID"], r["TITLE"], "", r["URL"], r["STORY"], 0, when, when, feed)
        )
    return docs


def uci_intervals(docs: Iterable[Doc]) -> dict[str, float]:
    """UCI names no feeds' poll intervals: each publisher's is drawn once (by its name)."""
    return {
        d.feed: UCI_INTERVALS[
            int.from_bytes(hashlib.blake2b(d.feed.encode(), digest_size=2).digest()) % 4
        ]
        for d in docs
    }


def conflict(split: str) -> tuple[list[Doc], dict[str, float], conflict_stream.Corpus]:
    """One split of the conflict stream: its docs, its feeds' intervals, and the corpus."""
    corpus = conflict_stream.load().split(split)
    docs = [
        Doc(
            r.id,
            r.title,
            r.text,
            r.url,
            r.event,
            0,
            corpus.released(r),
            r.published.astimezone(UTC),
            r.feed,
        )
        for r in corpus.reports
    ]
    return docs, {f.name: f.interval_s for f in corpus.feeds.values()}, corpus


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


# -- when a daemon sees each report -----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Poll:
    """One poll of one feed: the new reports it finds (newest first, as a feed lists them)."""

    feed: str
    now: datetime
    docs: tuple[Doc, ...]


def live(docs: Sequence[Doc], intervals: Mapping[str, float], seed: int = SEED) -> list[Poll]:
    """Each feed polled every `interval` (+0–10% jitter, as the daemon schedules it) from a
    random phase before its first report; each report found by the first poll at or after the
    moment its outlet put it out (`Doc.at`)."""
    rng = random.Random(seed)
    by_feed: dict[str, list[Doc]] = defaultdict(list)
    for d in sorted(docs, key=lambda d: (d.at, d.id)):
        by_feed[d.feed].append(d)
    polls = []
    for feed in sorted(by_feed):
        interval = intervals.get(feed, 900.0)
        mine = by_feed[feed]
        t = mine[0].at - timedelta(seconds=rng.uniform(0, interval))
        found: list[Doc] = []
        for d in mine:
            while t < d.at:
                if found:
                    polls.append(_poll(feed, t, found))
                    found = []
                t += timedelta(seconds=interval * (1 + 0.1 * rng.random()))
            found.append(d)
        polls.append(_poll(feed, t, found))
    return sorted(polls, key=lambda p: (p.now, p.feed))


def backlog(docs: Sequence[Doc], after: timedelta = timedelta(hours=1)) -> list[Poll]:
    """Every feed polled once, `after` the last report: the whole span at one moment."""
    now = max(d.at for d in docs) + after
    by_feed: dict[str, list[Doc]] = defaultdict(list)
    for d in docs:
        by_feed[d.feed].append(d)
    return [_poll(feed, now, by_feed[feed]) for feed in sorted(by_feed)]


def in_order(docs: Sequence[Doc], feed: str = "bench") -> list[Poll]:
    """Undated docs in the given order, `BATCH` at a time, each batch at its last doc's `at`."""
    return [
        Poll(feed, docs[i : i + BATCH][-1].at, tuple(docs[i : i + BATCH]))
        for i in range(0, len(docs), BATCH)
    ]


def _poll(feed: str, now: datetime, docs: Sequence[Doc]) -> Poll:
    newest_first = sorted(docs, key=lambda d: (d.published or d.at, d.id), reverse=True)
    return Poll(feed, now, tuple(newest_first))


# -- the calls into monitor -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Arrival:
    """A report as it was recorded: whether it opened a story of its own then (Placement
    reason `new`), and its story at the end of the stream."""

    doc: str
    gold: str
    opened: bool
    story: object


class Recorder:
    """Every call this benchmark makes into monitor's recording code (and only here, besides
    `fill`, which writes the tables directly): `storage.feeds.sync`/`all_feeds` for the feed
    rows, `pipeline.record.record` for the polls, and one read of `article.story_id`."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.memory = cluster.Memory()  # the clustering memory a daemon keeps for its store
        self.feeds: dict[str, int] = {}

    def record(self, polls: Sequence[Poll]) -> tuple[list[tuple[Doc, int, bool]], float]:
        """Record the polls in order, consecutive polls grouped into one transaction of up to
        `BATCH` entries (as the daemon's ingest thread groups the feeds that wait for it).
        Each doc with its article id and whether it opened a story; the seconds taken."""
        self._sync({p.feed for p in polls})
        out: list[tuple[Doc, int, bool]] = []
        started = time.perf_counter()
        group: list[Poll] = []
        for poll in [*polls, None]:
            if poll is not None and (not group or sum(len(p.docs) for p in group) < BATCH):
                group.append(poll)
                continue
            batches = [
                FeedBatch(self.feeds[p.feed], [_entry(p, d) for d in p.docs], p.now) for p in group
            ]
            done = record(self.store, self.memory, batches, window_s=WINDOW_S)
            # in the order `record` placed them (oldest event time first), which is what each
            # report met when it came
            for f, e in placing_order(batches):
                d, r = group[f].docs[e], done[f][e]
                if r.article_id is None:
                    raise SystemExit(f"{d.id} not stored: {r.error}")
                out.append((d, r.article_id, r.reason == "new"))
            group = [poll] if poll is not None else []
        return out, time.perf_counter() - started

    def stories(self) -> dict[int, int]:
        """Every article's story now (a story repair may have moved some)."""
        from monitor.storage.tables import article

        with self.store.read() as conn:
            return {
                int(a): int(s) for a, s in conn.execute(sa.select(article.c.id, article.c.story_id))
            }

    def _sync(self, names: set[str]) -> None:
        if names <= self.feeds.keys():
            return
        specs = [
            feed_store.FeedSpec(name, f"https://bench.invalid/feed/{i}", 600)
            for i, name in enumerate(sorted(names | self.feeds.keys()))
        ]
        feed_store.sync(self.store, specs, T0)
        self.feeds = {f.name: f.id for f in feed_store.all_feeds(self.store)}


def _entry(poll: Poll, d: Doc) -> NewEntry:
    """The entry as the pipeline builds it: the article with its feed and its date (a date
    ahead of the poll clamped to it, as the parse stage does)."""
    url = d.url or f"https://bench.invalid/{d.id}"
    published = d.published
    if published is not None and published > poll.now + FUTURE_SLACK:
        published = poll.now
    item = Article(
        url=url,
        canonical_url=canonical_url(url),
        title=d.title,
        text=d.text,
        source=d.feed,
        published=published,
    )
    return NewEntry(d.id, item)


def run(store: Store, polls: Sequence[Poll]) -> tuple[list[Arrival], float]:
    """Stream the polls into the store (closed afterwards): each report's arrival, in
    recording order, with its story at the end; and the seconds taken."""
    recorder = Recorder(store)
    try:
        recorded, seconds = recorder.record(polls)
        final = recorder.stories()
    finally:
        store.close()
    return [Arrival(d.id, d.gold, opened, final[a]) for d, a, opened in recorded], seconds


def stream(
    store: Store, docs: Sequence[Doc], *, feed: str = "bench"
) -> tuple[dict[str, object], float]:
    """Record undated `docs` in order, `BATCH` per transaction; their story ids at the end,
    and the seconds taken."""
    arrivals, seconds = run(store, in_order(docs, feed))
    return {a.doc: a.story for a in arrivals}, seconds


@contextmanager
def join_threshold(threshold: float) -> Iterator[None]:
    """The rewrite score's join threshold moved from 0 to `threshold` while inside, for this
    process only: `decide` joins the best candidate whose score is at least 0, so the score
    is lowered by `threshold` (copies and same-text joins are not scored and do not move)."""
    original = algo.score

    def shifted(
        vec: algo.Vectors, story: algo.Profile, weights: Sequence[float] | None = None
    ) -> float:
        return original(vec, story, weights) - threshold

    algo.score = shifted
    try:
        yield
    finally:
        algo.score = original


def fresh_store(folder: Path, name: str) -> Store:
    return Store.open(f"sqlite:///{folder}/{name}.db")


# -- scores -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AlertFigures:
    """What a stream's story decisions cost in alerts (see the module's docstring): shares of
    the gold events, and the counts behind them."""

    events: int
    first_joined_other: float
    silenced: float
    extra_alerts: float
    joined: tuple[str, ...]  # the events whose first report joined another story
    unowned: tuple[str, ...]  # the events that own no story at the end
    split: tuple[str, ...]  # the events that own two or more stories


def alert_figures(
    arrivals: Sequence[Arrival], events: Collection[str] | None = None
) -> AlertFigures:
    """`first_joined_other`, `silenced` and `extra_alerts` of a stream, from all its reports in
    the order they were recorded, over the gold `events` (default: all). An event's first
    report is its first recorded; a story's owner is the gold event of the first recorded
    report it holds at the end."""
    first: dict[str, Arrival] = {}
    head: dict[object, Arrival] = {}
    for a in arrivals:
        first.setdefault(a.gold, a)
        head.setdefault(a.story, a)
    owned: dict[str, int] = defaultdict(int)
    for a in head.values():
        owned[a.gold] += 1
    events = [e for e in first if events is None or e in events]
    joined = tuple(e for e in events if not first[e].opened)
    unowned = tuple(e for e in events if owned[e] == 0)
    split = tuple(e for e in events if owned[e] >= 2)
    n = len(events) or 1
    return AlertFigures(
        len(events), len(joined) / n, len(unowned) / n, len(split) / n, joined, unowned, split
    )


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


def case_results(
    cases: Iterable[conflict_stream.Case], arrivals: Sequence[Arrival]
) -> list[tuple[conflict_stream.Case, list[str]]]:
    """Each hand case with what went wrong in this stream (nothing: it holds)."""
    first: dict[str, Arrival] = {}
    head: dict[object, Arrival] = {}
    for a in arrivals:
        first.setdefault(a.gold, a)
        head.setdefault(a.story, a)
    owner = {story: a.gold for story, a in head.items()}
    by_doc = {a.doc: a for a in arrivals}
    out = []
    for case in cases:
        wrong = []
        for event in case.events:
            a = first[event]
            if not a.opened and owner[a.story] == event:
                wrong.append(f"{event} joined another story first (split off later)")
            elif not a.opened:
                wrong.append(f"{event} joined a story of {owner[a.story]}")
            elif event not in owner.values():
                wrong.append(f"{event} silenced")
        for rid in case.reports:
            a = by_doc[rid]
            own = first[a.gold]
            if a.opened:
                wrong.append(f"{rid} opened a story of its own")
            elif a.story != own.story:
                wrong.append(f"{rid} is in a story of {owner[a.story]}")
        out.append((case, wrong))
    return out


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
            stories: list[dict[str, object]] = []
            keys: list[dict[str, object]] = []
            articles: list[dict[str, object]] = []
            bands: list[dict[str, object]] = []
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

FIRST_KEYS = (
    "conflict_first_joined_other",
    "conflict_extra_alerts",
    "uci_first_joined_other",
    "uci_f1",
    "ecb_first_joined_other",
    "ecb_test_f1",
    "copies_joined",
    "articles_per_s",
)
KEYS = (
    *FIRST_KEYS,
    "ecb_all_f1",
    "ecb_hard_neg_merge",
    "baseline_ecb_test_f1",
    "baseline_uci_f1",
    "lookup_ms_10k",
    "lookup_ms_100k",
    "conflict_silenced",
    "conflict_f1",
    "conflict_backlog_first_joined_other",
    "uci_silenced",
    "ecb_silenced",
)
COLUMNS = (
    f"{'run':<36} {'P':>6} {'R':>6} {'F1':>6} {'pair F1':>7} {'hard-neg':>8} "
    f"{'1st joined':>10} {'silenced':>8} {'extra':>6} {'art/s':>6}"
)


@dataclass(frozen=True, slots=True)
class Scored:
    p: float
    r: float
    f1: float
    alerts: AlertFigures


def score_row(
    name: str,
    arrivals: Sequence[Arrival],
    docs: Sequence[Doc],
    ids: Collection[str] | None = None,
    *,
    hard: float | None = None,
    rate: float | None = None,
) -> Scored:
    """Print one row of the table (over `ids`, default all docs) and return its figures."""
    gold = {d.id: d.gold for d in docs}
    chosen = list(ids) if ids is not None else list(gold)
    pred: dict[str, object] = {a.doc: a.story for a in arrivals}
    p, r, f1 = bcubed(pred, gold, chosen)
    pw = pairwise(pred, gold, chosen)
    figures = alert_figures(arrivals, {gold[i] for i in chosen})
    cells = [
        f"{name:<36} {p:>6.3f} {r:>6.3f} {f1:>6.3f} {pw:>7.3f}",
        f"{hard:>8.3f}" if hard is not None else f"{'':>8}",
        f"{figures.first_joined_other:>10.3f} {figures.silenced:>8.3f}",
        f"{figures.extra_alerts:>6.3f}",
        f"{rate:>6.0f}" if rate is not None else "",
    ]
    print(" ".join(cells).rstrip())
    return Scored(p, r, f1, figures)


def baseline_arrivals(polls: Sequence[Poll]) -> list[Arrival]:
    """The baseline's clusters as a stream (a report opens a cluster when none of its URL or
    title came before), for the same alert figures."""
    docs = [d for p in polls for d in p.docs]
    pred = baseline(docs)
    seen: set[object] = set()
    out = []
    for d in docs:
        out.append(Arrival(d.id, d.gold, pred[d.id] not in seen, pred[d.id]))
        seen.add(pred[d.id])
    return out


def main(quick: bool = False, quality_only: bool = False) -> None:
    if hasattr(os, "sched_setaffinity"):  # one core: MONITOR_BENCH_CPU picks which (default: first)
        cpus = sorted(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {int(os.environ.get("MONITOR_BENCH_CPU", cpus[0]))})
    figures: dict[str, float] = dict.fromkeys(KEYS, math.nan)
    ecb_docs = ecb(SEED)
    test_ids = [d.id for d in ecb_docs if d.topic >= 36]
    print(
        f"window {WINDOW_S / 3600:.0f}h; conflict stream and UCI live (each report at its "
        f"feed's next poll) and as a backlog; ECB+ order random.Random({SEED}).shuffle"
    )
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        print(COLUMNS)
        conflict_rows(folder, figures)

        arrivals, seconds = run(fresh_store(folder, "ecb"), in_order(ecb_docs))
        pred = {a.doc: a.story for a in arrivals}
        rate = len(ecb_docs) / seconds
        hard = hard_negative_merges(pred, ecb_docs)
        test_hard = hard_negative_merges(pred, [d for d in ecb_docs if d.topic >= 36])
        every = score_row("monitor  ECB+ all topics", arrivals, ecb_docs, hard=hard, rate=rate)
        test = score_row("monitor  ECB+ topics 36-45", arrivals, ecb_docs, test_ids, hard=test_hard)
        base = baseline_arrivals(in_order(ecb_docs))
        base_pred = {a.doc: a.story for a in base}
        score_row(
            "baseline ECB+ all topics",
            base,
            ecb_docs,
            hard=hard_negative_merges(base_pred, ecb_docs),
        )
        base_test = score_row("baseline ECB+ topics 36-45", base, ecb_docs, test_ids)
        figures.update(
            ecb_test_f1=test.f1,
            ecb_all_f1=every.f1,
            ecb_hard_neg_merge=hard,
            baseline_ecb_test_f1=base_test.f1,
            ecb_first_joined_other=every.alerts.first_joined_other,
            ecb_silenced=every.alerts.silenced,
        )

        if quick:
            train, intervals, _ = conflict("train")
            threshold_table(
                folder,
                "conflict stream, train split, live",
                train,
                lambda: live(train, intervals),
                (-0.5, 0.0, 0.5),
            )
            quick_speed(folder, ecb_docs, uci()[:1000], figures)
            print_figures(figures)
            return

        uci_docs = uci()
        intervals = uci_intervals(uci_docs)
        arrivals, seconds = run(fresh_store(folder, "uci"), live(uci_docs, intervals))
        scored = score_row("monitor  UCI live", arrivals, uci_docs, rate=len(uci_docs) / seconds)
        figures.update(
            uci_f1=scored.f1,
            uci_first_joined_other=scored.alerts.first_joined_other,
            uci_silenced=scored.alerts.silenced,
        )
        arrivals, _ = run(fresh_store(folder, "uci-order"), in_order(uci_docs))
        score_row("monitor  UCI in order, 50 at a time", arrivals, uci_docs)
        arrivals, _ = run(fresh_store(folder, "uci-backlog"), backlog(uci_docs))
        score_row("monitor  UCI backlog (3 days at once)", arrivals, uci_docs)
        base = baseline_arrivals(live(uci_docs, intervals))
        figures["baseline_uci_f1"] = score_row("baseline UCI", base, uci_docs).f1

        copied = copies(ecb_docs)
        originals = {c.id.removeprefix("copy-") for c in copied}
        mixed = [d for d in ecb_docs if d.id in originals]
        by_id = {c.id: c for c in copied}
        stream_docs = [x for d in mixed for x in (d, by_id["copy-" + d.id])]
        pred, _ = stream(fresh_store(folder, "copies"), stream_docs)
        joined = sum(pred[c.id] == pred[c.id.removeprefix("copy-")] for c in copied)
        print(f"\nnear-duplicate copies joined to their original: {joined}/{len(copied)}")
        figures["copies_joined"] = joined / len(copied)

        train, train_intervals, _ = conflict("train")
        threshold_table(
            folder,
            "conflict stream, train split, live",
            train,
            lambda: live(train, train_intervals),
        )
        threshold_table(folder, "UCI, live", uci_docs, lambda: live(uci_docs, intervals))
        train_ids = [d.id for d in ecb_docs if d.topic < 36]
        threshold_table(
            folder,
            "ECB+ topics 1-35 (all topics streamed)",
            ecb_docs,
            lambda: in_order(ecb_docs),
            ids=train_ids,
        )
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


def conflict_rows(folder: Path, figures: dict[str, float]) -> None:
    """Both splits of the conflict stream, live and as a backlog, the baseline, and the hand
    cases."""
    results: list[tuple[str, str, conflict_stream.Case, list[str]]] = []
    for split in ("train", "test"):
        docs, intervals, corpus = conflict(split)
        polls = {"live": live(docs, intervals), "backlog": backlog(docs)}
        for mode, scheduled in polls.items():
            arrivals, seconds = run(fresh_store(folder, f"conflict-{split}-{mode}"), scheduled)
            scored = score_row(
                f"monitor  conflict {split} {mode}", arrivals, docs, rate=len(docs) / seconds
            )
            chosen = [c for c in corpus.cases if c.mode == mode]
            results.extend((split, mode, c, w) for c, w in case_results(chosen, arrivals))
            if split == "test" and mode == "live":
                figures.update(
                    conflict_first_joined_other=scored.alerts.first_joined_other,
                    conflict_extra_alerts=scored.alerts.extra_alerts,
                    conflict_silenced=scored.alerts.silenced,
                    conflict_f1=scored.f1,
                )
            if split == "test" and mode == "backlog":
                figures["conflict_backlog_first_joined_other"] = scored.alerts.first_joined_other
        score_row(f"baseline conflict {split} live", baseline_arrivals(polls["live"]), docs)
    print(f"\n{'hand case':<30} {'split':<5} {'mode':<7} result")
    for split, mode, case, wrong in results:
        verdict = "ok" if not wrong else "WRONG: " + "; ".join(wrong)
        print(f"{case.id:<30} {split:<5} {mode:<7} {verdict}")
    print()


def threshold_table(
    folder: Path,
    name: str,
    docs: Sequence[Doc],
    polls: Callable[[], Sequence[Poll]],
    thresholds: Sequence[float] = THRESHOLDS,
    ids: Collection[str] | None = None,
) -> None:
    """The precision/recall/alerts trade-off over the rewrite score's join threshold (0 is
    the code's), streamed once per threshold."""
    print(f"\njoin threshold: {name}")
    print(f"{'threshold':>9} {'P':>6} {'R':>6} {'F1':>6} {'1st joined':>10} {'extra':>6}")
    gold = {d.id: d.gold for d in docs}
    chosen = list(ids) if ids is not None else list(gold)
    for t in thresholds:
        with join_threshold(t):
            arrivals, _ = run(fresh_store(folder, f"threshold-{len(docs)}-{t}"), polls())
        pred: dict[str, object] = {a.doc: a.story for a in arrivals}
        p, r, f1 = bcubed(pred, gold, chosen)
        alerts = alert_figures(arrivals, {gold[i] for i in chosen})
        print(
            f"{t:>9.2f} {p:>6.3f} {r:>6.3f} {f1:>6.3f} {alerts.first_joined_other:>10.3f} "
            f"{alerts.extra_alerts:>6.3f}"
        )


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
    rate = len(timed) / seconds
    lookup_ms = 1000 * (lookup_s() - before) / len(timed)
    print(f"{size:<24,} {rate:>10.0f} {1000 / rate:>10.2f} {lookup_ms:>10.2f}")
    return rate, lookup_ms


def print_figures(figures: Mapping[str, float]) -> None:
    print(
        " ".join(
            f"{k}={figures[k]:.0f}" if k == "articles_per_s" else f"{k}={figures[k]:.3f}"
            for k in KEYS
        )
    )


if __name__ == "__main__":
    if "--fit" in sys.argv:
        from bench.stories_fit import fit

        fit()
    else:
        main(quick="--quick" in sys.argv, quality_only="--quality" in sys.argv)
