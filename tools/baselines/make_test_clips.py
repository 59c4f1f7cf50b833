#!/usr/bin/env python3
"""Synthesize a few WAV clips with known key and tempo, to run the baselines end to end.

Each clip is a cadence (I IV V I, repeated) of additive-synthesis chords with a bass
note on every beat and a short noise click, at a given tempo, 20 s long, 22.05 kHz mono.
Writes OUT/clips.jsonl and OUT/<id>.wav. Only a smoke test: no real music.

Usage: python tools/baselines/make_test_clips.py OUT_DIR
"""

import json
import os
import sys
import wave

import numpy as np

SR = 22050
PITCH = {"C": 0, "C#": 1, "D": 2, "Eb": 3, "E": 4, "F": 5, "F#": 6, "G": 7, "Ab": 8,
         "A": 9, "Bb": 10, "B": 11}
CLIPS = [("c-major-120", "C major", 120.0), ("a-minor-90", "A minor", 90.0),
         ("bb-major-140", "Bb major", 140.0), ("f#-minor-76", "F# minor", 76.0)]


def tone(freq, n, rng):
    t = np.arange(n) / SR
    y = sum((0.6 ** h) * np.sin(2 * np.pi * freq * (h + 1) * t + rng.uniform(0, 6.28))
            for h in range(5))
    env = np.minimum(1, t / 0.01) * np.exp(-2.5 * t)
    return y * env


def clip(key, bpm, seconds=20.0, seed=0):
    rng = np.random.default_rng(seed)
    tonic, mode = key.split()
    root = 48 + PITCH[tonic]
    third = 3 if mode == "minor" else 4
    degrees = [(0, third, 7), (5, 5 + (3 if mode == "minor" else 4), 12), (7, 11, 14),
               (0, third, 7)]
    beat = 60.0 / bpm
    out = np.zeros(int(seconds * SR) + SR)
    n_beats = int(seconds / beat)
    for b in range(n_beats):
        chord = degrees[(b // 4) % 4]
        start = int(b * beat * SR)
        n = int(beat * SR)
        for iv in chord:
            out[start:start + n] += 0.15 * tone(440 * 2 ** ((root + 12 + iv - 69) / 12), n, rng)
        out[start:start + n] += 0.3 * tone(440 * 2 ** ((root - 12 + chord[0] - 69) / 12), n, rng)
        click = rng.standard_normal(200) * np.exp(-np.arange(200) / 30)
        out[start:start + 200] += (0.5 if b % 4 == 0 else 0.3) * click
    out = out[:int(seconds * SR)]
    return out / np.max(np.abs(out)) * 0.8


def main():
    out_dir = sys.argv[1]
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "clips.jsonl"), "w") as f:
        for i, (cid, key, bpm) in enumerate(CLIPS):
            y = clip(key, bpm, seed=i)
            with wave.open(os.path.join(out_dir, cid + ".wav"), "wb") as w:
                w.setnchannels(1)
                w.setsampwidth(2)
                w.setframerate(SR)
                w.writeframes((y * 32767).astype("<i2").tobytes())
            f.write(json.dumps({"id": cid, "audio": cid + ".wav", "key": key,
                                "tempo_bpm": bpm}) + "\n")


if __name__ == "__main__":
    main()
