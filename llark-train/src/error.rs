//! Errors of the trainer.

use std::path::PathBuf;

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
    /// A JSON file could not be read or written.
    #[error("{path}: {reason}")]
    Json {
        /// The file.
        path: PathBuf,
        /// What failed.
        reason: String,
    },
    /// The training data is unusable.
    #[error("training data: {0}")]
    Data(String),
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
    /// A checkpoint could not be written or read back.
    #[error("checkpoint {path}: {reason}")]
    Checkpoint {
        /// The checkpoint directory or file.
        path: PathBuf,
        /// What failed.
        reason: String,
    },
    /// The training curve could not be drawn.
    #[error("plot {path}: {reason}")]
    Plot {
        /// The PNG file.
        path: PathBuf,
        /// What failed.
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

    pub(crate) fn config(field: &'static str, reason: impl Into<String>) -> Self {
        TrainError::Config {
            field,
            reason: reason.into(),
        }
    }
}

/// Result alias of this crate.
pub type Result<T> = std::result::Result<T, TrainError>;
