"""bench/stories_ceiling.py: how far apart the two events of an ECB+ topic are, as the story
stage sees them, with every pair known in advance.

The streaming clusterer decides each article as it comes. This script clusters the whole of
ECB+ at once, by agglomerative clustering (scipy) over a pair score made of the same three
cosines the rewrite score starts from (content, names, titles, weighted as in `WEIGHTS`), and
prints B-cubed F1 and the hard-negative merge rate along each linkage's thresholds: the trade
that the features allow, which no streaming decision on them can beat by much. Needs scipy
(`pip install scipy`); it is not a dependency of monitor.

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


def gram(vectors: list[dict[str, float]]) -> np.ndarray:
    """All pairwise dot products of unit vectors (cosines)."""
    index: dict[str, int] = {}
    rows = [{index.setdefault(k, len(index)): x for k, x in v.items()} for v in vectors]
    m = np.zeros((len(rows), len(index)))
    for i, row in enumerate(rows):
        for j, x in row.items():
            m[i, j] = x
    return m @ m.T


def main() -> None:
    try:
        from scipy.cluster.hierarchy import fcluster, linkage
        from scipy.spatial.distance import squareform
    except ImportError:
        raise SystemExit("needs scipy: pip install scipy") from None
    docs = ecb(SEED)
    vecs = [algo.vectors(fingerprint(d.title, d.text)) for d in docs]
    w = algo.WEIGHTS
    score = (
        w[1] * gram([v.content for v in vecs])
        + w[2] * gram([v.entities for v in vecs])
        + w[3] * gram([v.title for v in vecs])
    )
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
        for cut in np.arange(0.4, 2.01, 0.1):
            labels = fcluster(tree, top - cut, "distance")
            pred = dict(zip(ids, labels.tolist(), strict=True))
            f1_all = bcubed(pred, gold, ids)[2]
            f1_test = bcubed(pred, gold, test)[2]
            hard = hard_negative_merges(pred, docs)
            print(f"{method:<9} {cut:>10.1f} {f1_all:>7.3f} {f1_test:>9.3f} {hard:>9.3f}")
            if f1_test >= 0.92:
                best[method] = min(best.get(method, 1.0), hard)
    print(" ".join(f"{m}_hard_neg_at_test_f1_092={best.get(m, float('nan')):.3f}" for m in best))


if __name__ == "__main__":
    main()
