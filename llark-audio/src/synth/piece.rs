//! Seeded short pieces with ground truth: the drawing of key, tempo, instruments, style and
//! chords, then the arrangement ([`arrange`](super::arrange)) and the rendering.

use llark_music::Key;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::arrange::{assign_roles, Arranger};
use super::config::SynthConfig;
use super::genre::Genre;
use super::metadata::PieceMetadata;
use super::plan::{chord_slots, Plan};
use super::theory::{progression, PROGRESSION_COUNT};
use super::voice::{render, Note, Timbre};
use crate::audio::Audio;
use crate::error::Result;

/// A generated piece: peak-normalised mono audio and its ground truth.
#[derive(Debug, Clone, PartialEq)]
pub struct Piece {
    /// The audio (peak exactly 1).
    pub audio: Audio,
    /// What the audio contains.
    pub metadata: PieceMetadata,
}

/// Generates the piece of `seed`: the same seed and configuration always give bit-identical
/// audio and metadata.
pub fn generate(seed: u64, config: &SynthConfig) -> Result<Piece> {
    let score = Score::plan(seed, config)?;
    let audio = score.render(seed)?;
    Ok(Piece {
        audio,
        metadata: score.metadata,
    })
}

/// The ground truth of the piece of `seed` without rendering it (cheap); equal to
/// `generate(seed, config)?.metadata`.
pub fn describe(seed: u64, config: &SynthConfig) -> Result<PieceMetadata> {
    Ok(Score::plan(seed, config)?.metadata)
}

/// A planned piece: metadata and every note, before rendering.
struct Score {
    metadata: PieceMetadata,
    sample_rate: u32,
    len: usize,
    parts: Vec<(Timbre, Vec<Note>)>,
}

/// Draws `count` distinct items of `pool` in draw order.
fn draw_distinct(rng: &mut ChaCha8Rng, pool: &mut Vec<Timbre>, count: usize) -> Vec<Timbre> {
    (0..count.min(pool.len()))
        .map(|_| pool.remove(rng.random_range(0..pool.len())))
        .collect()
}

/// The instruments a piece draws: drums with probability 1/2, two to four instruments in all,
/// the first pitched one able to carry the harmony.
fn draw_instruments(rng: &mut ChaCha8Rng) -> Vec<Timbre> {
    let drums = rng.random_bool(0.5);
    let total: usize = rng.random_range(2..=4);
    let pitched = total - usize::from(drums);
    let mut harmonic = Timbre::HARMONIC.to_vec();
    let mut chosen = draw_distinct(rng, &mut harmonic, 1);
    harmonic.push(Timbre::Bass);
    chosen.extend(draw_distinct(rng, &mut harmonic, pitched - 1));
    if drums {
        chosen.push(Timbre::Drums);
    }
    chosen
}

impl Score {
    /// Draws everything about the piece of `seed` and arranges it into notes.
    fn plan(seed: u64, config: &SynthConfig) -> Result<Score> {
        config.validate()?;
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        // Everything is always drawn, in the same order, so that fixing one choice in the
        // configuration leaves the others as they would have been.
        let drawn_key = Key::all()[rng.random_range(0..24usize)];
        let (lo, hi) = config.tempo_range;
        let drawn_tempo = if lo.ceil() <= hi.floor() {
            f64::from(rng.random_range(lo.ceil() as u32..=hi.floor() as u32))
        } else {
            rng.random_range(lo..=hi)
        };
        let drawn_instruments = draw_instruments(&mut rng);
        let progression_index = rng.random_range(0..PROGRESSION_COUNT);

        let key = config.key.unwrap_or(drawn_key);
        let tempo_bpm = drawn_tempo;
        let mut instruments = config.instruments.clone().unwrap_or(drawn_instruments);
        instruments.sort();
        instruments.dedup();
        let genre = Genre::derive(&instruments, tempo_bpm);
        let progression = progression(key, progression_index);

        let sr = f64::from(config.sample_rate);
        let len = (config.duration * sr).round().max(1.0) as usize;
        let duration = len as f64 / sr;
        let beat = 60.0 / tempo_bpm;
        let beats: Vec<f64> = (0..)
            .map(|k| f64::from(k) * beat)
            .take_while(|&t| t < duration)
            .collect();
        let slots = chord_slots(key, &progression, tempo_bpm, duration);
        let plan = Plan {
            key,
            tempo_bpm,
            instruments,
            genre,
            progression,
            slots,
            beats,
            duration,
        };

        let drums = plan.instruments.contains(&Timbre::Drums);
        let arranger = Arranger {
            key,
            beat,
            sr,
            beats: &plan.beats,
            slots: &plan.slots,
            drums,
            has_bass: plan.instruments.contains(&Timbre::Bass),
            genre,
        };
        let mut parts: Vec<(Timbre, Vec<Note>)> = assign_roles(&plan.instruments)
            .into_iter()
            .map(|(instrument, role)| (instrument, arranger.part(instrument, role, &mut rng)))
            .collect();
        if drums {
            parts.push((Timbre::Drums, arranger.drums(&mut rng)));
        }
        let metadata = plan.metadata(seed, config.sample_rate);
        Ok(Score {
            metadata,
            sample_rate: config.sample_rate,
            len,
            parts,
        })
    }

    /// Renders every note, fades out the last 10 ms and peak-normalises.
    fn render(&self, seed: u64) -> Result<Audio> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        rng.set_stream(1);
        let mut samples = vec![0.0f32; self.len];
        for (instrument, notes) in &self.parts {
            for note in notes {
                render(*instrument, note, self.sample_rate, &mut rng, &mut samples);
            }
        }
        let fade = ((f64::from(self.sample_rate) * 0.01) as usize).min(self.len);
        for (i, s) in samples[self.len - fade..].iter_mut().enumerate() {
            *s *= 1.0 - i as f32 / fade as f32;
        }
        let mut audio = Audio::new(samples, self.sample_rate)?;
        audio.peak_normalise()?;
        Ok(audio)
    }
}
