//! What can be wrong with an adapter configuration or its files.

use std::path::PathBuf;

/// An adapter configuration this crate cannot apply, or adapter files it cannot read.
#[derive(Debug, thiserror::Error)]
pub enum LoraError {
    /// `adapter_config.json` is not valid JSON or misses a required field.
    #[error("invalid adapter config {path}: {source}")]
    Parse {
        /// The file at fault.
        path: PathBuf,
        /// The parser's error.
        source: serde_json::Error,
    },
    /// A field has a value that is out of range or inconsistent with the model.
    #[error("adapter config field `{field}`: {reason}")]
    Value {
        /// The field at fault.
        field: String,
        /// Why the value is rejected.
        reason: String,
    },
    /// A PEFT option that changes what the adapter computes and that this crate does not
    /// implement (DoRA, rsLoRA, trained biases, per-module ranks, saved modules, ...).
    #[error("adapter config field `{field}` = {value} is not supported: {reason}")]
    Unsupported {
        /// The field at fault.
        field: String,
        /// Its value, as JSON.
        value: String,
        /// What is supported instead.
        reason: String,
    },
    /// The model holds no adapter (saving or merging needs one).
    #[error("the model has no LoRA adapters")]
    NoAdapters,
    /// Adapters are applied to a model that already has some.
    #[error("the model already has LoRA adapters; merge them first")]
    AlreadyAdapted,
}
