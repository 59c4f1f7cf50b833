"""Fits the lite encoder's instrument tagger (llark-encoder/assets/instrument_tagger.json) on the
timbre statistics the encoder itself computes.

Only training music goes in: the quickstart's development sets (composed clips from seeds the
quickstart never uses and the *training* pieces of the shipped corpus, rendered with the training
SoundFont, with and without augmentation), never the held-out pieces or the held-out SoundFont.

    cargo run --release --example quickstart -- --development-set dev7
    cargo run --release --example quickstart -- --development-set dev11 --seed 11 \\
        --real-variants 4 --eval-clips 200
    cargo run --release --example quickstart -- --development-set dev13a --augmented --seed 13 \\
        --real-variants 4 --eval-clips 200
    for d in dev7 dev11 dev13a; do
        cargo run --release -p llark-encoder --example clip_features -- $d/clips.jsonl $d/features.jsonl
    done
    python tools/reference/fit_instrument_tagger.py OUT.json dev7/features.jsonl \\
        dev11/features.jsonl dev13a/features.jsonl

The model: for each instrument of the vocabulary, a logistic regression on the standardised
statistics (L2 penalty chosen by cross-validation, four folds by piece, among a few values).
An instrument no clip has gets zero weights and a bias of -6. Prints the cross-validated micro
F1 at probability 0.5 for each penalty, then writes the fit on everything. Needs numpy and scipy.
"""

import json
import sys

import numpy as np
from scipy.optimize import minimize

from fitting import FOLDS, group_of, piece_folds

PENALTIES = (1e-4, 3e-4, 1e-3, 1e-2)
ABSENT_BIAS = -6.0


def load(paths):
    stats, labels, groups = [], [], []
    for path in paths:
        for line in open(path):
            if not line.strip():
                continue
            row = json.loads(line)
            stats.append(row["timbre"])
            labels.append(row["instruments"])
            groups.append(group_of(row))
    return np.array(stats, dtype=np.float64), labels, np.array(groups)


def fit_one(x, y, penalty):
    """Weights and bias of an L2-penalised logistic regression of y (0/1) on x."""

    def loss(theta):
        w, b = theta[:-1], theta[-1]
        z = x @ w + b
        p = 1.0 / (1.0 + np.exp(-z))
        eps = 1e-12
        value = -np.mean(y * np.log(p + eps) + (1 - y) * np.log(1 - p + eps)) + penalty * w @ w
        g = p - y
        grad = np.concatenate([x.T @ g / len(y) + 2 * penalty * w, [g.mean()]])
        return value, grad

    theta = minimize(loss, np.zeros(x.shape[1] + 1), jac=True, method="L-BFGS-B").x
    return theta[:-1], theta[-1]


def fit_all(x, m, penalty):
    weights, bias = [], []
    for j in range(m.shape[1]):
        if m[:, j].sum() == 0:
            weights.append(np.zeros(x.shape[1]))
            bias.append(ABSENT_BIAS)
            continue
        w, b = fit_one(x, m[:, j].astype(np.float64), penalty)
        weights.append(w)
        bias.append(b)
    return np.array(weights), np.array(bias)


def micro_f1(p, m):
    pred = p > 0.5
    tp = (pred & m).sum()
    fp = (pred & ~m).sum()
    fn = (~pred & m).sum()
    return 2 * tp / max(2 * tp + fp + fn, 1)


def main():
    out, paths = sys.argv[1], sys.argv[2:]
    # The vocabulary's names, in order, from the tagger file being replaced (the encoder checks
    # them against llark-music's vocabulary when it loads the file).
    names = json.load(open(out))["instruments"]
    stats, labels, groups = load(paths)
    unknown = {n for y in labels for n in y} - set(names)
    if unknown:
        sys.exit(f"instrument names outside the vocabulary: {sorted(unknown)}")
    m = np.array([[n in y for n in names] for y in labels])
    mean = stats.mean(axis=0)
    scale = stats.std(axis=0)
    scale[scale < 1e-6] = 1.0
    x = (stats - mean) / scale
    folds = piece_folds(groups)
    best = None
    for penalty in PENALTIES:
        p = np.zeros(m.shape)
        for k in range(FOLDS):
            train, test = folds != k, folds == k
            w, b = fit_all(x[train], m[train], penalty)
            p[test] = 1.0 / (1.0 + np.exp(-(x[test] @ w.T + b)))
        f1 = micro_f1(p, m)
        print(f"penalty {penalty}: 4-fold micro F1 {f1:.3f}")
        if best is None or f1 > best[1]:
            best = (penalty, f1)
    penalty, f1 = best
    w, b = fit_all(x, m, penalty)
    counts = dict(zip(names, m.sum(axis=0).tolist()))
    tagger = {
        "n_mels": 32,
        "n_mfcc": 13,
        "instruments": names,
        "mean": [float(v) for v in mean],
        "scale": [float(v) for v in scale],
        "weights": [[round(float(v), 6) for v in row] for row in w],
        "bias": [round(float(v), 6) for v in b],
        "provenance": (
            f"tools/reference/fit_instrument_tagger.py on {len(x)} development clips of training "
            f"music ({', '.join(paths)}); L2 penalty {penalty}; 4-fold (by piece) micro F1 "
            f"{f1:.3f}; clips per instrument {counts}"
        ),
    }
    with open(out, "w") as f:
        json.dump(tagger, f, separators=(",", ":"))
        f.write("\n")
    print(f"{len(x)} clips; penalty {penalty}; wrote {out}")


if __name__ == "__main__":
    main()
