//! Gradients of one optimizer step: accumulation over micro-batches and global-norm clipping.

use burn::module::{AutodiffModule, ModuleVisitor, Param};
use burn::optim::{GradientsAccumulator, GradientsParams};
use burn::tensor::backend::AutodiffBackend;
use burn::tensor::{ElementConversion, Tensor};
use llark_data::{Batch, TokenizedExample, IGNORE_INDEX};

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

/// Number of positions of `example` that the shifted next-token loss counts (as
/// [`counted_tokens`] counts them in a batch holding it).
pub fn example_tokens(example: &TokenizedExample) -> usize {
    example
        .labels
        .get(1..)
        .unwrap_or_default()
        .iter()
        .filter(|&&l| l != IGNORE_INDEX)
        .count()
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

/// This worker's part of one micro-batch: its examples (`None` when it holds no labelled token
/// of the micro-batch), the fraction of the micro-batch's counted tokens they hold, and the
/// micro-batch's counted tokens over all workers. One worker holds the whole micro-batch
/// (`share` 1).
pub struct MicroBatchPart<B: AutodiffBackend> {
    /// The collated examples and their audio rows.
    pub batch: Option<(Batch, Tensor<B, 2>)>,
    /// This part's fraction of the micro-batch's counted tokens.
    pub share: f64,
    /// Counted tokens of the whole micro-batch.
    pub micro_counted: usize,
}

/// Runs forward and backward over `micro_batches` (each a batch and its audio rows) and sums the
/// gradients, each micro-batch's loss scaled as `norm` says (see [`AccumulationNorm`]).
/// A non-finite loss stops before its backward pass.
pub fn accumulate_gradients<B: AutodiffBackend, M: TrainModel<B>>(
    model: &M,
    micro_batches: Vec<(Batch, Tensor<B, 2>)>,
    norm: AccumulationNorm,
) -> Result<StepGradients, AccumulateError> {
    let parts = micro_batches
        .into_iter()
        .map(|(batch, audio)| MicroBatchPart {
            micro_counted: counted_tokens(&batch),
            batch: Some((batch, audio)),
            share: 1.0,
        })
        .collect();
    accumulate_parts(model, parts, norm)
}

/// As [`accumulate_gradients`] for this worker's parts of the step's micro-batches: the loss of
/// a part (the mean over its own counted tokens) is weighted by its `share` as well, so that the
/// parts' gradients summed over all workers are the gradient of the whole step. The returned
/// `micro_losses` are the parts' contributions (`share` x mean loss), and `loss` their weighted
/// sum; parts without a batch contribute nothing.
pub fn accumulate_parts<B: AutodiffBackend, M: TrainModel<B>>(
    model: &M,
    parts: Vec<MicroBatchPart<B>>,
    norm: AccumulationNorm,
) -> Result<StepGradients, AccumulateError> {
    let k = parts.len();
    let total: usize = parts.iter().map(|p| p.micro_counted).sum();
    let mut accumulator = GradientsAccumulator::<M>::new();
    let mut micro_losses = Vec::with_capacity(k);
    let mut weighted = 0.0;
    for (i, part) in parts.into_iter().enumerate() {
        let Some((batch, audio)) = part.batch else {
            micro_losses.push(0.0);
            continue;
        };
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
            AccumulationNorm::TokenWeighted => part.micro_counted as f64 / total as f64,
        };
        micro_losses.push(part.share * value);
        weighted += weight * part.share * value;
        let grads = loss.mul_scalar(weight * part.share).backward();
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

/// Registers a zero gradient for every trained parameter of `model` that `grads` lacks (a
/// data-parallel worker whose examples had no labelled token computes none, yet all workers must
/// all-reduce the same parameters).
pub fn fill_missing_grads<B: AutodiffBackend, M: AutodiffModule<B>>(
    model: &M,
    grads: &mut GradientsParams,
) {
    struct Fill<'a> {
        grads: &'a mut GradientsParams,
    }
    impl<B: AutodiffBackend> ModuleVisitor<B> for Fill<'_> {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
            if param.is_require_grad() && self.grads.get::<B::InnerBackend, D>(param.id).is_none() {
                let zeros = Tensor::<B::InnerBackend, D>::zeros(
                    param.shape(),
                    &param.val().inner().device(),
                );
                self.grads.register(param.id, zeros);
            }
        }
    }
    model.visit(&mut Fill { grads });
}
