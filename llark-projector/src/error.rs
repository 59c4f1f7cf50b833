//! Errors of pooling, projection and splicing.

use thiserror::Error;

/// Everything that can go wrong in this crate; each variant names the input at fault.
#[derive(Debug, Error, PartialEq)]
pub enum ProjectorError {
    /// The pooling parameters give no valid window (`frame_rate / fps < 1`, or a rate that is not
    /// finite and positive).
    #[error(
        "pooling at {fps} frames per second is impossible for encoder frames at {frame_rate} Hz"
    )]
    InvalidPooling {
        /// The encoder frame rate in Hz.
        frame_rate: f64,
        /// The requested pooled frames per second.
        fps: u32,
    },
    /// The clip has fewer frames than one pooling window, so it would pool to nothing.
    #[error("clip has {frames} encoder frames, fewer than one pooling window of {window_len}")]
    ClipTooShort {
        /// Frames in the clip.
        frames: usize,
        /// Frames per pooling window.
        window_len: usize,
    },
    /// A tensor has a different shape than the operation needs.
    #[error("{what}: expected shape {expected}, got {actual:?}")]
    Shape {
        /// Which tensor.
        what: String,
        /// The expected shape, in words.
        expected: String,
        /// The actual shape.
        actual: Vec<usize>,
    },
    /// A projector weight is missing from the weight source.
    #[error("projector weight `{0}` is missing")]
    MissingWeight(String),
    /// The number of audio clips does not match the number of `<audio_start>` tokens.
    #[error("example {example}: {starts} <audio_start> token(s) but {clips} audio clip(s)")]
    ClipCount {
        /// Index of the example in the batch.
        example: usize,
        /// `<audio_start>` tokens found in its ids.
        starts: usize,
        /// Clips given for it.
        clips: usize,
    },
    /// The frames of a clip do not end where `<audio_end>` is, or run past the sequence.
    #[error(
        "example {example}: the {frames} frames of the clip at <audio_start> position {start} must be followed by <audio_end> at position {expected_end}, found {found}"
    )]
    MissingAudioEnd {
        /// Index of the example in the batch.
        example: usize,
        /// Position of the `<audio_start>` token.
        start: usize,
        /// Frames in the clip spliced there.
        frames: usize,
        /// Where `<audio_end>` should be.
        expected_end: usize,
        /// What is there instead (a token id, or "the end of the sequence").
        found: String,
    },
}
