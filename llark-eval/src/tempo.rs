//! Tempo estimation (GiantSteps-Tempo): first-number BPM parsing and ACC1/ACC2.

use std::fmt;
use std::sync::LazyLock;

use regex::Regex;
use serde::{Deserialize, Serialize};

use crate::error::EvalError;

/// The relative tolerance of ACC1/ACC2: 4 % of the candidate tempo (Gouyon et al. 2006,
/// madmom's default).
pub const TEMPO_TOLERANCE: f64 = 0.04;

/// LLark's `\d+(\.\d+)*` with ASCII digits (Rust's `f64` parser only reads ASCII digits).
static NUMBER_REGEX: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"[0-9]+(?:\.[0-9]+)*").expect("static number regex compiles"));

/// Extracts a tempo from free text exactly like LLark's `tempo_parse_fn`: the **first**
/// number in the answer, whatever it refers to ("4/4 time … 120 BPM" → 4.0, "120-125 BPM" →
/// 120.0). No unit check; a sign is ignored.
///
/// Returns `None` when the text has no number, and also when the first number has several
/// dots (`1.2.3`), where Python's `float()` would raise.
pub fn parse_tempo(text: &str) -> Option<f64> {
    let token = NUMBER_REGEX.find(text)?.as_str();
    token.parse::<f64>().ok()
}

/// Which tempo accuracy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Acc {
    /// ACC1: the estimate is within the tolerance of the reference.
    Acc1,
    /// ACC2: the estimate is within the tolerance of the reference times 1, 2, 1/2, 3 or 1/3.
    Acc2,
}

impl fmt::Display for Acc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Acc::Acc1 => "ACC1",
            Acc::Acc2 => "ACC2",
        })
    }
}

/// How the 4 % window is tested. The two reference implementations differ only at the exact
/// boundary (e.g. 100 vs 104 BPM) because of floating-point rounding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub enum TempoFormula {
    /// `|c − e| / c ≤ tol`, exactly as `mir_eval.tempo.detection` writes it; inclusive at the
    /// exact ±4 % boundary. The default.
    #[default]
    MirEval,
    /// `|1 − e / c| ≤ tol`, as madmom's `tempo_evaluation`; rounding excludes most exact
    /// ±4 % boundaries.
    Madmom,
}

/// A metrical factor accepted by ACC2: the candidate tempo is `factor × reference`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum TempoFactor {
    /// ×1
    One,
    /// ×2
    Double,
    /// ×1/2
    Half,
    /// ×3
    Triple,
    /// ×1/3
    Third,
}

impl TempoFactor {
    /// The candidates in the order they are tried (mir_eval/madmom order).
    pub const ACC2_ORDER: [TempoFactor; 5] = [
        TempoFactor::One,
        TempoFactor::Double,
        TempoFactor::Half,
        TempoFactor::Triple,
        TempoFactor::Third,
    ];

    /// The candidate tempo, computed in f64 as `r*2.0`, `r/2.0`, `r*3.0`, `r/3.0`.
    pub fn candidate(self, reference_bpm: f64) -> f64 {
        match self {
            TempoFactor::One => reference_bpm,
            TempoFactor::Double => reference_bpm * 2.0,
            TempoFactor::Half => reference_bpm / 2.0,
            TempoFactor::Triple => reference_bpm * 3.0,
            TempoFactor::Third => reference_bpm / 3.0,
        }
    }

    /// Short label: `x1`, `x2`, `x1/2`, `x3`, `x1/3`.
    pub fn label(self) -> &'static str {
        match self {
            TempoFactor::One => "x1",
            TempoFactor::Double => "x2",
            TempoFactor::Half => "x1/2",
            TempoFactor::Triple => "x3",
            TempoFactor::Third => "x1/3",
        }
    }
}

/// Whether `estimate` lies within [`TEMPO_TOLERANCE`] of `candidate` under `formula`.
/// NaN compares false, so it is a miss.
fn within_tolerance(candidate: f64, estimate: f64, formula: TempoFormula) -> bool {
    let error = match formula {
        TempoFormula::MirEval => (candidate - estimate).abs() / candidate,
        TempoFormula::Madmom => (1.0 - estimate / candidate).abs(),
    };
    error <= TEMPO_TOLERANCE
}

fn check_reference(reference_bpm: f64) -> Result<(), EvalError> {
    if reference_bpm.is_finite() && reference_bpm > 0.0 {
        Ok(())
    } else {
        Err(EvalError::InvalidReferenceTempo {
            value: reference_bpm,
        })
    }
}

/// The first metrical factor whose candidate tempo the estimate hits, trying ×1 only for
/// ACC1, and ×1, ×2, ×1/2, ×3, ×1/3 in that order for ACC2. `None` is a miss, as is an
/// estimate that is `None` (unparseable answer), zero or NaN.
///
/// The reference must be finite and > 0 (LLark drops the GiantSteps tracks annotated 0).
pub fn tempo_hit_factor(
    reference_bpm: f64,
    estimate_bpm: Option<f64>,
    acc: Acc,
    formula: TempoFormula,
) -> Result<Option<TempoFactor>, EvalError> {
    check_reference(reference_bpm)?;
    let Some(estimate) = estimate_bpm else {
        return Ok(None);
    };
    let factors: &[TempoFactor] = match acc {
        Acc::Acc1 => &TempoFactor::ACC2_ORDER[..1],
        Acc::Acc2 => &TempoFactor::ACC2_ORDER,
    };
    Ok(factors
        .iter()
        .copied()
        .find(|f| within_tolerance(f.candidate(reference_bpm), estimate, formula)))
}

/// Whether one estimate counts for ACC1 or ACC2 (see [`tempo_hit_factor`]).
pub fn tempo_accuracy(
    reference_bpm: f64,
    estimate_bpm: Option<f64>,
    acc: Acc,
    formula: TempoFormula,
) -> Result<bool, EvalError> {
    Ok(tempo_hit_factor(reference_bpm, estimate_bpm, acc, formula)?.is_some())
}
