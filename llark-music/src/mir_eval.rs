//! mir_eval's key-label vocabulary (`mir_eval.key`, 0.8.2): strict validation with a typed
//! error, and mir_eval's spelling.

use std::fmt;
use std::str::FromStr;

use thiserror::Error;

use crate::key::{Key, Mode};
use crate::pitch::{PitchClass, Spelling};

/// Why a key label is rejected by `mir_eval.key.validate_key` (mir_eval 0.8.2 rules).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum KeyLabelProblem {
    /// The label does not split into exactly two whitespace-separated tokens and is not `X`.
    #[error("expected '(tonic) (mode)' or 'X', found {0} whitespace-separated token(s)")]
    TokenCount(usize),
    /// The tonic is `X` but a mode was given.
    #[error("the uncategorised tonic 'X' cannot carry a mode")]
    UncategorisedWithMode,
    /// The tonic is not one of C, C#, Db, D, D#, Eb, E, F, F#, Gb, G, G#, Ab, A, A#, Bb, B
    /// (case-insensitive). `Cb`, `Fb`, `E#` and `B#` are rejected, as in mir_eval.
    #[error("unknown tonic {0:?}")]
    UnknownTonic(String),
    /// The mode is not exactly `major`, `minor` or `other` (case-sensitive).
    #[error("unknown mode {0:?} (must be exactly 'major', 'minor' or 'other')")]
    UnknownMode(String),
}

/// A key label mir_eval would reject with `ValueError`.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("malformed key label {label:?}: {problem}")]
pub struct KeyLabelError {
    /// The offending label.
    pub label: String,
    /// What is wrong with it.
    pub problem: KeyLabelProblem,
}

/// Whether `c` is whitespace for Python's `str.isspace` / `str.split()` / `str.strip()`:
/// Unicode `White_Space` plus the information separators U+001C-U+001F. mir_eval splits key
/// labels with `str.split()`.
pub fn is_python_whitespace(c: char) -> bool {
    c.is_whitespace() || ('\u{1C}'..='\u{1F}').contains(&c)
}

/// A key label in mir_eval's vocabulary: a key (mode `major`, `minor` or `other`), or `X`,
/// the key that cannot be categorised.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyLabel {
    /// A tonal key.
    Key(Key),
    /// mir_eval's `X`.
    Uncategorised,
}

impl KeyLabel {
    /// Parses and validates a label like `mir_eval.key.validate_key` + `split_key_string`.
    ///
    /// Rules: exactly `X`/`x`, or two whitespace-separated tokens (Python `str.split()`); the
    /// tonic is one of the 17 names of [`SHARP_NAMES`](crate::SHARP_NAMES) and
    /// [`FLAT_NAMES`](crate::FLAT_NAMES), case-insensitive; the mode must be exactly `major`,
    /// `minor` or `other`. The key keeps the accidental written (naturals: flats).
    pub fn parse_mir_eval(label: &str) -> Result<KeyLabel, KeyLabelError> {
        let fail = |problem| KeyLabelError {
            label: label.to_owned(),
            problem,
        };
        if label == "X" || label == "x" {
            return Ok(KeyLabel::Uncategorised);
        }
        let tokens: Vec<&str> = label
            .split(is_python_whitespace)
            .filter(|t| !t.is_empty())
            .collect();
        let [tonic, mode] = tokens[..] else {
            return Err(fail(KeyLabelProblem::TokenCount(tokens.len())));
        };
        if tonic.eq_ignore_ascii_case("x") {
            return Err(fail(KeyLabelProblem::UncategorisedWithMode));
        }
        let (pitch_class, spelling) = tonic_from_mir_eval(tonic)
            .ok_or_else(|| fail(KeyLabelProblem::UnknownTonic(tonic.to_owned())))?;
        let mode = match mode {
            "major" => Mode::Major,
            "minor" => Mode::Minor,
            "other" => Mode::Other,
            other => return Err(fail(KeyLabelProblem::UnknownMode(other.to_owned()))),
        };
        Ok(KeyLabel::Key(Key::with_spelling(
            pitch_class,
            mode,
            spelling,
        )))
    }

    /// The key, unless the label is `X`.
    pub fn key(self) -> Option<Key> {
        match self {
            KeyLabel::Key(key) => Some(key),
            KeyLabel::Uncategorised => None,
        }
    }
}

/// mir_eval's `KEY_TO_SEMITONE` lookup: case-insensitive sharp or flat names.
fn tonic_from_mir_eval(tonic: &str) -> Option<(PitchClass, Spelling)> {
    let mut chars = tonic.chars();
    let letter = chars.next()?.to_ascii_uppercase();
    let rest: String = chars.as_str().to_ascii_lowercase();
    PitchClass::from_name(&format!("{letter}{rest}"))
}

/// mir_eval's spelling: `"X"`, or the key with a flat tonic (`"Db minor"`, as GiantSteps).
impl fmt::Display for KeyLabel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyLabel::Uncategorised => f.write_str("X"),
            KeyLabel::Key(key) => f.write_str(&key.mir_eval_name()),
        }
    }
}

impl FromStr for KeyLabel {
    type Err = KeyLabelError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        KeyLabel::parse_mir_eval(s)
    }
}

impl From<Key> for KeyLabel {
    fn from(key: Key) -> Self {
        KeyLabel::Key(key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problem(label: &str) -> KeyLabelProblem {
        match KeyLabel::parse_mir_eval(label) {
            Err(e) => {
                assert_eq!(e.label, label);
                e.problem
            }
            Ok(k) => panic!("{label:?} accepted as {k:?}"),
        }
    }

    #[test]
    fn strict_validation_names_the_problem() {
        assert_eq!(
            problem("Cb major"),
            KeyLabelProblem::UnknownTonic("Cb".into())
        );
        assert_eq!(
            problem("E# minor"),
            KeyLabelProblem::UnknownTonic("E#".into())
        );
        assert_eq!(
            problem("C Major"),
            KeyLabelProblem::UnknownMode("Major".into())
        );
        assert_eq!(problem("C maj"), KeyLabelProblem::UnknownMode("maj".into()));
        assert_eq!(problem("C"), KeyLabelProblem::TokenCount(1));
        assert_eq!(problem("C sharp major"), KeyLabelProblem::TokenCount(3));
        assert_eq!(problem("X major"), KeyLabelProblem::UncategorisedWithMode);
        assert_eq!(problem(" X"), KeyLabelProblem::TokenCount(1));
        let err = KeyLabel::parse_mir_eval("H minor").unwrap_err();
        assert_eq!(
            err.to_string(),
            "malformed key label \"H minor\": unknown tonic \"H\""
        );
    }

    #[test]
    fn accepted_labels_and_spelling() {
        // Python's str.split(): surrounding whitespace is fine, and tonic case is ignored.
        assert_eq!(
            KeyLabel::parse_mir_eval(" c#\tminor ").unwrap(),
            KeyLabel::parse_mir_eval("Db minor").unwrap()
        );
        assert_eq!(
            KeyLabel::parse_mir_eval("x").unwrap(),
            KeyLabel::Uncategorised
        );
        assert_eq!(
            KeyLabel::parse_mir_eval("C\u{1D}major").unwrap(),
            KeyLabel::Key(Key::new(0, Mode::Major))
        );
        let other = KeyLabel::parse_mir_eval("f# other").unwrap();
        assert_eq!(other.key().map(Key::mode), Some(Mode::Other));
        assert_eq!(other.to_string(), "Gb other");
        assert_eq!(KeyLabel::Uncategorised.to_string(), "X");
        assert_eq!(KeyLabel::Uncategorised.key(), None);
        assert_eq!(
            "Bb minor".parse::<KeyLabel>().unwrap().to_string(),
            "Bb minor"
        );
        assert!(is_python_whitespace('\u{1C}') && is_python_whitespace('\u{A0}'));
        assert!(!is_python_whitespace('x'));
    }
}
