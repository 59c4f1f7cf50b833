//! A seeded composer: short pieces with functional harmony, cadences and a modulating middle
//! section, voice-led accompaniment, a bass line and drums, in 2/4, 3/4, 4/4 or 6/8 at 40-208
//! tapped BPM, with dynamics, repeated sections and a final fermata, for one of a dozen
//! ensembles; every fact a question can ask about comes with the notes ([`CompositionFacts`]).
//!
//! ```
//! use llark_midi::compose::{compose, ComposeConfig};
//!
//! # fn main() -> Result<(), llark_midi::MidiError> {
//! let piece = compose(7, &ComposeConfig::default())?;
//! println!("{}", piece.facts.caption);
//! # Ok(())
//! # }
//! ```

mod ensemble;
mod facts;
mod harmony;
mod texture;

use llark_music::{Key, Mode};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

pub use facts::CompositionFacts;

use crate::error::{MidiError, Result};
use crate::performance::{Note, Performance, CHANNELS, DRUM_CHANNEL};
use ensemble::{draw_ensemble, Role};
use harmony::{phrase, related_key, Cadence};
use texture::{BeatNote, Metre, Slot};

/// The metres the composer writes in, as `(numerator, denominator)`.
pub const METRES: [(u8, u8); 4] = [(2, 4), (3, 4), (4, 4), (6, 8)];
/// The tapped tempi the composer accepts, in BPM.
pub const TEMPO_LIMITS: (f64, f64) = (40.0, 208.0);
/// The longest piece composed, in seconds.
pub const MAX_DURATION_SECONDS: f64 = 600.0;

/// What to compose. Defaults: 10 s, tempo drawn from 40-208 BPM (evenly in log tempo), key,
/// metre and ensemble drawn.
#[derive(Debug, Clone, PartialEq)]
pub struct ComposeConfig {
    /// Length in seconds.
    pub duration: f64,
    /// Inclusive range of the tapped tempo, in BPM, within [`TEMPO_LIMITS`].
    pub tempo_range: (f64, f64),
    /// A fixed key instead of a drawn one (major or minor).
    pub key: Option<Key>,
    /// A fixed metre from [`METRES`] instead of a drawn one.
    pub metre: Option<(u8, u8)>,
}

impl Default for ComposeConfig {
    fn default() -> Self {
        ComposeConfig {
            duration: 10.0,
            tempo_range: TEMPO_LIMITS,
            key: None,
            metre: None,
        }
    }
}

impl ComposeConfig {
    /// Checks every field, naming the one at fault.
    pub fn validate(&self) -> Result<()> {
        let invalid = |name, detail: String| Err(MidiError::InvalidArgument { name, detail });
        if !(self.duration.is_finite()
            && self.duration >= 1.0
            && self.duration <= MAX_DURATION_SECONDS)
        {
            return invalid(
                "duration",
                format!(
                    "{} s is not within [1, {MAX_DURATION_SECONDS}]",
                    self.duration
                ),
            );
        }
        let (lo, hi) = self.tempo_range;
        if !(lo.is_finite()
            && hi.is_finite()
            && TEMPO_LIMITS.0 <= lo
            && lo <= hi
            && hi <= TEMPO_LIMITS.1)
        {
            return invalid(
                "tempo_range",
                format!("({lo}, {hi}) is not an ordered range within {TEMPO_LIMITS:?} BPM"),
            );
        }
        if let Some(key) = self.key.filter(|k| k.mode() == Mode::Other) {
            return invalid("key", format!("{key} is neither major nor minor"));
        }
        if let Some(metre) = self.metre.filter(|m| !METRES.contains(m)) {
            return invalid(
                "metre",
                format!("{}/{} is not one of {METRES:?}", metre.0, metre.1),
            );
        }
        Ok(())
    }
}

/// A composed piece: the performance and its ground truth.
#[derive(Debug, Clone, PartialEq)]
pub struct Composition {
    /// The notes and programs.
    pub performance: Performance,
    /// Quarter notes per minute (what a MIDI file of the piece states).
    pub quarter_bpm: f64,
    /// What the piece is.
    pub facts: CompositionFacts,
}

/// Composes the piece of `seed`: the same seed and configuration always give the same piece.
pub fn compose(seed: u64, config: &ComposeConfig) -> Result<Composition> {
    config.validate()?;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    // Every choice is drawn in a fixed order, so fixing one leaves the others unchanged.
    let drawn_key = Key::all()[rng.random_range(0..24usize)];
    let drawn_metre = METRES[[2usize, 2, 1, 1, 0, 3, 3][rng.random_range(0..7usize)]];
    let (lo, hi) = config.tempo_range;
    let tempo_draw: f64 = rng.random_range(0.0..=1.0);
    let key = config.key.unwrap_or(drawn_key);
    let metre_sig = config.metre.unwrap_or(drawn_metre);
    let (lo, hi) = if metre_sig == (6, 8) {
        // Dotted-quarter beats above 140 BPM race the eighths; below 40 they drag.
        (lo.min(140.0), hi.min(140.0))
    } else {
        (lo, hi)
    };
    let tempo = (lo.ln() + tempo_draw * (hi.ln() - lo.ln()))
        .exp()
        .round()
        .clamp(lo.ceil().min(hi), hi);
    let metre = Metre {
        beats_per_bar: if metre_sig.1 == 8 {
            usize::from(metre_sig.0) / 3
        } else {
            usize::from(metre_sig.0)
        },
        subdivisions: if metre_sig.1 == 8 { 3 } else { 2 },
    };
    let ensemble = draw_ensemble(&mut rng, tempo);
    let beat_seconds = 60.0 / tempo;
    let total_beats = config.duration / beat_seconds;
    let bar_beats = metre.beats_per_bar as f64;
    // At least one beat is left after the last bar: the final chord's fermata.
    let bars = (((total_beats - 1.0) / bar_beats).floor() as usize).max(1);
    // Four-bar phrases, or two when the piece is short.
    let phrase_bars = if bars >= 8 { 4 } else { 2.min(bars) };
    let phrases = (bars / phrase_bars).max(1);
    let per_bar = if metre.beats_per_bar == 4 && rng.random_bool(0.4) {
        2
    } else {
        1
    };
    let levels = [48.0, 64.0, 80.0, 96.0];
    let home_level = levels[rng.random_range(0..levels.len())];
    let contrast_level = levels[rng.random_range(0..levels.len())];
    let crescendo = rng.random_range(-1i32..=1);

    // The form: A (antecedent, consequent), B in the related key and a return, then A again
    // (the same music: a repeated section), ... The last phrase always closes at home.
    let home_tonic = i32::from(key.tonic().index());
    let (away_tonic, away_mode) = related_key(home_tonic, key.mode());
    let mut slots: Vec<Slot> = Vec::new();
    let mut section_starts = vec![0.0];
    let mut a_section: Option<Vec<harmony::Chord>> = None;
    let mut modulated = false;
    let mut phrase_index = 0;
    while phrase_index < phrases {
        let position = phrase_index % 4;
        let last = phrase_index + 1 == phrases;
        // A phrase that ends the piece closes it; otherwise the A and return phrases ask.
        let closing = if last {
            Cadence::Authentic
        } else {
            Cadence::Half
        };
        let (tonic, mode, cadence, level) = match position {
            0 => (home_tonic, key.mode(), closing, home_level),
            1 => (home_tonic, key.mode(), Cadence::Authentic, home_level),
            2 if !last => (away_tonic, away_mode, Cadence::Authentic, contrast_level),
            _ => (home_tonic, key.mode(), closing, contrast_level),
        };
        if position == 2 && !last {
            modulated = true;
            section_starts.push(slots.last().map(|s| s.start + s.length).unwrap_or(0.0));
        }
        if position == 0 && phrase_index > 0 {
            section_starts.push(slots.last().map(|s| s.start + s.length).unwrap_or(0.0));
        }
        let chords = match (&a_section, position) {
            // The A section comes back as it was.
            (Some(chords), 0) if !last => chords.clone(),
            // The last phrase takes up the bars left over.
            _ => {
                let length = if last {
                    bars - phrase_bars * (phrases - 1)
                } else {
                    phrase_bars
                };
                phrase(tonic, mode, length, per_bar, cadence, &mut rng)
            }
        };
        if position == 0 && a_section.is_none() {
            a_section = Some(chords.clone());
        }
        let count = chords.len();
        let phrase_length = if last {
            bars - phrase_bars * (phrases - 1)
        } else {
            phrase_bars
        };
        let slot_beats = phrase_length as f64 * bar_beats / count as f64;
        for (k, chord) in chords.into_iter().enumerate() {
            let start = slots.last().map(|s| s.start + s.length).unwrap_or(0.0);
            let progress = k as f64 / count as f64;
            slots.push(Slot {
                start,
                length: slot_beats,
                chord,
                level: level + f64::from(crescendo) * 14.0 * progress,
                phrase_end: k + 1 == count,
            });
        }
        phrase_index += 1;
    }
    // The fermata: the final chord holds to the end.
    if let Some(last) = slots.last_mut() {
        last.length = (total_beats - last.start).max(0.5);
    }

    // Parts.
    let mut parts: Vec<(Option<u8>, Vec<BeatNote>)> = Vec::new();
    for spec in ensemble.parts {
        let program = (!spec.programs.is_empty())
            .then(|| spec.programs[rng.random_range(0..spec.programs.len())]);
        let notes = match spec.role {
            Role::Melody => texture::melody(&slots, metre, spec.range, &mut rng),
            Role::Harmony(t) => texture::harmony(&slots, t, metre, spec.range, &mut rng),
            Role::Bass => texture::bass(&slots, spec.range, ensemble.style == "jazz"),
            Role::Drums => texture::drums(
                &slots,
                metre,
                ensemble.style == "jazz",
                &section_starts,
                total_beats,
            ),
        };
        parts.push((
            if spec.role == Role::Drums {
                None
            } else {
                program
            },
            notes,
        ));
    }

    // Timing and channels: one channel per part, drums on channel 10.
    let mut programs = [None; CHANNELS];
    let mut notes = Vec::new();
    let mut channel = 0u8;
    for (program, part) in parts {
        let part_channel = match program {
            None => DRUM_CHANNEL,
            Some(_) => {
                let c = channel;
                channel += if channel + 1 == DRUM_CHANNEL { 2 } else { 1 };
                c
            }
        };
        if let Some(p) = program {
            programs[usize::from(part_channel)] = Some(p);
        }
        for n in part {
            let start = n.start * beat_seconds;
            let end = ((n.start + n.length) * beat_seconds).min(config.duration);
            if end > start + 1e-3 && start < config.duration {
                notes.push(Note {
                    channel: part_channel,
                    key: n.key.clamp(0, 127) as u8,
                    velocity: n.velocity.round().clamp(1.0, 127.0) as u8,
                    start,
                    end,
                });
            }
        }
    }
    let performance = Performance {
        notes,
        programs,
        duration: config.duration,
    };
    performance.validate()?;
    let quarter_bpm = if metre.subdivisions == 3 {
        tempo * 1.5
    } else {
        tempo
    };
    let facts = CompositionFacts::describe(facts::Description {
        key,
        tempo,
        metre: metre_sig,
        style: ensemble.style,
        instruments: performance.instruments(),
        slots: &slots,
        beat_seconds,
        beats_per_bar: metre.beats_per_bar,
        duration: config.duration,
        modulation: modulated.then(|| Key::new(away_tonic as u8, away_mode)),
        levels: (home_level, contrast_level, crescendo),
    });
    Ok(Composition {
        performance,
        quarter_bpm,
        facts,
    })
}

#[cfg(test)]
mod tests;
