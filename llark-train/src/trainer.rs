//! The training loop.

use std::path::{Path, PathBuf};
use std::time::Instant;

use burn::optim::adaptor::OptimizerAdaptor;
use burn::optim::{AdamW, Optimizer};
use burn::tensor::backend::AutodiffBackend;
use burn::tensor::{Tensor, TensorData};

use crate::checkpoint::{Checkpoints, TrainerState};
use crate::config::TrainConfig;
use crate::data::{EncodingSource, Sampler, TrainData};
use crate::error::{Result, TrainError};
use crate::grads::{
    accumulate_parts, clip_global_norm, example_tokens, global_grad_norm, AccumulateError,
    MicroBatchPart, StepGradients,
};
use crate::metrics::{plot_curve, MetricsLog, StepMetrics};
use crate::model::{apply_config, TrainModel};
use crate::observer::{Silent, TrainObserver};
use crate::parallel::{self, Worker};
use crate::schedule::LrSchedule;

/// Name of the checkpoint directory inside the output directory.
pub const CHECKPOINT_DIR: &str = "checkpoints";
/// Name of the metrics log inside the output directory.
pub const METRICS_FILE: &str = "metrics.jsonl";
/// Name of the training-curve image inside the output directory.
pub const CURVE_FILE: &str = "training_curve.png";
/// Name of the directory the final model is exported to.
pub const FINAL_DIR: &str = "final";

/// What a finished (or stopped) run reports.
#[derive(Debug, Clone)]
pub struct TrainSummary {
    /// Optimizer steps completed.
    pub steps: usize,
    /// The run's total steps.
    pub total_steps: usize,
    /// Metrics of every step done so far, resumed steps included.
    pub history: Vec<StepMetrics>,
    /// The newest checkpoint.
    pub last_checkpoint: Option<PathBuf>,
}

/// The trainer: owns the model, the AdamW optimizer (burn's, every hyper-parameter set
/// explicitly), the schedule, the sampler and the output directory.
pub struct Trainer<B: AutodiffBackend, M: TrainModel<B>, A: EncodingSource> {
    config: TrainConfig,
    model: Option<M>,
    optim: OptimizerAdaptor<AdamW, M, B>,
    schedule: LrSchedule,
    sampler: Sampler,
    data: TrainData<A>,
    step: usize,
    out_dir: PathBuf,
    checkpoints: Checkpoints,
    /// The metrics log; `None` on a data-parallel worker that does not write.
    metrics: Option<MetricsLog>,
    history: Vec<StepMetrics>,
    device: B::Device,
    last_checkpoint: Option<PathBuf>,
    elapsed_before: f64,
    /// This trainer's place in a data-parallel run (`None`: it trains alone).
    worker: Option<Worker>,
}

/// Fields that decide the trajectory; a resumed run must agree on them.
fn trajectory(config: &TrainConfig) -> TrainConfig {
    TrainConfig {
        checkpoint: Default::default(),
        progress_bar: false,
        plot_every: 0,
        ..config.clone()
    }
}

impl<B: AutodiffBackend, M: TrainModel<B>, A: EncodingSource> Trainer<B, M, A> {
    /// A fresh run writing to `out_dir`, which must not hold checkpoints of another run (resume
    /// it, or choose another directory); its metrics log starts empty. The policy is applied to
    /// `model`.
    pub fn new(
        model: M,
        data: TrainData<A>,
        config: TrainConfig,
        out_dir: impl AsRef<Path>,
    ) -> Result<Self> {
        let out = out_dir.as_ref();
        let checkpoints = Checkpoints::open(out.join(CHECKPOINT_DIR), config.checkpoint.keep_last)?;
        if let Some((_, dir)) = checkpoints.latest()? {
            return Err(TrainError::Checkpoint {
                path: dir,
                reason: "the output directory already holds a run's checkpoints; resume it or \
                         choose another directory"
                    .into(),
            });
        }
        Self::build(model, data, config, out, 0, true)
    }

    /// Sets everything up, keeping the metrics of steps `<= keep_metrics`. A trainer that does
    /// not `write` (a data-parallel worker other than the first) leaves the output directory as
    /// it is: it neither removes partial checkpoints nor opens the metrics log.
    pub(crate) fn build(
        model: M,
        data: TrainData<A>,
        config: TrainConfig,
        out_dir: &Path,
        keep_metrics: usize,
        write: bool,
    ) -> Result<Self> {
        config.validate()?;
        if model.audio_width() != data.audio.width() {
            return Err(TrainError::WidthMismatch {
                model: model.audio_width(),
                data: data.audio.width(),
            });
        }
        let total = config.total_steps(data.examples.len())?;
        let schedule = LrSchedule::new(
            config.schedule,
            config.optimizer.learning_rate,
            config.warmup,
            total,
        )?;
        let sampler = Sampler::new(&data.examples, config.seed, config.task_mix.as_ref())?;
        let out_dir = out_dir.to_path_buf();
        let (checkpoints, metrics, history) = if write {
            std::fs::create_dir_all(&out_dir).map_err(|e| TrainError::io(&out_dir, e))?;
            let checkpoints =
                Checkpoints::open(out_dir.join(CHECKPOINT_DIR), config.checkpoint.keep_last)?;
            checkpoints.remove_partial()?;
            let (metrics, history) = MetricsLog::open(out_dir.join(METRICS_FILE), keep_metrics)?;
            (checkpoints, Some(metrics), history)
        } else {
            let checkpoints = Checkpoints::at(out_dir.join(CHECKPOINT_DIR));
            (
                checkpoints,
                None,
                MetricsLog::read(out_dir.join(METRICS_FILE), keep_metrics)?,
            )
        };
        if model.lora() != config.lora.as_ref() {
            return Err(TrainError::config(
                "lora",
                format!(
                    "the model's adapters ({}) are not the configuration's ({})",
                    describe_lora(model.lora()),
                    describe_lora(config.lora.as_ref())
                ),
            ));
        }
        let model = apply_config(model, &config);
        let device = model.devices().into_iter().next().unwrap_or_default();
        Ok(Trainer {
            optim: config.optimizer.to_burn().init::<B, M>(),
            config,
            model: Some(model),
            schedule,
            sampler,
            data,
            step: 0,
            out_dir,
            checkpoints,
            metrics,
            history,
            device,
            last_checkpoint: None,
            elapsed_before: 0.0,
            worker: None,
        })
    }

    /// Continues the run in `out_dir` from its newest complete checkpoint (directories left by
    /// interrupted writes are removed). `model` must have the architecture of the checkpointed
    /// one (e.g. freshly built the same way); `data` and the trajectory fields of `config` must
    /// be those of the run. The continued run computes what the uninterrupted one would have.
    pub fn resume(
        model: M,
        data: TrainData<A>,
        config: TrainConfig,
        out_dir: impl AsRef<Path>,
    ) -> Result<Self> {
        let out = out_dir.as_ref();
        let (checkpoints, latest) = latest_complete(out, &config)?;
        let Some(dir) = latest else {
            return Err(TrainError::Checkpoint {
                path: checkpoints.dir().to_path_buf(),
                reason: "no complete checkpoint to resume from".into(),
            });
        };
        Self::resume_from(model, data, config, out, &dir)
    }

    /// As [`Self::resume`] when `out_dir` has a complete checkpoint, else [`Self::new`].
    pub fn new_or_resume(
        model: M,
        data: TrainData<A>,
        config: TrainConfig,
        out_dir: impl AsRef<Path>,
    ) -> Result<Self> {
        let out = out_dir.as_ref();
        match latest_complete(out, &config)?.1 {
            Some(dir) => Self::resume_from(model, data, config, out, &dir),
            None => Self::new(model, data, config, out),
        }
    }

    /// Continues from the checkpoint directory `checkpoint`.
    pub fn resume_from(
        model: M,
        data: TrainData<A>,
        config: TrainConfig,
        out_dir: impl AsRef<Path>,
        checkpoint: &Path,
    ) -> Result<Self> {
        Self::resume_from_checkpoint(model, data, config, out_dir.as_ref(), checkpoint, true)
    }

    /// As [`Self::resume_from`]; a trainer that does not `write` leaves the output directory as
    /// it is (see [`Self::build`]).
    pub(crate) fn resume_from_checkpoint(
        model: M,
        data: TrainData<A>,
        config: TrainConfig,
        out_dir: &Path,
        checkpoint: &Path,
        write: bool,
    ) -> Result<Self> {
        let state = Checkpoints::verify(checkpoint)?;
        let mismatch = |reason: String| TrainError::Checkpoint {
            path: checkpoint.to_path_buf(),
            reason,
        };
        if trajectory(&state.config) != trajectory(&config) {
            return Err(mismatch(format!(
                "the checkpoint was written with another configuration: {}",
                serde_json::to_string(&state.config).unwrap_or_default()
            )));
        }
        if state.examples != data.examples.len() {
            return Err(mismatch(format!(
                "the checkpoint's run had {} examples, the data has {}",
                state.examples,
                data.examples.len()
            )));
        }
        let mut trainer = Self::build(model, data, config, out_dir, state.step, write)?;
        if state.schedule != trainer.schedule {
            return Err(mismatch("the learning-rate schedule differs".into()));
        }
        let model = trainer.take_model();
        let model = Checkpoints::load_model(checkpoint, model, &trainer.device)?;
        trainer.model = Some(model);
        let record = Checkpoints::load_optimizer(checkpoint, &trainer.device)?;
        trainer.optim = trainer.optim.load_record(record);
        trainer.sampler.restore(&state.sampler)?;
        trainer.step = state.step;
        trainer.elapsed_before = state.elapsed_s;
        trainer.last_checkpoint = Some(checkpoint.to_path_buf());
        Ok(trainer)
    }

    fn take_model(&mut self) -> M {
        self.model
            .take()
            .expect("the trainer always holds its model between steps")
    }

    /// The model being trained.
    pub fn model(&self) -> &M {
        self.model
            .as_ref()
            .expect("the trainer always holds its model between steps")
    }

    /// Gives the model back.
    pub fn into_model(mut self) -> M {
        self.take_model()
    }

    /// Optimizer steps completed.
    pub fn step_count(&self) -> usize {
        self.step
    }

    /// The run's total optimizer steps.
    pub fn total_steps(&self) -> usize {
        self.schedule.total_steps
    }

    /// The schedule.
    pub fn schedule(&self) -> &LrSchedule {
        &self.schedule
    }

    /// Metrics of every step done so far.
    pub fn history(&self) -> &[StepMetrics] {
        &self.history
    }

    /// The newest checkpoint written or resumed from.
    pub fn last_checkpoint(&self) -> Option<&Path> {
        self.last_checkpoint.as_deref()
    }

    /// The output directory.
    pub fn out_dir(&self) -> &Path {
        &self.out_dir
    }

    /// One optimizer step: `grad_accum_steps` micro-batches of `micro_batch_size` examples,
    /// gradient accumulation, clipping, AdamW with the scheduled rate. A non-finite loss or
    /// gradient norm is an error and leaves the model and the optimizer as they were (the
    /// sampler has moved past the step's examples: resume from the checkpoint to redo it).
    pub fn train_step(&mut self) -> Result<StepMetrics> {
        let started = Instant::now();
        let step = self.step;
        let lr = self.schedule.lr(step);
        let (mut step_grads, tokens, ids) = match self.worker {
            None => self.worker_gradients(step, Worker::ALONE)?,
            Some(worker) => {
                let local = self.worker_gradients(step, worker);
                let micro_batches = self.config.grad_accum_steps;
                parallel::reduce_step(
                    worker,
                    step,
                    self.model(),
                    &self.device,
                    micro_batches,
                    local,
                )?
            }
        };
        let model = self.model();
        let grad_norm = match self.config.max_grad_norm {
            Some(max) => clip_global_norm(model, &mut step_grads.grads, max),
            None => global_grad_norm(model, &step_grads.grads),
        };
        if !grad_norm.is_finite() {
            return Err(TrainError::NonFinite {
                what: "gradient norm",
                value: grad_norm,
                step,
                examples: ids.join(", "),
                last_checkpoint: self.last_checkpoint.clone(),
            });
        }
        let model = self.take_model();
        self.model = Some(self.optim.step(lr, model, step_grads.grads));
        self.step += 1;
        let seconds = started.elapsed().as_secs_f64();
        let elapsed = self.elapsed_before + seconds;
        self.elapsed_before = elapsed;
        let metrics = StepMetrics {
            step: self.step,
            loss: step_grads.loss,
            lr,
            grad_norm,
            tokens,
            tokens_per_s: tokens as f64 / seconds.max(1e-9),
            elapsed_s: elapsed,
            examples_seen: self.sampler.drawn(),
        };
        let logged = match &mut self.metrics {
            Some(log) => log.append(&metrics),
            None => Ok(()),
        };
        self.settle(step, logged)?;
        self.history.push(metrics.clone());
        Ok(metrics)
    }

    /// This worker's gradients of step `step`, with the tokens of the whole step and the ids of
    /// each micro-batch's examples: every worker draws the step's micro-batches and computes its
    /// own contiguous slice of each ([`parallel::slice_of`]), weighted by its share of the
    /// micro-batch's counted tokens. A trainer alone ([`Worker::ALONE`]) holds every slice with
    /// share 1, which is [`crate::grads::accumulate_gradients`] on the whole micro-batches.
    fn worker_gradients(
        &mut self,
        step: usize,
        worker: Worker,
    ) -> Result<(StepGradients, usize, Vec<String>)> {
        if let Some(seed) = dropout_seed(&self.config, step, worker) {
            B::seed(&self.device, seed);
        }
        let mut parts = Vec::with_capacity(self.config.grad_accum_steps);
        let mut ids = Vec::new();
        let mut tokens = 0;
        for _ in 0..self.config.grad_accum_steps {
            let indices = self.sampler.take(self.config.micro_batch_size);
            let examples = self.data.examples_at(&indices)?;
            tokens += examples.iter().map(|e| e.input_ids.len()).sum::<usize>();
            ids.push(
                examples
                    .iter()
                    .map(|e| e.id.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            );
            let counted: Vec<usize> = examples.iter().map(|e| example_tokens(e)).collect();
            let micro_counted: usize = counted.iter().sum();
            let mine = parallel::slice_of(indices.len(), worker);
            let own: usize = counted[mine.clone()].iter().sum();
            // A worker of several skips a slice without labelled tokens (its share is 0); alone,
            // the whole micro-batch goes to the model, which reports it.
            let batch = if own == 0 && worker.world > 1 {
                None
            } else {
                let (batch, audio, shape) = self
                    .data
                    .batch(&indices[mine], self.config.pad_to_multiple_of)?;
                let audio = Tensor::<B, 2>::from_data(TensorData::new(audio, shape), &self.device);
                Some((batch, audio))
            };
            parts.push(MicroBatchPart {
                batch,
                share: if micro_counted == 0 {
                    0.0
                } else {
                    own as f64 / micro_counted as f64
                },
                micro_counted,
            });
        }
        let grads = accumulate_parts(self.model(), parts, self.config.accumulation)
            .map_err(|e| self.accumulate_error(step, &ids, e))?;
        Ok((grads, tokens, ids))
    }

    /// The trainer's error for a failed micro-batch.
    fn accumulate_error(&self, step: usize, ids: &[String], e: AccumulateError) -> TrainError {
        match e {
            AccumulateError::Model(i, source) => TrainError::Model {
                step,
                examples: ids[i].clone(),
                source,
            },
            AccumulateError::NonFinite(i, value) => TrainError::NonFinite {
                what: "loss",
                value,
                step,
                examples: ids[i].clone(),
                last_checkpoint: self.last_checkpoint.clone(),
            },
        }
    }

    /// An error unless this trainer writes the run's files (`what` names them).
    fn check_writes(&self, what: &str) -> Result<()> {
        if self.writes() {
            return Ok(());
        }
        Err(TrainError::Parallel {
            reason: format!("only the first worker of a data-parallel run writes {what}"),
        })
    }

    /// `outcome` alone; in a data-parallel run, once every worker has reached this point: an
    /// error of another worker becomes [`TrainError::PeerFailed`] here, so that all stop together.
    fn settle<T>(&self, step: usize, outcome: Result<T>) -> Result<T> {
        match self.worker {
            None => outcome,
            Some(worker) => {
                parallel::agree::<B::InnerBackend, T>(worker, step, &self.device, outcome)
            }
        }
    }

    /// Joins a data-parallel run as `worker` (set by [`parallel::train_data_parallel`]).
    pub(crate) fn set_worker(&mut self, worker: Worker) {
        self.worker = Some(worker);
    }

    /// This trainer's place in a data-parallel run (`None`: it trains alone).
    pub fn worker(&self) -> Option<Worker> {
        self.worker
    }

    /// Whether this trainer writes the run's files (checkpoints, metrics, curve, export): a
    /// trainer alone does, and in a data-parallel run only the first worker.
    pub fn writes(&self) -> bool {
        self.metrics.is_some()
    }

    /// Writes a checkpoint of the current step now.
    pub fn save_checkpoint(&mut self) -> Result<PathBuf> {
        self.check_writes("checkpoints")?;
        let state = TrainerState {
            step: self.step,
            schedule: self.schedule,
            sampler: self.sampler.state(),
            examples: self.data.examples.len(),
            elapsed_s: self.elapsed_before,
            config: self.config.clone(),
            files: Default::default(),
        };
        let path =
            self.checkpoints
                .save::<B, M, _>(self.model(), self.optim.to_record(), &state)?;
        self.last_checkpoint = Some(path.clone());
        Ok(path)
    }

    /// Draws the training curve into the output directory.
    pub fn plot(&self) -> Result<PathBuf> {
        self.check_writes("the training curve")?;
        let path = self.out_dir.join(CURVE_FILE);
        plot_curve(&path, &self.history)?;
        Ok(path)
    }

    /// Trains until `limit` steps are done (or the run's total), checkpointing every
    /// `checkpoint.every` steps and at the run's end, logging metrics and drawing the curve.
    pub fn run_until(&mut self, limit: usize) -> Result<TrainSummary> {
        self.run_until_observed(limit, &mut Silent)
    }

    /// As [`Self::run_until`], reporting every step and checkpoint to `observer`.
    pub fn run_until_observed(
        &mut self,
        limit: usize,
        observer: &mut dyn TrainObserver,
    ) -> Result<TrainSummary> {
        let total = self.total_steps();
        let end = limit.min(total);
        observer.on_start(self.step, total);
        while self.step < end {
            let m = self.train_step()?;
            observer.on_step(&m, total);
            let every = self.config.checkpoint.every;
            let at_checkpoint =
                (every > 0 && self.step.is_multiple_of(every)) || self.step == total;
            if at_checkpoint {
                let saved = if self.writes() {
                    self.save_checkpoint().map(Some)
                } else {
                    Ok(None)
                };
                match self.settle(self.step, saved)? {
                    Some(dir) => observer.on_checkpoint(self.step, &dir),
                    None => self.last_checkpoint = Some(self.checkpoints.path_of(self.step)),
                }
            }
            let plot_now = if self.config.plot_every > 0 {
                self.step.is_multiple_of(self.config.plot_every)
            } else {
                at_checkpoint
            };
            if plot_now {
                let plotted = if self.writes() {
                    self.plot().map(drop)
                } else {
                    Ok(())
                };
                self.settle(self.step, plotted)?;
            }
        }
        if self.step == total {
            observer.on_finish(total);
        }
        Ok(TrainSummary {
            steps: self.step,
            total_steps: total,
            history: self.history.clone(),
            last_checkpoint: self.last_checkpoint.clone(),
        })
    }

    /// Trains to the end of the run and exports the model to `<out_dir>/final`.
    pub fn run(&mut self) -> Result<TrainSummary> {
        self.run_observed(&mut Silent)
    }

    /// As [`Self::run`], reporting every step and checkpoint to `observer`.
    pub fn run_observed(&mut self, observer: &mut dyn TrainObserver) -> Result<TrainSummary> {
        let summary = self.run_until_observed(usize::MAX, observer)?;
        let exported = if self.writes() {
            let path = self.out_dir.join(FINAL_DIR);
            self.model()
                .export(&path)
                .map_err(|source| TrainError::Export { path, source })
        } else {
            Ok(())
        };
        self.settle(self.step, exported)?;
        Ok(summary)
    }
}

/// How a configuration's adapters read in messages.
fn describe_lora(lora: Option<&llark_lm::LoraConfig>) -> String {
    match lora {
        None => "none".into(),
        Some(c) => serde_json::to_string(c).unwrap_or_default(),
    }
}

/// The seed of the backend's generator at the start of `step` for `worker` when the model draws
/// dropout masks (`lora_dropout > 0`), so that a resumed run draws the masks the uninterrupted
/// one drew: a SplitMix64 mix of the run's seed, the step and the worker's rank.
fn dropout_seed(config: &TrainConfig, step: usize, worker: Worker) -> Option<u64> {
    let dropout = config.lora.as_ref().map_or(0.0, |l| l.lora_dropout);
    if dropout <= 0.0 {
        return None;
    }
    let mut z = config
        .seed
        .wrapping_add((step as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15))
        .wrapping_add((worker.rank as u64) << 48);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    Some(z ^ (z >> 31))
}

/// The checkpoints of the run in `out` and its newest complete one, after removing the
/// directories of interrupted writes.
fn latest_complete(out: &Path, config: &TrainConfig) -> Result<(Checkpoints, Option<PathBuf>)> {
    let checkpoints = Checkpoints::open(out.join(CHECKPOINT_DIR), config.checkpoint.keep_last)?;
    checkpoints.remove_partial()?;
    let latest = checkpoints.latest()?.map(|(_, dir)| dir);
    Ok((checkpoints, latest))
}
