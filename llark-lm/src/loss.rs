//! The causal language-modelling loss of transformers' `LlamaForCausalLM`.

use burn::tensor::{activation, backend::Backend, Int, Tensor};

use crate::error::{LmError, Result};

/// Label value of positions that do not count (prompt, padding, audio).
pub const IGNORE_INDEX: i64 = -100;

/// Next-token cross-entropy: the logits at position `t` predict `labels[t + 1]`; labels equal to
/// [`IGNORE_INDEX`] are skipped and the loss is the mean over the counted positions (NaN when
/// none counts, as in PyTorch). `logits` `[B, T, V]`, `labels` `[B, T]`; returns a `[1]` tensor
/// that can be back-propagated.
pub fn causal_lm_loss<B: Backend>(
    logits: Tensor<B, 3>,
    labels: Tensor<B, 2, Int>,
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
        .find(|&&l| l != IGNORE_INDEX && (l < 0 || l >= v as i64))
    {
        return Err(LmError::Input(format!(
            "label {bad} is neither {IGNORE_INDEX} nor a token id below {v}"
        )));
    }
    let n = b * (t - 1);
    let logits = logits.slice([0..b, 0..t - 1, 0..v]).reshape([n, v]);
    let targets = labels.slice([0..b, 1..t]).reshape([n, 1]);
    let counted = targets.clone().not_equal_elem(IGNORE_INDEX);
    let safe_targets = targets.mask_fill(counted.clone().bool_not(), 0);
    let log_probs = activation::log_softmax(logits, 1);
    let picked = log_probs.gather(1, safe_targets);
    let weights = counted.float();
    let total = (picked * weights.clone()).sum().neg();
    Ok(total / weights.sum())
}
