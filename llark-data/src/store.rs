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

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::path::{Path, PathBuf};

use half::f16;
use memmap2::Mmap;
use safetensors::tensor::TensorView;
use safetensors::{Dtype, SafeTensors};
use serde::{Deserialize, Serialize};

use crate::collate::Batch;
use crate::npy::{read_npy, NpyError};

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

    fn safetensors(self) -> Dtype {
        match self {
            StoreDtype::F16 => Dtype::F16,
            StoreDtype::F32 => Dtype::F32,
        }
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
        let bytes = match self.options.dtype {
            StoreDtype::F32 => data.iter().flat_map(|v| v.to_le_bytes()).collect(),
            StoreDtype::F16 => {
                let mut out = Vec::with_capacity(data.len() * 2);
                for (i, &v) in data.iter().enumerate() {
                    let h = f16::from_f32(v);
                    if v.is_finite() && !h.is_finite() {
                        return Err(StoreError::Clip {
                            clip: clip.into(),
                            reason: format!(
                                "value {v} at frame {}, feature {} overflows f16",
                                i / self.dim,
                                i % self.dim
                            ),
                        });
                    }
                    out.extend_from_slice(&h.to_le_bytes());
                }
                out
            }
        };
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
        let dtype = self.options.dtype.safetensors();
        let views = self
            .pending
            .iter()
            .map(|p| {
                TensorView::new(dtype, vec![p.frames, self.dim], &p.bytes)
                    .map(|v| (p.id.clone(), v))
                    .map_err(|e| StoreError::Clip {
                        clip: p.id.clone(),
                        reason: e.to_string(),
                    })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let metadata = HashMap::from([("format".to_string(), STORE_FORMAT.to_string())]);
        safetensors::serialize_to_file(views, Some(metadata), &path).map_err(|e| {
            StoreError::Shard {
                path: path.clone(),
                reason: e.to_string(),
            }
        })?;
        let bytes = std::fs::metadata(&path).map_err(io_err(&path))?.len();
        self.index.shards.push(ShardEntry { file, bytes });
        for p in self.pending.drain(..) {
            let crc32 = crc32fast::hash(&p.bytes);
            self.index.clips.insert(
                p.id,
                ClipEntry {
                    shard,
                    frames: p.frames,
                    crc32,
                },
            );
        }
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
        let tmp = self.dir.join(format!("{INDEX_FILE}.tmp"));
        let json = serde_json::to_vec_pretty(&self.index).map_err(|e| StoreError::Index {
            path: path.clone(),
            reason: e.to_string(),
        })?;
        std::fs::write(&tmp, json).map_err(io_err(&tmp))?;
        std::fs::rename(&tmp, &path).map_err(io_err(&path))?;
        Ok(self.index)
    }
}

struct ShardMap {
    path: PathBuf,
    mmap: Mmap,
}

struct ClipLocation {
    shard: usize,
    range: std::ops::Range<usize>,
}

/// A read-only, memory-mapped encoding store.
pub struct EncodingStore {
    dir: PathBuf,
    index: StoreIndex,
    shards: Vec<ShardMap>,
    locations: HashMap<String, ClipLocation>,
    verify_on_read: bool,
}

impl std::fmt::Debug for EncodingStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EncodingStore")
            .field("dir", &self.dir)
            .field("dtype", &self.index.dtype)
            .field("dim", &self.index.dim)
            .field("clips", &self.index.clips.len())
            .field("shards", &self.shards.len())
            .finish()
    }
}

impl EncodingStore {
    /// Opens a store, checking the index against every shard (sizes, names, dtypes, shapes).
    pub fn open(dir: impl AsRef<Path>) -> Result<Self, StoreError> {
        let dir = dir.as_ref().to_path_buf();
        let index_path = dir.join(INDEX_FILE);
        let text = std::fs::read(&index_path).map_err(io_err(&index_path))?;
        let index_err = |reason: String| StoreError::Index {
            path: index_path.clone(),
            reason,
        };
        let index: StoreIndex =
            serde_json::from_slice(&text).map_err(|e| index_err(e.to_string()))?;
        if index.format != STORE_FORMAT || index.version != STORE_VERSION {
            return Err(index_err(format!(
                "format {} version {} (expected {STORE_FORMAT} version {STORE_VERSION})",
                index.format, index.version
            )));
        }
        if index.dim == 0 {
            return Err(index_err("dim is 0".into()));
        }
        let mut shards = Vec::with_capacity(index.shards.len());
        for entry in &index.shards {
            if entry.file.contains(['/', '\\']) || entry.file.starts_with('.') {
                return Err(index_err(format!("bad shard file name {:?}", entry.file)));
            }
            let path = dir.join(&entry.file);
            let file = File::open(&path).map_err(io_err(&path))?;
            let len = file.metadata().map_err(io_err(&path))?.len();
            if len != entry.bytes {
                return Err(StoreError::Shard {
                    path,
                    reason: format!("{len} bytes, the index says {}", entry.bytes),
                });
            }
            // SAFETY: the map is read-only; the store's files are not meant to change while open
            // (a store is written once, then only read), and every read is bounds-checked below.
            let mmap = unsafe { Mmap::map(&file) }.map_err(io_err(&path))?;
            shards.push(ShardMap { path, mmap });
        }
        let mut per_shard: Vec<Vec<(&String, &ClipEntry)>> = vec![Vec::new(); shards.len()];
        for (clip, entry) in &index.clips {
            per_shard
                .get_mut(entry.shard)
                .ok_or_else(|| index_err(format!("clip {clip} names shard {}", entry.shard)))?
                .push((clip, entry));
        }
        let mut locations = HashMap::with_capacity(index.clips.len());
        let dtype = index.dtype.safetensors();
        for (s, clips) in per_shard.into_iter().enumerate() {
            let shard = &shards[s];
            let shard_err = |reason: String| StoreError::Shard {
                path: shard.path.clone(),
                reason,
            };
            let (n, meta) =
                SafeTensors::read_metadata(&shard.mmap).map_err(|e| shard_err(e.to_string()))?;
            let data_start = 8 + n;
            let tensors = meta.tensors();
            if tensors.len() != clips.len() {
                return Err(shard_err(format!(
                    "{} tensors, the index lists {} clips for it",
                    tensors.len(),
                    clips.len()
                )));
            }
            for (clip, entry) in clips {
                let info = tensors
                    .get(clip.as_str())
                    .ok_or_else(|| shard_err(format!("no tensor for clip {clip}")))?;
                if info.dtype != dtype || info.shape != [entry.frames, index.dim] {
                    return Err(StoreError::Clip {
                        clip: clip.clone(),
                        reason: format!(
                            "{} holds {:?} {:?}, the index says {:?} [{}, {}]",
                            shard.path.display(),
                            info.dtype,
                            info.shape,
                            index.dtype,
                            entry.frames,
                            index.dim
                        ),
                    });
                }
                let (a, b) = info.data_offsets;
                locations.insert(
                    clip.clone(),
                    ClipLocation {
                        shard: s,
                        range: data_start + a..data_start + b,
                    },
                );
            }
        }
        Ok(EncodingStore {
            dir,
            index,
            shards,
            locations,
            verify_on_read: true,
        })
    }

    /// Turns the per-read CRC-32 check on (the default) or off.
    pub fn set_verify_on_read(&mut self, verify: bool) {
        self.verify_on_read = verify;
    }

    /// The index.
    pub fn index(&self) -> &StoreIndex {
        &self.index
    }

    /// The store directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Feature dimension D.
    pub fn dim(&self) -> usize {
        self.index.dim
    }

    /// Element type on disk.
    pub fn dtype(&self) -> StoreDtype {
        self.index.dtype
    }

    /// Number of clips.
    pub fn len(&self) -> usize {
        self.index.clips.len()
    }

    /// Whether the store has no clip.
    pub fn is_empty(&self) -> bool {
        self.index.clips.is_empty()
    }

    /// Whether the clip is in the store.
    pub fn contains(&self, clip: &str) -> bool {
        self.index.clips.contains_key(clip)
    }

    /// The clip ids, sorted.
    pub fn clip_ids(&self) -> impl Iterator<Item = &str> {
        self.index.clips.keys().map(String::as_str)
    }

    /// The shape `[frames, D]` of a clip.
    pub fn shape(&self, clip: &str) -> Result<[usize; 2], StoreError> {
        self.index
            .clips
            .get(clip)
            .map(|e| [e.frames, self.index.dim])
            .ok_or_else(|| StoreError::NotFound(clip.into()))
    }

    /// The stored bytes of a clip (little-endian elements of [`EncodingStore::dtype`]) and its shape,
    /// checked against the CRC-32 when verification is on.
    pub fn raw(&self, clip: &str) -> Result<(&[u8], [usize; 2]), StoreError> {
        self.clip_bytes(clip, self.verify_on_read)
    }

    fn clip_bytes(&self, clip: &str, verify: bool) -> Result<(&[u8], [usize; 2]), StoreError> {
        let not_found = || StoreError::NotFound(clip.into());
        let entry = self.index.clips.get(clip).ok_or_else(not_found)?;
        let loc = self.locations.get(clip).ok_or_else(not_found)?;
        let shard = &self.shards[loc.shard];
        let bytes = shard
            .mmap
            .get(loc.range.clone())
            .ok_or_else(|| StoreError::Clip {
                clip: clip.into(),
                reason: format!("data range outside {}", shard.path.display()),
            })?;
        if verify {
            let crc = crc32fast::hash(bytes);
            if crc != entry.crc32 {
                return Err(StoreError::Clip {
                    clip: clip.into(),
                    reason: format!(
                        "checksum mismatch in {} (crc32 {crc:08x}, the index says {:08x})",
                        shard.path.display(),
                        entry.crc32
                    ),
                });
            }
        }
        Ok((bytes, [entry.frames, self.index.dim]))
    }

    /// A clip as `f32` values (row-major) and its shape `[frames, D]`.
    pub fn get(&self, clip: &str) -> Result<(Vec<f32>, [usize; 2]), StoreError> {
        let mut out = Vec::new();
        let shape = self.get_into(clip, &mut out)?;
        Ok((out, shape))
    }

    /// Reads a clip into `out` (cleared first), reusing its allocation; returns the shape.
    pub fn get_into(&self, clip: &str, out: &mut Vec<f32>) -> Result<[usize; 2], StoreError> {
        let (bytes, shape) = self.raw(clip)?;
        out.clear();
        match self.index.dtype {
            StoreDtype::F32 => out.extend(
                bytes
                    .chunks_exact(4)
                    .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])),
            ),
            StoreDtype::F16 => out.extend(
                bytes
                    .chunks_exact(2)
                    .map(|c| f16::from_le_bytes([c[0], c[1]]).to_f32()),
            ),
        }
        Ok(shape)
    }

    /// The audio rows of a batch, in the order the model splices them: for each example, for each
    /// of its audio spans, the frames of the clip named by the example's id. Returns the values and
    /// their shape `[total frames, D]`; a clip whose frame count differs from its span is an error.
    pub fn gather_batch(&self, batch: &Batch) -> Result<(Vec<f32>, [usize; 2]), StoreError> {
        let total = batch.total_audio_frames();
        let mut out = Vec::with_capacity(total * self.index.dim);
        let mut clip_values = Vec::new();
        for (clip, spans) in batch.ids.iter().zip(&batch.audio_spans) {
            if spans.is_empty() {
                continue;
            }
            let [frames, _] = self.get_into(clip, &mut clip_values)?;
            for span in spans {
                if span.frames != frames {
                    return Err(StoreError::Clip {
                        clip: clip.clone(),
                        reason: format!(
                            "the example's audio span has {} frames, the store has {frames}",
                            span.frames
                        ),
                    });
                }
                out.extend_from_slice(&clip_values);
            }
        }
        Ok((out, [total, self.index.dim]))
    }

    /// Checks every clip's CRC-32; the first mismatch is the error.
    pub fn verify_all(&self) -> Result<(), StoreError> {
        for clip in self.index.clips.keys() {
            self.clip_bytes(clip, true)?;
        }
        Ok(())
    }
}
