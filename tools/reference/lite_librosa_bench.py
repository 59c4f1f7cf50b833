"""Times librosa on the clip of the lightweight encoder's criterion bench (`benches/lite.rs`):
a 10 s, 44.1 kHz C major triad with a bass note and a click every half second, through
`chroma_stft` (8,192-point FFT, hop 4,096), `onset_strength` + `tempogram` (hop 256) and `mfcc`
(13 of 32 mel bands, 2,048-point FFT, hop 256): roughly the same analyses as the encoder.

Run (one thread, as the Rust encoder):
    OMP_NUM_THREADS=1 .venv/bin/python tools/reference/lite_librosa_bench.py
Prints the median of 7 runs after one warm-up.
"""
import time

import librosa
import numpy as np

SR = 44100


def clip(seconds=10.0):
    t = np.arange(int(SR * seconds)) / SR
    tone = sum(np.sin(2 * np.pi * f * t) * 0.15 for f in [261.63, 329.63, 392.0, 65.41])
    since_click = t % 0.5
    click = np.exp(-since_click * 200) * np.sin(2 * np.pi * 1500 * t)
    return (tone + 0.5 * click).astype(np.float32)


def analyse(y):
    chroma = librosa.feature.chroma_stft(y=y, sr=SR, n_fft=8192, hop_length=4096)
    onset = librosa.onset.onset_strength(y=y, sr=SR, hop_length=256)
    tempogram = librosa.feature.tempogram(onset_envelope=onset, sr=SR, hop_length=256)
    mfcc = librosa.feature.mfcc(y=y, sr=SR, n_mfcc=13, n_fft=2048, hop_length=256, n_mels=32)
    return chroma, tempogram, mfcc


def main():
    y = clip()
    analyse(y)
    times = []
    for _ in range(7):
        start = time.perf_counter()
        analyse(y)
        times.append(time.perf_counter() - start)
    print(f"librosa {librosa.__version__}: median {1000 * np.median(times):.1f} ms per 10 s clip")


if __name__ == "__main__":
    main()
