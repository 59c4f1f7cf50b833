//! The ground truth of a composed piece, in the words answers use.

use llark_music::{format_bpm, join_words, pace_word, Beat, ChordSpan, Instrument, Key};
use serde::{Deserialize, Serialize};

use super::texture::Slot;

/// What a composed piece is: every fact a question may ask about.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CompositionFacts {
    /// The home key, `"<Tonic> <major|minor>"` with madmom's spelling.
    pub key: String,
    /// The tapped tempo in BPM: quarter notes in 2/4, 3/4 and 4/4, dotted quarters in 6/8.
    pub tempo_bpm: f64,
    /// The time signature (`"6/8"`).
    pub time_signature: String,
    /// The instruments heard, in vocabulary order.
    pub instruments: Vec<Instrument>,
    /// Their families, in vocabulary order, without duplicates.
    pub families: Vec<String>,
    /// The style word of the ensemble (`"chamber"`, `"jazz"`).
    pub style: String,
    /// How loud it is and how that changes (`"soft"`, `"loud, growing louder"`).
    pub dynamics: String,
    /// The key of the contrasting middle section, when the piece reaches it.
    pub modulates_to: Option<String>,
    /// The chords in time order, in Harte shorthand spelled in the home key.
    pub chords: Vec<ChordSpan>,
    /// Every beat with its position in the bar, from 1.
    pub beats: Vec<Beat>,
    /// Length in seconds.
    pub duration: f64,
    /// One sentence combining the facts.
    pub caption: String,
}

/// Everything [`CompositionFacts::describe`] needs from the composer.
pub(super) struct Description<'a> {
    pub key: Key,
    pub tempo: f64,
    pub metre: (u8, u8),
    pub style: &'static str,
    pub instruments: Vec<Instrument>,
    pub slots: &'a [Slot],
    pub beat_seconds: f64,
    pub beats_per_bar: usize,
    pub duration: f64,
    pub modulation: Option<Key>,
    /// The home and contrasting loudness (as velocities) and the phrase hairpin (-1, 0, 1).
    pub levels: (f64, f64, i32),
}

fn millis(t: f64) -> f64 {
    (t * 1000.0).round() / 1000.0
}

fn loudness(velocity: f64) -> &'static str {
    if velocity < 56.0 {
        "soft"
    } else if velocity < 72.0 {
        "moderately soft"
    } else if velocity < 88.0 {
        "moderately loud"
    } else {
        "loud"
    }
}

impl CompositionFacts {
    pub(super) fn describe(d: Description<'_>) -> CompositionFacts {
        let (home, contrast, hairpin) = d.levels;
        let mut dynamics = loudness(home).to_owned();
        if d.modulation.is_some() && loudness(contrast) != loudness(home) {
            dynamics = format!("{dynamics}, then {}", loudness(contrast));
        }
        match hairpin {
            1 => dynamics.push_str(", swelling towards each cadence"),
            -1 => dynamics.push_str(", fading towards each cadence"),
            _ => {}
        }
        let mut families: Vec<String> = d
            .instruments
            .iter()
            .map(|i| i.family().name().to_owned())
            .collect();
        families.sort();
        families.dedup();
        let names: Vec<&str> = d.instruments.iter().map(|i| i.name()).collect();
        let bpm = format_bpm(d.tempo).unwrap_or_else(|| d.tempo.to_string());
        let time_signature = format!("{}/{}", d.metre.0, d.metre.1);
        let mut caption = format!(
            "A {} {} piece in {} and {time_signature} time at {bpm} BPM, played on {}; {dynamics}",
            pace_word(d.tempo),
            d.style,
            d.key,
            join_words(&names),
        );
        if let Some(away) = d.modulation {
            caption.push_str(&format!(", with a middle section in {away}"));
        }
        caption.push_str(", ending on a held chord.");
        let chords = d
            .slots
            .iter()
            .map(|s| ChordSpan {
                start_time: millis(s.start * d.beat_seconds),
                end_time: millis(((s.start + s.length) * d.beat_seconds).min(d.duration)),
                chord: s.chord.label(d.key),
            })
            .collect();
        let beats = (0..)
            .map(|k| (k, f64::from(k) * d.beat_seconds))
            .take_while(|&(_, t)| t < d.duration)
            .map(|(k, t)| Beat {
                time: millis(t),
                beat_number: (k as usize % d.beats_per_bar) as u32 + 1,
            })
            .collect();
        CompositionFacts {
            key: d.key.name(),
            tempo_bpm: d.tempo,
            time_signature,
            instruments: d.instruments,
            families,
            style: d.style.to_owned(),
            dynamics,
            modulates_to: d.modulation.map(|k| k.name()),
            chords,
            beats,
            duration: d.duration,
            caption,
        }
    }
}
