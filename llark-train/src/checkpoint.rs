//! Per-step checkpoints written atomically: everything goes into `step-NNNNNNNN.partial/`
//! (model, optimizer state, then `state.json` last, each synced to disk), and the directory is
//! renamed to `step-NNNNNNNN/` only when complete. A directory without the `.partial` suffix is
//! therefore always whole; an interrupted write leaves only a `.partial` directory, which is
//! ignored and removed. The newest `keep_last` checkpoints are kept.

use std::fs;
use std::path::{Path, PathBuf};

use burn::module::Module;
use burn::record::{FileRecorder, FullPrecisionSettings, NamedMpkFileRecorder, Record, Recorder};
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
}

/// The recorder of model and optimizer records: named MessagePack at full precision, so f32
/// values come back bit for bit.
pub type CheckpointRecorder = NamedMpkFileRecorder<FullPrecisionSettings>;

/// The checkpoints of one output directory.
#[derive(Debug, Clone)]
pub struct Checkpoints {
    dir: PathBuf,
    keep_last: usize,
}

fn sync_file(path: &Path) -> Result<()> {
    fs::File::open(path)
        .and_then(|f| f.sync_all())
        .map_err(|e| TrainError::io(path, e))
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
        Ok(Checkpoints {
            dir,
            keep_last: keep_last.max(1),
        })
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
        let fail = |path: &Path, source| TrainError::Recorder {
            path: path.to_path_buf(),
            source,
        };
        let model_path = tmp.join(MODEL_FILE);
        recorder
            .record(model.clone().into_record(), model_path.clone())
            .map_err(|e| fail(&model_path, e))?;
        let optim_path = tmp.join(OPTIMIZER_FILE);
        recorder
            .record(optimizer, optim_path.clone())
            .map_err(|e| fail(&optim_path, e))?;
        for stem in [MODEL_FILE, OPTIMIZER_FILE] {
            sync_file(
                &tmp.join(stem)
                    .with_extension(<CheckpointRecorder as FileRecorder<B>>::file_extension()),
            )?;
        }
        let state_path = tmp.join(STATE_FILE);
        let text =
            serde_json::to_string_pretty(state).map_err(|e| TrainError::json(&state_path, e))?;
        fs::write(&state_path, text).map_err(|e| TrainError::io(&state_path, e))?;
        sync_file(&state_path)?;
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

    /// Loads a checkpoint's model record into `model` (which must have the same architecture).
    pub fn load_model<B: Backend, M: Module<B>>(
        dir: &Path,
        model: M,
        device: &B::Device,
    ) -> Result<M> {
        let path = dir.join(MODEL_FILE);
        let record = CheckpointRecorder::new()
            .load(path.clone(), device)
            .map_err(|source| TrainError::Recorder { path, source })?;
        Ok(model.load_record(record))
    }

    /// Loads a checkpoint's optimizer record.
    pub fn load_optimizer<B: Backend, O: Record<B>>(dir: &Path, device: &B::Device) -> Result<O> {
        let path = dir.join(OPTIMIZER_FILE);
        CheckpointRecorder::new()
            .load(path.clone(), device)
            .map_err(|source| TrainError::Recorder { path, source })
    }
}
