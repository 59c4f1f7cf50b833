"""Fits the lite encoder's key profiles (`REFINED_KEY_PROFILES` in
llark-encoder/src/lite/chroma.rs, for the default refined chroma; `FITTED_KEY_PROFILES` for
configurations without `chroma_refined`, from the clip_features example run with such a
`--config`) on the clip chroma the encoder itself computes.

Only training music goes in: the quickstart's development sets (see fit_instrument_tagger.py for
the commands; the `chroma` field of the clip_features example's output), never held-out music.

    python tools/reference/fit_key_profiles.py [--name REFINED_KEY_PROFILES] \
        dev7/features.jsonl dev11/features.jsonl ...

The model: a clip's chroma (mean over frames) is standardised over its 12 pitch classes; a key
of tonic t and mode m scores the dot product of profile m with the chroma rotated to start at t;
the posterior is the softmax of the 24 scores. Fitted by cross-entropy on the exact key with a
small L2 penalty. Prints the cross-validated MIREX score and exact-key share (four folds by
piece) beside the Krumhansl-Kessler profiles', then the two profiles as a Rust array. Needs
numpy and scipy.
"""

import json
import sys

import numpy as np
from scipy.optimize import minimize

from fitting import FOLDS, group_of, piece_folds

L2 = 1e-3
TONICS = {"C": 0, "C#": 1, "Db": 1, "D": 2, "D#": 3, "Eb": 3, "E": 4, "Fb": 4, "E#": 5, "F": 5,
          "F#": 6, "Gb": 6, "G": 7, "G#": 8, "Ab": 8, "A": 9, "A#": 10, "Bb": 10, "B": 11,
          "Cb": 11, "B#": 0}
KK = [[6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88],
      [6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17]]


def key_index(name):
    tonic, mode = name.split()
    return TONICS[tonic] + (12 if mode == "minor" else 0)


def mirex(estimate, truth):
    et, em, tt, tm = estimate % 12, estimate // 12, truth % 12, truth // 12
    relative = (tt + 9) % 12 if tm == 0 else (tt + 3) % 12
    if estimate == truth:
        return 1.0
    if em == tm and (et == (tt + 7) % 12 or tt == (et + 7) % 12):
        return 0.5
    if em != tm and et == relative:
        return 0.3
    if em != tm and et == tt:
        return 0.2
    return 0.0


def standardise(v):
    v = np.asarray(v, dtype=np.float64)
    s = v.std()
    return (v - v.mean()) / s if s > 1e-9 else v * 0.0


def load(paths):
    feats, keys, groups = [], [], []
    for path in paths:
        for line in open(path):
            if not line.strip():
                continue
            row = json.loads(line)
            chroma = standardise(row["chroma"])
            f = np.zeros((24, 2, 12))
            for k in range(24):
                f[k, k // 12] = np.roll(chroma, -(k % 12))
            feats.append(f.reshape(24, 24))
            keys.append(key_index(row["key"]))
            groups.append(group_of(row))
    return np.array(feats), np.array(keys), np.array(groups)


def loss(w, x, y):
    s = x @ w
    s -= s.max(axis=1, keepdims=True)
    p = np.exp(s)
    p /= p.sum(axis=1, keepdims=True)
    rows = np.arange(len(y))
    value = -np.log(p[rows, y] + 1e-12).mean() + L2 * w @ w
    g = p.copy()
    g[rows, y] -= 1
    return value, np.einsum("nk,nkf->f", g, x) / len(y) + 2 * L2 * w


def fit(x, y):
    return minimize(loss, np.zeros(x.shape[2]), args=(x, y), jac=True, method="L-BFGS-B").x


def score(w, x, y):
    e = np.argmax(x @ w, axis=1)
    return np.mean([mirex(a, b) for a, b in zip(e, y)]), np.mean(e == y)


def main():
    args = sys.argv[1:]
    name = "REFINED_KEY_PROFILES"
    if args[:1] == ["--name"]:
        name, args = args[1], args[2:]
    x, y, groups = load(args)
    kk = np.concatenate([standardise(KK[0]), standardise(KK[1])])
    print("Krumhansl-Kessler: MIREX %.3f exact %.3f" % score(kk, x, y))
    folds = piece_folds(groups)
    total = exact = 0.0
    for k in range(FOLDS):
        train, test = folds != k, folds == k
        m, e = score(fit(x[train], y[train]), x[test], y[test])
        total += m * test.sum()
        exact += e * test.sum()
    print(f"{len(y)} clips, 4-fold by piece: MIREX {total / len(y):.3f} exact {exact / len(y):.3f}")
    w = fit(x, y)
    print("fit on all: MIREX %.3f exact %.3f" % score(w, x, y))
    print(f"pub const {name}: [[f32; 12]; 2] = [")
    for mode in range(2):
        print("    [" + ", ".join(f"{v:.4}" for v in w[12 * mode:12 * (mode + 1)]) + "],")
    print("];")


if __name__ == "__main__":
    main()
