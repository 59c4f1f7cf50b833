//! The ground truth of a generated piece, as it is written beside the audio.

use llark_music::{format_bpm, join_words, Beat, ChordSpan, Key, Mode};
use serde::{Deserialize, Serialize};

use super::genre::Genre;
use super::plan::Plan;
use super::theory::is_minor;
use super::voice::Timbre;

/// The ground truth of one generated piece, in the shape of the per-clip metadata LLark feeds
/// its instruction generator.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PieceMetadata {
    /// Clip identifier.
    pub id: String,
    /// The audio file name (`"<id>.wav"`).
    pub audio: String,
    /// Length in seconds.
    pub duration: f64,
    /// Sample rate in Hz.
    pub sample_rate: u32,
    /// The seed the piece was generated from.
    pub seed: u64,
    /// Tempo in beats per minute (a whole number with the default range).
    pub tempo_bpm: f64,
    /// Key, `"<Tonic> <major|minor>"` with madmom's spelling (`"F# minor"`, `"Eb major"`).
    pub key: String,
    /// The key's tonic (`"F#"`).
    pub tonic: String,
    /// The key's mode.
    pub mode: Mode,
    /// Always `"4/4"`.
    pub time_signature: String,
    /// Instruments, in vocabulary order.
    pub instruments: Vec<Timbre>,
    /// The chord progression as roman numerals (`"I-V-vi-IV"`), cycled over the piece; the
    /// last chord of the piece is always the tonic.
    pub progression: String,
    /// The chords, in time order, covering the whole piece, labelled in madmom/Harte
    /// shorthand with the key's spelling (`"A:min"`, `"Eb:maj"`); times rounded to the
    /// millisecond.
    pub chords: Vec<ChordSpan>,
    /// Every beat, with its position in the 4/4 bar (1 to 4); times rounded to the
    /// millisecond.
    pub downbeats: Vec<Beat>,
    /// One genre from the fixed vocabulary.
    pub genre: Vec<Genre>,
    /// Two tags: the tempo feel (`"slow"` below 90 BPM, `"mid-tempo"` up to 125, `"fast"`)
    /// and the mood (`"bright"` for major, `"melancholic"` for minor).
    pub tags: Vec<String>,
    /// One sentence built from the facts above.
    pub caption: String,
}

impl PieceMetadata {
    /// Renames the piece: sets `id` and the audio file name `"<id>.wav"`.
    pub fn set_id(&mut self, id: &str) {
        self.id = id.to_owned();
        self.audio = format!("{id}.wav");
    }

    /// The key as a [`Key`].
    pub fn parsed_key(&self) -> Option<Key> {
        Key::from_name(&self.key)
    }
}

/// Rounds seconds to the millisecond for the metadata.
fn millis(t: f64) -> f64 {
    (t * 1000.0).round() / 1000.0
}

impl Plan {
    /// The ground truth of the planned piece.
    pub(super) fn metadata(&self, seed: u64, sample_rate: u32) -> PieceMetadata {
        let Plan {
            key,
            tempo_bpm,
            ref instruments,
            genre,
            ref progression,
            ref slots,
            ref beats,
            duration,
        } = *self;
        let tempo_tag = if tempo_bpm < 90.0 {
            "slow"
        } else if tempo_bpm <= 125.0 {
            "mid-tempo"
        } else {
            "fast"
        };
        let mood = if is_minor(key) {
            "melancholic"
        } else {
            "bright"
        };
        let progression = progression
            .iter()
            .map(|d| d.numeral)
            .collect::<Vec<_>>()
            .join("-");
        let names: Vec<&str> = instruments.iter().map(|i| i.name()).collect();
        let caption = format!(
            "A {tempo_tag} {} piece in {key} at {} BPM, played on {}, built on a {progression} chord progression.",
            genre.name(),
            format_bpm(tempo_bpm).unwrap_or_else(|| tempo_bpm.to_string()),
            join_words(&names),
        );
        let id = format!("synth-{seed:016x}");
        PieceMetadata {
            audio: format!("{id}.wav"),
            id,
            duration,
            sample_rate,
            seed,
            tempo_bpm,
            key: key.name(),
            tonic: key.tonic_name().to_owned(),
            mode: key.mode(),
            time_signature: "4/4".to_owned(),
            instruments: instruments.to_vec(),
            progression,
            chords: slots
                .iter()
                .map(|s| ChordSpan {
                    start_time: millis(s.start),
                    end_time: millis(s.end),
                    chord: s.chord.label(key),
                })
                .collect(),
            downbeats: beats
                .iter()
                .enumerate()
                .map(|(k, &t)| Beat {
                    time: millis(t),
                    beat_number: (k % 4) as u32 + 1,
                })
                .collect(),
            genre: vec![genre],
            tags: vec![tempo_tag.to_owned(), mood.to_owned()],
            caption,
        }
    }
}
