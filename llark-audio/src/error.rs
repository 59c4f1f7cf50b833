//! The error type of the crate.

use std::path::PathBuf;

/// Everything that can go wrong while reading, transforming or writing audio.
///
/// Every variant that concerns a file names it in `origin`: the path for files, or the label
/// given to a reader (`"<reader>"` by default).
#[derive(Debug, thiserror::Error)]
pub enum AudioError {
    /// The file could not be opened or read (missing file, permission, device error).
    #[error("cannot read audio from {origin}: {source}")]
    Io {
        /// The file or reader at fault.
        origin: String,
        /// The underlying I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The input holds no audio: a zero-byte file, or a valid file with no samples.
    #[error("{origin} holds no audio samples")]
    Empty {
        /// The file or reader at fault.
        origin: String,
    },
    /// The input ends before its own headers say it should.
    #[error("{origin} is truncated: {detail}")]
    Truncated {
        /// The file or reader at fault.
        origin: String,
        /// What was missing.
        detail: String,
    },
    /// The input is damaged: malformed headers or undecodable data.
    #[error("{origin} is corrupt: {detail}")]
    Corrupt {
        /// The file or reader at fault.
        origin: String,
        /// What the decoder rejected.
        detail: String,
    },
    /// The container or codec is not one this build can decode.
    #[error("{origin} has an unsupported format: {detail}")]
    Unsupported {
        /// The file or reader at fault.
        origin: String,
        /// Which format or feature is missing.
        detail: String,
    },
    /// A sample is NaN or infinite.
    #[error("{origin} has a non-finite sample ({value}) at index {index}")]
    NonFinite {
        /// The file, reader or operation at fault.
        origin: String,
        /// Index of the first bad sample (in mono samples).
        index: usize,
        /// The bad value.
        value: f32,
    },
    /// A sample rate of zero (or one the resampler cannot handle) was given.
    #[error("invalid sample rate {rate} Hz: {detail}")]
    InvalidSampleRate {
        /// The rejected rate.
        rate: u32,
        /// Why it was rejected.
        detail: String,
    },
    /// An argument is out of range (a zero window length, a negative duration, ...).
    #[error("invalid argument `{name}`: {detail}")]
    InvalidArgument {
        /// The argument's name.
        name: &'static str,
        /// Why it was rejected.
        detail: String,
    },
    /// The resampler failed.
    #[error("resampling {from} Hz -> {to} Hz failed: {detail}")]
    Resample {
        /// Input rate.
        from: u32,
        /// Output rate.
        to: u32,
        /// The resampler's message.
        detail: String,
    },
    /// Writing a WAV file failed.
    #[error("cannot write {path}: {detail}")]
    Write {
        /// The file being written.
        path: PathBuf,
        /// What went wrong.
        detail: String,
    },
}

/// Shorthand for `Result<T, AudioError>`.
pub type Result<T, E = AudioError> = std::result::Result<T, E>;
