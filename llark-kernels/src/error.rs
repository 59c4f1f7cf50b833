//! Errors of the kernels: shapes that do not fit and values that cannot be stored.

/// What went wrong, with the sizes or values involved.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum KernelError {
    /// A buffer's length does not match the shape it is given with.
    #[error("{what} has {found} values, its shape {shape:?} needs {expected}")]
    Length {
        /// Which buffer.
        what: &'static str,
        /// Its length.
        found: usize,
        /// The length the shape implies.
        expected: usize,
        /// The shape.
        shape: Vec<usize>,
    },
    /// An int8 group size that is zero or does not divide the row length.
    #[error("int8 group size {group} must be positive and divide the {cols} columns")]
    Group {
        /// The group size asked for.
        group: usize,
        /// The row length.
        cols: usize,
    },
    /// A value that is NaN or infinite, or too large for the target type.
    #[error("value {value} at index {index} cannot be stored as {dtype}")]
    Unrepresentable {
        /// The offending value.
        value: f32,
        /// Its flat index.
        index: usize,
        /// The target storage type.
        dtype: &'static str,
    },
    /// A shape whose element count overflows `usize`.
    #[error("shape {0:?} is too large")]
    TooLarge(Vec<usize>),
    /// A dtype name that is not one of the known ones.
    #[error("unknown dtype {0:?}: expected one of f32, bf16, f16, int8")]
    UnknownDtype(String),
}

/// Result alias of this crate.
pub type Result<T> = std::result::Result<T, KernelError>;
