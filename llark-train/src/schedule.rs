//! Learning-rate schedules, as transformers defines them (`get_cosine_schedule_with_warmup`,
//! `get_linear_schedule_with_warmup`, `get_constant_schedule[_with_warmup]`).
//!
//! The rate used by optimizer step `s` (0-based) is `base_lr * lambda(s)`: transformers' Trainer
//! calls `scheduler.step()` after each optimizer step, so the first step uses `lambda(0)`, which
//! is 0 whenever there is a warmup.

use burn::optim::lr_scheduler::LrScheduler;
use burn::optim::LearningRate;
use burn::tensor::backend::Backend;
use serde::{Deserialize, Serialize};

use crate::error::{Result, TrainError};

/// Shape of the schedule after warmup.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum ScheduleKind {
    /// Half a cosine period from the base rate to 0 (LLark's schedule).
    #[default]
    Cosine,
    /// Straight line from the base rate to 0.
    Linear,
    /// The base rate throughout.
    Constant,
}

/// How long the linear warmup lasts: transformers' `warmup_steps` wins when positive, otherwise
/// `ceil(total_steps * warmup_ratio)` (`TrainingArguments.get_warmup_steps`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Default)]
pub struct Warmup {
    /// Fraction of the total steps (LLark: 0.03).
    #[serde(default)]
    pub ratio: f64,
    /// Number of steps; when positive it overrides `ratio`.
    #[serde(default)]
    pub steps: usize,
}

impl Warmup {
    /// Warmup steps for a run of `total_steps`.
    pub fn resolve(&self, total_steps: usize) -> usize {
        if self.steps > 0 {
            self.steps
        } else {
            (total_steps as f64 * self.ratio).ceil() as usize
        }
    }
}

/// A resolved schedule: base rate, warmup length and total steps.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LrSchedule {
    /// Shape after warmup.
    pub kind: ScheduleKind,
    /// Peak learning rate.
    pub base_lr: f64,
    /// Warmup steps.
    pub warmup_steps: usize,
    /// Total optimizer steps.
    pub total_steps: usize,
}

impl LrSchedule {
    /// Builds a schedule, checking the values.
    pub fn new(
        kind: ScheduleKind,
        base_lr: f64,
        warmup: Warmup,
        total_steps: usize,
    ) -> Result<Self> {
        if !(base_lr.is_finite() && base_lr >= 0.0) {
            return Err(TrainError::config(
                "learning_rate",
                format!("{base_lr} is not a finite non-negative number"),
            ));
        }
        if !(0.0..=1.0).contains(&warmup.ratio) {
            return Err(TrainError::config(
                "warmup_ratio",
                format!("{} is outside [0, 1]", warmup.ratio),
            ));
        }
        Ok(LrSchedule {
            kind,
            base_lr,
            warmup_steps: warmup.resolve(total_steps),
            total_steps,
        })
    }

    /// The multiplier `lambda(step)` of the base rate.
    pub fn factor(&self, step: usize) -> f64 {
        let (step, warmup, total) = (
            step as f64,
            self.warmup_steps as f64,
            self.total_steps as f64,
        );
        if step < warmup {
            return step / warmup.max(1.0);
        }
        match self.kind {
            ScheduleKind::Cosine => {
                let progress = (step - warmup) / (total - warmup).max(1.0);
                (0.5 * (1.0 + (std::f64::consts::PI * 0.5 * 2.0 * progress).cos())).max(0.0)
            }
            ScheduleKind::Linear => ((total - step) / (total - warmup).max(1.0)).max(0.0),
            ScheduleKind::Constant => 1.0,
        }
    }

    /// The learning rate of optimizer step `step` (0-based).
    pub fn lr(&self, step: usize) -> f64 {
        self.base_lr * self.factor(step)
    }

    /// A burn [`LrScheduler`] positioned at `step`.
    pub fn scheduler_at(&self, step: usize) -> ScheduledLr {
        ScheduledLr {
            schedule: *self,
            step,
        }
    }
}

/// [`LrSchedule`] as a burn [`LrScheduler`]: each `step()` returns the rate of the next optimizer
/// step. Its record is the position.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ScheduledLr {
    schedule: LrSchedule,
    step: usize,
}

impl ScheduledLr {
    /// Index of the next optimizer step.
    pub fn position(&self) -> usize {
        self.step
    }
}

impl LrScheduler for ScheduledLr {
    type Record<B: Backend> = usize;

    fn step(&mut self) -> LearningRate {
        let lr = self.schedule.lr(self.step);
        self.step += 1;
        lr
    }

    fn to_record<B: Backend>(&self) -> Self::Record<B> {
        self.step
    }

    fn load_record<B: Backend>(mut self, record: Self::Record<B>) -> Self {
        self.step = record;
        self
    }
}
