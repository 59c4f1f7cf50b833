"""Cross-checks the ground truth of a synthetic dataset (llark-audio `synth_dataset`) with librosa.

Tempo: `librosa.beat.beat_track` against `tempo_bpm`, scored with LLark's ACC1 (within 4 %)
and ACC2 (within 4 % of 1x, 2x, 1/2x, 3x or 1/3x the reference). Key: the mean of
`librosa.feature.chroma_cqt` correlated with the Krumhansl-Kessler profiles against `key`.
Clips that miss are listed.

Run:
    cargo run --release --example synth_dataset -- --out /tmp/synth100 --count 100 --seed 7
    .venv/bin/python tools/reference/synth_librosa_check.py /tmp/synth100
"""

import json
import sys

import librosa
import numpy as np

KK_MAJOR = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
KK_MINOR = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])
NAMES = ["C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B"]
FLAT_TO_SHARP = {"Db": "C#", "Eb": "D#", "Gb": "F#", "Ab": "G#", "Bb": "A#"}


def estimate_key(chroma):
    scores = [
        (np.corrcoef(chroma, np.roll(profile, k))[0, 1], f"{NAMES[k]} {mode}")
        for k in range(12)
        for profile, mode in [(KK_MAJOR, "major"), (KK_MINOR, "minor")]
    ]
    return max(scores)[1]


def main(directory):
    metas = [json.loads(line) for line in open(f"{directory}/metadata.jsonl")]
    acc1 = acc2 = keys = 0
    for meta in metas:
        y, sr = librosa.load(f"{directory}/{meta['audio']}", sr=None)
        tempo = float(np.atleast_1d(librosa.beat.beat_track(y=y, sr=sr)[0])[0])
        ref = meta["tempo_bpm"]
        hit1 = abs(ref - tempo) / ref <= 0.04
        hit2 = any(abs(c - tempo) / c <= 0.04 for c in [ref, 2 * ref, ref / 2, 3 * ref, ref / 3])
        acc1 += hit1
        acc2 += hit2
        key = estimate_key(librosa.feature.chroma_cqt(y=y, sr=sr).mean(axis=1))
        tonic, mode = meta["key"].split()
        hit_key = key == f"{FLAT_TO_SHARP.get(tonic, tonic)} {mode}"
        keys += hit_key
        if not (hit2 and hit_key):
            print(meta["id"], ref, round(tempo, 1), meta["key"], key, meta["instruments"])
    n = len(metas)
    print(f"librosa beat_track ACC1 {acc1}/{n} ACC2 {acc2}/{n}; chroma_cqt + Krumhansl-Kessler key {keys}/{n}")


if __name__ == "__main__":
    main(sys.argv[1])
