//! The error type of the composed model, the pipeline and the tools.
//!
//! Each variant names the culprit (a file, a shape, a token id); an error of a lower crate is
//! kept as the variant's `source` (its message is also shown, as `Io` does), never flattened
//! into a string.

use std::path::{Path, PathBuf};

use llark_lm::LmError;
use llark_projector::{AudioTokenIds, ProjectorConfig, ProjectorKind};
use thiserror::Error;

/// What is wrong with an LLark configuration.
#[derive(Debug, Error)]
pub enum ConfigError {
    /// The file is not valid JSON for an LLark configuration.
    #[error("{0}")]
    Json(#[from] serde_json::Error),
    /// The language model's fields are inconsistent.
    #[error("language model: {0}")]
    Llama(#[from] LmError),
    /// An audio token id lies outside the vocabulary.
    #[error("{name} = {id} is outside the vocabulary of {vocab}")]
    TokenOutsideVocabulary {
        /// The field.
        name: &'static str,
        /// Its value.
        id: u32,
        /// The vocabulary size.
        vocab: usize,
    },
    /// Two audio tokens share an id.
    #[error("the audio token ids must be distinct (start {start}, end {end}, patch {patch})")]
    DuplicateAudioTokens {
        /// `audio_start_token_id`.
        start: u32,
        /// `audio_end_token_id`.
        end: u32,
        /// `audio_patch_token_id`.
        patch: u32,
    },
    /// `mm_hidden_size` is zero.
    #[error("mm_hidden_size must be positive")]
    NoAudioWidth,
    /// `max_audio_seconds` is not a positive, finite number of seconds.
    #[error("max_audio_seconds must be a positive number of seconds, not {0}")]
    MaxAudioSeconds(f64),
}

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
    /// A configuration file (an encoder directory's `config.json`) is not one this version
    /// reads.
    #[error("{path}: {message}")]
    Config {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// `config.json` of an LLark directory is not valid JSON or not a valid configuration.
    #[error("{path}: {source}")]
    ConfigFile {
        /// The file.
        path: PathBuf,
        /// What is wrong (boxed: it may carry a language-model error).
        source: Box<ConfigError>,
    },
    /// An LLark configuration built in code is inconsistent.
    #[error("invalid LLark configuration: {0}")]
    InvalidConfig(#[source] Box<ConfigError>),
    /// A JSON file (e.g. `train.json`) could not be parsed, or a value not serialised.
    #[error("{path}: {source}")]
    Json {
        /// The file.
        path: PathBuf,
        /// serde_json's error.
        source: serde_json::Error,
    },
    /// The projector handed to [`crate::Llark::new`] is not the one the configuration describes.
    #[error("the projector is {projector:?}, the configuration says {config:?}")]
    ProjectorMismatch {
        /// The projector's own configuration.
        projector: ProjectorConfig,
        /// What the LLark configuration implies.
        config: ProjectorConfig,
    },
    /// The language model handed to [`crate::Llark::new`] has another configuration than the
    /// LLark configuration's.
    #[error("the language model's configuration differs from the LLark configuration")]
    LmConfigMismatch,
    /// A checkpoint holds projector tensors the configured projector does not have.
    #[error("{checkpoint}: unexpected projector tensors for a `{kind:?}` projector: {}", names.join(", "))]
    UnexpectedProjectorTensors {
        /// The checkpoint (its files).
        checkpoint: String,
        /// The configured projector kind.
        kind: ProjectorKind,
        /// The tensors no projector of that kind has.
        names: Vec<String>,
    },
    /// Audio encodings of a width the model does not take.
    #[error("audio encodings are [{frames}, {width}], the model takes width {expected}")]
    EncodingWidth {
        /// Frames of the encodings.
        frames: usize,
        /// Their width.
        width: usize,
        /// The model's `mm_hidden_size`.
        expected: usize,
    },
    /// Stored encodings whose values do not fill their shape, or whose width is not the model's.
    #[error(
        "encodings of shape {shape:?} ({values} values) do not fit a model taking width {width}"
    )]
    EncodingShape {
        /// The shape given.
        shape: [usize; 2],
        /// Number of values given.
        values: usize,
        /// The model's width.
        width: usize,
    },
    /// Encodings hold NaN or an infinity (a corrupt file or a diverged encoder): the model
    /// would answer garbage.
    #[error("encodings from {source_name} hold {value} at element {index}")]
    NonFiniteEncoding {
        /// Where the encodings came from (a file, or `<memory>`).
        source_name: String,
        /// Flat index of the first bad element.
        index: usize,
        /// The value found.
        value: f32,
    },
    /// Encoding the audio of a file failed (e.g. a clip too short for one frame).
    #[error("{path}: {source}")]
    InFile {
        /// The audio file.
        path: PathBuf,
        /// What went wrong.
        source: Box<LlarkError>,
    },
    /// A batch's audio tensor does not hold exactly the frames of its audio spans.
    #[error("the batch's audio spans have {spans:?} frames, the audio tensor has {rows} rows")]
    AudioSpanMismatch {
        /// Frames of each span, in splice order.
        spans: Vec<usize>,
        /// Rows of the audio tensor.
        rows: usize,
    },
    /// The tokenizer's audio tokens are not the model's.
    #[error("the tokenizer's audio tokens ({tokenizer:?}) differ from the model's ({model:?})")]
    AudioTokenMismatch {
        /// The tokenizer's ids.
        tokenizer: AudioTokenIds,
        /// The model's ids.
        model: AudioTokenIds,
    },
    /// The tokenizer has more tokens than the model's vocabulary.
    #[error("the tokenizer has {tokenizer} tokens, the model's vocabulary only {model}")]
    VocabularyTooLarge {
        /// Tokens of the tokenizer.
        tokenizer: usize,
        /// The model's vocabulary size.
        model: usize,
    },
    /// Audio was given but the pipeline has no audio encoder.
    #[error(
        "this pipeline has no audio encoder; give one (`with_encoder`) or use stored encodings"
    )]
    NoEncoder,
    /// A file of a kind that is not read here.
    #[error("{path}: expected a {expected} file")]
    FileExtension {
        /// The file.
        path: PathBuf,
        /// The kinds read (e.g. "`.npy` or `.safetensors`").
        expected: &'static str,
    },
    /// A tensor file that should hold exactly one tensor holds another number.
    #[error("{path}: expected exactly one tensor, found {found}")]
    TensorCount {
        /// The file.
        path: PathBuf,
        /// Tensors found.
        found: usize,
    },
    /// Encodings of a rank other than `[frames, width]` (or `[1, frames, width]`).
    #[error("{path}: encodings must be [frames, width], found shape {shape:?}")]
    EncodingRank {
        /// The file.
        path: PathBuf,
        /// The shape found.
        shape: Vec<usize>,
    },
    /// A tensor of a reference fixture has the wrong shape.
    #[error("{path}: `{tensor}` must be {expected}, found {found:?}")]
    FixtureShape {
        /// The fixture directory.
        path: PathBuf,
        /// The tensor's name.
        tensor: &'static str,
        /// The shape it must have.
        expected: &'static str,
        /// The shape found.
        found: Vec<usize>,
    },
    /// A training run names both or neither of its starting points.
    #[error("set exactly one of `base_llama` and `llark`")]
    StartingModel,
    /// From the trainer.
    #[error(transparent)]
    Train(#[from] llark_train::TrainError),
    /// An unknown masking policy name.
    #[error(transparent)]
    Masking(#[from] llark_data::masking::UnknownPolicy),
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
    /// From reading a tensor file.
    #[error(transparent)]
    Tensors(#[from] llark_tensors::TensorError),
    /// From the encoding store.
    #[error(transparent)]
    Store(#[from] llark_data::StoreError),
    /// From reading a `.npy` file.
    #[error(transparent)]
    Npy(#[from] llark_data::NpyError),
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

impl From<ConfigError> for LlarkError {
    fn from(error: ConfigError) -> Self {
        LlarkError::InvalidConfig(Box::new(error))
    }
}

/// Reads the text file at `path`; a failure is [`LlarkError::Io`] naming it.
pub(crate) fn read_text(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).map_err(|source| LlarkError::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// `Result` with [`LlarkError`].
pub type Result<T> = std::result::Result<T, LlarkError>;
