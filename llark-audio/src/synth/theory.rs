//! Scales and diatonic chords over the keys of [`llark_music`], with the key's spelling.
//!
//! Keys and their names (madmom's spelling, the one LLark's training answers use) come from
//! [`llark_music::Key`]. Chord roots follow the key's spelling, so `Bb major` has the chord
//! `Eb:maj` and `D# minor` has `A#:maj`. The synthesiser plays major and minor keys only
//! ([`SynthConfig::validate`](super::SynthConfig::validate) rejects mir_eval's `other`).

use llark_music::{Key, Mode, PitchClass};

/// Semitone offsets of the major scale.
const MAJOR_SCALE: [u8; 7] = [0, 2, 4, 5, 7, 9, 11];
/// Semitone offsets of the natural minor scale.
const NATURAL_MINOR_SCALE: [u8; 7] = [0, 2, 3, 5, 7, 8, 10];
/// Semitone offsets of the harmonic minor scale (raised seventh).
const HARMONIC_MINOR_SCALE: [u8; 7] = [0, 2, 3, 5, 7, 8, 11];

/// Whether the synthesiser treats `key` as minor (anything else is played as major).
pub(crate) fn is_minor(key: Key) -> bool {
    key.mode() == Mode::Minor
}

/// Semitone offsets of the key's scale: major, or natural minor.
pub(crate) fn scale(key: Key) -> &'static [u8; 7] {
    if is_minor(key) {
        &NATURAL_MINOR_SCALE
    } else {
        &MAJOR_SCALE
    }
}

/// The scale a melody uses over `chord`: the key's scale, except harmonic minor over the
/// major dominant of a minor key (so the melody agrees with the chord's raised seventh).
pub(crate) fn scale_over(key: Key, chord: Chord) -> &'static [u8; 7] {
    if is_minor(key)
        && chord.quality == Quality::Major
        && chord.root == key.tonic().transpose(7).index()
    {
        &HARMONIC_MINOR_SCALE
    } else {
        scale(key)
    }
}

/// The quality of a triad.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Quality {
    /// Major third.
    Major,
    /// Minor third.
    Minor,
}

/// A triad: root pitch class and quality.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Chord {
    /// Root pitch class (C = 0).
    pub root: u8,
    /// Major or minor triad.
    pub quality: Quality,
}

impl Chord {
    /// Pitch classes of root, third and fifth.
    pub fn pitch_classes(self) -> [u8; 3] {
        let third = match self.quality {
            Quality::Major => 4,
            Quality::Minor => 3,
        };
        [self.root, (self.root + third) % 12, (self.root + 7) % 12]
    }

    /// The chord label in madmom/Harte shorthand with the key's spelling (`"A:min"`, `"Eb:maj"`).
    pub fn label(self, key: Key) -> String {
        let quality = match self.quality {
            Quality::Major => "maj",
            Quality::Minor => "min",
        };
        format!("{}:{quality}", key.spell(PitchClass::new(self.root)))
    }
}

/// A diatonic chord of a key: the root's distance from the tonic, the quality and its roman
/// numeral.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Degree {
    semitones: u8,
    quality: Quality,
    /// Roman numeral (upper case = major, lower case = minor).
    pub numeral: &'static str,
}

impl Degree {
    /// The chord on this degree of `key`.
    pub(crate) fn chord_in(self, key: Key) -> Chord {
        Chord {
            root: key.tonic().transpose(i32::from(self.semitones)).index(),
            quality: self.quality,
        }
    }
}

const fn degree(semitones: u8, quality: Quality, numeral: &'static str) -> Degree {
    Degree {
        semitones,
        quality,
        numeral,
    }
}

const I: Degree = degree(0, Quality::Major, "I");
const II_MIN: Degree = degree(2, Quality::Minor, "ii");
const IV: Degree = degree(5, Quality::Major, "IV");
const V: Degree = degree(7, Quality::Major, "V");
const VI_MIN: Degree = degree(9, Quality::Minor, "vi");
const I_MIN: Degree = degree(0, Quality::Minor, "i");
const IV_MIN: Degree = degree(5, Quality::Minor, "iv");
const VI: Degree = degree(8, Quality::Major, "VI");
const VII: Degree = degree(10, Quality::Major, "VII");

/// Four-chord progressions of major keys, each starting on the tonic.
const MAJOR_PROGRESSIONS: [[Degree; 4]; 5] = [
    [I, V, VI_MIN, IV],
    [I, IV, V, IV],
    [I, VI_MIN, IV, V],
    [I, IV, I, V],
    [I, II_MIN, V, I],
];

/// Four-chord progressions of minor keys (natural minor, with the harmonic-minor major
/// dominant `V`), each starting on the tonic.
const MINOR_PROGRESSIONS: [[Degree; 4]; 5] = [
    [I_MIN, IV_MIN, V, I_MIN],
    [I_MIN, VI, IV_MIN, V],
    [I_MIN, VII, VI, V],
    [I_MIN, IV_MIN, I_MIN, V],
    [I_MIN, VI, VII, I_MIN],
];

/// How many progressions each mode offers.
pub(crate) const PROGRESSION_COUNT: usize = MAJOR_PROGRESSIONS.len();

/// Progression `index` (below [`PROGRESSION_COUNT`]; wraps) of `key`'s mode.
pub(crate) fn progression(key: Key, index: usize) -> [Degree; 4] {
    let list = if is_minor(key) {
        &MINOR_PROGRESSIONS
    } else {
        &MAJOR_PROGRESSIONS
    };
    list[index % list.len()]
}

/// The tonic chord's degree in `key`'s mode.
pub(crate) fn tonic_degree(key: Key) -> Degree {
    if is_minor(key) {
        I_MIN
    } else {
        I
    }
}

/// Frequency in Hz of MIDI note `midi` (A4 = 69 = 440 Hz, equal temperament).
pub(crate) fn midi_to_hz(midi: f64) -> f64 {
    440.0 * 2f64.powf((midi - 69.0) / 12.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chord_labels_follow_the_key() {
        let bb = Key::new(10, Mode::Major);
        assert_eq!(IV.chord_in(bb).label(bb), "Eb:maj");
        let d_sharp_minor = Key::new(3, Mode::Minor);
        assert_eq!(V.chord_in(d_sharp_minor).label(d_sharp_minor), "A#:maj");
        let a_minor = Key::new(9, Mode::Minor);
        assert_eq!(I_MIN.chord_in(a_minor).pitch_classes(), [9, 0, 4]);
        assert_eq!(
            scale_over(a_minor, V.chord_in(a_minor))[6],
            11,
            "G# over E:maj"
        );
        assert_eq!(
            scale_over(a_minor, VI.chord_in(a_minor))[6],
            10,
            "G over F:maj"
        );
        assert_eq!(progression(a_minor, 0)[0], I_MIN);
        assert_eq!(tonic_degree(bb), I);
    }
}
