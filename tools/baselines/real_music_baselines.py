#!/usr/bin/env python3
"""Key and tempo baselines a user would otherwise pick, scored with LLark's metrics.

Input: --clips clips.jsonl, one line per clip:
    {"id": "...", "audio": "path.wav", "key": "Bb major", "tempo_bpm": 120.0}
(relative audio paths are relative to the folder of the jsonl file).

Methods:
  madmom   key:   CNNKeyRecognitionProcessor + key_prediction_to_label
           tempo: TempoEstimationProcessor(fps=100) on RNNBeatProcessor activations,
                  the strongest tempo
  librosa  tempo: librosa.feature.tempo (default onset envelope, aggregate=mean)
           key:   Krumhansl-Schmuckler: correlate the mean chroma_cqt with the
                  24 rotations of the Krumhansl-Kessler major/minor profiles

Metrics (as LLark reports them):
  key:   mir_eval.key.weighted_score averaged over clips
         (1 same key, 0.5 fifth, 0.3 relative, 0.2 parallel, else 0)
  tempo: ACC1 = |est - ref| <= 4% of ref;
         ACC2 = ACC1 against any of ref * {1, 2, 1/2, 3, 1/3}

Output: --out baselines.json with per-method aggregates and per-clip predictions;
a small table is printed. Nothing is tuned.
"""

import argparse
import collections
import collections.abc
import json
import os
import sys

import numpy as np

# madmom 0.16.1 predates Python 3.10 and numpy 1.24: give it the names it uses
for _n in ("MutableSequence", "MutableMapping", "Sequence", "Mapping", "Iterable"):
    if not hasattr(collections, _n):
        setattr(collections, _n, getattr(collections.abc, _n))
for _n, _t in (("float", float), ("int", int), ("bool", bool), ("complex", complex),
               ("object", object), ("str", str)):
    if _n not in np.__dict__:
        setattr(np, _n, _t)

import mir_eval  # noqa: E402

# Krumhansl-Kessler probe-tone profiles (Krumhansl 1990), tonic first
KK_MAJOR = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
KK_MINOR = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])
PITCH_NAMES = ["C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B"]


def normalize_key(label):
    """'Bb major', 'A minor', 'Bb:maj' ... -> mir_eval's 'Bb major'."""
    label = label.strip().replace(":", " ")
    tonic, mode = label.split()
    mode = {"maj": "major", "min": "minor"}.get(mode.lower(), mode.lower())
    return f"{tonic[0].upper()}{tonic[1:]} {mode}"


def key_score(ref, est):
    try:
        return float(mir_eval.key.weighted_score(normalize_key(ref), normalize_key(est)))
    except Exception:  # noqa: BLE001
        return 0.0


def tempo_acc(ref, est):
    if est is None or not np.isfinite(est) or est <= 0:
        return 0.0, 0.0
    acc1 = abs(est - ref) <= 0.04 * ref
    acc2 = any(abs(est - ref * m) <= 0.04 * ref * m for m in (1, 2, 0.5, 3, 1 / 3))
    return float(acc1), float(acc2)


class Madmom:
    name = "madmom"

    def __init__(self):
        from madmom.features.beats import RNNBeatProcessor
        from madmom.features.key import CNNKeyRecognitionProcessor, key_prediction_to_label
        from madmom.features.tempo import TempoEstimationProcessor
        self.key_proc = CNNKeyRecognitionProcessor()
        self.label = key_prediction_to_label
        self.beat_proc = RNNBeatProcessor()
        self.tempo_proc = TempoEstimationProcessor(fps=100)

    def __call__(self, path):
        key = self.label(self.key_proc(path))
        act = self.beat_proc(path)
        tempi = self.tempo_proc(act)  # rows (bpm, strength), strongest first
        tempo = float(tempi[np.argmax(tempi[:, 1]), 0]) if len(tempi) else float("nan")
        return normalize_key(key), tempo


class Librosa:
    name = "librosa"

    def __init__(self):
        import librosa
        self.lr = librosa
        self.profiles = []
        for mode, prof in (("major", KK_MAJOR), ("minor", KK_MINOR)):
            for t in range(12):
                self.profiles.append((f"{PITCH_NAMES[t]} {mode}", np.roll(prof, t)))

    def __call__(self, path):
        y, sr = self.lr.load(path, sr=22050, mono=True)
        tempo = float(np.atleast_1d(self.lr.feature.tempo(y=y, sr=sr))[0])
        chroma = self.lr.feature.chroma_cqt(y=y, sr=sr).mean(axis=1)
        best, best_r = None, -np.inf
        for name, prof in self.profiles:
            r = np.corrcoef(chroma, prof)[0, 1]
            if r > best_r:
                best, best_r = name, r
        return best, tempo


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--clips", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--methods", default="madmom,librosa")
    args = ap.parse_args()
    base = os.path.dirname(os.path.abspath(args.clips))
    clips = [json.loads(line) for line in open(args.clips, encoding="utf-8") if line.strip()]
    methods = {"madmom": Madmom, "librosa": Librosa}
    result = {"clips": len(clips), "methods": {}}
    for mname in args.methods.split(","):
        method = methods[mname]()
        per = []
        for c in clips:
            path = c["audio"] if os.path.isabs(c["audio"]) else os.path.join(base, c["audio"])
            try:
                k, t = method(path)
                err = None
            except Exception as e:  # noqa: BLE001
                k, t, err = None, None, f"{type(e).__name__}: {e}"
            ks = key_score(c["key"], k) if k else 0.0
            a1, a2 = tempo_acc(float(c["tempo_bpm"]), t)
            row = {"id": c["id"], "key_ref": c["key"], "key_est": k, "key_score": ks,
                   "tempo_ref": c["tempo_bpm"], "tempo_est": None if t is None else round(t, 2),
                   "acc1": a1, "acc2": a2}
            if err:
                row["error"] = err
            per.append(row)
            print(f"{mname:8s} {c['id']}: key {k} (ref {c['key']}, {ks}) tempo "
                  f"{row['tempo_est']} (ref {c['tempo_bpm']})", file=sys.stderr)
        n = max(1, len(per))
        result["methods"][mname] = {
            "key_weighted": round(sum(r["key_score"] for r in per) / n, 4),
            "key_exact": round(sum(r["key_score"] == 1.0 for r in per) / n, 4),
            "tempo_acc1": round(sum(r["acc1"] for r in per) / n, 4),
            "tempo_acc2": round(sum(r["acc2"] for r in per) / n, 4),
            "errors": sum("error" in r for r in per),
            "per_clip": per,
        }
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump(result, f, indent=1)
    print(f"{'method':10s} {'key (weighted)':>15s} {'key exact':>10s} {'ACC1':>7s} {'ACC2':>7s}"
          f"   ({len(clips)} clips)")
    for mname, m in result["methods"].items():
        print(f"{mname:10s} {m['key_weighted']:15.3f} {m['key_exact']:10.3f} "
              f"{m['tempo_acc1']:7.3f} {m['tempo_acc2']:7.3f}")


if __name__ == "__main__":
    main()
