//! # llark-train
//!
//! The LLark trainer: AdamW (burn's, with PyTorch's update), transformers' learning-rate
//! schedules, gradient accumulation, global gradient-norm clipping, named freezing policies,
//! task-mix sampling, data-parallel training over devices and nodes on burn's collective
//! operations, atomic per-step checkpoints with exact resume, metrics as JSON Lines and a
//! PNG training curve. It prints nothing: progress goes to a [`TrainObserver`] of the caller's.
//!
//! The trainer is generic over [`TrainModel`], which the root crate implements for `Llark`.
#![warn(missing_docs)]

pub mod checkpoint;
pub mod config;
pub mod data;
pub mod error;
pub mod grads;
pub mod metrics;
pub mod model;
pub mod observer;
pub mod parallel;
pub mod schedule;
pub mod trainer;

pub use checkpoint::{Checkpoints, TrainerState};
pub use config::{
    AccumulationNorm, AdamWOptions, CheckpointOptions, ParamGroup, TaskMix, TrainConfig,
    TrainPolicy,
};
pub use data::{
    load_llark_records, EncodingSource, InMemoryAudio, Sampler, SamplerState, TrainData,
};
pub use error::{ModelError, Result, TrainError};
pub use grads::{
    accumulate_gradients, accumulate_parts, clip_global_norm, counted_tokens, example_tokens,
    fill_missing_grads, global_grad_norm, MicroBatchPart, StepGradients,
};
pub use metrics::{plot_curve, MetricsLog, StepMetrics};
pub use model::{apply_config, apply_policy, count_params, TrainModel};
pub use observer::{Silent, TrainObserver};
pub use parallel::{slice_of, train_data_parallel, DataParallel, Worker};
pub use schedule::{LrSchedule, ScheduleKind, ScheduledLr, Warmup};
pub use trainer::{TrainSummary, Trainer};
