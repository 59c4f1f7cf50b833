//! Modes and keys, with madmom's spelling, a lenient reader for metadata labels and
//! mir_eval's (GiantSteps) spelling.
//!
//! madmom's spelling (`key_prediction_to_label`), the one LLark's training answers use:
//! `C, Db, D, Eb, E, F, F#, G, Ab, A, Bb, B major` and `C, C#, D, D#, E, F, F#, G, G#, A, Bb, B
//! minor`. The rule behind it: a key whose relative major is F, Bb, Eb, Ab or Db is spelled
//! with flats, every other key with sharps. mir_eval's GiantSteps labels spell every tonic
//! with flats. Strict mir_eval validation is [`KeyLabel`](crate::KeyLabel).

use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::pitch::{PitchClass, Spelling};

/// The mode of a key. Metadata, answers and the synthesiser use major and minor; mir_eval
/// 0.8 also has `other` (a mode that is neither).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// `major`
    Major,
    /// `minor`
    Minor,
    /// `other` (mir_eval: neither major nor minor).
    Other,
}

impl Mode {
    /// `"major"`, `"minor"` or `"other"`, as labels write it.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Major => "major",
            Mode::Minor => "minor",
            Mode::Other => "other",
        }
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A key: a tonic pitch class, a mode, and the spelling its names are written in.
///
/// Equality, ordering and hashing look at the tonic's pitch class and the mode only, so
/// enharmonic spellings are one key (`Gb major == F# major`). Displayed as
/// `"<Tonic> <mode>"` in the key's own spelling ([`Key::name`]); [`Key::new`] picks madmom's
/// spelling, [`Key::parse`] keeps the one written.
#[derive(Debug, Clone, Copy)]
pub struct Key {
    tonic: PitchClass,
    mode: Mode,
    spelling: Spelling,
}

impl PartialEq for Key {
    fn eq(&self, other: &Self) -> bool {
        (self.tonic, self.mode) == (other.tonic, other.mode)
    }
}

impl Eq for Key {}

impl Hash for Key {
    fn hash<H: Hasher>(&self, state: &mut H) {
        (self.tonic, self.mode).hash(state);
    }
}

impl PartialOrd for Key {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Key {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.tonic, self.mode).cmp(&(other.tonic, other.mode))
    }
}

/// madmom's spelling of the key on `tonic` in `mode`: flats when the relative major is F, Bb,
/// Eb, Ab or Db, else sharps (`other` counts as major).
pub fn madmom_spelling(tonic: PitchClass, mode: Mode) -> Spelling {
    let relative_major = match mode {
        Mode::Minor => tonic.transpose(3),
        Mode::Major | Mode::Other => tonic,
    };
    if matches!(relative_major.index(), 1 | 3 | 5 | 8 | 10) {
        Spelling::Flats
    } else {
        Spelling::Sharps
    }
}

impl Key {
    /// The key on pitch class `tonic` (taken modulo 12; C = 0) in madmom's spelling.
    pub fn new(tonic: u8, mode: Mode) -> Self {
        let tonic = PitchClass::new(tonic);
        Key::with_spelling(tonic, mode, madmom_spelling(tonic, mode))
    }

    /// The key on `tonic` written in `spelling`.
    pub fn with_spelling(tonic: PitchClass, mode: Mode, spelling: Spelling) -> Self {
        Key {
            tonic,
            mode,
            spelling,
        }
    }

    /// All 24 major and minor keys in madmom's spelling: C major ... B major, then C minor ...
    /// B minor.
    pub fn all() -> [Key; 24] {
        std::array::from_fn(|i| {
            let mode = if i < 12 { Mode::Major } else { Mode::Minor };
            Key::new((i % 12) as u8, mode)
        })
    }

    /// Reads a key (or major/minor triad) label as metadata writes it, leniently: `"A minor"`,
    /// `"a minor"`, `"A:min"`, `"Amin"`, `"Am"`, `"Aminor"`, `"F sharp major"`,
    /// `"E-flat minor"`, `"G♯ minor"`, `"C:maj"`. The tonic keeps the accidental written (a
    /// natural tonic gets madmom's spelling); `Cb`, `Fb`, `E#`, `B#` are read as B, E, F, C.
    /// A bare tonic, other chord qualities and double accidentals give `None`.
    pub fn parse(label: &str) -> Option<Key> {
        let mut s = label
            .trim()
            .to_lowercase()
            .replace('♯', "#")
            .replace('♭', "b");
        for (from, to) in [
            ("-sharp", "#"),
            (" sharp", "#"),
            ("sharp", "#"),
            ("-flat", "b"),
            (" flat", "b"),
        ] {
            s = s.replace(from, to);
        }
        let compact: String = s
            .chars()
            .filter(|c| !c.is_whitespace() && *c != ':')
            .collect();
        let mut chars = compact.chars();
        let letter = chars.next().filter(|c| ('a'..='g').contains(c))?;
        let rest: String = chars.collect();
        let (accidental, quality) = match rest.chars().next() {
            Some('#') => (Some(Spelling::Sharps), &rest[1..]),
            // `b` is a flat unless it is the whole quality (never: qualities start with `m`).
            Some('b') => (Some(Spelling::Flats), &rest[1..]),
            _ => (None, rest.as_str()),
        };
        let mode = match quality {
            "major" | "maj" => Mode::Major,
            "minor" | "min" | "m" => Mode::Minor,
            _ => return None,
        };
        let tonic = PitchClass::from_letter(letter, accidental)?;
        let spelling = accidental.unwrap_or_else(|| madmom_spelling(tonic, mode));
        Some(Key::with_spelling(tonic, mode, spelling))
    }

    /// Reads a name exactly as [`Key::name`] writes it (`"F# minor"`, `"Gb major"`: either
    /// spelling of the tonic, one space, lower-case `major`/`minor`); anything else is `None`.
    pub fn from_name(name: &str) -> Option<Key> {
        Key::parse(name).filter(|key| key.name() == name)
    }

    /// The tonic's pitch class.
    pub fn tonic(self) -> PitchClass {
        self.tonic
    }

    /// The mode.
    pub fn mode(self) -> Mode {
        self.mode
    }

    /// The spelling the key's names are written in.
    pub fn spelling(self) -> Spelling {
        self.spelling
    }

    /// The same key in madmom's spelling (`D# minor`, not `Eb minor`).
    pub fn madmom(self) -> Key {
        Key::new(self.tonic.index(), self.mode)
    }

    /// The name of pitch class `pc` in this key's spelling (chord roots, scale notes).
    pub fn spell(self, pc: PitchClass) -> &'static str {
        pc.name(self.spelling)
    }

    /// The tonic's name in the key's spelling (`"F#"`, `"Bb"`).
    pub fn tonic_name(self) -> &'static str {
        self.spell(self.tonic)
    }

    /// `"<Tonic> <mode>"` in the key's spelling, e.g. `"F# minor"` (also the `Display`).
    pub fn name(self) -> String {
        format!("{} {}", self.tonic_name(), self.mode.as_str())
    }

    /// The name as mir_eval's GiantSteps labels write it: flat tonic (`"Gb minor"`).
    pub fn mir_eval_name(self) -> String {
        format!(
            "{} {}",
            self.tonic.name(Spelling::Flats),
            self.mode.as_str()
        )
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.tonic_name(), self.mode.as_str())
    }
}

/// Serialised as its name (`"F# minor"`).
impl Serialize for Key {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.name())
    }
}

/// Read with [`Key::parse`] (any spelling it accepts).
impl<'de> Deserialize<'de> for Key {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let label = String::deserialize(deserializer)?;
        Key::parse(&label)
            .ok_or_else(|| serde::de::Error::custom(format!("not a key label: {label:?}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spellings_are_madmoms() {
        let tonics = |mode| {
            (0..12)
                .map(|t| Key::new(t, mode).tonic_name())
                .collect::<Vec<_>>()
                .join(" ")
        };
        assert_eq!(tonics(Mode::Major), "C Db D Eb E F F# G Ab A Bb B");
        assert_eq!(tonics(Mode::Minor), "C C# D D# E F F# G G# A Bb B");
        for key in Key::all() {
            assert_eq!(Key::from_name(&key.name()), Some(key));
            assert_eq!(Key::parse(&key.to_string()).unwrap().name(), key.name());
        }
        assert_eq!(Key::new(10, Mode::Major).spell(PitchClass::new(3)), "Eb");
        assert_eq!(Key::new(3, Mode::Minor).spell(PitchClass::new(10)), "A#");
    }

    #[test]
    fn from_name_reads_only_what_name_writes() {
        assert_eq!(Key::from_name("Gb major"), Some(Key::new(6, Mode::Major)));
        assert_eq!(Key::from_name("Gb major").unwrap().name(), "Gb major");
        assert_eq!(Key::from_name("H major"), None);
        assert_eq!(Key::from_name("C Major"), None);
        assert_eq!(Key::from_name("A:min"), None);
    }

    #[test]
    fn metadata_labels_in_many_spellings() {
        for (label, want) in [
            ("A minor", "A minor"),
            ("a minor", "A minor"),
            ("A:min", "A minor"),
            ("Amin", "A minor"),
            ("Am", "A minor"),
            ("Aminor", "A minor"),
            ("F sharp major", "F# major"),
            ("E-flat minor", "Eb minor"),
            ("G♯ minor", "G# minor"),
            ("Bb:maj", "Bb major"),
            ("bbminor", "Bb minor"),
            ("C:maj", "C major"),
            ("Cb major", "B major"),
        ] {
            assert_eq!(Key::parse(label).unwrap().to_string(), want, "{label}");
        }
        for bad in ["A", "H minor", "C##  major", "A:7", "", "minor"] {
            assert_eq!(Key::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn spellings_convert() {
        let key = Key::parse("E-flat minor").unwrap();
        assert_eq!(key.madmom().name(), "D# minor");
        assert_eq!(key.mir_eval_name(), "Eb minor");
        assert_eq!(Key::new(6, Mode::Major).mir_eval_name(), "Gb major");
        assert_eq!(key, key.madmom(), "enharmonic spellings are one key");
        let json = serde_json::to_string(&key).unwrap();
        assert_eq!(json, "\"Eb minor\"");
        assert_eq!(serde_json::from_str::<Key>(&json).unwrap(), key);
        assert!(serde_json::from_str::<Key>("\"H minor\"").is_err());
        assert_eq!(
            serde_json::to_string(&Mode::Other).unwrap(),
            "\"other\"",
            "modes serialise lower-case"
        );
    }
}
