"""Writes the reference fixtures of the evaluation tests into llark-eval/tests/fixtures/eval/.

Outputs (all small text files):

* ``medleydb_instruments_mapping.tsv``: LLark's ``medleydb_instruments_mapping`` dict, read by
  executing the defining cell of ``notebooks/eval_instrument_id_medleydb.ipynb`` from a clone
  of spotify-research/llark (raw label, mapped string or ``None``; in dict order).
* ``giantsteps-key-labels.tsv``: ``id<TAB>key`` for every ``annotations/key/*.key`` of
  GiantSteps/giantsteps-key-dataset (604 tracks).
* ``giantsteps-tempo-v2-labels.tsv``: ``id<TAB>bpm`` for every ``annotations_v2/tempo/*.bpm``
  of GiantSteps/giantsteps-tempo-dataset (664 tracks, three of them 0.0).
* ``clopper-pearson.csv``: the interval of LLark's ``clopper_pearson`` (genre notebooks;
  scipy.stats.beta.ppf) on a grid of accuracies and trial counts.

The dataset-level constant-prediction values checked by the tests are the ones printed in
the evaluation spec (mir_eval 0.8.2 / madmom 0.16.1 on the same label files).

Run (any Python 3 with scipy; the repositories may be bare git mirrors):

    python tools/reference/eval_fixtures.py LLARK_GIT_DIR GS_KEY_GIT_DIR GS_TEMPO_GIT_DIR \
        llark-eval/tests/fixtures/eval
"""
import json
import math
import os
import subprocess
import sys

import scipy.stats


def git_show(repo, path):
    return subprocess.run(["git", "--git-dir", repo, "show", f"HEAD:{path}"], check=True,
                          capture_output=True, text=True).stdout


def git_ls(repo, prefix):
    out = subprocess.run(["git", "--git-dir", repo, "ls-tree", "-r", "--name-only", "HEAD", prefix],
                         check=True, capture_output=True, text=True).stdout
    return sorted(out.split())


def mapping(llark_repo):
    nb = json.loads(git_show(llark_repo, "notebooks/eval_instrument_id_medleydb.ipynb"))
    for cell in nb["cells"]:
        src = "".join(cell["source"])
        if cell["cell_type"] == "code" and src.lstrip().startswith("# Heuristic") and \
                "medleydb_instruments_mapping" in src:
            scope = {}
            exec(src, scope)
            return scope["medleydb_instruments_mapping"]
    raise SystemExit("mapping cell not found")


def clopper_pearson(acc, n, alpha=0.05):
    """LLark's Clopper-Pearson interval: successes = int(acc * n) (float truncation), exact
    Beta quantiles, NaN (x = 0 or x = n) replaced by 0 / 1."""
    successes = int(acc * n)
    lower = scipy.stats.beta.ppf(alpha / 2, successes, n - successes + 1)
    upper = scipy.stats.beta.ppf(1 - alpha / 2, successes + 1, n - successes)
    return (0.0 if math.isnan(lower) else lower), (1.0 if math.isnan(upper) else upper)


def main(llark_repo, key_repo, tempo_repo, out_dir):
    with open(os.path.join(out_dir, "medleydb_instruments_mapping.tsv"), "w") as f:
        f.write("raw_label\tmapped\n")
        for k, v in mapping(llark_repo).items():
            f.write(f"{k}\t{'None' if v is None else v}\n")
    with open(os.path.join(out_dir, "giantsteps-key-labels.tsv"), "w") as f:
        f.write("id\tkey\n")
        for p in git_ls(key_repo, "annotations/key/"):
            f.write(f"{os.path.basename(p)[:-len('.key')]}\t{git_show(key_repo, p)}\n")
    with open(os.path.join(out_dir, "giantsteps-tempo-v2-labels.tsv"), "w") as f:
        f.write("id\tbpm\n")
        for p in git_ls(tempo_repo, "annotations_v2/tempo/"):
            f.write(f"{os.path.basename(p)[:-len('.bpm')]}\t{git_show(tempo_repo, p).strip()}\n")
    with open(os.path.join(out_dir, "clopper-pearson.csv"), "w") as f:
        f.write("acc,n,alpha,lower,upper\n")
        for n in (10, 122, 1000):
            for acc in (0.0, 0.001, 0.05, 0.1, 0.3, 0.5, 0.56, 0.57, 0.71, 0.9, 0.999, 1.0):
                for alpha in (0.05, 0.1):
                    lo, hi = clopper_pearson(acc, n, alpha)
                    f.write(f"{acc!r},{n},{alpha!r},{float(lo)!r},{float(hi)!r}\n")


if __name__ == "__main__":
    main(*sys.argv[1:5])
