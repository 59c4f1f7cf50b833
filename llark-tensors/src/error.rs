//! The error type of the crate: every variant names the file or tensor at fault.

use std::path::PathBuf;

use safetensors::{Dtype, SafeTensorError};

/// Everything that can go wrong while reading or writing safetensors files.
#[derive(Debug, thiserror::Error)]
pub enum TensorError {
    /// A file could not be opened, mapped, read, written or renamed.
    #[error("{path}: {source}")]
    Io {
        /// The file at fault.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The file is shorter than its header says, or its header is malformed.
    #[error("{path}: invalid safetensors header: {reason}")]
    Header {
        /// The file at fault.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The safetensors library rejected the file or the data to write.
    #[error("{path}: invalid safetensors data")]
    Format {
        /// The file at fault.
        path: PathBuf,
        /// The library's error.
        #[source]
        source: SafeTensorError,
    },
    /// A shard index (`*.safetensors.index.json`) is unreadable or inconsistent.
    #[error("shard index {path}: {reason}")]
    Index {
        /// The index file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// No file holds a tensor of that name.
    #[error("tensor `{name}` not found in {files}")]
    NotFound {
        /// The tensor name.
        name: String,
        /// The files that were searched.
        files: String,
    },
    /// Two files of one set hold a tensor of the same name.
    #[error("tensor `{name}` is in both {first} and {second}")]
    Duplicate {
        /// The tensor name.
        name: String,
        /// The file seen first.
        first: PathBuf,
        /// The file seen second.
        second: PathBuf,
    },
    /// A tensor has a shape other than the one asked for.
    #[error("{path}: tensor `{name}` has shape {actual:?}, expected {expected:?}")]
    Shape {
        /// The file holding the tensor.
        path: PathBuf,
        /// The tensor name.
        name: String,
        /// The shape in the file.
        actual: Vec<usize>,
        /// The shape asked for.
        expected: Vec<usize>,
    },
    /// A tensor has a dtype that cannot be read as asked.
    #[error("{path}: tensor `{name}` has dtype {dtype:?}, expected {expected}")]
    Dtype {
        /// The file holding the tensor.
        path: PathBuf,
        /// The tensor name.
        name: String,
        /// The dtype in the file.
        dtype: Dtype,
        /// The kind of dtype expected.
        expected: &'static str,
    },
    /// Values handed to a writer do not make the tensor they should.
    #[error("tensor `{name}`: {reason}")]
    Values {
        /// The tensor name.
        name: String,
        /// What is wrong.
        reason: String,
    },
    /// A finite value does not fit the storage dtype (it would become infinite).
    #[error("tensor `{name}`: value {value} at element {index} overflows {dtype:?}")]
    Overflow {
        /// The tensor name.
        name: String,
        /// Row-major index of the first such value.
        index: usize,
        /// The value.
        value: f32,
        /// The storage dtype.
        dtype: Dtype,
    },
}

impl TensorError {
    /// An [`TensorError::Io`] for `path`.
    pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> TensorError {
        let path = path.into();
        move |source| TensorError::Io { path, source }
    }
}

/// Result alias of the crate.
pub type Result<T> = std::result::Result<T, TensorError>;
