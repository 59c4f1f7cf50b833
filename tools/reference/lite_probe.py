"""Linear probes on the lightweight encoder's clip-mean features: how well each synthetic
instrument, and the key, can be read off with logistic regression.

Run:
    cargo run --release -p llark-encoder --example lite_synth_eval -- 600 12 /tmp/lite_means.csv
    .venv/bin/python tools/reference/lite_probe.py /tmp/lite_means.csv [--train 450]

The CSV has one line per clip: tempo, key index, instruments joined by '|', clip-mean frame.
The first --train clips fit the probes (standardised features, L2 logistic regression, C = 1);
the rest are held out. Prints held-out accuracy and the majority-class baseline.
"""
import argparse

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("csv")
    parser.add_argument("--train", type=int, default=450)
    args = parser.parse_args()
    rows = [line.strip().split(",") for line in open(args.csv) if line.strip()]
    key = np.array([int(r[1]) for r in rows])
    instruments = [set(r[2].split("|")) for r in rows]
    x = np.array([[float(v) for v in r[3:]] for r in rows])
    train = np.arange(len(rows)) < args.train
    test = ~train
    xs = StandardScaler().fit(x[train]).transform(x)
    print(f"{len(rows)} clips, width {x.shape[1]}, {train.sum()} to fit, {test.sum()} held out")
    for name in sorted(set().union(*instruments)):
        y = np.array([name in s for s in instruments])
        probe = LogisticRegression(max_iter=3000).fit(xs[train], y[train])
        base = max(y[test].mean(), 1 - y[test].mean())
        print(f"{name:15s} accuracy {probe.score(xs[test], y[test]):.3f} (baseline {base:.3f})")
    probe = LogisticRegression(max_iter=3000).fit(xs[train], key[train])
    print(f"{'key (24-way)':15s} accuracy {probe.score(xs[test], key[test]):.3f}")


if __name__ == "__main__":
    main()
