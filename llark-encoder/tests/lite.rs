//! The lightweight encoder: frame counts, determinism, errors, and recovery of known tempo and key
//! from synthesised signals (click tracks at a given BPM, I-IV-V-I progressions in every key).

use burn::backend::Flex;
use llark_encoder::lite::{
    statistic_count, LiteConfig, LiteEncoder, CONFIG_FILE, KEY_COUNT, RANKER_MULTIPLES,
    RANKER_PRIOR_BPM, RANKER_WEIGHTS, TEMPO_DIGIT_WIDTH, TEMPO_RELATIVES,
};
use llark_encoder::{AudioEncoder, EncoderError, EncoderInfo, Frames};

const SR: u32 = 44_100;

fn encoder() -> LiteEncoder {
    LiteEncoder::new(LiteConfig::default()).unwrap()
}

/// Column means of a frame matrix over the columns `range`.
fn mean_block(frames: &llark_encoder::Frames, range: std::ops::Range<usize>) -> Vec<f64> {
    let mut mean = vec![0f64; range.len()];
    for t in 0..frames.frames {
        for (m, &v) in mean.iter_mut().zip(&frames.row(t)[range.clone()]) {
            *m += f64::from(v) / frames.frames as f64;
        }
    }
    mean
}

fn argmax(values: &[f64]) -> usize {
    values
        .iter()
        .enumerate()
        .max_by(|a, b| a.1.total_cmp(b.1))
        .unwrap()
        .0
}

/// A click track: a 3 ms decaying 2 kHz burst plus a low thump on every beat, with a phase offset.
fn click_track(bpm: f64, seconds: f64, offset: f64) -> Vec<f32> {
    let n = (f64::from(SR) * seconds) as usize;
    let period = 60.0 / bpm;
    (0..n)
        .map(|i| {
            let t = i as f64 / f64::from(SR);
            let since = (t - offset).rem_euclid(period);
            let env = (-since / 0.01).exp();
            let tau = std::f64::consts::TAU;
            (0.5 * env * ((tau * 2000.0 * t).sin() + (tau * 80.0 * since).sin())) as f32
        })
        .collect()
}

/// Equal-tempered frequency of MIDI note `m`.
fn midi_hz(m: i32) -> f64 {
    440.0 * 2f64.powf((f64::from(m) - 69.0) / 12.0)
}

/// Adds a note with three decaying harmonics from `start` to `end` seconds.
fn add_note(buf: &mut [f32], midi: i32, start: f64, end: f64, amp: f64) {
    let sr = f64::from(SR);
    let (a, b) = ((start * sr) as usize, ((end * sr) as usize).min(buf.len()));
    let f = midi_hz(midi);
    for (i, s) in buf[a..b].iter_mut().enumerate() {
        let t = i as f64 / sr;
        let fade = (t / 0.01).min(1.0) * ((end - start - t) / 0.01).clamp(0.0, 1.0);
        let tone: f64 = (1..=3)
            .map(|h| (std::f64::consts::TAU * f * f64::from(h) * t).sin() / f64::from(h * h))
            .sum();
        *s += (amp * fade * tone) as f32;
    }
}

/// Key index `k` (0..12 major, 12..24 minor, tonic = k % 12) played as I-IV-V-I twice (minor:
/// i-iv-V-i with the major dominant), one chord per second, with the root in the bass.
fn progression(key: usize) -> Vec<f32> {
    let tonic = (key % 12) as i32;
    let minor = key >= 12;
    let third = if minor { 3 } else { 4 };
    // (root offset from tonic, third of the chord)
    let chords = [(0, third), (5, third), (7, 4), (0, third)];
    let mut buf = vec![0f32; SR as usize * 8];
    for rep in 0..2 {
        for (i, &(root, third)) in chords.iter().enumerate() {
            let start = (rep * 4 + i) as f64;
            let r = 60 + (tonic + root) % 12;
            for m in [r, r + third, r + 7] {
                add_note(&mut buf, m, start, start + 1.0, 0.12);
            }
            add_note(&mut buf, r - 24, start, start + 1.0, 0.15);
        }
    }
    buf
}

#[test]
fn frame_counts_and_width_follow_the_length() {
    let enc = encoder();
    let layout = enc.layout().clone();
    assert_eq!(enc.width(), layout.width);
    assert_eq!(
        layout.width,
        12 + 24 + 24 + 72 + 72 + 30 + 32 + 13 + 7 + 37 + 180
    );
    assert_eq!(enc.frame_rate(), 44_100.0 / 4096.0);
    assert_eq!(enc.sample_rate(), SR);
    assert_eq!(enc.max_input_samples(), None);
    assert_eq!(enc.name(), "lite");
    for n in [
        0,
        100,
        4095,
        4096,
        4097,
        8191,
        8192,
        44_100,
        3 * 44_100 + 17,
    ] {
        let audio = click_track(100.0, n as f64 / f64::from(SR) + 1.0, 0.0);
        let frames = enc.encode_frames(&audio[..n], SR).unwrap();
        assert_eq!(frames.shape(), [n / 4096, layout.width], "length {n}");
        assert!(frames.data.iter().all(|v| v.is_finite()), "length {n}");
    }
}

#[test]
fn encoding_is_deterministic_and_batch_equals_single() {
    let enc = encoder();
    let a = click_track(120.0, 3.0, 0.1);
    let b = progression(3);
    let one = enc.encode_frames(&a, SR).unwrap();
    assert_eq!(one, enc.encode_frames(&a, SR).unwrap());
    let device = Default::default();
    let batch: Vec<Frames> =
        AudioEncoder::<Flex>::encode_batch(&enc, &[&a, &b[..SR as usize * 2]], SR, &device)
            .unwrap()
            .into_iter()
            .map(|tensor| Frames::from_tensor(tensor).unwrap())
            .collect();
    assert_eq!(batch[0], one);
    assert_eq!(
        batch[1],
        enc.encode_frames(&b[..SR as usize * 2], SR).unwrap()
    );
}

#[test]
fn click_track_tempo_is_the_tempogram_peak() {
    let enc = encoder();
    let bpm = enc.config().tempo_bin_bpm();
    let range = enc.layout().tempo.clone();
    for (i, tempo) in [
        60.0, 72.0, 85.0, 100.0, 112.0, 128.0, 140.0, 155.0, 170.0, 180.0,
    ]
    .into_iter()
    .enumerate()
    {
        let frames = enc
            .encode_frames(&click_track(tempo, 10.0, 0.037 * i as f64), SR)
            .unwrap();
        let found = bpm[argmax(&mean_block(&frames, range.clone()))];
        let close = [tempo, tempo * 2.0, tempo / 2.0]
            .iter()
            .any(|t| (found - t).abs() / t <= 0.03);
        assert!(close, "{tempo} BPM: tempogram peak at {found:.1} BPM");
        // The clip-level estimate names the beat, or half or twice it (a click track has no
        // grouping to tell them apart; the prior leans to 100 BPM).
        let salience = mean_block(&frames, enc.layout().tempo_salience.clone());
        let estimate = bpm[argmax(&salience)];
        let octave = [tempo, tempo * 2.0, tempo / 2.0]
            .iter()
            .any(|t| (estimate - t).abs() / t <= 0.03);
        assert!(octave, "{tempo} BPM: salience peak at {estimate:.1} BPM");
        // The digits block spells that estimate in whole BPM, one digit per group of ten.
        let digits = &frames.row(0)[enc.layout().tempo_digits.clone()];
        let peak = frames.row(0)[enc.layout().tempo_salience.clone()].to_vec();
        let best = (0..peak.len())
            .max_by(|&a, &b| peak[a].total_cmp(&peak[b]))
            .unwrap();
        // The digits spell the best bin's tempo refined to a whole BPM: within half a bin of
        // its centre, and within 1 BPM of the click tempo (or its octave), which the bins'
        // 2.6 % spacing alone could not give.
        let spelt = read_digits(digits);
        assert!((spelt / bpm[best]).ln().abs() <= 0.5 * enc.config().tempo_ratio().ln() + 0.01);
        let exact = [tempo, tempo * 2.0, tempo / 2.0]
            .iter()
            .any(|t| (spelt - t).abs() <= 1.0);
        assert!(exact, "{tempo} BPM spelt as {spelt}");
        // The relative digits spell the tempo behind the digits at each of its relatives: that
        // tempo is within half a BPM of `spelt`, so each relative is within half a BPM times
        // the multiple, plus the rounding, of `spelt` times it.
        let relatives = &frames.row(0)[enc.layout().tempo_relative_digits.clone()];
        assert_eq!(relatives.len(), TEMPO_RELATIVES.len() * TEMPO_DIGIT_WIDTH);
        for (block, multiple) in relatives.chunks(TEMPO_DIGIT_WIDTH).zip(TEMPO_RELATIVES) {
            let relative = read_digits(block);
            assert!(
                (relative - spelt * multiple).abs() <= 0.5 * multiple + 0.5,
                "{tempo} BPM: {spelt} x {multiple} spelt as {relative}"
            );
        }
    }
}

/// The whole BPM a digits block spells (one-hot hundreds, tens, units).
fn read_digits(block: &[f32]) -> f64 {
    block
        .chunks(10)
        .map(|group| {
            assert_eq!(group.iter().sum::<f32>(), 1.0, "one-hot groups");
            group.iter().position(|&v| v == 1.0).unwrap() as f64
        })
        .fold(0.0, |n, d| n * 10.0 + d)
}

#[test]
fn tempo_salience_is_a_distribution_shared_by_the_frames_of_a_short_clip() {
    let enc = encoder();
    let range = enc.layout().tempo_salience.clone();
    let frames = enc
        .encode_frames(&click_track(96.0, 12.0, 0.2), SR)
        .unwrap();
    let first = frames.row(0)[range.clone()].to_vec();
    let total: f32 = first.iter().sum();
    assert!((total - 1.0).abs() < 1e-4, "salience sums to {total}");
    assert!(first.iter().all(|&v| (0.0..=1.0).contains(&v)));
    let layout = enc.layout().clone();
    for t in 1..frames.frames {
        assert_eq!(frames.row(t)[range.clone()], first[..], "frame {t}");
        // The key posterior and the digits are clip-level too.
        for block in [layout.key_posterior.clone(), layout.tempo_digits.clone()] {
            assert_eq!(
                frames.row(t)[block.clone()],
                frames.row(0)[block],
                "frame {t}"
            );
        }
    }
    // A clip longer than the window gets estimates of its stretches, still distributions.
    let long = enc
        .encode_frames(&click_track(140.0, 40.0, 0.0), SR)
        .unwrap();
    let last = &long.row(long.frames - 1)[range.clone()];
    assert!((last.iter().sum::<f32>() - 1.0).abs() < 1e-4);
    let bpm = enc.config().tempo_bin_bpm();
    let peak = (0..last.len())
        .max_by(|&a, &b| last[a].total_cmp(&last[b]))
        .unwrap();
    // A click track has no grouping: the beat or its half are both its tempo.
    let octave = [140.0, 70.0]
        .iter()
        .any(|t: &f64| (bpm[peak] - t).abs() / t <= 0.03);
    assert!(octave, "{}", bpm[peak]);
    // Frames of a clip longer than the window read windows inside the clip: the first and the
    // last frames' windows differ, frames within the first half-window share the first.
    let first_long = &long.row(0)[range.clone()];
    assert_eq!(&long.row(20)[range.clone()], first_long);
}

/// A 3/4 pattern in even eighths: a strong bass note on each downbeat, a lighter chord on beats
/// 2 and 3, quiet hi-hat-like ticks on every eighth. Its autocorrelation is periodic at every
/// eighth; only the pattern of accents says the beat is the quarter.
fn waltz(beat_bpm: f64, seconds: f64) -> Vec<f32> {
    let n = (seconds * f64::from(SR)) as usize;
    let mut out = vec![0f32; n];
    let eighth = 60.0 / beat_bpm / 2.0;
    let mut add = |start: f64, freq: f64, amp: f32, decay: f64| {
        let first = ((start * f64::from(SR)) as usize).min(n);
        let last = (first + (0.4 * f64::from(SR)) as usize).min(n);
        for (j, sample) in out[first..last].iter_mut().enumerate() {
            let t = j as f64 / f64::from(SR);
            *sample += amp * ((std::f64::consts::TAU * freq * t).sin() * (-t / decay).exp()) as f32;
        }
    };
    let mut k = 0usize;
    while k as f64 * eighth < seconds {
        let t = k as f64 * eighth;
        match k % 6 {
            0 => add(t, 98.0, 0.6, 0.25),
            2 | 4 => {
                for f in [392.0, 494.0, 587.0] {
                    add(t, f, 0.15, 0.12);
                }
            }
            _ => {}
        }
        add(t, 3520.0, 0.03, 0.01);
        k += 1;
    }
    out
}

#[test]
fn the_tempo_ranker_names_the_beat_of_a_waltz_not_a_dotted_pulse() {
    let enc = encoder();
    let bpm = enc.config().tempo_bin_bpm();
    for beat in [96.0, 132.0, 160.0] {
        let frames = enc.encode_frames(&waltz(beat, 20.0), SR).unwrap();
        let salience = mean_block(&frames, enc.layout().tempo_salience.clone());
        let estimate = bpm[argmax(&salience)];
        // LLark's ACC2 family of the beat: it, twice, half, three times, a third.
        let family = [1.0, 2.0, 0.5, 3.0, 1.0 / 3.0]
            .iter()
            .any(|m| (estimate - beat * m).abs() / (beat * m) <= 0.04);
        assert!(family, "{beat} BPM waltz: ranker peak at {estimate:.1} BPM");
    }
}

#[test]
fn tempo_features_are_what_the_ranker_scores() {
    let enc = encoder();
    let audio = waltz(120.0, 12.0);
    let found = enc.tempo_features(&audio, SR).unwrap();
    assert_eq!(found.bpm, enc.config().tempo_bin_bpm());
    assert_eq!(found.features.len(), found.bpm.len());
    // The posterior of the block is the softmax of the weighted features (every frame of a
    // 12 s clip reads the whole clip).
    let scores: Vec<f64> = found
        .features
        .iter()
        .map(|f| {
            f.iter()
                .zip(&RANKER_WEIGHTS)
                .map(|(a, w)| f64::from(a * w))
                .sum()
        })
        .collect();
    let best = scores.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    let total: f64 = scores.iter().map(|s| (s - best).exp()).sum();
    let frames = enc.encode_frames(&audio, SR).unwrap();
    let block = &frames.row(3)[enc.layout().tempo_salience.clone()];
    for (b, s) in scores.iter().enumerate() {
        let expected = (s - best).exp() / total;
        assert!(
            (f64::from(block[b]) - expected).abs() < 1e-4,
            "bin {b}: {} vs {expected}",
            block[b]
        );
    }
    // Periodicities lie in [-1, 1]; the log-tempo features follow the bins.
    for (f, &b) in found.features.iter().zip(&found.bpm) {
        assert!(f[..RANKER_MULTIPLES.len()]
            .iter()
            .all(|v| (-1.0..=1.0).contains(v)));
        let z = (b / RANKER_PRIOR_BPM).log2() as f32;
        assert!((f[RANKER_MULTIPLES.len()] - z).abs() < 1e-6);
    }
    // An encoder without the ranker says which field it needs.
    let old = LiteEncoder::new(LiteConfig {
        tempo_ranker: false,
        ..LiteConfig::default()
    })
    .unwrap();
    match old.tempo_features(&audio, SR) {
        Err(EncoderError::Config { field, .. }) => assert_eq!(field, "tempo_ranker"),
        other => panic!("expected a config error, got {other:?}"),
    }
}

#[test]
fn configs_without_the_salience_fields_keep_their_width() {
    // A config.json written before the salience block existed.
    let old = LiteConfig::from_json_str(
        r#"{"encoder": "lite", "tempo_bins": 72, "n_mels": 32}"#,
        "inline",
    )
    .unwrap();
    assert!(!old.tempo_salience && !old.tempo_digits);
    let enc = LiteEncoder::new(old).unwrap();
    assert_eq!(enc.width(), 12 + 24 + 24 + 72 + 32 + 13 + 7);
    assert!(enc.layout().tempo_salience.is_empty());
    assert!(enc.layout().tempo_digits.is_empty());
    let frames = enc
        .encode_frames(&click_track(100.0, 3.0, 0.0), SR)
        .unwrap();
    assert_eq!(frames.width, enc.width());
    // The default writes the field, so a saved default reopens with the block.
    let text = LiteConfig::default().to_json_string();
    let reopened = LiteConfig::from_json_str(&text, "inline").unwrap();
    assert!(reopened.tempo_salience && reopened.tempo_digits && reopened.tempo_relative_digits);
}

#[test]
fn progression_key_is_the_key_evidence_peak_for_all_24_keys() {
    let enc = encoder();
    let layout = enc.layout().clone();
    for key in 0..KEY_COUNT {
        let frames = enc.encode_frames(&progression(key), SR).unwrap();
        let corr = mean_block(&frames, layout.key_correlation.clone());
        let post = mean_block(&frames, layout.key_posterior.clone());
        assert_eq!(argmax(&corr), key, "key {key}: correlations {corr:?}");
        assert_eq!(argmax(&post), key, "key {key}: posterior {post:?}");
        // The chroma's strongest pitch class over the clip is the tonic.
        let chroma = mean_block(&frames, layout.chroma.clone());
        assert_eq!(argmax(&chroma), key % 12, "key {key}: chroma {chroma:?}");
    }
}

/// `samples` played `cents` sharp (and as much faster): read at a step of `2^(cents/1200)`,
/// linearly interpolated.
fn detuned(samples: &[f32], cents: f64) -> Vec<f32> {
    let step = 2f64.powf(cents / 1200.0);
    let n = ((samples.len() - 1) as f64 / step) as usize;
    (0..n)
        .map(|i| {
            let x = i as f64 * step;
            let (j, frac) = (x as usize, (x - x.floor()) as f32);
            samples[j] * (1.0 - frac) + samples[(j + 1).min(samples.len() - 1)] * frac
        })
        .collect()
}

#[test]
fn refined_chroma_holds_its_pitch_classes_when_the_band_is_detuned() {
    let refined = encoder();
    let plain = LiteEncoder::new(LiteConfig {
        chroma_refined: false,
        ..LiteConfig::default()
    })
    .unwrap();
    for key in [0, 7, 15] {
        let audio = progression(key);
        for cents in [-40.0, 35.0] {
            let shifted = detuned(&audio, cents);
            let drift = |enc: &LiteEncoder| {
                let chroma = |a: &[f32]| {
                    let frames = enc.encode_frames(a, SR).unwrap();
                    mean_block(&frames, enc.layout().chroma.clone())
                };
                let (at_pitch, off_pitch) = (chroma(&audio), chroma(&shifted));
                at_pitch
                    .iter()
                    .zip(&off_pitch)
                    .map(|(a, b)| (a - b).abs())
                    .fold(0.0, f64::max)
            };
            let (fine, smeared) = (drift(&refined), drift(&plain));
            // Folded at the clip's own tuning the chroma barely moves; at concert pitch a third
            // or more of each class slides into its neighbour.
            assert!(
                fine < 0.08,
                "key {key}, {cents} cents: refined chroma moved {fine}"
            );
            assert!(
                smeared > 0.2,
                "key {key}, {cents} cents: plain chroma moved {smeared}"
            );
            let frames = refined.encode_frames(&shifted, SR).unwrap();
            let posterior = mean_block(&frames, refined.layout().key_posterior.clone());
            assert_eq!(argmax(&posterior), key, "key {key}, {cents} cents");
        }
    }
}

#[test]
fn synthetic_pieces_tempo_and_key_are_the_block_peaks() {
    use llark_audio::synth::{clip_seeds, generate, Mode, SynthConfig};
    let enc = encoder();
    let layout = enc.layout().clone();
    let bpm = enc.config().tempo_bin_bpm();
    let seeds = clip_seeds(5, 16);
    let (mut tempo_ok, mut key_ok) = (0, 0);
    for &seed in &seeds {
        let piece = generate(seed, &SynthConfig::default()).unwrap();
        let frames = enc
            .encode_frames(piece.audio.samples(), piece.audio.sample_rate())
            .unwrap();
        let tempo = piece.metadata.tempo_bpm;
        let found = bpm[argmax(&mean_block(&frames, layout.tempo.clone()))];
        tempo_ok += usize::from(
            [1.0, 2.0, 0.5, 3.0, 1.0 / 3.0]
                .iter()
                .any(|m| (found - tempo * m).abs() <= 0.04 * tempo * m),
        );
        let key = piece.metadata.parsed_key().unwrap();
        let truth = usize::from(key.tonic()) + if key.mode() == Mode::Minor { 12 } else { 0 };
        key_ok +=
            usize::from(argmax(&mean_block(&frames, layout.key_correlation.clone())) == truth);
    }
    // Tempo within 4 % of the tempo or a multiple (ACC2), and the exact key, on nearly all clips.
    assert!(tempo_ok >= 15, "tempo ACC2 {tempo_ok}/16");
    assert!(key_ok >= 14, "exact key {key_ok}/16");
}

#[test]
fn sine_maps_to_its_pitch_class() {
    let enc = encoder();
    let layout = enc.layout().clone();
    for midi in [45, 52, 61, 70, 79, 88] {
        let mut buf = vec![0f32; SR as usize];
        add_note(&mut buf, midi, 0.0, 1.0, 0.3);
        let frames = enc.encode_frames(&buf, SR).unwrap();
        let chroma = mean_block(&frames, layout.chroma.clone());
        assert_eq!(
            argmax(&chroma),
            (midi % 12) as usize,
            "midi {midi}: {chroma:?}"
        );
    }
}

#[test]
fn silence_gives_zeros_and_loud_input_stays_in_range() {
    let enc = encoder();
    let silent = enc.encode_frames(&vec![0f32; SR as usize * 3], SR).unwrap();
    assert!(silent.data.iter().all(|&v| v == 0.0));
    let layout = enc.layout().clone();
    // Full-scale square wave and deterministic pseudo-noise.
    let mut state = 12345u32;
    let loud: Vec<f32> = (0..SR as usize * 3)
        .map(|i| {
            state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            let noise = (state >> 8) as f32 / (1u32 << 24) as f32 * 2.0 - 1.0;
            if i < SR as usize * 2 {
                if (i / 50) % 2 == 0 {
                    1.0
                } else {
                    -1.0
                }
            } else {
                noise
            }
        })
        .collect();
    let frames = enc.encode_frames(&loud, SR).unwrap();
    for t in 0..frames.frames {
        let row = frames.row(t);
        assert!(row.iter().all(|v| v.is_finite()));
        assert!(row[layout.chroma.clone()]
            .iter()
            .all(|&v| (0.0..=1.0).contains(&v)));
        assert!(row[layout.tempo.clone()]
            .iter()
            .all(|&v| (-1.0..=1.0).contains(&v)));
        let p: f32 = row[layout.key_posterior.clone()].iter().sum();
        assert!((p - 1.0).abs() < 1e-4, "posterior sums to {p}");
        assert!(row[layout.log_mel.clone()]
            .iter()
            .all(|&v| (0.0..=1.2).contains(&v)));
    }
}

#[test]
fn noise_is_flatter_and_clicks_more_percussive_than_a_chord() {
    let enc = encoder();
    let s = enc.layout().scalars.start;
    let chord = mean_block(&enc.encode_frames(&progression(0), SR).unwrap(), s..s + 7);
    let clicks = mean_block(
        &enc.encode_frames(&click_track(120.0, 8.0, 0.0), SR)
            .unwrap(),
        s..s + 7,
    );
    let mut state = 7u32;
    let noise: Vec<f32> = (0..SR as usize * 2)
        .map(|_| {
            state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            ((state >> 8) as f32 / (1u32 << 24) as f32 - 0.5) * 0.5
        })
        .collect();
    let noise = mean_block(&enc.encode_frames(&noise, SR).unwrap(), s..s + 7);
    // Scalars: loudness, onset mean, onset peak, percussiveness, centroid, flatness, zcr.
    assert!(
        clicks[3] > 2.0 * chord[3],
        "percussiveness {clicks:?} vs {chord:?}"
    );
    assert!(noise[5] > 5.0 * chord[5], "flatness {noise:?} vs {chord:?}");
    assert!(noise[4] > chord[4], "centroid {noise:?} vs {chord:?}");
    assert!(noise[6] > chord[6], "zero crossings {noise:?} vs {chord:?}");
}

#[test]
fn bad_input_is_an_error() {
    let enc = encoder();
    let mut audio = vec![0.1f32; 10_000];
    audio[777] = f32::NAN;
    match enc.encode_frames(&audio, SR) {
        Err(EncoderError::NonFiniteSample { index, .. }) => assert_eq!(index, 777),
        other => panic!("expected NonFiniteSample, got {other:?}"),
    }
    audio[777] = f32::INFINITY;
    assert!(matches!(
        enc.encode_frames(&audio, SR),
        Err(EncoderError::NonFiniteSample { index: 777, .. })
    ));
    assert!(matches!(
        enc.encode_frames(&[0.0; 10_000], 22_050),
        Err(EncoderError::SampleRate {
            actual: 22_050,
            expected: 44_100
        })
    ));
}

#[test]
fn config_round_trips_through_an_encoder_directory() {
    let dir = tempfile::tempdir().unwrap();
    let config = LiteConfig {
        n_mels: 24,
        n_mfcc: 10,
        tempo_bins: 60,
        // The shipped instrument tagger is fitted for 32 bands and 13 MFCCs.
        instrument_tagger: false,
        ..LiteConfig::default()
    };
    let enc = LiteEncoder::new(config.clone()).unwrap();
    enc.save_dir(dir.path().join("lite")).unwrap();
    let text = std::fs::read_to_string(dir.path().join("lite").join(CONFIG_FILE)).unwrap();
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(json["encoder"], "lite");
    let reopened = LiteEncoder::from_dir(dir.path().join("lite")).unwrap();
    assert_eq!(reopened.config(), &config);
    assert_eq!(reopened.width(), 12 + 48 + 60 + 60 + 30 + 24 + 10 + 7 + 180);
    let audio = progression(5);
    assert_eq!(
        enc.encode_frames(&audio, SR).unwrap(),
        reopened.encode_frames(&audio, SR).unwrap()
    );
    // A minimal file takes the defaults, less the blocks added since the first files.
    let minimal = LiteConfig::from_json_str(r#"{"encoder": "lite"}"#, "inline").unwrap();
    let first = LiteConfig {
        tempo_salience: false,
        tempo_digits: false,
        tempo_relative_digits: false,
        chroma_refined: false,
        tempo_ranker: false,
        tempo_onset_mels: None,
        instrument_tagger: false,
        key_fitted: false,
        ..LiteConfig::default()
    };
    assert_eq!(minimal, first);
}

#[test]
fn invalid_configs_name_the_field() {
    let field_of = |json: &str| match LiteConfig::from_json_str(json, "inline") {
        Err(EncoderError::Config { field, .. }) => field,
        other => panic!("{json}: expected a config error, got {other:?}"),
    };
    assert_eq!(field_of(r#"{"encoder": "jukebox"}"#), "encoder");
    for (json, field) in [
        (r#"{"encoder": "lite", "onset_hop": 300}"#, "onset_hop"),
        (r#"{"encoder": "lite", "n_mfcc": 40}"#, "n_mfcc"),
        (r#"{"encoder": "lite", "mel_fmax": 30000}"#, "mel_fmin"),
        (
            r#"{"encoder": "lite", "tempo_window_seconds": 1}"#,
            "tempo_window_seconds",
        ),
        (
            r#"{"encoder": "lite", "key_sharpness": -1}"#,
            "key_sharpness",
        ),
        (
            r#"{"encoder": "lite", "tempo_onset_bands": 0}"#,
            "tempo_onset_bands",
        ),
        (
            r#"{"encoder": "lite", "tempo_salience_window_seconds": 2}"#,
            "tempo_salience_window_seconds",
        ),
        (
            r#"{"encoder": "lite", "tempo_prior_octaves": 0}"#,
            "tempo_prior_octaves",
        ),
        (
            r#"{"encoder": "lite", "tempo_salience": false, "tempo_digits": true}"#,
            "tempo_digits",
        ),
        (
            r#"{"encoder": "lite", "tempo_digits": false, "tempo_relative_digits": true}"#,
            "tempo_relative_digits",
        ),
        (
            r#"{"encoder": "lite", "tempo_salience": false, "tempo_ranker": true}"#,
            "tempo_ranker",
        ),
        (
            r#"{"encoder": "lite", "tempo_onset_mels": 0}"#,
            "tempo_onset_mels",
        ),
        (
            r#"{"encoder": "lite", "tempo_onset_mels": 4, "tempo_onset_bands": 6}"#,
            "tempo_onset_bands",
        ),
    ] {
        assert_eq!(field_of(json), field, "{json}");
    }
    assert_eq!(field_of(r#"{"encoder": "lite", "bogus": 1}"#), "<json>");
    assert!(matches!(
        LiteEncoder::from_dir("/nonexistent/lite"),
        Err(EncoderError::Io { .. })
    ));
}

#[test]
fn encoder_is_a_shareable_trait_object() {
    fn assert_send_sync<T: Send + Sync>(_: &T) {}
    let enc = encoder();
    assert_send_sync(&enc);
    let expected = enc.encode_frames(&progression(0), SR).unwrap();
    let boxed: Box<dyn AudioEncoder<Flex> + Send + Sync> = Box::new(enc);
    let audio = progression(0);
    let device = Default::default();
    let tensor = std::thread::scope(|s| {
        s.spawn(|| boxed.encode(&audio, SR, &device))
            .join()
            .unwrap()
    });
    let frames = Frames::from_tensor(tensor.unwrap()).unwrap();
    assert_eq!(frames.width, boxed.width());
    assert_eq!(frames, expected, "the device tensor holds the host frames");
}

#[test]
fn instrument_block_is_the_tagger_of_the_clip_window() {
    let enc = encoder();
    let layout = enc.layout().clone();
    assert_eq!(layout.instruments.len(), 37);
    assert_eq!(layout.instruments.end, layout.tempo_relative_digits.start);
    let audio = waltz(110.0, 12.0);
    let frames = enc.encode_frames(&audio, SR).unwrap();
    let first = frames.row(0)[layout.instruments.clone()].to_vec();
    assert!(first.iter().all(|p| (0.0..=1.0).contains(p)));
    for t in 1..frames.frames {
        assert_eq!(
            frames.row(t)[layout.instruments.clone()],
            first[..],
            "frame {t}"
        );
    }
    assert_eq!(
        enc.timbre_statistics(&audio, SR).unwrap().len(),
        statistic_count(32, 13)
    );
    let old = LiteEncoder::new(LiteConfig {
        instrument_tagger: false,
        ..LiteConfig::default()
    })
    .unwrap();
    assert_eq!(old.width(), enc.width() - 37);
    match old.timbre_statistics(&audio, SR) {
        Err(EncoderError::Config { field, .. }) => assert_eq!(field, "instrument_tagger"),
        other => panic!("expected a config error, got {other:?}"),
    }
}

/// Renders the first 10 s of a training piece of the shipped corpus with the training font.
fn render_training_piece(id: &str) -> Vec<f32> {
    use llark_midi::{
        shipped, shipped_corpus, Corpus, RenderOptions, SoundFont, TRAINING_SOUNDFONT,
    };
    let corpus = Corpus::open(shipped_corpus()).unwrap();
    let piece = corpus.split(false).find(|p| p.id == id).unwrap();
    let performance = corpus
        .read(piece)
        .unwrap()
        .performance
        .window(0.0, 10.0)
        .unwrap();
    let font = SoundFont::load(shipped(TRAINING_SOUNDFONT)).unwrap();
    let mut audio = font
        .render(&performance, &RenderOptions::default())
        .unwrap();
    audio.peak_normalise().unwrap();
    assert_eq!(audio.sample_rate(), SR);
    audio.samples().to_vec()
}

#[test]
fn the_tagger_names_what_plays_in_training_music() {
    // Wiring check of the shipped weights on music of the kind they were fitted on (name order,
    // standardisation, window): each piece's instruments are the likeliest ones.
    let enc = encoder();
    let names: Vec<&str> = llark_music::Instrument::all().map(|i| i.name()).collect();
    for (id, truth) in [
        ("clara-schumann-op1no3", vec!["piano"]),
        ("mozart-k80-mvt1", vec!["violin", "viola", "cello"]),
        ("monteverdi-madrigal-4-1", vec!["choir"]),
    ] {
        let frames = enc.encode_frames(&render_training_piece(id), SR).unwrap();
        let p = &frames.row(0)[enc.layout().instruments.clone()];
        let mut ranked: Vec<usize> = (0..p.len()).collect();
        ranked.sort_by(|&a, &b| p[b].total_cmp(&p[a]));
        let top: Vec<&str> = ranked[..truth.len()].iter().map(|&j| names[j]).collect();
        for name in &truth {
            assert!(top.contains(name), "{id}: top {top:?}, truth {truth:?}");
        }
    }
}
