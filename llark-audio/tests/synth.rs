//! The synthetic-piece generator: determinism, coverage of its vocabularies, consistency of the
//! metadata, and ground truth that independent estimators recover from the audio (a Goertzel
//! chroma against the Krumhansl-Kessler key profiles; an onset-strength autocorrelation for the
//! tempo).

use std::f64::consts::TAU;

use llark_audio::synth::{
    clip_id, clip_seeds, describe, generate, write_dataset, Genre, Key, Mode, PieceMetadata,
    SynthConfig, Timbre, METADATA_JSONL,
};
use llark_audio::{load, AudioError};

/// Short clips keep the tests fast in debug builds.
fn short(seconds: f64) -> SynthConfig {
    SynthConfig {
        duration: seconds,
        ..SynthConfig::default()
    }
}

fn bits(samples: &[f32]) -> Vec<u32> {
    samples.iter().map(|s| s.to_bits()).collect()
}

#[test]
fn same_seed_same_piece_other_seed_other_piece() {
    let config = short(2.0);
    let a = generate(11, &config).unwrap();
    let b = generate(11, &config).unwrap();
    assert_eq!(bits(a.audio.samples()), bits(b.audio.samples()));
    assert_eq!(a.metadata, b.metadata);
    assert_eq!(
        serde_json::to_string(&a.metadata).unwrap(),
        serde_json::to_string(&b.metadata).unwrap()
    );
    assert_eq!(describe(11, &config).unwrap(), a.metadata);

    let c = generate(12, &config).unwrap();
    assert_ne!(bits(a.audio.samples()), bits(c.audio.samples()));
    assert_ne!(a.metadata.seed, c.metadata.seed);
    assert_ne!(a.metadata.id, c.metadata.id);
}

#[test]
fn fixing_one_choice_keeps_the_others() {
    let drawn = describe(5, &SynthConfig::default()).unwrap();
    let key = Key::new(2, Mode::Minor);
    let fixed = describe(
        5,
        &SynthConfig {
            key: Some(key),
            ..SynthConfig::default()
        },
    )
    .unwrap();
    assert_eq!(fixed.key, "D minor");
    assert_eq!(fixed.tempo_bpm, drawn.tempo_bpm);
    assert_eq!(fixed.instruments, drawn.instruments);

    let forced = vec![Timbre::Guitar, Timbre::Bass, Timbre::Guitar];
    let fixed = describe(
        5,
        &SynthConfig {
            instruments: Some(forced),
            ..SynthConfig::default()
        },
    )
    .unwrap();
    assert_eq!(fixed.instruments, [Timbre::Guitar, Timbre::Bass]);
    assert_eq!(fixed.key, drawn.key);
    assert_eq!(fixed.genre, [Genre::Folk]);
}

#[test]
fn every_key_instrument_and_genre_is_reachable() {
    let config = SynthConfig::default();
    let metas: Vec<PieceMetadata> = (0..400).map(|s| describe(s, &config).unwrap()).collect();
    let keys: std::collections::BTreeSet<&str> = metas.iter().map(|m| m.key.as_str()).collect();
    assert_eq!(keys.len(), 24, "{keys:?}");
    for instrument in Timbre::ALL {
        let n = metas
            .iter()
            .filter(|m| m.instruments.contains(&instrument))
            .count();
        assert!(n >= 40, "{instrument:?} in only {n} of 400 pieces");
    }
    for genre in Genre::ALL {
        let n = metas.iter().filter(|m| m.genre == [genre]).count();
        assert!(n >= 10, "{genre:?} in only {n} of 400 pieces");
    }
    for count in 2..=4 {
        assert!(metas.iter().any(|m| m.instruments.len() == count));
    }
    let with_drums = metas
        .iter()
        .filter(|m| m.instruments.contains(&Timbre::Drums))
        .count();
    assert!((150..=250).contains(&with_drums), "{with_drums} with drums");
    let tempi: Vec<f64> = metas.iter().map(|m| m.tempo_bpm).collect();
    assert!(tempi
        .iter()
        .all(|t| (60.0..=180.0).contains(t) && t.fract() == 0.0));
    assert!(tempi.iter().any(|&t| t < 70.0) && tempi.iter().any(|&t| t > 170.0));
}

/// The chord labels of the tonic triad of `key` as the metadata writes them.
fn tonic_chord(meta: &PieceMetadata) -> String {
    let quality = match meta.mode {
        Mode::Major => "maj",
        Mode::Minor => "min",
        Mode::Other => panic!("the generator plays major and minor keys only"),
    };
    format!("{}:{quality}", meta.tonic)
}

#[test]
fn metadata_describes_the_piece() {
    let config = short(6.0);
    for seed in 0..40 {
        let meta = describe(seed, &config).unwrap();
        let key = meta.parsed_key().unwrap();
        assert_eq!(key.name(), meta.key);
        assert_eq!(meta.key, format!("{} {}", meta.tonic, meta.mode.as_str()));
        // LLark's key parsing reads one token of word characters or '#' before the mode.
        assert!(meta
            .tonic
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '#'));
        assert_eq!(meta.time_signature, "4/4");
        assert_eq!(meta.duration, 6.0);
        assert_eq!(meta.audio, format!("{}.wav", meta.id));
        assert!((2..=4).contains(&meta.instruments.len()));
        assert!(meta
            .instruments
            .iter()
            .any(|i| Timbre::HARMONIC.contains(i)));
        assert_eq!(
            meta.genre,
            [Genre::derive(&meta.instruments, meta.tempo_bpm)]
        );

        // Chords: contiguous from 0 to the end, tonic first and last, labels in the key.
        let chords = &meta.chords;
        assert_eq!(chords[0].start_time, 0.0);
        assert_eq!(chords.last().unwrap().end_time, meta.duration);
        for pair in chords.windows(2) {
            assert_eq!(pair[0].end_time, pair[1].start_time);
        }
        assert_eq!(chords[0].chord, tonic_chord(&meta), "seed {seed}");
        assert_eq!(chords.last().unwrap().chord, tonic_chord(&meta));

        // Beats: on the tempo grid, bars of four.
        let beat = 60.0 / meta.tempo_bpm;
        for (k, b) in meta.downbeats.iter().enumerate() {
            assert!((b.time - k as f64 * beat).abs() <= 0.0005 + 1e-9);
            assert_eq!(b.beat_number as usize, k % 4 + 1);
        }
        assert_eq!(
            meta.downbeats.len(),
            (meta.duration / beat).ceil() as usize,
            "seed {seed}"
        );

        for fact in [
            meta.key.clone(),
            format!("{} BPM", meta.tempo_bpm),
            meta.genre[0].name().to_owned(),
            meta.instruments[0].name().to_owned(),
        ] {
            assert!(
                meta.caption.contains(&fact),
                "{fact:?} in {:?}",
                meta.caption
            );
        }

        let json = serde_json::to_string(&meta).unwrap();
        let back: PieceMetadata = serde_json::from_str(&json).unwrap();
        assert_eq!(back, meta);
        let value: serde_json::Value = serde_json::from_str(&json).unwrap();
        for field in [
            "tempo_bpm",
            "key",
            "instruments",
            "chords",
            "genre",
            "caption",
        ] {
            assert!(value.get(field).is_some(), "{field}");
        }
    }
}

#[test]
fn audio_is_finite_peak_normalised_and_of_the_requested_length() {
    for (seed, seconds) in [(0u64, 1.5), (1, 2.0), (2, 0.3), (3, 2.5)] {
        let piece = generate(seed, &short(seconds)).unwrap();
        let samples = piece.audio.samples();
        assert_eq!(samples.len(), (seconds * 44_100.0) as usize);
        assert_eq!(piece.audio.sample_rate(), 44_100);
        assert!(samples.iter().all(|s| s.is_finite()));
        let peak = samples.iter().fold(0.0f32, |m, s| m.max(s.abs()));
        assert_eq!(peak, 1.0, "seed {seed}");
    }
    let piece = generate(
        9,
        &SynthConfig {
            sample_rate: 22_050,
            duration: 1.0,
            ..SynthConfig::default()
        },
    )
    .unwrap();
    assert_eq!(piece.audio.len(), 22_050);
    assert_eq!(piece.metadata.sample_rate, 22_050);
}

#[test]
fn invalid_configurations_are_typed_errors() {
    let bad = |config: SynthConfig| generate(0, &config).unwrap_err();
    let name = |e: AudioError| match e {
        AudioError::InvalidArgument { name, .. } => name,
        other => panic!("{other}"),
    };
    for duration in [0.0, -1.0, f64::NAN, 1e9] {
        assert_eq!(name(bad(short(duration))), "duration");
    }
    for range in [(120.0, 100.0), (10.0, 100.0), (60.0, f64::INFINITY)] {
        let config = SynthConfig {
            tempo_range: range,
            ..short(1.0)
        };
        assert_eq!(name(bad(config)), "tempo_range");
    }
    for instruments in [vec![], vec![Timbre::Bass, Timbre::Drums]] {
        let config = SynthConfig {
            instruments: Some(instruments),
            ..short(1.0)
        };
        assert_eq!(name(bad(config)), "instruments");
    }
    let config = SynthConfig {
        sample_rate: 0,
        ..short(1.0)
    };
    assert!(matches!(
        bad(config),
        AudioError::InvalidSampleRate { rate: 0, .. }
    ));
}

#[test]
fn fixed_tempo_and_fractional_ranges() {
    let config = SynthConfig {
        tempo_range: (97.0, 97.0),
        ..short(1.0)
    };
    assert_eq!(describe(3, &config).unwrap().tempo_bpm, 97.0);
    let config = SynthConfig {
        tempo_range: (97.2, 97.7),
        ..short(1.0)
    };
    let tempo = describe(3, &config).unwrap().tempo_bpm;
    assert!((97.2..=97.7).contains(&tempo));
    assert!(describe(3, &config).unwrap().caption.contains(" BPM"));
}

#[test]
fn dataset_directory_holds_audio_and_metadata() {
    let dir = tempfile::tempdir().unwrap();
    let config = short(0.5);
    let mut calls = Vec::new();
    let metas = write_dataset(dir.path(), 3, 42, &config, |done, total, meta| {
        calls.push((done, total, meta.id.clone()));
    })
    .unwrap();
    assert_eq!(
        calls,
        (1..=3).map(|i| (i, 3, clip_id(i - 1))).collect::<Vec<_>>()
    );
    let seeds = clip_seeds(42, 3);
    let jsonl = std::fs::read_to_string(dir.path().join(METADATA_JSONL)).unwrap();
    let lines: Vec<PieceMetadata> = jsonl
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines, metas);
    for (i, meta) in metas.iter().enumerate() {
        assert_eq!(meta.id, format!("synth-{i:06}"));
        assert_eq!(meta.seed, seeds[i]);
        let json = std::fs::read_to_string(dir.path().join(format!("{}.json", meta.id))).unwrap();
        assert_eq!(&serde_json::from_str::<PieceMetadata>(&json).unwrap(), meta);
        let audio = load(dir.path().join(&meta.audio)).unwrap();
        let expected = generate(seeds[i], &config).unwrap();
        assert_eq!(bits(audio.samples()), bits(expected.audio.samples()));
    }
    assert_ne!(clip_seeds(42, 3), clip_seeds(43, 3));
    assert_eq!(clip_seeds(42, 2), seeds[..2]);
}

// ---------------------------------------------------------------------------------------------
// Independent estimators.

/// Krumhansl-Kessler probe-tone profiles (Krumhansl 1990), C major and C minor.
const KK_MAJOR: [f64; 12] = [
    6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88,
];
const KK_MINOR: [f64; 12] = [
    6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17,
];

/// A chroma vector: Goertzel magnitudes of every equal-tempered note from E2 to C7 over
/// Hann-windowed frames of 8192 samples, summed per pitch class.
fn chroma(samples: &[f32], sr: f64) -> [f64; 12] {
    const FRAME: usize = 8192;
    let window: Vec<f64> = (0..FRAME)
        .map(|n| 0.5 - 0.5 * (TAU * n as f64 / FRAME as f64).cos())
        .collect();
    let mut chroma = [0.0; 12];
    for frame in samples.chunks_exact(FRAME) {
        let frame: Vec<f64> = frame
            .iter()
            .zip(&window)
            .map(|(s, w)| f64::from(*s) * w)
            .collect();
        for midi in 40..=96 {
            let f = 440.0 * 2f64.powf((f64::from(midi) - 69.0) / 12.0);
            let coeff = 2.0 * (TAU * f / sr).cos();
            let (mut s1, mut s2) = (0.0f64, 0.0f64);
            for x in &frame {
                let s = x + coeff * s1 - s2;
                s2 = s1;
                s1 = s;
            }
            let power = s1 * s1 + s2 * s2 - coeff * s1 * s2;
            chroma[(midi % 12) as usize] += power.max(0.0).sqrt();
        }
    }
    chroma
}

fn pearson(a: &[f64; 12], b: &[f64; 12]) -> f64 {
    let (ma, mb) = (a.iter().sum::<f64>() / 12.0, b.iter().sum::<f64>() / 12.0);
    let (mut num, mut da, mut db) = (0.0, 0.0, 0.0);
    for i in 0..12 {
        num += (a[i] - ma) * (b[i] - mb);
        da += (a[i] - ma).powi(2);
        db += (b[i] - mb).powi(2);
    }
    num / (da * db).sqrt()
}

/// The key whose rotated Krumhansl-Kessler profile correlates best with the chroma.
fn estimate_key(samples: &[f32], sr: f64) -> Key {
    let c = chroma(samples, sr);
    let mut best = (f64::NEG_INFINITY, Key::new(0, Mode::Major));
    for key in Key::all() {
        let profile = match key.mode() {
            Mode::Major | Mode::Other => &KK_MAJOR,
            Mode::Minor => &KK_MINOR,
        };
        let rotated: [f64; 12] =
            std::array::from_fn(|pc| profile[(pc + 12 - usize::from(key.tonic())) % 12]);
        let r = pearson(&c, &rotated);
        if r > best.0 {
            best = (r, key);
        }
    }
    best.1
}

/// In-place iterative radix-2 FFT; the length must be a power of two.
fn fft(re: &mut [f64], im: &mut [f64]) {
    let n = re.len();
    let mut j = 0;
    for i in 1..n {
        let mut bit = n >> 1;
        while j & bit != 0 {
            j ^= bit;
            bit >>= 1;
        }
        j |= bit;
        if i < j {
            re.swap(i, j);
            im.swap(i, j);
        }
    }
    let mut len = 2;
    while len <= n {
        let angle = -TAU / len as f64;
        let (wr, wi) = (angle.cos(), angle.sin());
        for start in (0..n).step_by(len) {
            let (mut cr, mut ci) = (1.0, 0.0);
            for k in 0..len / 2 {
                let (a, b) = (start + k, start + k + len / 2);
                let tr = re[b] * cr - im[b] * ci;
                let ti = re[b] * ci + im[b] * cr;
                re[b] = re[a] - tr;
                im[b] = im[a] - ti;
                re[a] += tr;
                im[a] += ti;
                let next = cr * wr - ci * wi;
                ci = cr * wi + ci * wr;
                cr = next;
            }
        }
        len <<= 1;
    }
}

/// Onset strength: log-magnitude spectral flux (half-wave rectified, summed over 0-8 kHz) of
/// Hann-windowed 2048-sample frames every 256 samples.
fn onset_strength(samples: &[f32], sr: f64, hop: usize) -> Vec<f64> {
    const FRAME: usize = 2048;
    let window: Vec<f64> = (0..FRAME)
        .map(|n| 0.5 - 0.5 * (TAU * n as f64 / FRAME as f64).cos())
        .collect();
    let bins = ((8000.0 / sr * FRAME as f64) as usize).min(FRAME / 2);
    let mut previous: Option<Vec<f64>> = None;
    let mut onset = Vec::new();
    for start in (0..samples.len().saturating_sub(FRAME)).step_by(hop) {
        let mut re: Vec<f64> = samples[start..start + FRAME]
            .iter()
            .zip(&window)
            .map(|(s, w)| f64::from(*s) * w)
            .collect();
        let mut im = vec![0.0; FRAME];
        fft(&mut re, &mut im);
        let log_mag: Vec<f64> = (0..bins)
            .map(|k| (1.0 + 1000.0 * re[k].hypot(im[k])).ln())
            .collect();
        if let Some(prev) = &previous {
            onset.push(
                log_mag
                    .iter()
                    .zip(prev)
                    .map(|(a, b)| (a - b).max(0.0))
                    .sum(),
            );
        }
        previous = Some(log_mag);
    }
    onset
}

/// Tempo from the autocorrelation of the onset strength (5.8 ms hop), weighted by a log-normal
/// prior around 120 BPM with a standard deviation of one octave (librosa's `tempo` defaults),
/// searched between 30 and 300 BPM, with parabolic interpolation of the peak.
fn estimate_tempo(samples: &[f32], sr: f64) -> f64 {
    const HOP: usize = 256;
    let mut onset = onset_strength(samples, sr, HOP);
    let mean = onset.iter().sum::<f64>() / onset.len() as f64;
    onset.iter_mut().for_each(|o| *o -= mean);
    let frame_rate = sr / HOP as f64;
    let ac = |lag: usize| -> f64 {
        onset
            .iter()
            .zip(&onset[lag..])
            .map(|(a, b)| a * b)
            .sum::<f64>()
            / (onset.len() - lag) as f64
    };
    let bpm = |lag: f64| 60.0 * frame_rate / lag;
    let prior = |lag: usize| (-0.5 * (bpm(lag as f64) / 120.0).log2().powi(2)).exp();
    let min_lag = (60.0 * frame_rate / 300.0).floor() as usize;
    let max_lag = ((60.0 * frame_rate / 30.0).ceil() as usize).min(onset.len() / 2);
    let best = (min_lag..=max_lag)
        .max_by(|&a, &b| (ac(a) * prior(a)).total_cmp(&(ac(b) * prior(b))))
        .unwrap();
    let (l, c, r) = (ac(best - 1), ac(best), ac(best + 1));
    let denom = l - 2.0 * c + r;
    let offset = if denom.abs() > 0.0 {
        (0.5 * (l - r) / denom).clamp(-0.5, 0.5)
    } else {
        0.0
    };
    bpm(best as f64 + offset)
}

/// LLark's ACC2-style check restricted to octaves: the estimate is within 4 % of the tempo,
/// twice it or half it.
fn tempo_matches(estimate: f64, reference: f64) -> bool {
    [reference, 2.0 * reference, 0.5 * reference]
        .iter()
        .any(|c| (c - estimate).abs() / c <= 0.04)
}

#[test]
fn key_is_recoverable_from_the_audio() {
    let mut correct = 0;
    let mut misses = Vec::new();
    for (i, key) in Key::all().into_iter().enumerate() {
        let config = SynthConfig {
            key: Some(key),
            ..short(4.0)
        };
        let piece = generate(100 + i as u64, &config).unwrap();
        let estimate = estimate_key(piece.audio.samples(), 44_100.0);
        if estimate == key {
            correct += 1;
        } else {
            misses.push(format!(
                "{} estimated {} ({:?})",
                piece.metadata.key,
                estimate.name(),
                piece.metadata.instruments
            ));
        }
    }
    eprintln!("key recovered on {correct}/24 clips; misses: {misses:?}");
    assert!(correct >= 22, "{correct}/24: {misses:?}");
}

#[test]
fn tempo_is_recoverable_from_the_audio() {
    let mut correct = 0;
    let mut misses = Vec::new();
    let seeds = 200..212u64;
    let n = seeds.clone().count();
    for seed in seeds {
        let piece = generate(seed, &short(5.0)).unwrap();
        let estimate = estimate_tempo(piece.audio.samples(), 44_100.0);
        if tempo_matches(estimate, piece.metadata.tempo_bpm) {
            correct += 1;
        } else {
            misses.push(format!(
                "{} BPM estimated {estimate:.1} ({:?})",
                piece.metadata.tempo_bpm, piece.metadata.instruments
            ));
        }
    }
    eprintln!(
        "tempo recovered (within 4 %, or an octave) on {correct}/{n} clips; misses: {misses:?}"
    );
    assert!(correct * 10 >= n * 9, "{correct}/{n}: {misses:?}");
}
