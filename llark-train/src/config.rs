//! The training configuration (serde, the `train.json` of the `train` example) and LLark's
//! presets.

use burn::optim::AdamWConfig;
use serde::{Deserialize, Serialize};

use crate::error::{Result, TrainError};
use crate::schedule::{ScheduleKind, Warmup};
use llark_data::TaskFamily;
use llark_lm::LoraConfig;

/// Which parameters are trained; the others stay bit-identical.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum TrainPolicy {
    /// The projector only, the language model frozen (the projector-only stage).
    ProjectorOnly,
    /// The language model fully fine-tuned together with the projector (LLark).
    #[default]
    LmAndProjector,
    /// The language model only, the projector frozen.
    LmOnly,
}

impl TrainPolicy {
    /// Whether parameters of `group` are trained under this policy (adapters count as part of
    /// the language model; with [`TrainConfig::lora`] the base is frozen, see
    /// [`TrainConfig::trains`]).
    pub fn trains(self, group: ParamGroup) -> bool {
        matches!(
            (self, group),
            (TrainPolicy::ProjectorOnly, ParamGroup::Projector)
                | (TrainPolicy::LmAndProjector, _)
                | (TrainPolicy::LmOnly, ParamGroup::Lm | ParamGroup::Adapter)
        )
    }
}

impl std::str::FromStr for TrainPolicy {
    type Err = TrainError;

    fn from_str(s: &str) -> Result<Self> {
        serde_json::from_value(serde_json::Value::String(s.to_string())).map_err(|_| {
            TrainError::config(
                "policy",
                format!("unknown policy `{s}` (projector-only, lm-and-projector, lm-only)"),
            )
        })
    }
}

/// The part of the model a parameter belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ParamGroup {
    /// The audio projector.
    Projector,
    /// The language model's own (base) weights.
    Lm,
    /// The LoRA adapters on the language model's projections (see [`TrainConfig::lora`]).
    Adapter,
}

/// AdamW's hyper-parameters, all explicit (burn's own defaults, `eps` 1e-5 and weight decay
/// 1e-4, differ from PyTorch's 1e-8 and 0.01 and from LLark's weight decay 0).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct AdamWOptions {
    /// Peak learning rate (LLark: 5e-5).
    pub learning_rate: f64,
    /// First-moment decay (0.9).
    pub beta1: f32,
    /// Second-moment decay (0.999).
    pub beta2: f32,
    /// Denominator epsilon (PyTorch and transformers: 1e-8).
    pub eps: f32,
    /// Decoupled weight decay (LLark: 0).
    pub weight_decay: f32,
}

impl Default for AdamWOptions {
    /// LLark's values: lr 5e-5, betas (0.9, 0.999), eps 1e-8, weight decay 0.
    fn default() -> Self {
        AdamWOptions {
            learning_rate: 5e-5,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.0,
        }
    }
}

impl AdamWOptions {
    /// burn's configuration with every value set from these options.
    pub fn to_burn(&self) -> AdamWConfig {
        AdamWConfig::new()
            .with_beta_1(self.beta1)
            .with_beta_2(self.beta2)
            .with_epsilon(self.eps)
            .with_weight_decay(self.weight_decay)
    }

    fn validate(&self) -> Result<()> {
        if !(self.learning_rate.is_finite() && self.learning_rate >= 0.0) {
            return Err(TrainError::config(
                "learning_rate",
                format!("{} must be finite and >= 0", self.learning_rate),
            ));
        }
        for (field, b) in [("beta1", self.beta1), ("beta2", self.beta2)] {
            if !(0.0..1.0).contains(&b) {
                return Err(TrainError::config(field, format!("{b} is outside [0, 1)")));
            }
        }
        if !(self.eps > 0.0 && self.eps.is_finite()) {
            return Err(TrainError::config(
                "eps",
                format!("{} must be > 0", self.eps),
            ));
        }
        if !(self.weight_decay >= 0.0 && self.weight_decay.is_finite()) {
            return Err(TrainError::config(
                "weight_decay",
                format!("{} must be >= 0", self.weight_decay),
            ));
        }
        Ok(())
    }
}

/// How the losses of the micro-batches of one optimizer step are combined.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum AccumulationNorm {
    /// Each micro-batch's mean loss divided by the number of micro-batches, as transformers'
    /// Trainer (and so LLark) does: equal to one large batch only when every micro-batch has the
    /// same number of labelled tokens.
    #[default]
    MeanOfMicroBatches,
    /// Each micro-batch's mean loss weighted by its share of the step's labelled tokens: exactly
    /// the mean over all labelled tokens of the step, as one large batch computes it.
    TokenWeighted,
}

/// Sampling probabilities of the task families (normalised by their sum).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TaskMix {
    /// Captioning (LLark: 0.15).
    pub captioning: f64,
    /// Reasoning (LLark: 0.55).
    pub reasoning: f64,
    /// Music-information retrieval (LLark: 0.30).
    pub mir: f64,
}

impl TaskMix {
    /// LLark's mix: captioning 0.15, reasoning 0.55, MIR 0.30.
    pub const LLARK: TaskMix = TaskMix {
        captioning: 0.15,
        reasoning: 0.55,
        mir: 0.30,
    };

    /// The weight of a family.
    pub fn weight(&self, family: TaskFamily) -> f64 {
        match family {
            TaskFamily::Captioning => self.captioning,
            TaskFamily::Reasoning => self.reasoning,
            TaskFamily::Mir => self.mir,
        }
    }

    fn validate(&self) -> Result<()> {
        let ws = [self.captioning, self.reasoning, self.mir];
        if ws.iter().any(|w| !(w.is_finite() && *w >= 0.0)) || ws.iter().sum::<f64>() <= 0.0 {
            return Err(TrainError::config(
                "task_mix",
                format!("{ws:?}: weights must be finite, >= 0 and not all 0"),
            ));
        }
        Ok(())
    }
}

/// When checkpoints are written and how many are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckpointOptions {
    /// Write one every this many optimizer steps (0: only at the end).
    pub every: usize,
    /// Keep the newest this many (at least 1).
    pub keep_last: usize,
}

impl Default for CheckpointOptions {
    fn default() -> Self {
        CheckpointOptions {
            every: 5000,
            keep_last: 2,
        }
    }
}

/// Everything that decides a training run. `Default` is LLark's recipe ([`TrainConfig::llark`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TrainConfig {
    /// What is trained.
    pub policy: TrainPolicy,
    /// AdamW's hyper-parameters.
    pub optimizer: AdamWOptions,
    /// Shape of the learning-rate schedule.
    pub schedule: ScheduleKind,
    /// Warmup by ratio or steps.
    pub warmup: Warmup,
    /// Examples per forward/backward pass.
    pub micro_batch_size: usize,
    /// Micro-batches per optimizer step (effective batch = `micro_batch_size * grad_accum_steps`).
    pub grad_accum_steps: usize,
    /// How accumulated losses are normalised.
    pub accumulation: AccumulationNorm,
    /// Global gradient-norm clipping (transformers' `max_grad_norm`, 1.0); `None` disables it.
    pub max_grad_norm: Option<f64>,
    /// Total optimizer steps; wins over `epochs` when both are set.
    pub max_steps: Option<usize>,
    /// Passes over the data: `epochs * max(1, examples / effective batch)` steps.
    pub epochs: Option<usize>,
    /// Seed of shuffling and task sampling.
    pub seed: u64,
    /// Sample task families with these probabilities; `None`: seeded shuffling of all examples.
    pub task_mix: Option<TaskMix>,
    /// Pad each micro-batch to a multiple of this many tokens.
    pub pad_to_multiple_of: usize,
    /// Checkpointing.
    pub checkpoint: CheckpointOptions,
    /// Whether the caller should show a progress bar (the `train` example and the quickstart
    /// read it); the trainer itself draws nothing (see [`crate::TrainObserver`]).
    pub progress_bar: bool,
    /// Redraw the training curve PNG every this many steps (0: at checkpoints and at the end).
    pub plot_every: usize,
    /// LoRA adapters on the language model (PEFT's `LoraConfig` fields: `r`, `lora_alpha`,
    /// `lora_dropout`, `target_modules`, ...): the language model is trained through them, its
    /// base weights frozen. `lm-and-projector` then trains the adapters and the projector,
    /// `lm-only` the adapters alone; `projector-only` is refused (it would train no adapter).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lora: Option<LoraConfig>,
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self::llark()
    }
}

impl TrainConfig {
    /// LLark's recipe: LM + projector, AdamW lr 5e-5 (weight decay 0, eps 1e-8), cosine with 3%
    /// warmup, batch 32 (4 x 8 accumulation here; LLark used 2 per device x 4 GPUs x 4),
    /// clipping at 1.0, 100,000 steps, a checkpoint every 5,000, task mix 0.15/0.55/0.30.
    pub fn llark() -> Self {
        TrainConfig {
            policy: TrainPolicy::LmAndProjector,
            optimizer: AdamWOptions::default(),
            schedule: ScheduleKind::Cosine,
            warmup: Warmup {
                ratio: 0.03,
                steps: 0,
            },
            micro_batch_size: 4,
            grad_accum_steps: 8,
            accumulation: AccumulationNorm::MeanOfMicroBatches,
            max_grad_norm: Some(1.0),
            max_steps: Some(100_000),
            epochs: None,
            seed: 42,
            task_mix: Some(TaskMix::LLARK),
            pad_to_multiple_of: 1,
            checkpoint: CheckpointOptions::default(),
            progress_bar: true,
            plot_every: 0,
            lora: None,
        }
    }

    /// The projector-only stage (LM frozen): LLark's settings with a larger rate (1e-3, as
    /// LLaVA's projector pre-training) and one epoch.
    pub fn projector_stage() -> Self {
        TrainConfig {
            policy: TrainPolicy::ProjectorOnly,
            optimizer: AdamWOptions {
                learning_rate: 1e-3,
                ..AdamWOptions::default()
            },
            max_steps: None,
            epochs: Some(1),
            ..Self::llark()
        }
    }

    /// Whether parameters of `group` are trained: the policy decides, except that with
    /// [`Self::lora`] the language model's base weights are always frozen (it is trained through
    /// its adapters).
    pub fn trains(&self, group: ParamGroup) -> bool {
        match group {
            ParamGroup::Lm if self.lora.is_some() => false,
            _ => self.policy.trains(group),
        }
    }

    /// Examples per optimizer step.
    pub fn effective_batch(&self) -> usize {
        self.micro_batch_size * self.grad_accum_steps
    }

    /// Optimizer steps of the run for a data set of `examples` examples.
    pub fn total_steps(&self, examples: usize) -> Result<usize> {
        match (self.max_steps, self.epochs) {
            (Some(s), _) => Ok(s),
            (None, Some(e)) => Ok(e * (examples / self.effective_batch().max(1)).max(1)),
            (None, None) => Err(TrainError::config(
                "max_steps",
                "set `max_steps` or `epochs`",
            )),
        }
    }

    /// Checks every value.
    pub fn validate(&self) -> Result<()> {
        self.optimizer.validate()?;
        if self.micro_batch_size == 0 {
            return Err(TrainError::config("micro_batch_size", "must be >= 1"));
        }
        if self.grad_accum_steps == 0 {
            return Err(TrainError::config("grad_accum_steps", "must be >= 1"));
        }
        if let Some(n) = self.max_grad_norm {
            if !(n.is_finite() && n > 0.0) {
                return Err(TrainError::config(
                    "max_grad_norm",
                    format!("{n} must be > 0"),
                ));
            }
        }
        if !(0.0..=1.0).contains(&self.warmup.ratio) {
            return Err(TrainError::config(
                "warmup.ratio",
                format!("{} is outside [0, 1]", self.warmup.ratio),
            ));
        }
        if self.max_steps == Some(0) || self.epochs == Some(0) {
            return Err(TrainError::config("max_steps", "the run has no steps"));
        }
        if self.max_steps.is_none() && self.epochs.is_none() {
            return Err(TrainError::config(
                "max_steps",
                "set `max_steps` or `epochs`",
            ));
        }
        if self.checkpoint.keep_last == 0 {
            return Err(TrainError::config("checkpoint.keep_last", "must be >= 1"));
        }
        if let Some(mix) = &self.task_mix {
            mix.validate()?;
        }
        if let Some(lora) = &self.lora {
            lora.validate()
                .map_err(|e| TrainError::config("lora", e.to_string()))?;
            if let Some(field) = lora.extra.keys().next() {
                return Err(TrainError::config(
                    "lora",
                    format!(
                        "unknown field `{field}` (r, lora_alpha, lora_dropout, target_modules, \
                         layers_to_transform, init_lora_weights, ...)"
                    ),
                ));
            }
            if self.policy == TrainPolicy::ProjectorOnly {
                return Err(TrainError::config(
                    "lora",
                    "the projector-only policy trains no adapter; use lm-and-projector or lm-only",
                ));
            }
        }
        Ok(())
    }

    /// Reads a JSON configuration (missing fields take LLark's values).
    pub fn from_file(path: impl AsRef<std::path::Path>) -> Result<Self> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|e| TrainError::io(path, e))?;
        let config: Self = serde_json::from_str(&text).map_err(|e| TrainError::json(path, e))?;
        config.validate()?;
        Ok(config)
    }
}
