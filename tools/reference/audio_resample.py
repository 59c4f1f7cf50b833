"""Reference fixtures and timings for `llark-audio`, produced with librosa and soundfile.

LLark reads audio with `librosa.load(path, sr=44100)`; this script records what librosa (and the
libsndfile decoders behind soundfile) give, so that the Rust crate can be compared with them.

Run from the repository root:

    .venv/bin/python tools/reference/audio_resample.py                # fixtures
    .venv/bin/python tools/reference/audio_resample.py --timing DIR   # timings only

Fixtures (all small, committed) go to `llark-audio/tests/fixtures/`:

- `music_48000.wav`, `music_22050.wav`: a music-like phrase (harmonic notes and a noise burst)
  as 32-bit float mono WAV. The same continuous-time signal is sampled at both rates, and all of
  its content lies below 0.8 of the Nyquist frequency of either rate, i.e. in the passband of
  every resampler compared here (in the transition band, filters legitimately differ).
- `music_{rate}_to_44100_{res_type}.wav`: `librosa.load(input, sr=44100, res_type=...)` for the
  installed librosa's default `res_type` (`soxr_hq`) and `kaiser_best` (resampy, LLark's own
  librosa 0.7.2 default).
- `wav_{subtype}.wav` + `wav_{subtype}.ref.wav`: a 3-channel file in each WAV sample format
  written by libsndfile, and `librosa.load(sr=None)` of it (mono mean, float32).
- `tone.{flac,ogg,mp3}` + `tone.{flac,ogg,mp3}.ref.wav`: a stereo tone (0.25 s) encoded by libsndfile
  (FLAC, OGG/Vorbis, MP3/LAME) and `librosa.load(sr=None)` of it.
- `meta.json`: the parameters above and the versions used.

With `--timing DIR` it writes no fixtures; instead it writes `DIR/music_30s_48k_stereo.wav` (16-bit) and
`DIR/music_30s_48k_stereo.mp3`, and prints the best and median of 5 wall times of
`librosa.load(file, sr=44100)` for each, with the default `res_type` and `kaiser_best`; the Rust side of the comparison is
`LLARK_AUDIO_BENCH_DIR=DIR cargo bench -p llark-audio --bench load`.
"""

import argparse
import json
import os
import sys
import time

import librosa
import numpy as np
import soundfile as sf

OUT = os.path.join(os.path.dirname(__file__), "..", "..", "crates", "llark-audio", "tests", "fixtures")
SECONDS = 0.4
TARGET = 44100


def music(rate, seconds, seed=1234, band=None):
    """Harmonic notes with decaying partials plus a noise burst, sampled at `rate`.

    `band` is the upper frequency limit (Hz) of every component, so that the same continuous
    signal is sampled at every rate.
    """
    n = int(round(seconds * rate))
    t = np.arange(n) / rate
    y = np.zeros(n)
    notes = [(0.00, 220.0), (0.10, 329.63), (0.20, 440.0), (0.30, 261.63)]
    for start, f0 in notes:
        tt = t - start
        env = np.where(tt >= 0, np.exp(-np.clip(tt, 0, None) * 5.0) * np.clip(tt * 200.0, 0, 1), 0.0)
        for k in range(1, 20):
            if f0 * k < band:
                y += 0.25 * env * np.sin(2 * np.pi * f0 * k * tt) / k
    # Noise burst: noise defined on a fine time grid, band-limited in the frequency domain to
    # `band`, then evaluated at this rate through its Fourier series (so it is the same signal at
    # every rate).
    rng = np.random.default_rng(seed)
    n_comp = int(band * 0.1)  # components spaced 10 Hz apart over a 0.1 s period
    freqs = np.arange(1, n_comp + 1) * 10.0
    amps = rng.normal(size=n_comp) / np.sqrt(n_comp)
    phases = rng.uniform(0, 2 * np.pi, size=n_comp)
    burst_start, burst_len = 0.15, 0.06
    tb = t - burst_start
    win = np.where((tb >= 0) & (tb < burst_len), np.sin(np.pi * np.clip(tb, 0, burst_len) / burst_len) ** 2, 0.0)
    idx = np.nonzero(win)[0]
    noise = np.zeros(n)
    for a, f, p in zip(amps, freqs, phases):
        noise[idx] += a * np.sin(2 * np.pi * f * t[idx] + p)
    y += 0.3 * win * noise
    return (0.8 * y / np.max(np.abs(y))).astype(np.float32)


def write_float(path, y, rate):
    sf.write(path, y, rate, subtype="FLOAT")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=OUT)
    ap.add_argument("--timing", metavar="DIR", help="write 30 s timing files to DIR and time librosa.load (no fixtures)")
    args = ap.parse_args()
    if args.timing:
        timing(args.timing)
        return
    os.makedirs(args.out, exist_ok=True)

    try:
        import resampy  # noqa: F401

        res_types = ["soxr_hq", "kaiser_best"]
    except ImportError:
        res_types = ["soxr_hq"]

    band = 0.8 * 22050 / 2  # below 0.8 x Nyquist of the lowest rate
    meta = {
        "librosa": librosa.__version__,
        "soundfile": sf.__version__,
        "libsndfile": sf.__libsndfile_version__,
        "numpy": np.__version__,
        "seconds": SECONDS,
        "band_hz": band,
        "target_rate": TARGET,
        "res_types": res_types,
        "resample": {},
    }
    for rate in (48000, 22050):
        y = music(rate, SECONDS, band=band)
        src = os.path.join(args.out, f"music_{rate}.wav")
        write_float(src, y, rate)
        for res_type in res_types:
            ref, sr = librosa.load(src, sr=TARGET, res_type=res_type)
            assert sr == TARGET and ref.dtype == np.float32
            write_float(os.path.join(args.out, f"music_{rate}_to_{TARGET}_{res_type}.wav"), ref, TARGET)
            meta["resample"][f"{rate}_{res_type}"] = {"input_len": len(y), "output_len": len(ref)}

    # Every WAV sample format, 3 channels, written and read back by libsndfile.
    rate = 16000
    frames = 300
    t = np.arange(frames) / rate
    chans = np.stack([0.9 * np.sin(2 * np.pi * 440 * t), -0.5 * np.sin(2 * np.pi * 1000 * t), 0.3 * np.cos(2 * np.pi * 250 * t)], axis=1)
    for subtype in ("PCM_U8", "PCM_16", "PCM_24", "PCM_32", "FLOAT"):
        path = os.path.join(args.out, f"wav_{subtype.lower()}.wav")
        sf.write(path, chans, rate, subtype=subtype)
        ref, sr = librosa.load(path, sr=None)
        write_float(path[:-4] + ".ref.wav", ref, sr)

    # Compressed formats: a stereo tone, 0.25 s at 44.1 kHz.
    rate = 44100
    t = np.arange(int(0.25 * rate)) / rate
    tone = np.stack([0.5 * np.sin(2 * np.pi * 440 * t), 0.4 * np.sin(2 * np.pi * 660 * t)], axis=1)
    for ext, fmt, subtype in (("flac", "FLAC", "PCM_16"), ("ogg", "OGG", "VORBIS"), ("mp3", "MP3", "MPEG_LAYER_III")):
        path = os.path.join(args.out, f"tone.{ext}")
        sf.write(path, tone, rate, format=fmt, subtype=subtype)
        ref, sr = librosa.load(path, sr=None)
        write_float(path + ".ref.wav", ref, sr)
        meta[f"tone_{ext}_len"] = len(ref)

    with open(os.path.join(args.out, "meta.json"), "w") as f:
        json.dump(meta, f, indent=2, sort_keys=True)
    print(json.dumps(meta, indent=2, sort_keys=True))


def timing(directory):
    os.makedirs(directory, exist_ok=True)
    rate = 48000
    band = 0.8 * rate / 2
    mono = music(rate, 30.0, seed=7, band=min(band, 8000.0))
    stereo = np.stack([mono, 0.8 * np.roll(mono, 1000)], axis=1)
    files = {
        "wav": os.path.join(directory, "music_30s_48k_stereo.wav"),
        "mp3": os.path.join(directory, "music_30s_48k_stereo.mp3"),
    }
    sf.write(files["wav"], stereo, rate, subtype="PCM_16")
    sf.write(files["mp3"], stereo, rate, format="MP3", subtype="MPEG_LAYER_III")
    try:
        import resampy  # noqa: F401

        res_types = ["soxr_hq", "kaiser_best"]
    except ImportError:
        res_types = ["soxr_hq"]
    for name, path in files.items():
        for res_type in res_types:
            librosa.load(path, sr=TARGET, res_type=res_type)  # warm-up (imports, caches, JIT)
            runs = []
            for _ in range(5):
                start = time.perf_counter()
                y, _ = librosa.load(path, sr=TARGET, res_type=res_type)
                runs.append(time.perf_counter() - start)
            print(
                f"librosa.load({os.path.basename(path)}, sr={TARGET}, res_type={res_type}) "
                f"[{len(y)} samples]: best {min(runs) * 1000:.1f} ms, median {np.median(runs) * 1000:.1f} ms (5 runs)"
            )
    sys.stdout.flush()


if __name__ == "__main__":
    main()
