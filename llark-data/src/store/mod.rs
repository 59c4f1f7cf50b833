//! On-disk store of per-clip encodings `[frames, D]`: sharded safetensors files plus a JSON index.
//!
//! Layout of a store directory:
//! ```text
//! encodings.index.json           {"format": "llark-encodings", "version": 1, "dtype": "f16", "dim": D,
//!                                 "shards": [{"file": "encodings-00000.safetensors", "bytes": N}, ...],
//!                                 "clips": {"<clip id>": {"shard": 0, "frames": F, "crc32": C}, ...}}
//! encodings-00000.safetensors    one tensor per clip, named by the clip id, shape [F, D]
//! ```
//! [`EncodingStoreWriter`] fills shards up to a size limit and writes the index last;
//! [`EncodingStore`] memory-maps the shards and checks on open that every shard has the size the
//! index says and that every clip's tensor exists with the index's dtype and shape. Each read checks
//! the clip's CRC-32 (cheap next to the read itself); [`EncodingStore::verify_all`] checks all.
//! [`EncodingStoreWriter::import_npy`] imports LLark's per-clip `.npy` files.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use llark_tensors::{is_plain_file_name, FloatDtype, TensorError};
use serde::{Deserialize, Serialize};

use crate::npy::NpyError;

mod reader;
mod writer;

pub use reader::EncodingStore;
pub use writer::{EncodingStoreWriter, StoreOptions};

/// File name of the index inside a store directory.
pub const INDEX_FILE: &str = "encodings.index.json";
/// The `format` value of the index.
pub const STORE_FORMAT: &str = "llark-encodings";
/// The index version this crate writes and reads.
pub const STORE_VERSION: u32 = 1;

/// Element type of the stored encodings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum StoreDtype {
    /// IEEE half precision (half the disk of f32; what LLark-scale stores want).
    F16,
    /// IEEE single precision.
    #[default]
    F32,
}

impl StoreDtype {
    /// Bytes per element.
    pub fn size(self) -> usize {
        match self {
            StoreDtype::F16 => 2,
            StoreDtype::F32 => 4,
        }
    }

    /// The storage type in the shard files.
    pub fn float_dtype(self) -> FloatDtype {
        match self {
            StoreDtype::F16 => FloatDtype::F16,
            StoreDtype::F32 => FloatDtype::F32,
        }
    }
}

impl From<TensorError> for StoreError {
    fn from(error: TensorError) -> Self {
        StoreError::Tensors(Box::new(error))
    }
}

/// One shard in the index.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardEntry {
    /// File name, relative to the store directory.
    pub file: String,
    /// File size in bytes.
    pub bytes: u64,
}

/// One clip in the index.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClipEntry {
    /// Index of its shard in [`StoreIndex::shards`].
    pub shard: usize,
    /// Number of frames.
    pub frames: usize,
    /// CRC-32 of the stored bytes (little-endian elements).
    pub crc32: u32,
}

/// The store's index (`encodings.index.json`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoreIndex {
    /// Always [`STORE_FORMAT`].
    pub format: String,
    /// Always [`STORE_VERSION`].
    pub version: u32,
    /// Element type of every clip.
    pub dtype: StoreDtype,
    /// Feature dimension D of every clip.
    pub dim: usize,
    /// The shards, in order.
    pub shards: Vec<ShardEntry>,
    /// The clips, by id.
    pub clips: BTreeMap<String, ClipEntry>,
}

impl StoreIndex {
    /// Parses and checks the bytes of an `encodings.index.json`, without touching any shard:
    /// the format and version, a positive `dim`, plain shard file names (no directories), and
    /// every clip naming a shard of the list. `path` names the index in errors.
    /// [`EncodingStore::open`] reads its index through this, then checks the shards against it.
    ///
    /// ```
    /// use llark_data::store::StoreIndex;
    ///
    /// let text = br#"{"format": "llark-encodings", "version": 1, "dtype": "f16", "dim": 4,
    ///     "shards": [{"file": "encodings-00000.safetensors", "bytes": 120}],
    ///     "clips": {"a": {"shard": 0, "frames": 3, "crc32": 0}}}"#;
    /// let index = StoreIndex::from_json(text, "encodings.index.json".as_ref())?;
    /// assert_eq!(index.clips["a"].frames, 3);
    /// let bad = br#"{"format": "llark-encodings", "version": 1, "dtype": "f16", "dim": 4,
    ///     "shards": [], "clips": {"a": {"shard": 0, "frames": 3, "crc32": 0}}}"#;
    /// assert!(StoreIndex::from_json(bad, "encodings.index.json".as_ref()).is_err());
    /// # Ok::<(), llark_data::StoreError>(())
    /// ```
    pub fn from_json(bytes: &[u8], path: &Path) -> Result<Self, StoreError> {
        let index_err = |reason: String| StoreError::Index {
            path: path.to_path_buf(),
            reason,
        };
        let index: StoreIndex =
            serde_json::from_slice(bytes).map_err(|e| index_err(e.to_string()))?;
        if index.format != STORE_FORMAT || index.version != STORE_VERSION {
            return Err(index_err(format!(
                "format {} version {} (expected {STORE_FORMAT} version {STORE_VERSION})",
                index.format, index.version
            )));
        }
        if index.dim == 0 {
            return Err(index_err("dim is 0".into()));
        }
        if let Some(entry) = index.shards.iter().find(|e| !is_plain_file_name(&e.file)) {
            return Err(index_err(format!("bad shard file name {:?}", entry.file)));
        }
        if let Some((clip, entry)) = index
            .clips
            .iter()
            .find(|(_, e)| e.shard >= index.shards.len())
        {
            return Err(index_err(format!(
                "clip {clip} names shard {}",
                entry.shard
            )));
        }
        Ok(index)
    }
}

/// Errors of the encoding store; each names the clip or file at fault.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A file could not be read, written or mapped.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The index is unreadable or inconsistent.
    #[error("index {path}: {reason}")]
    Index {
        /// The index file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A shard does not match the index.
    #[error("shard {path}: {reason}")]
    Shard {
        /// The shard file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A clip's data does not match the index or the store.
    #[error("clip {clip}: {reason}")]
    Clip {
        /// The clip id.
        clip: String,
        /// What is wrong.
        reason: String,
    },
    /// The clip is not in the store.
    #[error("clip {0} is not in the store")]
    NotFound(String),
    /// The store directory already holds an index.
    #[error("{0} already exists; refusing to overwrite a store")]
    AlreadyExists(PathBuf),
    /// A shard could not be written or read as a safetensors file (boxed: the tensor layer's
    /// error is large and this one travels through every store call).
    #[error(transparent)]
    Tensors(Box<TensorError>),
    /// A `.npy` file could not be imported.
    #[error("clip {clip}: {source}")]
    Npy {
        /// The clip id.
        clip: String,
        /// The reader's error.
        source: NpyError,
    },
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> StoreError + '_ {
    move |source| StoreError::Io {
        path: path.to_path_buf(),
        source,
    }
}
