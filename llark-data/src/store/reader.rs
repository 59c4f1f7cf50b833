//! [`EncodingStore`]: a written store, memory-mapped and checked against its index on open.

use std::path::{Path, PathBuf};

use llark_tensors::{decode_f32_into, TensorFile};

use super::{io_err, ClipEntry, StoreDtype, StoreError, StoreIndex, INDEX_FILE};
use crate::collate::Batch;

/// A read-only, memory-mapped encoding store.
pub struct EncodingStore {
    dir: PathBuf,
    index: StoreIndex,
    shards: Vec<TensorFile>,
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
        let index = StoreIndex::from_json(&text, &index_path)?;
        let mut shards = Vec::with_capacity(index.shards.len());
        for entry in &index.shards {
            let path = dir.join(&entry.file);
            let len = std::fs::metadata(&path).map_err(io_err(&path))?.len();
            if len != entry.bytes {
                return Err(StoreError::Shard {
                    path,
                    reason: format!("{len} bytes, the index says {}", entry.bytes),
                });
            }
            shards.push(TensorFile::open(&path)?);
        }
        let mut per_shard: Vec<Vec<(&String, &ClipEntry)>> = vec![Vec::new(); shards.len()];
        for (clip, entry) in &index.clips {
            // In range: checked by `StoreIndex::from_json`.
            if let Some(list) = per_shard.get_mut(entry.shard) {
                list.push((clip, entry));
            }
        }
        let dtype = index.dtype.float_dtype().dtype();
        for (shard, clips) in shards.iter().zip(per_shard) {
            let shard_err = |reason: String| StoreError::Shard {
                path: shard.path().to_path_buf(),
                reason,
            };
            if shard.len() != clips.len() {
                return Err(shard_err(format!(
                    "{} tensors, the index lists {} clips for it",
                    shard.len(),
                    clips.len()
                )));
            }
            for (clip, entry) in clips {
                let info = shard
                    .info(clip)
                    .ok_or_else(|| shard_err(format!("no tensor for clip {clip}")))?;
                if info.dtype != dtype || info.shape != [entry.frames, index.dim] {
                    return Err(StoreError::Clip {
                        clip: clip.clone(),
                        reason: format!(
                            "{} holds {:?} {:?}, the index says {:?} [{}, {}]",
                            shard.path().display(),
                            info.dtype,
                            info.shape,
                            index.dtype,
                            entry.frames,
                            index.dim
                        ),
                    });
                }
            }
        }
        Ok(EncodingStore {
            dir,
            index,
            shards,
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
        let shard = self.shards.get(entry.shard).ok_or_else(not_found)?;
        let bytes = shard.raw(clip)?.bytes;
        if verify {
            let crc = crc32fast::hash(bytes);
            if crc != entry.crc32 {
                return Err(StoreError::Clip {
                    clip: clip.into(),
                    reason: format!(
                        "checksum mismatch in {} (crc32 {crc:08x}, the index says {:08x})",
                        shard.path().display(),
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
        let dtype = self.index.dtype.float_dtype().dtype();
        decode_f32_into(dtype, bytes, out).ok_or_else(|| StoreError::Clip {
            clip: clip.into(),
            reason: format!("{dtype:?} cannot be read as f32"),
        })?;
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
