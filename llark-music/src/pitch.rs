//! Pitch classes and their names.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Pitch-class names with sharps (index = pitch class, C = 0).
pub const SHARP_NAMES: [&str; 12] = [
    "C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B",
];
/// Pitch-class names with flats (index = pitch class, C = 0).
pub const FLAT_NAMES: [&str; 12] = [
    "C", "Db", "D", "Eb", "E", "F", "Gb", "G", "Ab", "A", "Bb", "B",
];

/// Whether black keys are named with sharps (`C#`) or flats (`Db`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Spelling {
    /// `C#`, `D#`, `F#`, `G#`, `A#`.
    Sharps,
    /// `Db`, `Eb`, `Gb`, `Ab`, `Bb`.
    Flats,
}

impl Spelling {
    /// The twelve names in this spelling (index = pitch class).
    pub fn names(self) -> &'static [&'static str; 12] {
        match self {
            Spelling::Sharps => &SHARP_NAMES,
            Spelling::Flats => &FLAT_NAMES,
        }
    }
}

/// A pitch class: semitones above C, 0 to 11. Enharmonic names (`C#`, `Db`) are one class.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize, Deserialize,
)]
#[serde(try_from = "u8", into = "u8")]
pub struct PitchClass(u8);

impl PitchClass {
    /// C.
    pub const C: PitchClass = PitchClass(0);

    /// The pitch class `semitones` above C, taken modulo 12.
    pub fn new(semitones: u8) -> Self {
        PitchClass(semitones % 12)
    }

    /// Semitones above C (0-11).
    pub fn index(self) -> u8 {
        self.0
    }

    /// The pitch class `semitones` above this one (negative: below), modulo 12.
    pub fn transpose(self, semitones: i32) -> Self {
        PitchClass((i32::from(self.0) + semitones).rem_euclid(12) as u8)
    }

    /// Semitones from `self` up to `other` (0-11).
    pub fn interval_to(self, other: PitchClass) -> u8 {
        (other.0 + 12 - self.0) % 12
    }

    /// The name in `spelling` (`"F#"` or `"Gb"`).
    pub fn name(self, spelling: Spelling) -> &'static str {
        spelling.names()[usize::from(self.0)]
    }

    /// Reads one of the 17 names of [`SHARP_NAMES`] and [`FLAT_NAMES`], case-sensitive, with
    /// the spelling it was written in (naturals read as [`Spelling::Flats`]). `Cb`, `Fb`,
    /// `E#` and `B#` are not read.
    pub fn from_name(name: &str) -> Option<(PitchClass, Spelling)> {
        if let Some(pc) = FLAT_NAMES.iter().position(|n| *n == name) {
            return Some((PitchClass(pc as u8), Spelling::Flats));
        }
        SHARP_NAMES
            .iter()
            .position(|n| *n == name)
            .map(|pc| (PitchClass(pc as u8), Spelling::Sharps))
    }

    /// A letter `A`-`G` (either case) and an accidental (`'#'`, `'b'` or none) as a pitch
    /// class; any letter may carry either accidental (`Cb` = B, `E#` = F).
    pub fn from_letter(letter: char, accidental: Option<Spelling>) -> Option<PitchClass> {
        let natural: i32 = match letter.to_ascii_uppercase() {
            'C' => 0,
            'D' => 2,
            'E' => 4,
            'F' => 5,
            'G' => 7,
            'A' => 9,
            'B' => 11,
            _ => return None,
        };
        let shift = match accidental {
            None => 0,
            Some(Spelling::Sharps) => 1,
            Some(Spelling::Flats) => -1,
        };
        Some(PitchClass::C.transpose(natural + shift))
    }
}

impl From<PitchClass> for u8 {
    fn from(pc: PitchClass) -> u8 {
        pc.0
    }
}

/// The index into a 12-entry table (C = 0).
impl From<PitchClass> for usize {
    fn from(pc: PitchClass) -> usize {
        usize::from(pc.0)
    }
}

impl TryFrom<u8> for PitchClass {
    type Error = String;

    fn try_from(value: u8) -> Result<Self, Self::Error> {
        if value < 12 {
            Ok(PitchClass(value))
        } else {
            Err(format!("pitch class {value} is not in 0..=11"))
        }
    }
}

/// Sharp spelling (`"F#"`); use [`PitchClass::name`] for another.
impl fmt::Display for PitchClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name(Spelling::Sharps))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_arithmetic() {
        assert_eq!(PitchClass::new(13), PitchClass::new(1));
        assert_eq!(PitchClass::new(1).name(Spelling::Sharps), "C#");
        assert_eq!(PitchClass::new(1).name(Spelling::Flats), "Db");
        assert_eq!(
            PitchClass::from_name("Gb"),
            Some((PitchClass::new(6), Spelling::Flats))
        );
        assert_eq!(
            PitchClass::from_name("A#"),
            Some((PitchClass::new(10), Spelling::Sharps))
        );
        assert_eq!(PitchClass::from_name("Cb"), None);
        assert_eq!(PitchClass::from_name("c"), None);
        assert_eq!(
            PitchClass::from_letter('c', Some(Spelling::Flats)),
            Some(PitchClass::new(11))
        );
        assert_eq!(PitchClass::from_letter('H', None), None);
        assert_eq!(PitchClass::new(2).transpose(-3), PitchClass::new(11));
        assert_eq!(PitchClass::new(9).interval_to(PitchClass::new(4)), 7);
        let json = serde_json::to_string(&PitchClass::new(7)).unwrap();
        assert_eq!(json, "7");
        assert!(serde_json::from_str::<PitchClass>("12").is_err());
    }
}
