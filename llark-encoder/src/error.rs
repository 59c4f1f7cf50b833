//! Error type shared by every encoder of the crate.

use std::path::PathBuf;

/// Everything that can go wrong while loading or running an encoder.
///
/// Each variant names the file, tensor or field at fault.
#[derive(Debug, thiserror::Error)]
pub enum EncoderError {
    /// A file could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A weight or fixture file could not be read, or lacks a tensor the model needs, or holds
    /// it with another shape or dtype (the error names the file and tensor).
    #[error(transparent)]
    Tensors(#[from] llark_tensors::TensorError),
    /// A configuration file or value is invalid.
    #[error("invalid configuration ({origin}): field `{field}`: {message}")]
    Config {
        /// Where the configuration came from (a path or "preset").
        origin: String,
        /// The field at fault.
        field: String,
        /// What is wrong.
        message: String,
    },
    /// The label vector cannot be used by the label conditioner.
    #[error("invalid label vector {labels:?}: {message}")]
    Labels {
        /// The label vector.
        labels: Vec<i64>,
        /// What is wrong.
        message: String,
    },
    /// The audio was given at a sample rate the encoder does not take.
    #[error("unsupported sample rate {actual} Hz: this encoder needs {expected} Hz audio (resample first)")]
    SampleRate {
        /// The rate given.
        actual: u32,
        /// The rate required.
        expected: u32,
    },
    /// The audio contains NaN or infinite samples.
    #[error("audio sample {index} is not finite ({value})")]
    NonFiniteSample {
        /// Index of the first bad sample.
        index: usize,
        /// Its value.
        value: f32,
    },
    /// A codebook index is out of range.
    #[error("code {code} at position {position} is outside the codebook of {bins} entries")]
    CodeOutOfRange {
        /// The code.
        code: i64,
        /// Its position in the sequence.
        position: usize,
        /// The codebook size.
        bins: usize,
    },
    /// A parity fixture is malformed (missing tensor, inconsistent shape).
    #[error("fixture {path}: {message}")]
    Fixture {
        /// The fixture directory or file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A tensor could not be read back from the backend.
    #[error("backend data error: {0}")]
    Backend(String),
}
