//! The error type of the crate.

use std::path::{Path, PathBuf};

/// Everything that can go wrong while loading, running or checking a Llama model.
#[derive(Debug, thiserror::Error)]
pub enum LmError {
    /// A file could not be opened, mapped or read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file at fault.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// `config.json` is not valid JSON or misses a required field.
    #[error("invalid config {path}: {source}")]
    ConfigParse {
        /// The file at fault.
        path: PathBuf,
        /// The underlying error.
        source: serde_json::Error,
    },
    /// A configuration field has a value this crate cannot use.
    #[error("invalid config field `{field}`: {reason}")]
    ConfigValue {
        /// The field at fault.
        field: String,
        /// Why the value is rejected.
        reason: String,
    },
    /// Reading or writing a safetensors file failed (the error names the file and tensor).
    #[error(transparent)]
    Tensors(#[from] llark_tensors::TensorError),
    /// A weight holds NaN or an infinity (a corrupt or diverged checkpoint).
    #[error("weight `{name}` in {source_desc} holds {value} at element {index}")]
    NonFiniteWeight {
        /// The files that were read.
        source_desc: String,
        /// The tensor name.
        name: String,
        /// Flat index of the first bad element.
        index: usize,
        /// The value found.
        value: f32,
    },
    /// A weight cannot be kept in the packed storage asked for (a value out of its range, an
    /// int8 scale tensor that does not fit the weight).
    #[error("weight `{name}`: {source}")]
    Packed {
        /// The tensor name.
        name: String,
        /// What the kernels found.
        source: llark_kernels::KernelError,
    },
    /// The logits of a generation step hold NaN or an infinity (the answer would be garbage).
    #[error("the model produced non-finite logits at generation step {step}")]
    NonFiniteLogits {
        /// 0-based step of generation (0 is the prompt).
        step: usize,
    },
    /// A prompt does not fit the model's context.
    #[error("the prompt is {tokens} positions (text and audio frames) but the model's context is {context} (max_position_embeddings); shorten the question or crop the audio")]
    PromptTooLong {
        /// Positions the prompt needs.
        tokens: usize,
        /// The model's context length.
        context: usize,
    },
    /// A tensor has another rank than the one asked for.
    #[error("tensor `{name}` has rank {} ({shape:?}), expected rank {rank}", shape.len())]
    Rank {
        /// The tensor name.
        name: String,
        /// The shape found in the file.
        shape: Vec<usize>,
        /// The rank asked for.
        rank: usize,
    },
    /// Strict loading found missing, unexpected or mis-shaped tensors (all of them are listed).
    #[error("weights in {source_desc} do not match the model:{}", format_mismatch(.missing, .unexpected, .mis_shaped))]
    WeightMismatch {
        /// The files that were read.
        source_desc: String,
        /// Tensors the model needs that are absent.
        missing: Vec<String>,
        /// Tensors in the files that the model does not use.
        unexpected: Vec<String>,
        /// Tensors with the wrong shape: `name: found [..], expected [..]`.
        mis_shaped: Vec<String>,
    },
    /// An adapter configuration or adapter file is invalid or unsupported (the file is named).
    #[error("adapter {path}: {source}")]
    Adapter {
        /// The adapter directory or file.
        path: PathBuf,
        /// What is wrong.
        source: crate::lora::LoraError,
    },
    /// An adapter configuration is invalid or unsupported, or an adapter operation does not
    /// apply to the model.
    #[error(transparent)]
    Lora(#[from] crate::lora::LoraError),
    /// An input (ids, mask, labels, embeddings, cache) is inconsistent.
    #[error("invalid input: {0}")]
    Input(String),
    /// A parity fixture is malformed.
    #[error("invalid fixture {path}: {reason}")]
    Fixture {
        /// The fixture file or directory.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
}

fn format_mismatch(missing: &[String], unexpected: &[String], mis_shaped: &[String]) -> String {
    let mut out = String::new();
    for (label, list) in [
        ("missing", missing),
        ("unexpected", unexpected),
        ("mis-shaped", mis_shaped),
    ] {
        if !list.is_empty() {
            out.push_str(&format!(" {label} ({}): {};", list.len(), list.join(", ")));
        }
    }
    out
}

impl LmError {
    /// [`LmError::Packed`] for weight `name`.
    pub(crate) fn packed(name: &str, source: llark_kernels::KernelError) -> Self {
        Self::Packed {
            name: name.to_string(),
            source,
        }
    }
}

/// Result alias of the crate.
pub type Result<T> = std::result::Result<T, LmError>;

/// Reads a text file, an [`LmError::Io`] naming it on failure.
pub(crate) fn read_text(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).map_err(|source| LmError::Io {
        path: path.to_path_buf(),
        source,
    })
}
