//! Watching a run: the trainer prints nothing and draws no progress bar; it reports each step,
//! checkpoint and the end of a run to a [`TrainObserver`] the caller gives it (the `train`
//! example draws an indicatif bar from these calls).

use std::path::Path;

use crate::metrics::StepMetrics;

/// Receives the trainer's events. Every method does nothing by default. A closure
/// `FnMut(&StepMetrics)` is an observer of steps.
pub trait TrainObserver {
    /// A call of `run_until` starts with `step` of `total` steps done.
    fn on_start(&mut self, step: usize, total: usize) {
        let _ = (step, total);
    }

    /// An optimizer step finished (`metrics.step` steps are done, of `total`).
    fn on_step(&mut self, metrics: &StepMetrics, total: usize) {
        let _ = (metrics, total);
    }

    /// A checkpoint of `step` was written to `dir`.
    fn on_checkpoint(&mut self, step: usize, dir: &Path) {
        let _ = (step, dir);
    }

    /// The run reached its last step (`total`); not called when `run_until` stops earlier.
    fn on_finish(&mut self, total: usize) {
        let _ = total;
    }
}

/// An observer that ignores everything.
#[derive(Debug, Clone, Copy, Default)]
pub struct Silent;

impl TrainObserver for Silent {}

impl<F: FnMut(&StepMetrics)> TrainObserver for F {
    fn on_step(&mut self, metrics: &StepMetrics, _total: usize) {
        self(metrics);
    }
}
