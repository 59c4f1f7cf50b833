//! Deterministic test and demo signals: sines, a short music-like phrase, and seeded
//! synthetic pieces with ground truth (key, tempo, chords, instruments, genre) for demos and
//! end-to-end training. Keys, tempo wording, instrument names, chords and beats are
//! [`llark_music`]'s.
//!
//! ```no_run
//! use llark_audio::synth::{generate, write_dataset, SynthConfig};
//!
//! # fn main() -> Result<(), llark_audio::AudioError> {
//! let piece = generate(7, &SynthConfig::default())?;
//! println!("{}: {}", piece.metadata.key, piece.metadata.caption);
//!
//! // 100 clips of 10 s, with WAV + JSON per clip and metadata.jsonl.
//! write_dataset("synth-data", 100, 0, &SynthConfig::default(), |done, total, _| {
//!     eprintln!("{done}/{total}");
//! })?;
//! # Ok(())
//! # }
//! ```

mod arrange;
mod config;
mod dataset;
mod genre;
mod metadata;
mod piece;
mod plan;
mod theory;
mod voice;

pub use config::{SynthConfig, MAX_DURATION_SECONDS, TEMPO_LIMITS};
pub use dataset::{clip_id, clip_seeds, write_dataset, METADATA_JSONL};
pub use genre::Genre;
/// The music vocabulary the generator's configuration and metadata use.
pub use llark_music::{Key, Mode};
pub use metadata::PieceMetadata;
pub use piece::{describe, generate, Piece};
pub use voice::Timbre;

use crate::audio::Audio;
use crate::error::Result;

/// A sine of `frequency` Hz and peak `amplitude`, `len` samples at `sample_rate` Hz, phase 0.
pub fn sine(frequency: f64, amplitude: f32, sample_rate: u32, len: usize) -> Result<Audio> {
    let step = std::f64::consts::TAU * frequency / f64::from(sample_rate.max(1));
    let samples = (0..len)
        .map(|i| amplitude * (step * i as f64).sin() as f32)
        .collect();
    Audio::new(samples, sample_rate)
}

/// A music-like phrase: a sequence of harmonic notes (decaying partials over a few octaves)
/// with a short noise burst (a "snare") on every other note, peak below 1.
///
/// The same `seed` always gives the same samples. Useful for demos and tests that need
/// something richer than a sine without shipping audio files.
pub fn music(sample_rate: u32, seconds: f64, seed: u64) -> Result<Audio> {
    // A-minor pentatonic walk, in MIDI note numbers.
    const NOTES: [i32; 8] = [57, 60, 62, 64, 67, 69, 67, 64];
    const NOTE_SECONDS: f64 = 0.25;
    let rate = f64::from(sample_rate.max(1));
    let len = (seconds.max(0.0) * rate).round() as usize;
    let note_len = (NOTE_SECONDS * rate) as usize;
    let mut rng = SplitMix64(seed);
    let mut samples = vec![0.0f32; len];
    for (i, s) in samples.iter_mut().enumerate() {
        let note = i / note_len.max(1);
        let t = (i % note_len.max(1)) as f64 / rate;
        let midi = NOTES[note % NOTES.len()];
        let f0 = 440.0 * 2f64.powf(f64::from(midi - 69) / 12.0);
        let envelope = (-t * 6.0).exp() * (t * 400.0).min(1.0);
        let mut v = 0.0;
        for k in 1..=6 {
            let f = f0 * k as f64;
            if f < rate * 0.45 {
                v += (std::f64::consts::TAU * f * t).sin() / k as f64;
            }
        }
        let mut value = 0.3 * envelope * v;
        if note % 2 == 1 && t < 0.06 {
            value += 0.2 * (-t * 50.0).exp() * rng.uniform();
        }
        *s = value as f32;
    }
    Audio::new(samples, sample_rate)
}

/// SplitMix64: a tiny, well-distributed deterministic generator.
struct SplitMix64(u64);

impl SplitMix64 {
    /// Uniform in `[-1, 1)`.
    fn uniform(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        (z >> 11) as f64 / (1u64 << 52) as f64 - 1.0
    }
}
