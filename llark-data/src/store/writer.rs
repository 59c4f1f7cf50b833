//! [`EncodingStoreWriter`]: fills shards up to a size limit, then writes the index.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use half::f16;
use llark_tensors::{encode_f32, write_bytes_atomic, write_file, TensorBuf};

use super::{
    io_err, ClipEntry, ShardEntry, StoreDtype, StoreError, StoreIndex, INDEX_FILE, STORE_FORMAT,
    STORE_VERSION,
};
use crate::npy::read_npy;

/// Options of a new store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoreOptions {
    /// Element type on disk.
    pub dtype: StoreDtype,
    /// A shard is closed once its data reaches this many bytes (a single larger clip gets a
    /// shard of its own).
    pub max_shard_bytes: usize,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            dtype: StoreDtype::F32,
            max_shard_bytes: 2 << 30,
        }
    }
}

struct PendingClip {
    id: String,
    frames: usize,
    crc32: u32,
    bytes: Vec<u8>,
}

/// Writes a new store. Call [`EncodingStoreWriter::finish`] at the end: it writes the last shard
/// and the index (a store without its index cannot be opened).
pub struct EncodingStoreWriter {
    dir: PathBuf,
    options: StoreOptions,
    dim: usize,
    pending: Vec<PendingClip>,
    pending_bytes: usize,
    index: StoreIndex,
}

impl EncodingStoreWriter {
    /// Creates a store in `dir` (created if missing) for clips of `dim` features.
    pub fn create(
        dir: impl AsRef<Path>,
        dim: usize,
        options: StoreOptions,
    ) -> Result<Self, StoreError> {
        let dir = dir.as_ref().to_path_buf();
        std::fs::create_dir_all(&dir).map_err(io_err(&dir))?;
        let index_path = dir.join(INDEX_FILE);
        if index_path.exists() {
            return Err(StoreError::AlreadyExists(index_path));
        }
        if dim == 0 {
            return Err(StoreError::Index {
                path: index_path,
                reason: "dim must be at least 1".into(),
            });
        }
        Ok(EncodingStoreWriter {
            dir,
            options,
            dim,
            pending: Vec::new(),
            pending_bytes: 0,
            index: StoreIndex {
                format: STORE_FORMAT.into(),
                version: STORE_VERSION,
                dtype: options.dtype,
                dim,
                shards: Vec::new(),
                clips: BTreeMap::new(),
            },
        })
    }

    /// Adds a clip of `frames` x D values (row-major). For an f16 store, a finite value too large
    /// for f16 is an error.
    pub fn add(&mut self, clip: &str, data: &[f32], frames: usize) -> Result<(), StoreError> {
        self.check_new(clip, data.len(), frames)?;
        let dim = self.dim;
        let bytes =
            encode_f32(data, self.options.dtype.float_dtype(), true).map_err(|(i, v)| {
                StoreError::Clip {
                    clip: clip.into(),
                    reason: format!(
                        "value {v} at frame {}, feature {} overflows f16",
                        i / dim,
                        i % dim
                    ),
                }
            })?;
        self.push(clip, frames, bytes)
    }

    /// Adds a clip given in f16 (stored bit-exactly in an f16 store, widened exactly in an f32 one).
    pub fn add_f16(&mut self, clip: &str, data: &[f16], frames: usize) -> Result<(), StoreError> {
        self.check_new(clip, data.len(), frames)?;
        let bytes = match self.options.dtype {
            StoreDtype::F16 => data.iter().flat_map(|v| v.to_le_bytes()).collect(),
            StoreDtype::F32 => data.iter().flat_map(|v| v.to_f32().to_le_bytes()).collect(),
        };
        self.push(clip, frames, bytes)
    }

    /// Imports one of LLark's `.npy` encodings (`[frames, D]` or `[1, frames, D]`; f16, f32 or f64).
    pub fn import_npy(&mut self, clip: &str, path: impl AsRef<Path>) -> Result<(), StoreError> {
        let arr = read_npy(path.as_ref()).map_err(|source| StoreError::Npy {
            clip: clip.into(),
            source,
        })?;
        let frames = match arr.shape.as_slice() {
            [f, d] | [1, f, d] if *d == self.dim => *f,
            shape => {
                return Err(StoreError::Clip {
                    clip: clip.into(),
                    reason: format!(
                        "{} has shape {shape:?}, expected [frames, {}] or [1, frames, {}]",
                        path.as_ref().display(),
                        self.dim,
                        self.dim
                    ),
                })
            }
        };
        self.add(clip, &arr.data, frames)
    }

    fn check_new(&self, clip: &str, len: usize, frames: usize) -> Result<(), StoreError> {
        let err = |reason: String| StoreError::Clip {
            clip: clip.into(),
            reason,
        };
        if clip.is_empty() || clip == "__metadata__" {
            return Err(err(
                "empty or reserved clip id (`__metadata__` is safetensors' header key)".into(),
            ));
        }
        if self.index.clips.contains_key(clip) || self.pending.iter().any(|p| p.id == clip) {
            return Err(err("already in the store".into()));
        }
        if frames == 0 {
            return Err(err("0 frames".into()));
        }
        if frames.checked_mul(self.dim) != Some(len) {
            return Err(err(format!(
                "{len} values do not make {frames} frames of {} features",
                self.dim
            )));
        }
        Ok(())
    }

    fn push(&mut self, clip: &str, frames: usize, bytes: Vec<u8>) -> Result<(), StoreError> {
        if !self.pending.is_empty()
            && self.pending_bytes + bytes.len() > self.options.max_shard_bytes
        {
            self.flush_shard()?;
        }
        self.pending_bytes += bytes.len();
        self.pending.push(PendingClip {
            id: clip.into(),
            frames,
            crc32: crc32fast::hash(&bytes),
            bytes,
        });
        Ok(())
    }

    fn flush_shard(&mut self) -> Result<(), StoreError> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let shard = self.index.shards.len();
        let file = format!("encodings-{shard:05}.safetensors");
        let path = self.dir.join(&file);
        let dtype = self.options.dtype.float_dtype().dtype();
        let mut tensors = Vec::with_capacity(self.pending.len());
        let mut entries = Vec::with_capacity(self.pending.len());
        for p in self.pending.drain(..) {
            let buf = TensorBuf::new(&p.id, dtype, vec![p.frames, self.dim], p.bytes)?;
            let entry = ClipEntry {
                shard,
                frames: p.frames,
                crc32: p.crc32,
            };
            entries.push((p.id.clone(), entry));
            tensors.push((p.id, buf));
        }
        let metadata = BTreeMap::from([("format".to_string(), STORE_FORMAT.to_string())]);
        let bytes = write_file(
            &path,
            tensors.iter().map(|(id, buf)| (id.as_str(), buf)),
            &metadata,
        )?;
        self.index.shards.push(ShardEntry { file, bytes });
        self.index.clips.extend(entries);
        self.pending_bytes = 0;
        Ok(())
    }

    /// Number of clips added so far.
    pub fn len(&self) -> usize {
        self.index.clips.len() + self.pending.len()
    }

    /// Whether no clip was added yet.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Writes the last shard and the index; returns the index.
    pub fn finish(mut self) -> Result<StoreIndex, StoreError> {
        self.flush_shard()?;
        let path = self.dir.join(INDEX_FILE);
        let json = serde_json::to_vec_pretty(&self.index).map_err(|e| StoreError::Index {
            path: path.clone(),
            reason: e.to_string(),
        })?;
        write_bytes_atomic(&path, &json)?;
        Ok(self.index)
    }
}
