//! The error type of the crate.

use std::path::PathBuf;

/// Everything that can go wrong while reading, writing, composing or rendering note events.
#[derive(Debug, thiserror::Error)]
pub enum MidiError {
    /// A file could not be read or written.
    #[error("cannot access {path}: {source}")]
    Io {
        /// The file at fault.
        path: PathBuf,
        /// The underlying I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A file is larger than this crate reads.
    #[error("{origin} is {bytes} bytes; at most {limit} are read")]
    TooLarge {
        /// The file or buffer at fault.
        origin: String,
        /// Its size.
        bytes: u64,
        /// The limit.
        limit: u64,
    },
    /// A Standard MIDI file is malformed or uses something this crate does not play.
    #[error("{origin} is not a playable MIDI file: {detail}")]
    Midi {
        /// The file or buffer at fault.
        origin: String,
        /// What is wrong.
        detail: String,
    },
    /// A SoundFont is malformed.
    #[error("{origin} is not a usable SoundFont: {detail}")]
    SoundFont {
        /// The file or buffer at fault.
        origin: String,
        /// What is wrong.
        detail: String,
    },
    /// The synthesizer refused its settings or failed while rendering.
    #[error("rendering failed: {detail}")]
    Render {
        /// What went wrong.
        detail: String,
    },
    /// An argument is out of range.
    #[error("invalid argument `{name}`: {detail}")]
    InvalidArgument {
        /// The argument's name.
        name: &'static str,
        /// Why it was rejected.
        detail: String,
    },
    /// Building the rendered audio failed.
    #[error(transparent)]
    Audio(#[from] llark_audio::AudioError),
    /// Writing a file atomically failed.
    #[error(transparent)]
    Tensor(#[from] llark_tensors::TensorError),
}

/// Shorthand for `Result<T, MidiError>`.
pub type Result<T, E = MidiError> = std::result::Result<T, E>;
