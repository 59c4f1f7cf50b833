//! The error type of the jobs.

use std::path::PathBuf;

use thiserror::Error;

/// Everything that can stop a job or fail one of its items; each variant names its input.
#[derive(Debug, Error)]
pub enum JobError {
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A path cannot become a clip id.
    #[error("{path}: the path is not valid UTF-8 text")]
    PathNotUtf8 {
        /// The path.
        path: PathBuf,
    },
    /// Two input files give the same clip id.
    #[error("{first} and {second} both give the clip id `{id}`")]
    DuplicateClipId {
        /// The id.
        id: String,
        /// The first file.
        first: PathBuf,
        /// The second file.
        second: PathBuf,
    },
    /// A shard whose index is not below its count.
    #[error("shard {index}/{count}: the index must be below the count")]
    ShardIndex {
        /// The index given.
        index: usize,
        /// The count given.
        count: usize,
    },
    /// A shard that is not written `INDEX/COUNT`.
    #[error("shard `{text}`: expected INDEX/COUNT, such as 0/4")]
    ShardSyntax {
        /// The text given.
        text: String,
    },
    /// `--shard auto` found no usable shard in the scheduler's variables.
    #[error("--shard auto: {variable} {problem}")]
    ShardEnvironment {
        /// The variable at fault.
        variable: String,
        /// What is wrong with it.
        problem: String,
    },
    /// The shards' manifests do not prove every clip was embedded exactly once.
    #[error(transparent)]
    Merge(Box<crate::embed::MergeError>),
    /// A store element type other than f16 and f32.
    #[error("dtype `{name}`: expected f16 or f32")]
    Dtype {
        /// The name given.
        name: String,
    },
    /// A per-clip encoding file is malformed.
    #[error("{path}: {problem}")]
    ClipFile {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        problem: String,
    },
    /// An audio file gives no frame at all.
    #[error("{path}: the audio is too short to give a single frame")]
    TooShort {
        /// The audio file.
        path: PathBuf,
    },
    /// Per-clip files from different encoders, frame rates or pooling rates.
    #[error("{path} ({found}) does not match {first_path} ({first})")]
    MixedEncodings {
        /// The file that differs.
        path: PathBuf,
        /// Its encoder, frame rate and pooling.
        found: String,
        /// The first file packed.
        first_path: PathBuf,
        /// Its encoder, frame rate and pooling.
        first: String,
    },
    /// There is nothing to pack.
    #[error("{dir}: no encoded clip to pack")]
    NothingToPack {
        /// The folder of per-clip files.
        dir: PathBuf,
    },
    /// A file could not be written as JSON.
    #[error("{path}: cannot write JSON: {source}")]
    Json {
        /// The file.
        path: PathBuf,
        /// The serialisation error.
        source: serde_json::Error,
    },
    /// From the model, the pipeline or the audio front end.
    #[error(transparent)]
    Llark(#[from] llark::LlarkError),
    /// From the encoding store.
    #[error(transparent)]
    Store(#[from] llark::data::StoreError),
    /// From the trainer.
    #[error(transparent)]
    Train(#[from] llark::train::TrainError),
    /// From reading or writing a tensor file.
    #[error(transparent)]
    Tensors(#[from] llark_tensors::TensorError),
    /// From evaluation.
    #[error(transparent)]
    Eval(#[from] llark::eval::EvalError),
    /// A job's configuration cannot work.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// From MIDI reading, composing or SoundFont rendering.
    #[error(transparent)]
    Midi(Box<llark::midi::MidiError>),
    /// From reading or writing JSON Lines.
    #[error(transparent)]
    Jsonl(#[from] llark::data::JsonlError),
    /// An evaluation stopped: a bad labels file, no usable clip, or (with `strict`) a clip that
    /// failed.
    #[error("evaluating {path}: {failure}")]
    Evaluation {
        /// The labels file (or the folder its paths are relative to).
        path: PathBuf,
        /// The first failure.
        failure: String,
    },
}

impl JobError {
    /// An [`JobError::Io`] maker for `path`, for `map_err`.
    pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> JobError {
        let path = path.into();
        move |source| JobError::Io { path, source }
    }
}

/// `Result` with [`JobError`].
pub type Result<T> = std::result::Result<T, JobError>;
