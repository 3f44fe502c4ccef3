"""bench/stories_ceiling.py: how far apart the two events of an ECB+ topic are, as the story
stage sees them, with every pair known in advance.

The streaming clusterer decides each article as it comes. This script clusters the whole of
ECB+ at once, by agglomerative clustering (scipy) over `stories.pair_score`: the rewrite
score's features of each article against the other as a one-article story, averaged both
ways. It prints B-cubed F1 and the hard-negative merge rate
along each linkage's thresholds: the trade the features allow with hindsight, which a streaming
decision on them does not beat without story repair (which clusters a story's own reports
the same way).

    python bench/stories_ceiling.py

Last line: the lowest hard-negative merge rate among the thresholds whose F1 on topics 36–45
reaches 0.92, per linkage.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np
from stories import SEED, bcubed, ecb, hard_negative_merges

from monitor.pipeline import stories as algo
from monitor.pipeline.fingerprint import fingerprint


def pair_scores(vecs: list[algo.Vectors]) -> np.ndarray:
    """`stories.pair_score` of every two articles: what story repair compares."""
    alone = [algo.merge(None, v) for v in vecs]
    n = len(vecs)
    out = np.zeros((n, n))
    for i in range(n):
        for j in range(i + 1, n):
            pair = (alone[i], alone[j])
            out[i, j] = out[j, i] = algo.pair_score(vecs[i], vecs[j], pair)
    return out


def main() -> None:
    from scipy.cluster.hierarchy import fcluster, linkage
    from scipy.spatial.distance import squareform

    docs = ecb(SEED)
    vecs = [algo.vectors(fingerprint(d.title, d.text)) for d in docs]
    score = pair_scores(vecs)
    top = float(score.max())
    distance = top - score
    np.fill_diagonal(distance, 0.0)
    condensed = squareform(distance, checks=False)
    gold = {d.id: d.gold for d in docs}
    ids = [d.id for d in docs]
    test = [d.id for d in docs if d.topic >= 36]
    print(f"{'linkage':<9} {'pair score':>10} {'F1 all':>7} {'F1 36-45':>9} {'hard-neg':>9}")
    best: dict[str, float] = {}
    for method in ("complete", "average"):
        tree = linkage(condensed, method)
        for step in range(-200, 401, 2):  # thresholds -2.00 … 4.00; a row every 0.25
            cut = step / 100
            labels = fcluster(tree, top - cut, "distance")
            pred = dict(zip(ids, labels.tolist(), strict=True))
            f1_all = bcubed(pred, gold, ids)[2]
            f1_test = bcubed(pred, gold, test)[2]
            hard = hard_negative_merges(pred, docs)
            if step % 25 == 0:
                print(f"{method:<9} {cut:>10.2f} {f1_all:>7.3f} {f1_test:>9.3f} {hard:>9.3f}")
            if f1_test >= 0.92:
                best[method] = min(best.get(method, 1.0), hard)
    print(" ".join(f"{m}_hard_neg_at_test_f1_092={best.get(m, float('nan')):.3f}" for m in best))


if __name__ == "__main__":
    main()
