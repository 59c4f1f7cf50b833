//! The causal language-modelling loss of transformers' `LlamaForCausalLM`.

use burn::tensor::{backend::Backend, Int, Tensor};

use crate::error::{LmError, Result};
use crate::fused;

/// Next-token cross-entropy: the logits at position `t` predict `labels[t + 1]`; labels equal to
/// `ignore_index` are skipped and the loss is the mean over the counted positions (NaN when
/// none counts, as in PyTorch). `logits` `[B, T, V]`, `labels` `[B, T]`; returns a `[1]` tensor
/// that can be back-propagated.
///
/// The ignored value belongs to whoever makes the labels, as `ignore_index` of PyTorch's
/// `CrossEntropyLoss`: LLark's data path uses `llark_data::IGNORE_INDEX` (-100, PyTorch's default
/// and transformers' convention).
pub fn causal_lm_loss<B: Backend>(
    logits: Tensor<B, 3>,
    labels: Tensor<B, 2, Int>,
    ignore_index: i64,
) -> Result<Tensor<B, 1>> {
    let [b, t, v] = logits.dims();
    let [lb, lt] = labels.dims();
    if (lb, lt) != (b, t) {
        return Err(LmError::Input(format!(
            "labels are {lb} x {lt}, logits are {b} x {t} x {v}"
        )));
    }
    if t < 2 {
        return Err(LmError::Input(
            "the loss needs at least two positions".into(),
        ));
    }
    let host: Vec<i64> = labels
        .to_data()
        .convert::<i64>()
        .into_vec()
        .map_err(|e| LmError::Input(format!("labels: {e:?}")))?;
    if let Some(bad) = host
        .iter()
        .find(|&&l| l != ignore_index && (l < 0 || l >= v as i64))
    {
        return Err(LmError::Input(format!(
            "label {bad} is neither {ignore_index} nor a token id below {v}"
        )));
    }
    // Every position of the contiguous [B * T, V] logits, with the next label as its target
    // and the last position of each row not counted: no strided copy of a shifted slice.
    let n = b * t;
    let mut targets = Vec::with_capacity(n);
    let mut weights = Vec::with_capacity(n);
    for row in host.chunks(t) {
        for i in 0..t {
            match row.get(i + 1) {
                Some(&label) if label != ignore_index => {
                    targets.push(label as usize);
                    weights.push(1.0f32);
                }
                _ => {
                    targets.push(0);
                    weights.push(0.0);
                }
            }
        }
    }
    let counted: f32 = weights.iter().sum();
    let total = fused::weighted_nll_rows(logits.reshape([n, v]), &targets, &weights);
    Ok(total.div_scalar(counted))
}
