//! Keys, scales and diatonic chords, with the spellings used in labels.
//!
//! Key names are madmom's (`key_prediction_to_label`), the spellings LLark's training answers
//! use: `C, Db, D, Eb, E, F, F#, G, Ab, A, Bb, B major` and `C, C#, D, D#, E, F, F#, G, G#, A,
//! Bb, B minor`. The rule behind them: a key whose relative major is F, Bb, Eb, Ab or Db is
//! spelled with flats, every other key with sharps. Chord roots follow the same rule as their
//! key, so `Bb major` has the chord `Eb:maj` and `D# minor` has `A#:maj`.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Pitch-class names with sharps (index = pitch class, C = 0).
const SHARP_NAMES: [&str; 12] = [
    "C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B",
];
/// Pitch-class names with flats (index = pitch class, C = 0).
const FLAT_NAMES: [&str; 12] = [
    "C", "Db", "D", "Eb", "E", "F", "Gb", "G", "Ab", "A", "Bb", "B",
];

/// Semitone offsets of the major scale.
const MAJOR_SCALE: [u8; 7] = [0, 2, 4, 5, 7, 9, 11];
/// Semitone offsets of the natural minor scale.
const NATURAL_MINOR_SCALE: [u8; 7] = [0, 2, 3, 5, 7, 8, 10];
/// Semitone offsets of the harmonic minor scale (raised seventh).
const HARMONIC_MINOR_SCALE: [u8; 7] = [0, 2, 3, 5, 7, 8, 11];

/// Major or minor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Major.
    Major,
    /// Minor.
    Minor,
}

impl Mode {
    /// `"major"` or `"minor"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Major => "major",
            Mode::Minor => "minor",
        }
    }
}

/// A key: a tonic pitch class (C = 0 ... B = 11) and a mode.
///
/// Displayed as `"<Tonic> <major|minor>"` with madmom's spelling (`"F# minor"`, `"Eb major"`),
/// the form LLark's key parsing reads back from an answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Key {
    tonic: u8,
    mode: Mode,
}

impl Key {
    /// The key on pitch class `tonic` (taken modulo 12; C = 0).
    pub fn new(tonic: u8, mode: Mode) -> Self {
        Key {
            tonic: tonic % 12,
            mode,
        }
    }

    /// All 24 keys: C major ... B major, then C minor ... B minor.
    pub fn all() -> [Key; 24] {
        std::array::from_fn(|i| {
            let mode = if i < 12 { Mode::Major } else { Mode::Minor };
            Key::new((i % 12) as u8, mode)
        })
    }

    /// Reads a key name as [`Key::name`] writes it (`"F# minor"`); either spelling of a tonic
    /// is accepted (`"Gb major"` = `"F# major"`).
    pub fn parse(name: &str) -> Option<Key> {
        let mut parts = name.split_whitespace();
        let (tonic, mode) = (parts.next()?, parts.next()?);
        if parts.next().is_some() {
            return None;
        }
        let mode = match mode {
            "major" => Mode::Major,
            "minor" => Mode::Minor,
            _ => return None,
        };
        let pc = SHARP_NAMES
            .iter()
            .position(|n| *n == tonic)
            .or_else(|| FLAT_NAMES.iter().position(|n| *n == tonic))?;
        Some(Key::new(pc as u8, mode))
    }

    /// The tonic's pitch class (C = 0).
    pub fn tonic(self) -> u8 {
        self.tonic
    }

    /// The mode.
    pub fn mode(self) -> Mode {
        self.mode
    }

    /// True when the key is spelled with flats (its relative major is F, Bb, Eb, Ab or Db).
    fn uses_flats(self) -> bool {
        let relative_major = match self.mode {
            Mode::Major => self.tonic,
            Mode::Minor => (self.tonic + 3) % 12,
        };
        matches!(relative_major, 1 | 3 | 5 | 8 | 10)
    }

    /// The name of pitch class `pc` in this key's spelling.
    pub fn spell(self, pc: u8) -> &'static str {
        let names = if self.uses_flats() {
            &FLAT_NAMES
        } else {
            &SHARP_NAMES
        };
        names[usize::from(pc % 12)]
    }

    /// The tonic's name (`"F#"`, `"Bb"`).
    pub fn tonic_name(self) -> &'static str {
        self.spell(self.tonic)
    }

    /// `"<Tonic> <mode>"`, e.g. `"F# minor"`.
    pub fn name(self) -> String {
        format!("{} {}", self.tonic_name(), self.mode.as_str())
    }

    /// Semitone offsets of the key's scale: major, or natural minor.
    pub(crate) fn scale(self) -> &'static [u8; 7] {
        match self.mode {
            Mode::Major => &MAJOR_SCALE,
            Mode::Minor => &NATURAL_MINOR_SCALE,
        }
    }

    /// The scale a melody uses over `chord`: the key's scale, except harmonic minor over the
    /// major dominant of a minor key (so the melody agrees with the chord's raised seventh).
    pub(crate) fn scale_over(self, chord: Chord) -> &'static [u8; 7] {
        if self.mode == Mode::Minor
            && chord.quality == Mode::Major
            && chord.root == (self.tonic + 7) % 12
        {
            &HARMONIC_MINOR_SCALE
        } else {
            self.scale()
        }
    }

    /// The chord on `degree` of this key.
    pub(crate) fn chord(self, degree: Degree) -> Chord {
        Chord {
            root: (self.tonic + degree.semitones) % 12,
            quality: degree.quality,
        }
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.tonic_name(), self.mode.as_str())
    }
}

/// A triad: root pitch class and quality (major or minor).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Chord {
    /// Root pitch class (C = 0).
    pub root: u8,
    /// Major or minor triad.
    pub quality: Mode,
}

impl Chord {
    /// Pitch classes of root, third and fifth.
    pub fn pitch_classes(self) -> [u8; 3] {
        let third = match self.quality {
            Mode::Major => 4,
            Mode::Minor => 3,
        };
        [self.root, (self.root + third) % 12, (self.root + 7) % 12]
    }

    /// The chord label in madmom/Harte shorthand with the key's spelling (`"A:min"`, `"Eb:maj"`).
    pub fn label(self, key: Key) -> String {
        let quality = match self.quality {
            Mode::Major => "maj",
            Mode::Minor => "min",
        };
        format!("{}:{quality}", key.spell(self.root))
    }
}

/// A diatonic chord of a key: the root's distance from the tonic, the quality and its roman
/// numeral.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Degree {
    semitones: u8,
    quality: Mode,
    /// Roman numeral (upper case = major, lower case = minor).
    pub numeral: &'static str,
}

const fn degree(semitones: u8, quality: Mode, numeral: &'static str) -> Degree {
    Degree {
        semitones,
        quality,
        numeral,
    }
}

const I: Degree = degree(0, Mode::Major, "I");
const II_MIN: Degree = degree(2, Mode::Minor, "ii");
const IV: Degree = degree(5, Mode::Major, "IV");
const V: Degree = degree(7, Mode::Major, "V");
const VI_MIN: Degree = degree(9, Mode::Minor, "vi");
const I_MIN: Degree = degree(0, Mode::Minor, "i");
const IV_MIN: Degree = degree(5, Mode::Minor, "iv");
const VI: Degree = degree(8, Mode::Major, "VI");
const VII: Degree = degree(10, Mode::Major, "VII");

/// Four-chord progressions of major keys, each starting on the tonic.
pub(crate) const MAJOR_PROGRESSIONS: [[Degree; 4]; 5] = [
    [I, V, VI_MIN, IV],
    [I, IV, V, IV],
    [I, VI_MIN, IV, V],
    [I, IV, I, V],
    [I, II_MIN, V, I],
];

/// Four-chord progressions of minor keys (natural minor, with the harmonic-minor major
/// dominant `V`), each starting on the tonic.
pub(crate) const MINOR_PROGRESSIONS: [[Degree; 4]; 5] = [
    [I_MIN, IV_MIN, V, I_MIN],
    [I_MIN, VI, IV_MIN, V],
    [I_MIN, VII, VI, V],
    [I_MIN, IV_MIN, I_MIN, V],
    [I_MIN, VI, VII, I_MIN],
];

/// The tonic chord's degree in `mode`.
pub(crate) fn tonic_degree(mode: Mode) -> Degree {
    match mode {
        Mode::Major => I,
        Mode::Minor => I_MIN,
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
    fn spellings_are_madmoms() {
        let majors: Vec<String> = (0..12).map(|t| Key::new(t, Mode::Major).name()).collect();
        let minors: Vec<String> = (0..12).map(|t| Key::new(t, Mode::Minor).name()).collect();
        let expect_major = "C Db D Eb E F F# G Ab A Bb B";
        let expect_minor = "C C# D D# E F F# G G# A Bb B";
        let tonics = |v: &[String]| {
            v.iter()
                .map(|k| k.split(' ').next().unwrap_or_default().to_owned())
                .collect::<Vec<_>>()
                .join(" ")
        };
        assert_eq!(tonics(&majors), expect_major);
        assert_eq!(tonics(&minors), expect_minor);
        for key in Key::all() {
            assert_eq!(Key::parse(&key.name()), Some(key));
        }
        assert_eq!(
            Key::parse("Gb major"),
            Some(Key::new(6, Mode::Major)),
            "enharmonic spelling"
        );
        assert_eq!(Key::parse("H major"), None);
        assert_eq!(Key::parse("C Major"), None);
    }

    #[test]
    fn chord_labels_follow_the_key() {
        let bb = Key::new(10, Mode::Major);
        assert_eq!(bb.chord(IV).label(bb), "Eb:maj");
        let d_sharp_minor = Key::new(3, Mode::Minor);
        assert_eq!(d_sharp_minor.chord(V).label(d_sharp_minor), "A#:maj");
        let a_minor = Key::new(9, Mode::Minor);
        assert_eq!(a_minor.chord(I_MIN).pitch_classes(), [9, 0, 4]);
        assert_eq!(a_minor.scale_over(a_minor.chord(V))[6], 11, "G# over E:maj");
        assert_eq!(a_minor.scale_over(a_minor.chord(VI))[6], 10, "G over F:maj");
    }
}
