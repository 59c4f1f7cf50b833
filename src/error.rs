//! The error type of the composed model, the pipeline and the tools.

use std::path::PathBuf;

use thiserror::Error;

/// Everything that can go wrong in the `llark` package; each variant names its input.
#[derive(Debug, Error)]
pub enum LlarkError {
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// `config.json` of an LLark directory is not valid.
    #[error("{path}: {message}")]
    Config {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// An input disagrees with the model (shapes, token ids, frame counts).
    #[error("{0}")]
    Input(String),
    /// From the language model.
    #[error(transparent)]
    Lm(#[from] llark_lm::LmError),
    /// From pooling, projection or splicing.
    #[error(transparent)]
    Projector(#[from] llark_projector::ProjectorError),
    /// From the audio front end.
    #[error(transparent)]
    Audio(#[from] llark_audio::AudioError),
    /// From the audio encoder.
    #[error(transparent)]
    Encoder(#[from] llark_encoder::EncoderError),
    /// From the tokenizer.
    #[error(transparent)]
    Tokenizer(#[from] llark_data::TokenizerError),
    /// From the encoding store.
    #[error(transparent)]
    Store(#[from] llark_data::StoreError),
    /// From reading a `.npy` file.
    #[error(transparent)]
    Npy(#[from] llark_data::NpyError),
    /// A pipeline was asked to read audio but holds no audio encoder.
    #[error(
        "this pipeline has no audio encoder; give one (`with_encoder`) or use stored encodings"
    )]
    NoEncoder,
    /// A window plan for long audio is not usable.
    #[error("the {name} length of a window plan must be finite and positive, not {value} s")]
    WindowPlan {
        /// `"window"` or `"hop"`.
        name: &'static str,
        /// The value given, in seconds.
        value: f64,
    },
    /// From tokenisation of conversations (template, masking, truncation).
    #[error(transparent)]
    Example(#[from] llark_data::ExampleError),
}

/// `Result` with [`LlarkError`].
pub type Result<T> = std::result::Result<T, LlarkError>;
