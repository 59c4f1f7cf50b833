//! Key estimation (GiantSteps-Key): answer parsing, GiantSteps spelling and the MIREX weighted
//! score with `mir_eval.key` 0.8.2 semantics.

use std::sync::LazyLock;

use llark_music::{KeyLabel, Mode};
use regex::Regex;
use serde::{Deserialize, Serialize};

use crate::error::EvalError;
use crate::pytext::{PY_SPACE_CLASS, PY_WORD_CLASS_BODY};

/// The 24 key labels of GiantSteps-Key, all flat-spelled. The LLark pipeline only scores an
/// answer whose (sharp→flat mapped) key is one of these strings, compared case-sensitively.
pub const GIANTSTEPS_KEYS: [&str; 24] = [
    "C major", "Db major", "D major", "Eb major", "E major", "F major", "Gb major", "G major",
    "Ab major", "A major", "Bb major", "B major", "C minor", "Db minor", "D minor", "Eb minor",
    "E minor", "F minor", "Gb minor", "G minor", "Ab minor", "A minor", "Bb minor", "B minor",
];

/// LLark's key regex `[\w+#]+\smajor|[\w+#]+\sminor`, with Python's `\w` and `\s`.
static KEY_REGEX: LazyLock<Regex> = LazyLock::new(|| {
    let token = format!("[{PY_WORD_CLASS_BODY}+#]+{PY_SPACE_CLASS}");
    Regex::new(&format!("{token}major|{token}minor")).expect("static key regex compiles")
});

/// Extracts a key from free text exactly like LLark's `key_parse_fn`
/// (`notebooks/eval_tempo_key_giantsteps.ipynb`).
///
/// In order: `" sharp"`, `"-sharp"` and `"sharp"` become `"#"`, `"-flat"` becomes `"b"`; then
/// the leftmost match of `[\w+#]+\smajor|[\w+#]+\sminor` is returned. The quirks are kept:
/// `" flat"` is not handled ("A flat major" → `"flat major"`), the mode is case-sensitive
/// ("E Minor" → `None`), "a minor key" → `"a minor"`, and `♯`/`♭` are not word characters.
pub fn parse_key(text: &str) -> Option<String> {
    let text = text
        .replace(" sharp", "#")
        .replace("-sharp", "#")
        .replace("sharp", "#")
        .replace("-flat", "b");
    KEY_REGEX.find(&text).map(|m| m.as_str().to_owned())
}

/// Rewrites a sharp tonic to GiantSteps' flat spelling (`C#→Db`, `D#→Eb`, `F#→Gb`, `G#→Ab`,
/// `A#→Bb`); anything else is returned unchanged. This is the reconstruction of LLark's
/// unreleased `map_keys_to_giantsteps` (eval.md §2.1, \[RECON\]).
///
/// Only the text before the first whitespace character (the tonic) is rewritten; the rest,
/// separator included, is kept as is.
pub fn map_key_to_giantsteps(key: &str) -> String {
    let (tonic, rest) = match key.find(crate::pytext::is_py_space) {
        Some(i) => key.split_at(i),
        None => (key, ""),
    };
    let flat = match tonic {
        "C#" => "Db",
        "D#" => "Eb",
        "F#" => "Gb",
        "G#" => "Ab",
        "A#" => "Bb",
        other => other,
    };
    format!("{flat}{rest}")
}

/// Whether `key` is one of the 24 [`GIANTSTEPS_KEYS`] (exact, case-sensitive comparison).
pub fn is_valid_giantsteps_key(key: &str) -> bool {
    GIANTSTEPS_KEYS.contains(&key)
}

/// mir_eval's `weighted_score` on validated labels (MIREX key score); labels come from
/// [`KeyLabel::parse_mir_eval`].
///
/// 1.0 same key; 0.0 if either is `X` (and they differ); 0.5 estimate a perfect fifth
/// **above** the reference in the same mode; 0.3 relative minor/major; 0.2 parallel;
/// otherwise 0.0. As in mir_eval, the relative and parallel rules only test that the modes
/// differ, so the `other` mode can trigger them.
pub fn weighted_score(reference: KeyLabel, estimate: KeyLabel) -> f64 {
    if reference == estimate {
        return 1.0;
    }
    let (KeyLabel::Key(reference), KeyLabel::Key(estimate)) = (reference, estimate) else {
        return 0.0;
    };
    let (r, rm) = (reference.tonic(), reference.mode());
    let (e, em) = (estimate.tonic(), estimate.mode());
    let interval = r.interval_to(e);
    if em == rm && interval == 7 {
        0.5
    } else if em != rm
        && ((rm == Mode::Major && interval == 9) || (rm == Mode::Minor && interval == 3))
    {
        // Relative minor (ref major, +9) or relative major (ref minor, +3).
        0.3
    } else if em != rm && r == e {
        0.2
    } else {
        0.0
    }
}

/// `mir_eval.key.weighted_score(reference, estimate)` on key strings: both are validated,
/// and a label mir_eval rejects is an [`EvalError::MalformedKey`].
pub fn key_score(reference: &str, estimate: &str) -> Result<f64, EvalError> {
    Ok(weighted_score(
        KeyLabel::parse_mir_eval(reference)?,
        KeyLabel::parse_mir_eval(estimate)?,
    ))
}

/// Everything the LLark key pipeline derives from one answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KeyJudgement {
    /// `key_parse_fn(answer)`.
    pub parsed: Option<String>,
    /// The parse after [`map_key_to_giantsteps`].
    pub mapped: Option<String>,
    /// Whether the mapped key is one of [`GIANTSTEPS_KEYS`].
    pub valid: bool,
    /// The per-track score: mir_eval's weighted score if valid, else 0.
    pub score: f64,
}

/// The per-track score of LLark's key pipeline for an already parsed estimate
/// (`key_parse_fn` output, or `None`): map sharps to flats, score 0 unless the result is one
/// of the 24 GiantSteps keys, else mir_eval's weighted score.
///
/// The reference is always validated (a malformed reference is an error even when the
/// estimate is invalid; LLark's notebook only validates it when the estimate is valid).
pub fn pipeline_key_score(
    reference: &str,
    parsed_estimate: Option<&str>,
) -> Result<f64, EvalError> {
    let reference = KeyLabel::parse_mir_eval(reference)?;
    let mapped = parsed_estimate.map(map_key_to_giantsteps);
    match mapped {
        Some(est) if is_valid_giantsteps_key(&est) => {
            Ok(weighted_score(reference, KeyLabel::parse_mir_eval(&est)?))
        }
        _ => Ok(0.0),
    }
}

/// Runs the whole LLark key pipeline on a free-text answer: [`parse_key`],
/// [`map_key_to_giantsteps`], the [`GIANTSTEPS_KEYS`] check and [`weighted_score`].
pub fn judge_key_answer(reference: &str, answer: &str) -> Result<KeyJudgement, EvalError> {
    let parsed = parse_key(answer);
    let mapped = parsed.as_deref().map(map_key_to_giantsteps);
    let valid = mapped.as_deref().is_some_and(is_valid_giantsteps_key);
    let score = pipeline_key_score(reference, parsed.as_deref())?;
    Ok(KeyJudgement {
        parsed,
        mapped,
        valid,
        score,
    })
}

/// LLark's key baseline: predict the most frequent reference label for every track and
/// score it with mir_eval. Returns the label and the mean score, or `None` for no references.
/// Ties go to the label seen first (pandas' `value_counts().idxmax()` leaves them
/// unspecified).
pub fn majority_key_baseline<S: AsRef<str>>(
    references: &[S],
) -> Result<Option<(String, f64)>, EvalError> {
    let mut counts: Vec<(&str, usize)> = Vec::new();
    for r in references {
        let r = r.as_ref();
        match counts.iter_mut().find(|(label, _)| *label == r) {
            Some((_, c)) => *c += 1,
            None => counts.push((r, 1)),
        }
    }
    let Some(max) = counts.iter().map(|(_, c)| *c).max() else {
        return Ok(None);
    };
    let Some(&(majority, _)) = counts.iter().find(|(_, c)| *c == max) else {
        return Ok(None);
    };
    let estimate = KeyLabel::parse_mir_eval(majority)?;
    let mut total = 0.0;
    for r in references {
        total += weighted_score(KeyLabel::parse_mir_eval(r.as_ref())?, estimate);
    }
    Ok(Some((majority.to_owned(), total / references.len() as f64)))
}
