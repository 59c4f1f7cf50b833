//! Everything drawn about a piece before its arrangement: key, tempo, instruments, style,
//! the chords over time and the beats.

use super::genre::Genre;
use super::theory::{tonic_degree, Chord, Degree};
use super::voice::Timbre;
use llark_music::Key;

/// One chord of the arrangement, in seconds.
#[derive(Debug, Clone, Copy)]
pub(super) struct Slot {
    pub start: f64,
    pub end: f64,
    pub chord: Chord,
}

/// Everything drawn about a piece, before the arrangement into notes.
pub(super) struct Plan {
    pub key: Key,
    pub tempo_bpm: f64,
    /// In vocabulary order, without duplicates.
    pub instruments: Vec<Timbre>,
    pub genre: Genre,
    pub progression: [Degree; 4],
    pub slots: Vec<Slot>,
    /// Beat times in seconds.
    pub beats: Vec<f64>,
    /// Seconds.
    pub duration: f64,
}

/// The chords over time: two beats per chord below 90 BPM, a bar (four beats) otherwise; the
/// progression cycles, and the last chord (which runs to the end) is the tonic.
pub(super) fn chord_slots(
    key: Key,
    progression: &[Degree; 4],
    tempo_bpm: f64,
    duration: f64,
) -> Vec<Slot> {
    let beats_per_chord = if tempo_bpm < 90.0 { 2.0 } else { 4.0 };
    let slot_seconds = beats_per_chord * 60.0 / tempo_bpm;
    let count = ((duration / slot_seconds).floor() as usize).max(1);
    (0..count)
        .map(|k| {
            let degree = if k + 1 == count {
                tonic_degree(key)
            } else {
                progression[k % progression.len()]
            };
            Slot {
                start: k as f64 * slot_seconds,
                end: if k + 1 == count {
                    duration
                } else {
                    (k + 1) as f64 * slot_seconds
                },
                chord: degree.chord_in(key),
            }
        })
        .collect()
}
