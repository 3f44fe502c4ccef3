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

Before that, per topic, how often a pair of reports of one event scores above a pair from the
topic's two events (the ROC AUC: 1.0 keeps them apart at some threshold, 0.5 is a coin), for
the pair score and, as a check on what the title and lead leave out, for the cosine of the
whole texts (TF-IDF over every content word). The topics whose events merge are the ones where
neither is far above a coin.

Last line: the lowest hard-negative merge rate among the thresholds whose F1 on topics 36–45
reaches 0.92, per linkage.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import math
from collections import defaultdict

import numpy as np

from bench.stories import SEED, Doc, bcubed, ecb, hard_negative_merges
from monitor.pipeline import stories as algo
from monitor.pipeline.fingerprint import content_terms, fingerprint, prior, words


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


def whole_text(d: Doc) -> dict[str, float]:
    """TF-IDF of every content word of the title and text, of unit length."""
    counts: dict[str, int] = defaultdict(int)
    for term in content_terms(words(d.title) + words(d.text)):
        counts[term] += 1
    weights = {t: (1 + math.log(n)) * algo.idf(prior(t)) for t, n in counts.items()}
    norm = math.sqrt(sum(w * w for w in weights.values())) or 1.0
    return {t: w / norm for t, w in weights.items()}


def auc(same: list[float], other: list[float]) -> float:
    """The chance that a pair of one event scores above a pair of two (ties count half)."""
    a, b = np.array(same)[:, None], np.array(other)[None, :]
    return float((a > b).mean() + (a == b).mean() / 2)


def spectral_agreement(score: np.ndarray, gold: list[str]) -> float:
    """Cut the topic in two where the pair scores (as weights 0…1) say, all pairs at once
    (the sign of the normalised Laplacian's second eigenvector); the share of reports on the
    side of their own event. 0.5 is chance."""
    weights = 1 / (1 + np.exp(-score))
    np.fill_diagonal(weights, 0.0)
    degree = weights.sum(axis=1)
    laplacian = np.eye(len(weights)) - weights / np.sqrt(np.outer(degree, degree))
    side = np.linalg.eigh(laplacian)[1][:, 1] > 0
    first = np.array([g == gold[0] for g in gold])
    agree = float((side == first).mean())
    return max(agree, 1 - agree)


def separability(docs: list[Doc], score: np.ndarray) -> None:
    texts = [whole_text(d) for d in docs]
    by_topic: dict[int, list[int]] = defaultdict(list)
    for i, d in enumerate(docs):
        by_topic[d.topic].append(i)
    rows = []
    for topic, members in by_topic.items():
        pairs: dict[bool, tuple[list[float], list[float]]] = {True: ([], []), False: ([], [])}
        for n, i in enumerate(members):
            for j in members[n + 1 :]:
                same, cosines = pairs[docs[i].gold == docs[j].gold]
                same.append(float(score[i, j]))
                a, b = sorted((texts[i], texts[j]), key=len)
                cosines.append(sum(x * b.get(t, 0.0) for t, x in a.items()))
        (same_score, same_cos), (other_score, other_cos) = pairs[True], pairs[False]
        if same_score and other_score:
            golds = [docs[i].gold for i in members]
            cut = spectral_agreement(score[np.ix_(members, members)], golds)
            rows.append((auc(same_score, other_score), auc(same_cos, other_cos), cut, topic))
    print(f"{'topic':>5} {'AUC pair score':>14} {'AUC whole text':>14} {'spectral cut':>12}")
    for pair_auc, text_auc, cut, topic in sorted(rows)[:8]:
        print(f"{topic:>5} {pair_auc:>14.3f} {text_auc:>14.3f} {cut:>12.2f}")
    mean = np.mean([r[:3] for r in rows], axis=0)
    print(
        f"{'mean':>5} {mean[0]:>14.3f} {mean[1]:>14.3f} {mean[2]:>12.2f}"
        f"  (the {len(rows)} topics; the worst 8 above)"
    )
    print()


def main() -> None:
    from scipy.cluster.hierarchy import fcluster, linkage  # type: ignore[import-untyped]
    from scipy.spatial.distance import squareform  # type: ignore[import-untyped]

    docs = ecb(SEED)
    vecs = [algo.vectors(fingerprint(d.title, d.text)) for d in docs]
    score = pair_scores(vecs)
    separability(docs, score)
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
