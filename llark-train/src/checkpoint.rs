//! Per-step checkpoints written atomically: everything goes into `step-NNNNNNNN.partial/`
//! (model, optimizer state, then `state.json` last, each synced to disk), and the directory is
//! renamed to `step-NNNNNNNN/` only when complete. A directory without the `.partial` suffix is
//! therefore always whole; an interrupted write leaves only a `.partial` directory, which is
//! ignored and removed. The newest `keep_last` checkpoints are kept (also after a run was
//! killed between a save and its pruning: pruning runs again when a run starts).
//!
//! `state.json` records the size and CRC-32 of the model and optimizer records; a checkpoint is
//! verified against them before anything is loaded from it, so a damaged file is an error that
//! names it, never a silently different model. Records are encoded in memory and written with
//! plain file I/O, so a full disk is reported as the operating system's error on the file.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use burn::module::Module;
use burn::record::{FullPrecisionSettings, NamedMpkBytesRecorder, Record, Recorder};
use burn::tensor::backend::Backend;
use serde::{Deserialize, Serialize};

use crate::config::TrainConfig;
use crate::data::SamplerState;
use crate::error::{Result, TrainError};
use crate::schedule::LrSchedule;

/// File (without extension) of the model record.
pub const MODEL_FILE: &str = "model";
/// File (without extension) of the optimizer record.
pub const OPTIMIZER_FILE: &str = "optimizer";
/// The trainer's state, written last.
pub const STATE_FILE: &str = "state.json";
/// Extension of the record files (named MessagePack).
pub const RECORD_EXTENSION: &str = "mpk";
const PREFIX: &str = "step-";
const PARTIAL: &str = ".partial";

/// The trainer's position, saved beside the model and optimizer records.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainerState {
    /// Optimizer steps completed.
    pub step: usize,
    /// The schedule (its position is `step`).
    pub schedule: LrSchedule,
    /// The data position and the generators' states.
    pub sampler: SamplerState,
    /// Number of training examples (a resumed run must see the same data).
    pub examples: usize,
    /// Seconds of training before this checkpoint.
    pub elapsed_s: f64,
    /// The configuration of the run.
    pub config: TrainConfig,
    /// Size and CRC-32 of each record file, by file name (filled in by [`Checkpoints::save`];
    /// empty in checkpoints written before checksums, which are then not verified).
    #[serde(default)]
    pub files: BTreeMap<String, FileDigest>,
}

/// The size and CRC-32 of a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileDigest {
    /// Length in bytes.
    pub bytes: u64,
    /// CRC-32 (IEEE) of the content.
    pub crc32: u32,
}

impl FileDigest {
    /// The digest of `bytes`.
    pub fn of(bytes: &[u8]) -> Self {
        FileDigest {
            bytes: bytes.len() as u64,
            crc32: crc32fast::hash(bytes),
        }
    }
}

/// The recorder of model and optimizer records: named MessagePack at full precision, so f32
/// values come back bit for bit (the bytes of burn's `NamedMpkFileRecorder` files).
pub type CheckpointRecorder = NamedMpkBytesRecorder<FullPrecisionSettings>;

/// The checkpoints of one output directory.
#[derive(Debug, Clone)]
pub struct Checkpoints {
    dir: PathBuf,
    keep_last: usize,
}

/// Writes `bytes` to a new file and syncs it.
fn write_synced(path: &Path, bytes: &[u8]) -> Result<()> {
    fs::File::create(path)
        .and_then(|mut f| {
            f.write_all(bytes)?;
            f.sync_all()
        })
        .map_err(|e| TrainError::io(path, e))
}

/// The file name of a record.
fn record_file(stem: &str) -> String {
    format!("{stem}.{RECORD_EXTENSION}")
}

fn sync_dir(path: &Path) {
    // Directory fsync is not supported everywhere; the rename itself is what is atomic.
    if let Ok(f) = fs::File::open(path) {
        let _ = f.sync_all();
    }
}

impl Checkpoints {
    /// The checkpoints under `dir` (created if needed), keeping the newest `keep_last`.
    pub fn open(dir: impl Into<PathBuf>, keep_last: usize) -> Result<Self> {
        let dir = dir.into();
        fs::create_dir_all(&dir).map_err(|e| TrainError::io(&dir, e))?;
        let checkpoints = Checkpoints {
            dir,
            keep_last: keep_last.max(1),
        };
        checkpoints.prune()?;
        Ok(checkpoints)
    }

    /// The checkpoints under `dir` for reading only: nothing is created or pruned (a
    /// data-parallel worker that does not write uses it).
    pub fn at(dir: impl Into<PathBuf>) -> Self {
        Checkpoints {
            dir: dir.into(),
            keep_last: usize::MAX,
        }
    }

    /// The directory holding the checkpoints.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Directory of the checkpoint of `step`.
    pub fn path_of(&self, step: usize) -> PathBuf {
        self.dir.join(format!("{PREFIX}{step:08}"))
    }

    /// Complete checkpoints, oldest first, as `(step, directory)`.
    pub fn list(&self) -> Result<Vec<(usize, PathBuf)>> {
        let entries = fs::read_dir(&self.dir).map_err(|e| TrainError::io(&self.dir, e))?;
        let mut out = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| TrainError::io(&self.dir, e))?;
            let name = entry.file_name();
            let Some(name) = name.to_str() else { continue };
            let Some(digits) = name.strip_prefix(PREFIX) else {
                continue;
            };
            let Ok(step) = digits.parse::<usize>() else {
                continue;
            };
            if entry.path().join(STATE_FILE).is_file() {
                out.push((step, entry.path()));
            }
        }
        out.sort();
        Ok(out)
    }

    /// The newest complete checkpoint.
    pub fn latest(&self) -> Result<Option<(usize, PathBuf)>> {
        Ok(self.list()?.pop())
    }

    /// As [`Self::latest`], `None` when the directory does not exist (nothing is created).
    pub fn latest_if_present(&self) -> Result<Option<(usize, PathBuf)>> {
        if !self.dir.exists() {
            return Ok(None);
        }
        self.latest()
    }

    /// Removes directories left by interrupted writes (`*.partial`).
    pub fn remove_partial(&self) -> Result<Vec<PathBuf>> {
        let entries = fs::read_dir(&self.dir).map_err(|e| TrainError::io(&self.dir, e))?;
        let mut removed = Vec::new();
        for entry in entries.flatten() {
            let path = entry.path();
            let partial = path
                .file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(PREFIX) && n.ends_with(PARTIAL));
            if partial {
                fs::remove_dir_all(&path).map_err(|e| TrainError::io(&path, e))?;
                removed.push(path);
            }
        }
        Ok(removed)
    }

    /// Writes a checkpoint atomically and prunes old ones. Returns its directory.
    pub fn save<B: Backend, M: Module<B>, O: Record<B>>(
        &self,
        model: &M,
        optimizer: O,
        state: &TrainerState,
    ) -> Result<PathBuf> {
        let target = self.path_of(state.step);
        let tmp = self.dir.join(format!("{PREFIX}{:08}{PARTIAL}", state.step));
        if tmp.exists() {
            fs::remove_dir_all(&tmp).map_err(|e| TrainError::io(&tmp, e))?;
        }
        fs::create_dir_all(&tmp).map_err(|e| TrainError::io(&tmp, e))?;
        let recorder = CheckpointRecorder::new();
        let mut state = state.clone();
        state.files.clear();
        let records = [
            (
                MODEL_FILE,
                Recorder::<B>::record(&recorder, model.clone().into_record(), ()),
            ),
            (
                OPTIMIZER_FILE,
                Recorder::<B>::record(&recorder, optimizer, ()),
            ),
        ];
        for (stem, bytes) in records {
            let name = record_file(stem);
            let path = tmp.join(&name);
            let bytes = bytes.map_err(|source| TrainError::Recorder {
                path: path.clone(),
                source,
            })?;
            write_synced(&path, &bytes)?;
            state.files.insert(name, FileDigest::of(&bytes));
        }
        let state_path = tmp.join(STATE_FILE);
        let text =
            serde_json::to_string_pretty(&state).map_err(|e| TrainError::json(&state_path, e))?;
        write_synced(&state_path, text.as_bytes())?;
        sync_dir(&tmp);
        if target.exists() {
            fs::remove_dir_all(&target).map_err(|e| TrainError::io(&target, e))?;
        }
        fs::rename(&tmp, &target).map_err(|e| TrainError::io(&target, e))?;
        sync_dir(&self.dir);
        self.prune()?;
        Ok(target)
    }

    fn prune(&self) -> Result<()> {
        let list = self.list()?;
        let excess = list.len().saturating_sub(self.keep_last);
        for (_, path) in list.into_iter().take(excess) {
            fs::remove_dir_all(&path).map_err(|e| TrainError::io(&path, e))?;
        }
        Ok(())
    }

    /// Reads a checkpoint's `state.json`.
    pub fn load_state(dir: &Path) -> Result<TrainerState> {
        let path = dir.join(STATE_FILE);
        let text = fs::read_to_string(&path).map_err(|e| TrainError::io(&path, e))?;
        serde_json::from_str(&text).map_err(|e| TrainError::json(path, e))
    }

    /// Reads a checkpoint's `state.json` and checks that every record file it lists is there
    /// with its recorded size; [`TrainError::Checkpoint`] names a file that is missing or
    /// truncated. The CRC-32 is checked when a record is loaded ([`Self::load_model`],
    /// [`Self::load_optimizer`]), as it is read, so no record is read twice.
    pub fn verify(dir: &Path) -> Result<TrainerState> {
        let state = Self::load_state(dir)?;
        for (name, digest) in &state.files {
            let path = dir.join(name);
            let len = fs::metadata(&path)
                .map_err(|e| TrainError::io(&path, e))?
                .len();
            if len != digest.bytes {
                return Err(TrainError::Checkpoint {
                    path,
                    reason: format!(
                        "the file is truncated or damaged: {len} bytes, state.json records {} (remove this checkpoint directory to resume from the one before)",
                        digest.bytes
                    ),
                });
            }
        }
        Ok(state)
    }

    fn read_verified(dir: &Path, name: &str, digest: Option<&FileDigest>) -> Result<Vec<u8>> {
        let path = dir.join(name);
        let bytes = fs::read(&path).map_err(|e| TrainError::io(&path, e))?;
        if let Some(expected) = digest {
            let found = FileDigest::of(&bytes);
            if found != *expected {
                return Err(TrainError::Checkpoint {
                    path,
                    reason: format!(
                        "the file is damaged: {} bytes with CRC-32 {:08x}, state.json records {} bytes with CRC-32 {:08x} (remove this checkpoint directory to resume from the one before)",
                        found.bytes, found.crc32, expected.bytes, expected.crc32
                    ),
                });
            }
        }
        Ok(bytes)
    }

    fn load_record<B: Backend, R: Record<B>>(
        dir: &Path,
        stem: &str,
        device: &B::Device,
    ) -> Result<R> {
        let name = record_file(stem);
        let state = Self::load_state(dir)?;
        let bytes = Self::read_verified(dir, &name, state.files.get(&name))?;
        CheckpointRecorder::new()
            .load(bytes, device)
            .map_err(|source| TrainError::Recorder {
                path: dir.join(&name),
                source,
            })
    }

    /// Loads a checkpoint's model record into `model` (which must have the same architecture),
    /// after checking the file against `state.json`.
    pub fn load_model<B: Backend, M: Module<B>>(
        dir: &Path,
        model: M,
        device: &B::Device,
    ) -> Result<M> {
        let record = Self::load_record::<B, M::Record>(dir, MODEL_FILE, device)?;
        Ok(model.load_record(record))
    }

    /// Loads a checkpoint's optimizer record, after checking the file against `state.json`.
    pub fn load_optimizer<B: Backend, O: Record<B>>(dir: &Path, device: &B::Device) -> Result<O> {
        Self::load_record::<B, O>(dir, OPTIMIZER_FILE, device)
    }
}
