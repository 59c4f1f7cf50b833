//! Errors of the trainer. Errors of the crates below (the encoding store, collation, record
//! files, tokenisation, burn's recorder, the model) are kept as their `source` (and also shown
//! in the message, as `Io` does), never flattened into a string.

use std::path::PathBuf;

use llark_data::{CollateError, ExampleError, JsonlError, StoreError};

/// A boxed error from a model implementation.
pub type ModelError = Box<dyn std::error::Error + Send + Sync>;

/// Everything that can go wrong while configuring, running or resuming training.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    /// A configuration value is out of range or inconsistent.
    #[error("invalid training configuration: `{field}`: {reason}")]
    Config {
        /// The offending field.
        field: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A JSON file could not be parsed or a value could not be serialised.
    #[error("{path}: {source}")]
    Json {
        /// The file.
        path: PathBuf,
        /// The parser's error.
        source: serde_json::Error,
    },
    /// There are no training examples.
    #[error("training data: no training examples")]
    NoExamples,
    /// The model and the data disagree on the width of the audio encodings.
    #[error("the model takes audio encodings of width {model}, the data has width {data}")]
    WidthMismatch {
        /// The model's width.
        model: usize,
        /// The data's width.
        data: usize,
    },
    /// A clip of the training data has no stored encoding.
    #[error("training data: no encoding for clip {clip}")]
    MissingEncoding {
        /// The clip id.
        clip: String,
    },
    /// An example's audio span and its clip's stored encoding have different frame counts.
    #[error(
        "training data: clip {clip}: the example's audio span has {span} frames, the encoding \
         {encoding}"
    )]
    FrameMismatch {
        /// The clip id.
        clip: String,
        /// Frames of the example's span.
        span: usize,
        /// Frames of the stored encoding.
        encoding: usize,
    },
    /// Encoding values that are not a whole number of rows.
    #[error("training data: clip {clip}: {values} values are not a whole number of rows of width {width}")]
    RaggedEncoding {
        /// The clip id.
        clip: String,
        /// Number of values given.
        values: usize,
        /// The row width.
        width: usize,
    },
    /// The training data is inconsistent in a way no variant above names (sampler positions,
    /// task mixes, example indices).
    #[error("training data: {0}")]
    Data(String),
    /// The encoding store failed.
    #[error("training data: {0}")]
    Store(#[from] StoreError),
    /// Collating a micro-batch failed.
    #[error("training data: collating a micro-batch: {0}")]
    Collate(#[from] CollateError),
    /// A record file could not be read.
    #[error("records {path}: {source}")]
    Records {
        /// The record file.
        path: PathBuf,
        /// The reader's error.
        source: JsonlError,
    },
    /// The encoding store has no usable shape for a record.
    #[error("{path}:{line}: {source}")]
    RecordEncoding {
        /// The record file.
        path: PathBuf,
        /// The record's line (1-based).
        line: u64,
        /// The store's error.
        source: StoreError,
    },
    /// A record could not be tokenised.
    #[error("{path}:{line}: {source}")]
    RecordExample {
        /// The record file.
        path: PathBuf,
        /// The record's line (1-based).
        line: u64,
        /// The tokeniser's error.
        source: ExampleError,
    },
    /// The model failed on a batch.
    #[error("model error at step {step} on examples [{examples}]: {source}")]
    Model {
        /// The optimizer step (0-based) being computed.
        step: usize,
        /// Ids of the batch's examples.
        examples: String,
        /// The model's error.
        source: ModelError,
    },
    /// The loss (or the gradient norm) was NaN or infinite; no update was applied.
    #[error(
        "non-finite {what} ({value}) at step {step} on examples [{examples}]; the model was not \
         updated; last good checkpoint: {}",
        last_checkpoint.as_ref().map_or_else(|| "none".to_string(), |p| p.display().to_string())
    )]
    NonFinite {
        /// `"loss"` or `"gradient norm"`.
        what: &'static str,
        /// The value seen.
        value: f64,
        /// The optimizer step (0-based) being computed.
        step: usize,
        /// Ids of the examples of the offending micro-batch (all of the step for the norm).
        examples: String,
        /// The newest complete checkpoint, if any.
        last_checkpoint: Option<PathBuf>,
    },
    /// A checkpoint does not fit the run (another configuration, other data, none at all).
    #[error("checkpoint {path}: {reason}")]
    Checkpoint {
        /// The checkpoint directory or file.
        path: PathBuf,
        /// What does not fit.
        reason: String,
    },
    /// burn's recorder could not write or read a model or optimizer record.
    #[error("checkpoint {path}: {source}")]
    Recorder {
        /// The record file.
        path: PathBuf,
        /// burn's error.
        source: burn::record::RecorderError,
    },
    /// The model could not export itself.
    #[error("exporting the model to {path}: {source}")]
    Export {
        /// The directory.
        path: PathBuf,
        /// The model's error.
        source: ModelError,
    },
    /// A data-parallel run is laid out wrongly (no devices, a batch smaller than the workers,
    /// a node outside the nodes) or a worker was asked for what only the first one does.
    #[error("data-parallel training: {reason}")]
    Parallel {
        /// What is wrong.
        reason: String,
    },
    /// burn's collective operations failed.
    #[error(
        "data-parallel training: worker {rank}, step {step}: collective operation failed: {reason}"
    )]
    Collective {
        /// The worker's rank.
        rank: usize,
        /// The optimizer step (0-based).
        step: usize,
        /// burn-collective's error.
        reason: String,
    },
    /// Another worker of a data-parallel run failed; every worker stops at the same point.
    #[error(
        "data-parallel training: worker {rank} stops at step {step}: another worker failed \
         (its error is reported by that worker)"
    )]
    PeerFailed {
        /// This worker's rank.
        rank: usize,
        /// The optimizer step (0-based) or the number of steps done.
        step: usize,
    },
    /// The training curve could not be drawn.
    #[error("plot {path}: {reason}")]
    Plot {
        /// The PNG file.
        path: PathBuf,
        /// What failed (plotters' and png's errors, as text).
        reason: String,
    },
}

impl TrainError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        TrainError::Io {
            path: path.into(),
            source,
        }
    }

    pub(crate) fn json(path: impl Into<PathBuf>, source: serde_json::Error) -> Self {
        TrainError::Json {
            path: path.into(),
            source,
        }
    }

    pub(crate) fn config(field: &'static str, reason: impl Into<String>) -> Self {
        TrainError::Config {
            field,
            reason: reason.into(),
        }
    }
}

/// Result alias of this crate.
pub type Result<T> = std::result::Result<T, TrainError>;
