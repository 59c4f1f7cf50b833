//! Gradients of one optimizer step: accumulation over micro-batches and global-norm clipping.

use burn::module::{AutodiffModule, ModuleVisitor, Param};
use burn::optim::{GradientsAccumulator, GradientsParams};
use burn::tensor::backend::AutodiffBackend;
use burn::tensor::{ElementConversion, Tensor};
use llark_data::{Batch, IGNORE_INDEX};

use crate::config::AccumulationNorm;
use crate::error::ModelError;
use crate::model::TrainModel;

/// Number of positions counted by the shifted next-token loss: label `t` (t >= 1) of each row
/// that is not `-100`.
pub fn counted_tokens(batch: &Batch) -> usize {
    (0..batch.batch_size)
        .map(|b| {
            batch.row_labels(b)[1.min(batch.seq_len)..]
                .iter()
                .filter(|&&l| l != IGNORE_INDEX)
                .count()
        })
        .sum()
}

/// What went wrong while accumulating: the index of the micro-batch and the cause.
#[derive(Debug)]
pub enum AccumulateError {
    /// The model failed.
    Model(usize, ModelError),
    /// The loss was not finite.
    NonFinite(usize, f64),
}

/// The summed gradients of one optimizer step and its statistics.
pub struct StepGradients {
    /// Gradients of the trained parameters.
    pub grads: GradientsParams,
    /// The step's loss: the mean of the micro-batch losses ([`AccumulationNorm::MeanOfMicroBatches`])
    /// or the token-weighted mean ([`AccumulationNorm::TokenWeighted`]).
    pub loss: f64,
    /// Each micro-batch's mean loss.
    pub micro_losses: Vec<f64>,
}

/// Runs forward and backward over `micro_batches` (each a batch and its audio rows) and sums the
/// gradients, each micro-batch's loss scaled as `norm` says (see [`AccumulationNorm`]).
/// A non-finite loss stops before its backward pass.
pub fn accumulate_gradients<B: AutodiffBackend, M: TrainModel<B>>(
    model: &M,
    micro_batches: Vec<(Batch, Tensor<B, 2>)>,
    norm: AccumulationNorm,
) -> Result<StepGradients, AccumulateError> {
    let k = micro_batches.len();
    let counts: Vec<usize> = micro_batches
        .iter()
        .map(|(b, _)| counted_tokens(b))
        .collect();
    let total: usize = counts.iter().sum();
    let mut accumulator = GradientsAccumulator::<M>::new();
    let mut micro_losses = Vec::with_capacity(k);
    let mut weighted = 0.0;
    for (i, (batch, audio)) in micro_batches.into_iter().enumerate() {
        let loss = model
            .train_loss(&batch, audio)
            .map_err(|e| AccumulateError::Model(i, e))?;
        let value: f64 = loss.clone().into_scalar().elem();
        if !value.is_finite() {
            return Err(AccumulateError::NonFinite(i, value));
        }
        let weight = match norm {
            AccumulationNorm::MeanOfMicroBatches => 1.0 / k as f64,
            AccumulationNorm::TokenWeighted if total == 0 => 0.0,
            AccumulationNorm::TokenWeighted => counts[i] as f64 / total as f64,
        };
        micro_losses.push(value);
        weighted += weight * value;
        let grads = loss.mul_scalar(weight).backward();
        accumulator.accumulate(model, GradientsParams::from_grads(grads, model));
    }
    Ok(StepGradients {
        grads: accumulator.grads(),
        loss: weighted,
        micro_losses,
    })
}

/// The global L2 norm of the gradients of `model`'s parameters (those present in `grads`).
pub fn global_grad_norm<B: AutodiffBackend, M: AutodiffModule<B>>(
    model: &M,
    grads: &GradientsParams,
) -> f64 {
    struct Norm<'a, B: AutodiffBackend> {
        grads: &'a GradientsParams,
        squares: Vec<Tensor<B::InnerBackend, 1>>,
    }
    impl<B: AutodiffBackend> ModuleVisitor<B> for Norm<'_, B> {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
            if let Some(g) = self.grads.get::<B::InnerBackend, D>(param.id) {
                self.squares.push(g.square().sum());
            }
        }
    }
    let mut visitor = Norm::<B> {
        grads,
        squares: Vec::new(),
    };
    model.visit(&mut visitor);
    if visitor.squares.is_empty() {
        return 0.0;
    }
    let sum: f64 = Tensor::cat(visitor.squares, 0).sum().into_scalar().elem();
    sum.sqrt()
}

/// Scales every gradient of `model` by `factor`.
pub fn scale_grads<B: AutodiffBackend, M: AutodiffModule<B>>(
    model: &M,
    grads: &mut GradientsParams,
    factor: f64,
) {
    struct Scale<'a> {
        grads: &'a mut GradientsParams,
        factor: f64,
    }
    impl<B: AutodiffBackend> ModuleVisitor<B> for Scale<'_> {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
            if let Some(g) = self.grads.remove::<B::InnerBackend, D>(param.id) {
                self.grads.register(param.id, g.mul_scalar(self.factor));
            }
        }
    }
    model.visit(&mut Scale { grads, factor });
}

/// Clips the gradients to a global norm of at most `max_norm` as `torch.nn.utils.clip_grad_norm_`
/// does (factor `max_norm / (norm + 1e-6)`, applied when below 1). Returns the norm before
/// clipping.
pub fn clip_global_norm<B: AutodiffBackend, M: AutodiffModule<B>>(
    model: &M,
    grads: &mut GradientsParams,
    max_norm: f64,
) -> f64 {
    let norm = global_grad_norm(model, grads);
    let factor = max_norm / (norm + 1e-6);
    if factor < 1.0 {
        scale_grads(model, grads, factor);
    }
    norm
}
