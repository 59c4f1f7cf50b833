//! Errors raised by the evaluation crate.

use llark_music::KeyLabelError;
use thiserror::Error;

/// Every error of the evaluation module. Malformed *reference labels* are errors; unusable
/// *model answers* are not (they score as misses, as in LLark).
#[derive(Debug, Clone, PartialEq, Error)]
pub enum EvalError {
    /// A key string that mir_eval would reject with `ValueError` (the label and the
    /// problem are in the [`KeyLabelError`]).
    #[error(transparent)]
    MalformedKey(#[from] KeyLabelError),
    /// A reference tempo that is not a finite number, or is negative.
    #[error("invalid reference tempo {value} BPM: must be finite and >= 0")]
    InvalidReferenceTempo {
        /// The offending value.
        value: f64,
    },
    /// A reference tempo written as text that does not parse as a number.
    #[error("malformed reference tempo {text:?}: not a number")]
    MalformedTempoLabel {
        /// The offending text.
        text: String,
    },
    /// A GTZAN reference that is not one of the ten GTZAN genres.
    #[error("unknown GTZAN genre {0:?}")]
    UnknownGtzanGenre(String),
    /// A genre or instrument reference that is empty.
    #[error("empty {what} reference label")]
    EmptyLabel {
        /// Which kind of label ("genre", "instrument").
        what: &'static str,
    },
    /// The reference given for a task has the wrong kind (e.g. a BPM for the key task).
    #[error("task {task} needs a {expected} reference, got a {found} reference")]
    ReferenceKind {
        /// The task's name.
        task: &'static str,
        /// The kind the task needs.
        expected: &'static str,
        /// The kind that was given.
        found: &'static str,
    },
    /// An error on one input row of an aggregation (0-based row index over all rows pushed).
    #[error("row {row}: {source}")]
    Row {
        /// 0-based index of the row among all rows given to the evaluator.
        row: usize,
        /// The underlying error.
        #[source]
        source: Box<EvalError>,
    },
    /// A MedleyDB activation-confidence table (`*_ACTIVATION_CONF.lab`) that cannot be read.
    #[error("malformed activation table, line {line}: {reason}")]
    MalformedActivations {
        /// 1-based line number in the table.
        line: usize,
        /// What is wrong.
        reason: String,
    },
    /// Distance-matrix or embedding shapes do not agree.
    #[error("shape mismatch: {0}")]
    Shape(String),
    /// A label index or `k` outside the valid range.
    #[error("out of range: {0}")]
    OutOfRange(String),
    /// A statistics routine got an argument outside its domain.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// The pluggable text embedder failed.
    #[error("text embedder failed: {0}")]
    Embedder(String),
}
