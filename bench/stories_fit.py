"""bench/stories_fit.py: refit the weights of the rewrite score (`bench/stories.py --fit`).

In memory, with the same decision as the store (`Memory`): features of (article, candidate
story) pairs are collected with stories built from the gold clusters, a logistic regression is
fitted to them, and the intercept is chosen by the mean B-cubed F1 and hard-negative merge rate
of real streams over three orders (with story repair, as the store does it). Text articles:
ECB+ topics 1–35 only. `--headlines`: the first half of UCI by time.
"""

from __future__ import annotations

import sys
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from stories import SEED, Doc, bcubed, ecb, hard_negative_merges, uci

from monitor.pipeline.fingerprint import fingerprint


class Memory:
    """`pipeline.cluster.place` in memory (same text, LSH copies, key-found candidates, the
    score), so weights can be tried quickly; the figures printed come from the real store."""

    def __init__(self, weights: Sequence[float] | None = None) -> None:
        from monitor.pipeline import stories as algo

        self.algo = algo
        self.weights = weights
        self.profiles: dict[int, object] = {}
        self.keys: dict[str, list[int]] = defaultdict(list)
        self.bands: dict[int, list[tuple[bytes, int]]] = defaultdict(list)
        self.texts: dict[str, int] = {}
        # For story repair: each story's distinct reports (doc id, vectors, fingerprint), every
        # document's story now, and which report a word-for-word copy repeats.
        self.members: dict[int, list[tuple[str, object, object]]] = defaultdict(list)
        self.story_of: dict[str, int] = {}
        self.copy_of: dict[str, str] = {}
        self.first_doc: dict[str, str] = {}  # text hash → the report that brought it

    def vectors(self, d: Doc):  # type: ignore[no-untyped-def]
        fp = fingerprint(d.title, d.text)
        return fp, self.algo.vectors(fp)

    def candidates(self, vec) -> dict[int, object]:  # type: ignore[no-untyped-def]
        from monitor.storage.stories import CANDIDATES, PER_KEY

        counts: dict[int, int] = defaultdict(int)
        for k in vec.index_keys():
            for sid in self.keys[k][-PER_KEY:]:
                counts[sid] += 1
        best = sorted(counts, key=lambda s: (-counts[s], -s))[:CANDIDATES]
        return {s: self.profiles[s] for s in best}

    def add(self, d: Doc) -> int:
        """Place `d`; its story now (`story_of` has every document's, after any repair)."""
        fp, vec = self.vectors(d)
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

    def join(self, sid: int | None, fp, vec) -> int:  # type: ignore[no-untyped-def]
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


def oracle_examples(docs: Sequence[Doc]) -> tuple[list[tuple[float, ...]], list[float]]:
    """Features and labels of (article, candidate story) pairs, with stories built from the
    gold clusters: what the score must tell apart."""
    memory = Memory()
    gold_story: dict[str, int] = {}
    x: list[tuple[float, ...]] = []
    y: list[float] = []
    for d in docs:
        fp, vec = memory.vectors(d)
        candidates = memory.candidates(vec)
        if d.gold in gold_story:
            candidates[gold_story[d.gold]] = memory.profiles[gold_story[d.gold]]
        for sid, profile in candidates.items():
            x.append(memory.algo.features(vec, profile))
            y.append(1.0 if gold_story.get(d.gold) == sid else 0.0)
        gold_story[d.gold] = memory.join(gold_story.get(d.gold), fp, vec)
    return x, y


def logistic(x: list[tuple[float, ...]], y: list[float], steps: int = 20000) -> list[float]:
    import numpy as np

    a = np.hstack([np.ones((len(x), 1)), np.array(x)])
    t = np.array(y)
    w = np.zeros(a.shape[1])
    for _ in range(steps):
        p = 1 / (1 + np.exp(-a @ w))
        w -= 1.0 * (a.T @ (p - t) / len(t) + 1e-3 * np.r_[0, w[1:]])
    return [round(float(v), 2) for v in w]


def memory_split() -> float:
    from monitor.pipeline import stories as algo

    return algo.SPLIT_BELOW


def fit() -> None:
    train = [d for d in ecb() if d.topic < 36]
    seeds = (SEED, 1, 2)
    weights = logistic(*oracle_examples(train))
    print("text weights (oracle fit on ECB+ topics 1–35):", weights)
    print(f"  (story repair: split below {memory_split()})")
    for shift in (0.0, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0):
        w = [weights[0] + shift, *weights[1:]]
        f1s, merged = [], []
        for seed in seeds:
            docs = [d for d in ecb(seed) if d.topic < 36]
            memory = Memory(w)
            for d in docs:
                memory.add(d)
            pred = {d.id: memory.story_of[d.id] for d in docs}
            f1s.append(bcubed(pred, {d.id: d.gold for d in docs}, pred)[2])
            merged.append(hard_negative_merges(pred, docs))
        mean = sum(f1s) / len(f1s)
        print(
            f"  intercept {w[0]:+.2f}: train B-cubed F1 {mean:.3f} {[round(f, 3) for f in f1s]}, "
            f"hard-negative merges {sum(merged) / len(merged):.3f}"
        )
    if "--headlines" not in sys.argv:
        return
    headlines = uci()
    first_half = headlines[: len(headlines) // 2]
    weights = logistic(*oracle_examples(first_half))
    print("headline weights (oracle fit on the first half of UCI by time):", weights)
    for shift in (0.0, 0.5, 1.0, 1.5, 2.0, 3.0):
        w = [weights[0] + shift, *weights[1:]]
        memory = Memory(w)
        for d in first_half:
            memory.add(d)
        pred = {d.id: memory.story_of[d.id] for d in first_half}
        f1 = bcubed(pred, {d.id: d.gold for d in first_half}, pred)[2]
        print(f"  intercept {w[0]:+.2f}: first-half B-cubed F1 {f1:.3f}")
