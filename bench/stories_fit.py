"""bench/stories_fit.py: refit the weights of the rewrite score (`bench/stories.py --fit`),
and derive the event words (`--event-words`).

In memory, with the same decision as the store (`Memory`: event times, window and span, copies,
candidates, the score, story repair): features of (article, candidate story) pairs are
collected with stories built from the gold clusters, and a logistic regression is fitted to
them, one for articles with text and one for headline-only items, on training data only (the
conflict stream's train cities, ECB+ topics 1–35, the first half of UCI by time). Then each
training stream is replayed with the intercepts moved either way, printing what its decisions
cost in alerts (first reports that joined another event, events split in two).

    python bench/stories.py --fit                     refit every weight (prints them)
    python bench/stories_fit.py --fit-one NAME [--false-join X]
                                                      refit one weight, the others kept; X: a
                                                      pair of two events weighs X times (a
                                                      wrong join loses an alert)
    python bench/stories_fit.py --event-words         derive the event words file
"""

from __future__ import annotations

import sys
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.stories import (
    SEED,
    WINDOW_S,
    Arrival,
    Doc,
    Poll,
    alert_figures,
    backlog,
    bcubed,
    conflict,
    ecb,
    live,
    uci,
    uci_intervals,
)
from monitor.pipeline.fingerprint import fingerprint

if TYPE_CHECKING:
    from monitor.pipeline.fingerprint import Fingerprint
    from monitor.pipeline.stories import Profile, Vectors


class Memory:
    """`pipeline.cluster.place` in memory (same text, LSH copies, key-found candidates, the
    score), so weights can be tried quickly; the figures printed come from the real store."""

    def __init__(self, weights: Sequence[float] | None = None) -> None:
        from monitor.pipeline import stories as algo

        self.algo = algo
        self.weights = weights
        self.profiles: dict[int, Profile] = {}
        self.keys: dict[str, list[int]] = defaultdict(list)
        self.bands: dict[int, list[tuple[bytes, int]]] = defaultdict(list)
        self.texts: dict[str, int] = {}
        # For story repair: each story's distinct reports (doc id, vectors, fingerprint), every
        # document's story now, and which report a word-for-word copy repeats.
        self.members: dict[int, list[tuple[str, Vectors, Fingerprint]]] = defaultdict(list)
        self.story_of: dict[str, int] = {}
        self.copy_of: dict[str, str] = {}
        self.first_doc: dict[str, str] = {}  # text hash → the report that brought it

    def vectors(self, d: Doc, at: float | None = None) -> tuple[Fingerprint, Vectors]:
        fp = fingerprint(d.title, d.text)
        return fp, self.algo.vectors(fp, at)

    def candidates(self, vec: Vectors) -> dict[int, Profile]:
        from monitor.storage.stories import CANDIDATES, PER_KEY

        counts: dict[int, int] = defaultdict(int)
        for k in vec.index_keys():
            for sid in self.keys[k][-PER_KEY:]:
                counts[sid] += 1
        best = sorted(counts, key=lambda s: (-counts[s], -s))[:CANDIDATES]
        found = {s: self.profiles[s] for s in best}
        if vec.at is None:
            return found
        from monitor.pipeline.cluster import SPAN_S

        return {  # the story window and span, by event time (`cluster.choose`)
            s: p
            for s, p in found.items()
            if p.first is None
            or (
                p.last is not None
                and p.last >= vec.at - WINDOW_S
                and abs(vec.at - p.first) <= SPAN_S
            )
        }

    def add(self, d: Doc, at: float | None = None) -> int:
        """Place `d`; its story now (`story_of` has every document's, after any repair)."""
        self.opened = False
        fp, vec = self.vectors(d, at)
        sid = self.texts.get(fp.text_hash)
        if sid is not None:  # the very same text
            self.copy_of[d.id] = self.first_doc[fp.text_hash]
            self.story_of[d.id] = self.join(sid, fp, vec)
            return sid
        from monitor.pipeline.fingerprint import jaccard

        near = [(jaccard(fp.signature, sig), s) for b in fp.bands for sig, s in self.bands[b]]
        near = [x for x in near if self.algo.near_duplicate(x[0])]
        if near:
            sid = max(near)[1]
        else:
            sid, _ = self.algo.decide(vec, self.candidates(vec), self.weights)
        joined = sid is not None
        self.opened = not joined
        sid = self.join(sid, fp, vec)
        self.first_doc.setdefault(fp.text_hash, d.id)
        self.story_of[d.id] = sid
        self.members[sid].append((d.id, vec, fp))
        if joined and len(self.members[sid]) in self.algo.REPAIR_AT:
            self.repair(sid)
        return self.story_of[d.id]

    def repair(self, sid: int) -> None:
        """`pipeline.cluster.repair`: the leaving group gets a story of its own."""
        from monitor.pipeline.fingerprint import jaccard

        members = self.members[sid]

        def pair(i: int, j: int) -> float:
            (_, a, fa), (_, b, fb) = members[i], members[j]
            if self.algo.near_duplicate(jaccard(fa.signature, fb.signature)):
                return float("inf")
            return float(self.algo.pair_score(a, b))

        leaving = self.algo.split([v for _, v, _ in members], pair)
        if not leaving:
            return
        out = {members[i][0] for i in leaving}
        new = max(self.profiles) + 1
        self.members[new] = [members[i] for i in leaving]
        self.members[sid] = [m for m in members if m[0] not in out]
        for story, group in ((sid, self.members[sid]), (new, self.members[new])):
            self.profiles[story] = self.algo.merge_all([v for _, v, _ in group])
        for _, v, fp in self.members[new]:
            for k in v.index_keys():
                self.keys[k].append(new)
            for b in fp.bands:
                self.bands[b] = [
                    (sig, new if sig == fp.signature else s) for sig, s in self.bands[b]
                ]
            if self.texts.get(fp.text_hash) == sid:
                self.texts[fp.text_hash] = new
        for doc, story in self.story_of.items():
            if story == sid and (doc in out or self.copy_of.get(doc) in out):
                self.story_of[doc] = new

    def join(self, sid: int | None, fp: Fingerprint, vec: Vectors) -> int:
        if sid is None:
            sid = max(self.profiles, default=-1) + 1
        self.profiles[sid] = self.algo.merge(self.profiles.get(sid), vec)
        for k in vec.index_keys():
            if sid in self.keys[k]:
                self.keys[k].remove(sid)
            self.keys[k].append(sid)
        for b in fp.bands:
            self.bands[b].append((fp.signature, sid))
        self.texts.setdefault(fp.text_hash, sid)
        return sid


def timed(polls: Sequence[Poll]) -> list[tuple[Doc, float]]:
    """The reports in the order the store places them, each with its event time
    (`cluster.event_time`): consecutive polls grouped into transactions of up to `BATCH`
    entries, as `bench/stories.py` records them, each group placed oldest event first."""
    from bench.stories import BATCH
    from monitor.pipeline.cluster import event_time

    out: list[tuple[Doc, float]] = []
    group: list[tuple[Doc, float]] = []
    for poll in polls:
        if group and len(group) >= BATCH:
            out += sorted(group, key=lambda item: item[1])
            group = []
        now = poll.now
        group += [(d, event_time(d.published, now).timestamp()) for d in poll.docs]
    out += sorted(group, key=lambda item: item[1])
    return out


def replay(
    stream: Sequence[tuple[Doc, float | None]], weights: Sequence[float] | None = None
) -> tuple[list[Arrival], Memory]:
    """Record `stream` in memory; each report's arrival (opened a story or not, story at the
    end)."""
    memory = Memory(weights)
    opened = []
    for d, at in stream:
        memory.add(d, at)
        opened.append(memory.opened)
    return [
        Arrival(d.id, d.gold, o, memory.story_of[d.id])
        for (d, _), o in zip(stream, opened, strict=True)
    ], memory


def train_streams() -> dict[str, list[tuple[Doc, float | None]]]:
    """The training streams: the conflict stream's train cities live and as a backlog, ECB+
    topics 1–35 (undated, three orders), the first half of UCI by time, live."""
    docs, intervals, _ = conflict("train")
    out: dict[str, list[tuple[Doc, float | None]]] = {
        "conflict live": list(timed(live(docs, intervals))),
        "conflict backlog": list(timed(backlog(docs))),
    }
    for seed in (SEED, 1, 2):
        out[f"ecb {seed}"] = [(d, None) for d in ecb(seed) if d.topic < 36]
    half = uci()
    half = half[: len(half) // 2]
    out["uci live"] = list(timed(live(half, uci_intervals(half))))
    return out


def evaluate(
    streams: dict[str, list[tuple[Doc, float | None]]], weights: Sequence[float] | None = None
) -> dict[str, tuple[float, ...]]:
    """Per stream: B-cubed P, R, F1, first_joined_other, silenced, extra_alerts."""
    out: dict[str, tuple[float, ...]] = {}
    for name, stream in streams.items():
        arrivals, _ = replay(stream, weights)
        pred = {a.doc: a.story for a in arrivals}
        gold = {a.doc: a.gold for a in arrivals}
        p, r, f1 = bcubed(pred, gold, pred)
        a = alert_figures(arrivals)
        out[name] = (p, r, f1, a.first_joined_other, a.silenced, a.extra_alerts)
    return out


def oracle_examples(
    docs: Sequence[Doc] | Sequence[tuple[Doc, float | None]],
) -> dict[bool, tuple[list[tuple[float, ...]], list[float]]]:
    """Features and labels of (article, candidate story) pairs, with stories built from the
    gold clusters: what the score must tell apart; headline-only items (True) apart from the
    others (False). Pairs the score never weighs (`stories.admissible`) are left out."""
    memory = Memory()
    gold_story: dict[str, int] = {}
    out: dict[bool, tuple[list[tuple[float, ...]], list[float]]] = {True: ([], []), False: ([], [])}
    for item in docs:
        d, at = item if isinstance(item, tuple) else (item, None)
        fp, vec = memory.vectors(d, at)
        candidates = memory.candidates(vec)
        if d.gold in gold_story:
            candidates[gold_story[d.gold]] = memory.profiles[gold_story[d.gold]]
        x, y = out[vec.headline_only]
        model = memory.algo.model_for(vec)
        for sid, profile in candidates.items():
            if memory.algo.admissible(vec, profile):
                x.append(model.features(vec, profile, None))
                y.append(1.0 if gold_story.get(d.gold) == sid else 0.0)
        gold_story[d.gold] = memory.join(gold_story.get(d.gold), fp, vec)
    return out


def logistic(
    x: list[tuple[float, ...]],
    y: list[float],
    steps: int = 20000,
    false_join: float = 1.0,
    names: Sequence[str] | None = None,
    costs: Sequence[float] | None = None,
    fixed: Mapping[str, float] | None = None,
) -> list[float]:
    """Weights of a logistic model (the intercept first), L2-regularised; a wrong join (a
    negative example) weighs `false_join` times a missed one, or each example its `costs`.
    `fixed`: weights set by name, not fitted."""
    import numpy as np

    a = np.hstack([np.ones((len(x), 1)), np.array(x)])
    t = np.array(y)
    cost = np.where(t > 0, 1.0, false_join) if costs is None else np.array(costs)
    cost = cost / cost.mean()
    w = np.zeros(a.shape[1])
    # Evidence against joining never counts for it: a main name missing on either side or both,
    # a share of numbers lacking, days apart, unshared event words and a contradicting toll
    # keep weights of at most 0 (fitted freely, "both names missing" came out positive, making
    # up for the two single ones on the training pairs and joining two cities' offensives).
    from monitor.pipeline.stories import TEXT_MODEL

    index = {name: i for i, name in enumerate(names or TEXT_MODEL.names)}
    against = np.array([1 + index[name] for name in AGAINST if name in index])
    held = [(1 + index[name], v) for name, v in (fixed or {}).items()]
    for k, v in held:
        w[k] = v
    for _ in range(steps):
        p = 1 / (1 + np.exp(-a @ w))
        w -= 1.0 * (a.T @ (cost * (p - t)) / len(t) + 1e-3 * np.r_[0, w[1:]])
        w[against] = np.minimum(w[against], 0.0)
        for k, v in held:
            w[k] = v
    return [round(float(v), 2) for v in w]


AGAINST = (
    "main_name_missing",
    "rarest_name_missing",
    "main_name_absent",
    "main_names_both",
    "numbers_lacking",
    "days_apart",
    "event_words_conflict",
    "toll_conflict",
    "title_events_missing",
    "days_missing",
    "later_new_day",
    "later_recall",
    "core_events_conflict",
    "hours_apart",
    "stale_size",
    "late",
)


# Headline-only pairs: a conflict-stream pair weighs `CONFLICT_HEADLINES` times (its events are a
# few reports hours apart, which UCI's thousands of pairs, dozens an event minutes apart, would
# drown), a pair of two events `HEADLINE_FALSE_JOIN` times one of one event (a wrong join loses
# an alert, a wrong split costs a message; `CONFLICT_FALSE_JOIN` times on the conflict stream,
# whose pairs already weigh more), and the weight of the hours beyond
# `stories.HEADLINE_LATE_HOURS` is set, not fitted (see `stories.HEADLINE_WEIGHTS`).
CONFLICT_HEADLINES = 30
HEADLINE_FALSE_JOIN = 10.0
CONFLICT_FALSE_JOIN = 3.0
HEADLINE_LATE_WEIGHT = -4.0
FITTED_ON = ("conflict live", "conflict backlog", f"ecb {SEED}", "uci live")


def fit() -> None:
    """Refit both models on the training streams (`train_streams`: the conflict stream's train
    cities live and as a backlog, ECB+ topics 1–35, the first half of UCI by time; never a test
    split) and print, for intercepts moved either way, what each stream's decisions cost."""
    from monitor.pipeline import stories as algo

    streams = train_streams()
    x: dict[bool, list[tuple[float, ...]]] = {True: [], False: []}
    y: dict[bool, list[float]] = {True: [], False: []}
    costs: list[float] = []  # of the headline pairs (`CONFLICT_HEADLINES`)
    for name in FITTED_ON:
        for short, (xs, ys) in oracle_examples(streams[name]).items():
            x[short] += xs
            y[short] += ys
            if short:
                times, false_join = (
                    (CONFLICT_HEADLINES, CONFLICT_FALSE_JOIN)
                    if name.startswith("conflict")
                    else (1, HEADLINE_FALSE_JOIN)
                )
                costs += [times * (1.0 if label else false_join) for label in ys]
    text = logistic(x[False], y[False])
    heads = logistic(
        x[True],
        y[True],
        names=algo.HEADLINE_MODEL.names,
        costs=costs,
        fixed={"late": HEADLINE_LATE_WEIGHT},
    )
    print("text weights:", text)
    print("headline weights:", heads)
    text_model, heads_model = algo.TEXT_MODEL, algo.HEADLINE_MODEL
    for shift in (-1.0, -0.5, 0.0, 0.5, 1.0):
        algo.TEXT_MODEL = replace(text_model, weights=(text[0] + shift, *text[1:]))
        algo.HEADLINE_MODEL = replace(heads_model, weights=(heads[0] + shift, *heads[1:]))
        print(f"intercepts moved {shift:+.1f}:")
        for name, (p, r, f1, joined, silenced, extra) in evaluate(streams).items():
            print(
                f"  {name:<18} P {p:.3f} R {r:.3f} F1 {f1:.3f} first joined {joined:.3f} "
                f"silenced {silenced:.3f} extra {extra:.3f}"
            )


def fit_one(name: str, false_join: float = 1.0) -> float:
    """The weight of one feature of the text model fitted with the others kept as they are
    (`stories.TEXT_MODEL`), on the same training pairs as `fit`: how a feature added later is
    weighed without moving the fitted ones (`--fit-one NAME`). Evidence against joining
    (`AGAINST`) keeps a weight of at most 0."""
    import numpy as np

    from monitor.pipeline import stories as algo

    streams = train_streams()
    x: list[tuple[float, ...]] = []
    y: list[float] = []
    for stream in FITTED_ON:
        xs, ys = oracle_examples(streams[stream])[False]
        x += xs
        y += ys
    a, t = np.array(x), np.array(y)
    k = algo.TEXT_MODEL.names.index(name)
    weights = np.array(algo.TEXT_MODEL.weights)
    weights[k + 1] = 0.0
    offset = weights[0] + a @ weights[1:]
    cost = np.where(t > 0, 1.0, false_join)
    cost = cost / cost.mean()
    w = 0.0
    for _ in range(5000):
        p = 1 / (1 + np.exp(-(offset + w * a[:, k])))
        w -= 1.0 * (float(np.mean(cost * (p - t) * a[:, k])) + 1e-3 * w)
        if name in AGAINST:
            w = min(w, 0.0)
    return round(w, 2)


# -- event words -------------------------------------------------------------------------------

EVENT_WORDS_FILE = Path(__file__).resolve().parents[1] / "monitor" / "pipeline" / "event_words.txt"
EVENT_MIN_GROUPS = 3  # a kind of happening recurs: in events of this many topics or cities
EVENT_MAX_SHARE = 0.08  # in more of the training events than this, a word tells none apart
EVENT_KEPT = 0.5  # most reports of an event that has the word have it (what every outlet says)
EVENT_CONSISTENT = 0.3  # share of the events mentioning the word in which most reports have it


def event_words() -> list[str]:
    """The stems that name the kind of happening a report is about, derived from the training
    data alone (ECB+ topics 1–35 and the conflict stream's train cities; never a test split):
    words of titles and leads, not names, that (1) recur in events of at least
    `EVENT_MIN_GROUPS` topics or cities (a kind, not one event's detail), (2) are kept by at
    least `EVENT_KEPT` of the reports of the events that have them (what every outlet says
    happened), and that is so in at least `EVENT_CONSISTENT` of the events where any report has them
    (a word said in passing is not), (3) are in at most `EVENT_MAX_SHARE` of the events (not
    "killed" or "said")."""
    import re

    from bench.stories import conflict
    from monitor.pipeline.fingerprint import LEAD_WORDS, content_terms, words

    docs = [d for d in ecb() if d.topic < 36]
    groups = {d.gold: f"ecb{d.topic}" for d in docs}
    train, _, corpus = conflict("train")
    city = {r.id: r.city for r in corpus.reports}
    docs += train
    groups.update({d.gold: city[d.id] for d in train})
    capital: dict[str, list[int]] = defaultdict(lambda: [0, 0])  # stem → [capitalised, all]
    by_event: dict[str, list[set[str]]] = defaultdict(list)
    for d in docs:
        for m in re.finditer(r"(?<=[a-z,;] )([A-Za-z][a-z]+)", d.text):
            for s in content_terms([m.group(1).lower()]):
                capital[s][0] += m.group(1)[0].isupper()
                capital[s][1] += 1
        lead = words(d.text)[: LEAD_WORDS * 2]
        by_event[d.gold].append(set(content_terms(words(d.title) + lead)[: LEAD_WORDS + 20]))
    having: dict[str, list[tuple[str, float]]] = defaultdict(list)
    for event, reports in by_event.items():
        if len(reports) < 2:
            continue
        counts: dict[str, int] = defaultdict(int)
        for terms in reports:
            for t in terms:
                counts[t] += 1
        for t, n in counts.items():
            having[t].append((event, n / len(reports)))
    events = sum(1 for r in by_event.values() if len(r) >= 2)
    out = []
    for t, found in having.items():
        kept = [(e, share) for e, share in found if share >= EVENT_KEPT]
        cap, seen = capital.get(t, [0, 0])
        if (
            len({groups[e] for e, _ in kept}) >= EVENT_MIN_GROUPS
            and len(kept) >= EVENT_CONSISTENT * len(found)
            and len(kept) <= EVENT_MAX_SHARE * events
            and not t.isdigit()
            and (seen == 0 or cap / seen < 0.5)
            and len(t) > 2
        ):
            out.append(t)
    return sorted(out)


def main(argv: Sequence[str]) -> None:
    import argparse

    parser = argparse.ArgumentParser(description="Refit one weight, or derive the event words.")
    action = parser.add_mutually_exclusive_group(required=True)
    action.add_argument("--fit-one", metavar="NAME", help="fit one weight, the others kept")
    action.add_argument("--event-words", action="store_true", help="derive the event words")
    parser.add_argument(
        "--false-join",
        type=float,
        default=1.0,
        metavar="X",
        help="with --fit-one: a pair of two events weighs X times one of one event",
    )
    args = parser.parse_args(argv)
    if args.fit_one:
        print(f"{args.fit_one}: {fit_one(args.fit_one, args.false_join)}")
        return
    found = event_words()
    EVENT_WORDS_FILE.write_text(
        "# Event words (stems): derived by `python bench/stories_fit.py --event-words` from\n"
        "# ECB+ topics 1–35 and the conflict stream's train cities; see `event_words()` there.\n"
        + "".join(f"{w}\n" for w in found),
        encoding="utf-8",
    )
    print(len(found), "event words:", " ".join(found))


if __name__ == "__main__":
    main(sys.argv[1:])
