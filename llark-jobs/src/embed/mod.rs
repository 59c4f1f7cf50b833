//! Encoding a corpus of audio files into stored encoder frames, resumably and in shards, then
//! packing them into an [`EncodingStore`](llark::data::EncodingStore) for the trainer.
//!
//! Each clip is written as soon as it is encoded, as its own file `OUT/clips/<id>.safetensors`
//! (one tensor `encoding` `[frames, D]` in the chosen dtype, with the encoder name, its frame
//! rate, the pooling rate, the source path and the source's size and SHA-256 as metadata),
//! through a temporary file and a rename, so an interrupted run leaves only whole files, and
//! byte-identical for identical inputs. A later run skips every clip whose file exists.
//! [`Shard`] splits the sorted clip list between processes (`index % count`); [`ShardSpec`]
//! reads the shard from a Slurm job array or a Kubernetes Indexed Job. Each run of a shard ends
//! with its manifest (see [`manifest`](self#manifests)); [`merge`] verifies that the manifests
//! cover the corpus exactly once, packs the files into a store at `OUT/store` with [`pack`] and
//! writes `OUT/manifest.json`. A run of the whole corpus merges by itself when it is complete.
//!
//! # Manifests
//!
//! `OUT/manifests/shard-IIIII-of-NNNNN.json` lists, for each clip of the shard with its file,
//! the source (path, bytes, SHA-256) and the per-clip file (path, bytes, SHA-256, frames), and
//! the clips that failed. [`merge`] refuses, listing every problem, unless there is one manifest
//! per shard of one count, every clip of the corpus is in exactly one and no other clip is, and
//! every file and source still has its recorded hash.
//!
//! ```no_run
//! use llark::{backend, encoders::load_encoder, AudioFrontEnd};
//! use llark_jobs::embed::{embed, find_clips, EmbedOptions};
//!
//! let device = backend::default_device();
//! let encoder = load_encoder::<backend::DefaultBackend>("jukebox", &device)?;
//! let front_end = AudioFrontEnd::new(encoder, Some(10), &device)?;
//! let clips = find_clips(&["music/"])?;
//! let summary = embed(&front_end, &clips, &EmbedOptions::new("encodings"), |_| {})?;
//! println!("{}", summary.line());
//! # Ok::<(), llark_jobs::JobError>(())
//! ```

mod array;
mod clip_file;
mod corpus;
mod manifest;
mod pack;

use std::fmt;
use std::path::{Path, PathBuf};

use burn::tensor::backend::Backend;
use llark::data::store::{StoreIndex, INDEX_FILE};
use llark::data::StoreDtype;
use llark::encoder::Frames;
use llark::{AudioFrontEnd, LlarkError};

pub use array::{ShardSpec, SHARD_COUNT_VAR};
pub use clip_file::{
    clip_file, read_clip_file, write_clip_file, ClipEncoding, EncodingMetadata, CLIPS_DIR,
    ENCODING_TENSOR,
};
pub use corpus::{find_clips, Clip, Shard, AUDIO_EXTENSIONS};
pub use manifest::{
    clip_record, merge, sha256_file, shard_manifest_path, verify, write_shard_manifest, ClipRecord,
    FailedClip, Manifest, MergeError, Merged, ShardManifest, StoreFile, MANIFESTS_DIR,
    MANIFEST_FILE, MANIFEST_FORMAT,
};
pub use pack::pack;

use crate::error::{JobError, Result};

/// Folder of the packed store inside the output folder.
pub const STORE_DIR: &str = "store";

/// Parses a store dtype name (`f16` or `f32`).
pub fn parse_dtype(name: &str) -> Result<StoreDtype> {
    match name.to_ascii_lowercase().as_str() {
        "f16" => Ok(StoreDtype::F16),
        "f32" => Ok(StoreDtype::F32),
        _ => Err(JobError::Dtype {
            name: name.to_owned(),
        }),
    }
}

/// What [`embed`] does.
#[derive(Debug, Clone, PartialEq)]
pub struct EmbedOptions {
    /// Output folder (per-clip files under `clips/`, the store under `store/`).
    pub out: PathBuf,
    /// Element type of the per-clip files and of the store.
    pub dtype: StoreDtype,
    /// The part of the corpus to encode.
    pub shard: Shard,
    /// Pack the store at the end, unverified, even if some clips have no file yet (then the
    /// store holds the clips that have one), nothing changed since the last packing or this is
    /// one shard of several.
    pub pack: bool,
}

impl EmbedOptions {
    /// Defaults: f32, the whole corpus, packing only once every clip is encoded.
    pub fn new(out: impl Into<PathBuf>) -> Self {
        EmbedOptions {
            out: out.into(),
            dtype: StoreDtype::F32,
            shard: Shard::ALL,
            pack: false,
        }
    }

    /// With this dtype.
    pub fn with_dtype(mut self, dtype: StoreDtype) -> Self {
        self.dtype = dtype;
        self
    }

    /// With this shard.
    pub fn with_shard(mut self, shard: Shard) -> Self {
        self.shard = shard;
        self
    }

    /// Forcing the packing or not.
    pub fn with_pack(mut self, pack: bool) -> Self {
        self.pack = pack;
        self
    }
}

/// Runs `path` through the front end (decode, resample, peak-normalise, encode, pool) and
/// brings the frames to the host for storage. Audio past the encoder's
/// [`max_input_samples`](llark::encoder::EncoderInfo::max_input_samples) is ignored, as in LLark.
pub fn encode_file<B: Backend>(front_end: &AudioFrontEnd<B>, path: &Path) -> Result<Frames> {
    let frames = Frames::from_tensor(front_end.encode_file(path)?).map_err(LlarkError::from)?;
    if frames.frames == 0 {
        return Err(JobError::TooShort {
            path: path.to_path_buf(),
        });
    }
    Ok(frames)
}

/// What happened to one clip.
#[derive(Debug)]
pub enum ClipOutcome {
    /// Encoded and written, with this many frames.
    Encoded {
        /// Frames written.
        frames: usize,
    },
    /// Its file existed already.
    Skipped,
    /// Failed; the run goes on with the next clip.
    Failed(JobError),
}

/// Progress of [`embed`], reported before and after each clip of the shard.
#[derive(Debug)]
pub enum Progress<'a> {
    /// The clip at `position` (counting from 0 among the `total` clips of the shard) begins.
    Started {
        /// The clip.
        clip: &'a Clip,
        /// Its position in the shard.
        position: usize,
        /// Clips in the shard.
        total: usize,
    },
    /// The clip is done.
    Finished {
        /// The clip.
        clip: &'a Clip,
        /// What happened.
        outcome: &'a ClipOutcome,
    },
    /// All clips have files; the store is being packed.
    Packing {
        /// Clips to pack.
        clips: usize,
    },
}

/// A clip that failed, with its audio file (displayed as the error, prefixed with the file's
/// path unless the error names it already).
#[derive(Debug)]
pub struct ClipFailure {
    /// The clip.
    pub clip: Clip,
    /// Why.
    pub error: JobError,
}

impl fmt::Display for ClipFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&failure_message(&self.clip.path, &self.error))
    }
}

/// `error` as a message that names the file `path` (prefixed with it unless it names it already).
pub fn failure_message(path: &Path, error: &JobError) -> String {
    let path = path.display().to_string();
    let error = error.to_string();
    if error.contains(&path) {
        error
    } else {
        format!("{path}: {error}")
    }
}

/// The result of [`embed`].
#[derive(Debug, Default)]
pub struct EmbedSummary {
    /// Clips of the shard encoded in this run.
    pub encoded: usize,
    /// Clips of the shard whose file existed already.
    pub skipped: usize,
    /// Clips of the shard that failed.
    pub failed: Vec<ClipFailure>,
    /// Clips of the whole corpus (every shard) that still have no file.
    pub missing: usize,
    /// The index of the store, if it was packed in this run.
    pub packed: Option<StoreIndex>,
    /// The number of shards the corpus is split into.
    pub shard_count: usize,
}

impl EmbedSummary {
    /// One line for humans: `encoded N, skipped N, failed N` and what became of the store.
    pub fn line(&self) -> String {
        let mut line = format!(
            "encoded {}, skipped {}, failed {}",
            self.encoded,
            self.skipped,
            self.failed.len()
        );
        match &self.packed {
            Some(index) => line.push_str(&format!("; packed {} clips", index.clips.len())),
            None if self.missing > 0 => {
                line.push_str(&format!("; {} clips still to encode", self.missing))
            }
            None if self.shard_count > 1 => {
                line.push_str("; every clip has its file: merge the shards to pack the store")
            }
            None => {}
        }
        line
    }
}

/// Encodes the clips of `options.shard` that have no file under `options.out` yet, one file per
/// clip, reporting to `progress`; a clip that fails is recorded and the run goes on. Then writes
/// the shard's manifest (see [`write_shard_manifest`]). A run of the whole corpus (shard `0/1`)
/// then merges (see [`merge`]: verifies, packs the store and writes `OUT/manifest.json`) once
/// every clip has its file, if a clip was encoded in this run or nothing was merged yet; the
/// shards of a job array leave that to one [`merge`] after them all. With `options.pack` the
/// store is packed from whatever files there are, without verifying.
///
/// Errors are those that stop the whole run: an output folder or a store that cannot be written.
/// (A pooling rate the encoder cannot give is refused earlier, by [`AudioFrontEnd::new`].)
pub fn embed<B: Backend>(
    front_end: &AudioFrontEnd<B>,
    clips: &[Clip],
    options: &EmbedOptions,
    mut progress: impl FnMut(Progress<'_>),
) -> Result<EmbedSummary> {
    let clips_dir = options.out.join(CLIPS_DIR);
    std::fs::create_dir_all(&clips_dir).map_err(JobError::io(&clips_dir))?;
    let mine: Vec<&Clip> = clips
        .iter()
        .enumerate()
        .filter(|(i, _)| options.shard.contains(*i))
        .map(|(_, c)| c)
        .collect();
    let mut summary = EmbedSummary {
        shard_count: options.shard.count,
        ..EmbedSummary::default()
    };
    for (position, &clip) in mine.iter().enumerate() {
        progress(Progress::Started {
            clip,
            position,
            total: mine.len(),
        });
        let path = clip_file(&options.out, &clip.id);
        let outcome = if path.exists() {
            ClipOutcome::Skipped
        } else {
            match encode_clip(front_end, clip, &path, options) {
                Ok(frames) => ClipOutcome::Encoded { frames },
                Err(error) => ClipOutcome::Failed(error),
            }
        };
        progress(Progress::Finished {
            clip,
            outcome: &outcome,
        });
        match outcome {
            ClipOutcome::Encoded { .. } => summary.encoded += 1,
            ClipOutcome::Skipped => summary.skipped += 1,
            ClipOutcome::Failed(error) => summary.failed.push(ClipFailure {
                clip: clip.clone(),
                error,
            }),
        }
    }
    write_shard_manifest(&options.out, clips, options.shard, &summary.failed)?;
    summary.missing = clips
        .iter()
        .filter(|c| !clip_file(&options.out, &c.id).exists())
        .count();
    let merged = options.out.join(MANIFEST_FILE).exists()
        && options.out.join(STORE_DIR).join(INDEX_FILE).exists();
    if options.pack {
        progress(Progress::Packing {
            clips: clips.len() - summary.missing,
        });
        summary.packed = Some(pack(&options.out, clips, options.dtype)?);
    } else if options.shard.count == 1 && summary.missing == 0 && (summary.encoded > 0 || !merged) {
        progress(Progress::Packing { clips: clips.len() });
        summary.packed = Some(merge(&options.out, clips, options.dtype)?.index);
    }
    Ok(summary)
}

fn encode_clip<B: Backend>(
    front_end: &AudioFrontEnd<B>,
    clip: &Clip,
    path: &Path,
    options: &EmbedOptions,
) -> Result<usize> {
    let frames = encode_file(front_end, &clip.path)?;
    let encoder = front_end.encoder();
    let metadata = EncodingMetadata {
        encoder: encoder.name().to_owned(),
        frame_rate: encoder.frame_rate(),
        pool_fps: front_end.pool_fps(),
        source: clip.path.display().to_string(),
        source_hash: Some(sha256_file(&clip.path)?),
    };
    write_clip_file(path, &frames, options.dtype, &metadata)?;
    Ok(frames.frames)
}
