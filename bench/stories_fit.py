"""bench/stories_fit.py: refit the weights of the rewrite score (`bench/stories.py --fit`).

In memory, with the same decision as the store (`Memory`): features of (article, candidate
story) pairs are collected with stories built from the gold clusters, a logistic regression is
fitted to them, and the intercept is chosen by the mean B-cubed F1 of real streams over three
orders. Text articles: ECB+ topics 1–35 only. `--headlines`: the first half of UCI by time.
"""

from __future__ import annotations

import sys
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from stories import SEED, Doc, bcubed, ecb, uci

from monitor.pipeline.fingerprint import fingerprint


class Memory:
    """`storage.stories.place` in memory (same text, LSH copies, key-found candidates, the
    score), so weights can be tried quickly; the figures printed come from the real store."""

    def __init__(self, weights: Sequence[float] | None = None) -> None:
        from monitor.pipeline import stories as algo

        self.algo = algo
        self.weights = weights
        self.profiles: dict[int, object] = {}
        self.keys: dict[str, list[int]] = defaultdict(list)
        self.bands: dict[int, list[tuple[bytes, int]]] = defaultdict(list)
        self.texts: dict[str, int] = {}

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
        fp, vec = self.vectors(d)
        sid = self.texts.get(fp.text_hash)
        if sid is None:
            from monitor.pipeline.fingerprint import jaccard

            near = [(jaccard(fp.signature, sig), s) for b in fp.bands for sig, s in self.bands[b]]
            near = [x for x in near if self.algo.near_duplicate(x[0])]
            if near:
                sid = max(near)[1]
            else:
                sid, _ = self.algo.decide(vec, self.candidates(vec), self.weights)
        return self.join(sid, fp, vec)

    def join(self, sid: int | None, fp, vec) -> int:  # type: ignore[no-untyped-def]
        if sid is None:
            sid = len(self.profiles)
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


def fit() -> None:
    train = [d for d in ecb() if d.topic < 36]
    seeds = (SEED, 1, 2)
    weights = logistic(*oracle_examples(train))
    print("text weights (oracle fit on ECB+ topics 1–35):", weights)
    for shift in (0.0, 0.25, 0.5, 0.75, 1.0, 1.5):
        w = [weights[0] + shift, *weights[1:]]
        f1s = []
        for seed in seeds:
            docs = [d for d in ecb(seed) if d.topic < 36]
            memory = Memory(w)
            pred = {d.id: memory.add(d) for d in docs}
            f1s.append(bcubed(pred, {d.id: d.gold for d in docs}, pred)[2])
        mean = sum(f1s) / len(f1s)
        print(f"  intercept {w[0]:+.2f}: train B-cubed F1 {mean:.3f} {[round(f, 3) for f in f1s]}")
    if "--headlines" not in sys.argv:
        return
    headlines = uci()
    first_half = headlines[: len(headlines) // 2]
    weights = logistic(*oracle_examples(first_half))
    print("headline weights (oracle fit on the first half of UCI by time):", weights)
    for shift in (0.0, 0.5, 1.0, 1.5, 2.0, 3.0):
        w = [weights[0] + shift, *weights[1:]]
        memory = Memory(w)
        pred = {d.id: memory.add(d) for d in first_half}
        f1 = bcubed(pred, {d.id: d.gold for d in first_half}, pred)[2]
        print(f"  intercept {w[0]:+.2f}: first-half B-cubed F1 {f1:.3f}")
