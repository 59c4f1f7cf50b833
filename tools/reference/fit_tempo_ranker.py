"""Fits the lite encoder's tempo-ranker weights (`RANKER_WEIGHTS` in
llark-encoder/src/lite/ranker.rs) on features the encoder itself computes.

Only training music goes in: the quickstart's development set (composed clips from seeds the
quickstart never uses and the *training* pieces of the shipped corpus, rendered with the training
SoundFont), never the held-out pieces or the held-out SoundFont.

    cargo run --release --example quickstart -- --development-set dev7
    cargo run --release --example quickstart -- --development-set dev11 --seed 11 \
        --real-variants 4 --eval-clips 200
    for d in dev7 dev11; do
        cargo run --release -p llark-encoder --example clip_features -- $d/clips.jsonl $d/features.jsonl
    done
    cat dev11/features.jsonl dev7/features.jsonl > features.jsonl
    python tools/reference/fit_tempo_ranker.py features.jsonl [CHECK.jsonl ...]

(The committed weights: 758 clips, 4-fold ACC2 0.942, ACC1 0.669.)

The model: each tempo bin's score is the dot product of the weights with its features; the
posterior is the softmax of the scores over the bins. The loss is the negative log of the
posterior mass on the bins LLark's ACC2 accepts (within 4 % of the tempo, or of 2x, 1/2x, 3x,
1/3x it) plus 0.3 times that on the bins ACC1 accepts, with a small L2 penalty. Prints the
cross-validated ACC1/ACC2 (four folds by piece), the fit on everything, its figures on each
CHECK file, and the weights as a Rust array. Needs numpy and scipy.
"""

import json
import sys

import numpy as np
from scipy.optimize import minimize

from fitting import FOLDS, group_of, piece_folds

ACC1_WEIGHT = 0.3
L2 = 1e-3
OCTAVES = (1.0, 2.0, 0.5, 3.0, 1.0 / 3.0)


def load(path):
    feats, acc1, acc2, groups = [], [], [], []
    for line in open(path):
        if not line.strip():
            continue
        row = json.loads(line)
        bpm = np.array(row["bpm"])
        tempo = row["tempo_bpm"]
        feats.append(np.array(row["features"], dtype=np.float64))
        acc1.append(np.abs(bpm - tempo) <= 0.04 * tempo)
        acc2.append(np.any([np.abs(bpm - tempo * m) <= 0.04 * tempo * m for m in OCTAVES], axis=0))
        groups.append(group_of(row))
    return np.array(feats), np.array(acc1), np.array(acc2), np.array(groups)


def loss(w, x, t1, t2):
    s = x @ w
    s = s - s.max(axis=1, keepdims=True)
    p = np.exp(s)
    p /= p.sum(axis=1, keepdims=True)
    q2 = (p * t2).sum(axis=1) + 1e-9
    q1 = (p * t1).sum(axis=1) + 1e-9
    value = -(np.log(q2) + ACC1_WEIGHT * np.log(q1)).mean() + L2 * (w * w).sum()
    g = (p * t2) / q2[:, None] - p + ACC1_WEIGHT * ((p * t1) / q1[:, None] - p)
    grad = -np.einsum("nb,nbf->f", g, x) / len(x) + 2 * L2 * w
    return value, grad


def fit(x, t1, t2):
    w0 = np.zeros(x.shape[2])
    return minimize(loss, w0, args=(x, t1, t2), jac=True, method="L-BFGS-B").x


def score(w, x, t1, t2):
    best = np.argmax(x @ w, axis=1)
    rows = np.arange(len(x))
    return t1[rows, best].mean(), t2[rows, best].mean()


def main():
    x, t1, t2, groups = load(sys.argv[1])
    folds = piece_folds(groups)
    hits1 = hits2 = 0.0
    for k in range(FOLDS):
        train, test = folds != k, folds == k
        a1, a2 = score(fit(x[train], t1[train], t2[train]), x[test], t1[test], t2[test])
        hits1 += a1 * test.sum()
        hits2 += a2 * test.sum()
    print(f"{len(x)} clips, 4-fold by piece: ACC1 {hits1 / len(x):.3f} ACC2 {hits2 / len(x):.3f}")
    w = fit(x, t1, t2)
    print("fit on all: ACC1 %.3f ACC2 %.3f" % score(w, x, t1, t2))
    for path in sys.argv[2:]:
        cx, c1, c2, _ = load(path)
        print(f"{path}: ACC1 %.3f ACC2 %.3f" % score(w, cx, c1, c2))
    print("pub const RANKER_WEIGHTS: [f32; RANKER_FEATURES] = [")
    print("    " + ", ".join(f"{v:.4}" for v in w) + ",")
    print("];")


if __name__ == "__main__":
    main()
