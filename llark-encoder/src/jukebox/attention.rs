//! Jukebox's `FactoredAttention` for the three patterns of `attn_order` 2, computed block by block.
//!
//! Scores are only ever formed per block (`block_ctx x block_ctx` for block and previous-block
//! attention, `blocks x blocks` for transpose-block attention), never as a full `T x T` matrix.

use burn::tensor::activation::softmax;
use burn::tensor::{backend::Backend, Tensor, TensorData};

use super::config::{AttnPattern, PriorConfig};

/// The fill value of masked scores, as in the reference (`w * mask - 1e9 * (1 - mask)`).
const MASK_FILL: f32 = -1e9;

/// Additive causal mask `[1, 1, n, n]`: 0 on and below the diagonal, `-1e9` above.
pub(crate) fn causal_mask<B: Backend>(n: usize, device: &B::Device) -> Tensor<B, 4> {
    let values: Vec<f32> = (0..n * n)
        .map(|i| if i % n <= i / n { 0.0 } else { MASK_FILL })
        .collect();
    Tensor::from_data(TensorData::new(values, [1, 1, n, n]), device)
}

/// Shapes shared by every attention call of a model.
#[derive(Debug, Clone, Copy)]
pub(crate) struct AttnShape {
    pub heads: usize,
    pub block_ctx: usize,
    /// `1 / sqrt(head_dim)`, applied as the reference does (`scale * scale` in f32 after `q @ k`).
    pub scale: f32,
}

impl AttnShape {
    /// The shape of a prior configuration.
    pub fn of(config: &PriorConfig) -> Self {
        Self::new(config.heads, config.head_dim(), config.block_ctx())
    }

    /// The shape of `heads` heads of `head_dim` channels on blocks of `block_ctx` tokens.
    pub fn new(heads: usize, head_dim: usize, block_ctx: usize) -> Self {
        let quarter = 1.0 / (head_dim as f64).sqrt().sqrt();
        Self {
            heads,
            block_ctx,
            scale: (quarter * quarter) as f32,
        }
    }
}

/// Dense multi-head attention on `[B', L, S]` inputs; `mask` is an optional additive `[1, 1, L, L]`.
fn dense<B: Backend>(
    q: Tensor<B, 3>,
    k: Tensor<B, 3>,
    v: Tensor<B, 3>,
    heads: usize,
    scale: f32,
    mask: Option<&Tensor<B, 4>>,
) -> Tensor<B, 3> {
    let [b, l, s] = q.dims();
    let kl = k.dims()[1];
    let d = s / heads;
    let q = q.reshape([b, l, heads, d]).swap_dims(1, 2);
    let k = k.reshape([b, kl, heads, d]).permute([0, 2, 3, 1]);
    let v = v.reshape([b, kl, heads, d]).swap_dims(1, 2);
    let mut w = q.matmul(k).mul_scalar(scale);
    if let Some(mask) = mask {
        w = w + mask.clone();
    }
    let w = softmax(w, 3);
    w.matmul(v).swap_dims(1, 2).reshape([b, l, s])
}

/// Applies one attention pattern to `q, k, v` of shape `[N, T, S]` (`T` a multiple of `block_ctx`);
/// `block_mask` / `transpose_mask` are the causal masks of sizes `block_ctx` and `T / block_ctx`.
pub(crate) fn factored<B: Backend>(
    pattern: AttnPattern,
    q: Tensor<B, 3>,
    k: Tensor<B, 3>,
    v: Tensor<B, 3>,
    shape: AttnShape,
    block_mask: &Tensor<B, 4>,
    transpose_mask: &Tensor<B, 4>,
) -> Tensor<B, 3> {
    let [n, t, s] = q.dims();
    let bc = shape.block_ctx;
    let nb = t / bc;
    match pattern {
        AttnPattern::Block => {
            let blocked = |x: Tensor<B, 3>| x.reshape([n * nb, bc, s]);
            dense(
                blocked(q),
                blocked(k),
                blocked(v),
                shape.heads,
                shape.scale,
                Some(block_mask),
            )
            .reshape([n, t, s])
        }
        AttnPattern::TransposeBlock => {
            let transposed = |x: Tensor<B, 3>| {
                x.reshape([n, nb, bc, s])
                    .swap_dims(1, 2)
                    .reshape([n * bc, nb, s])
            };
            dense(
                transposed(q),
                transposed(k),
                transposed(v),
                shape.heads,
                shape.scale,
                Some(transpose_mask),
            )
            .reshape([n, bc, nb, s])
            .swap_dims(1, 2)
            .reshape([n, t, s])
        }
        AttnPattern::PrevBlock => {
            let device = q.device();
            // Keys/values of block b are those of block b - 1; block 0 sees one block of zeros.
            let previous = |x: Tensor<B, 3>| {
                let zeros = Tensor::<B, 4>::zeros([n, 1, bc, s], &device);
                if nb == 1 {
                    return zeros.reshape([n, bc, s]);
                }
                let kept = x
                    .reshape([n, nb, bc, s])
                    .slice([0..n, 0..nb - 1, 0..bc, 0..s]);
                Tensor::cat(vec![zeros, kept], 1).reshape([n * nb, bc, s])
            };
            dense(
                q.reshape([n * nb, bc, s]),
                previous(k),
                previous(v),
                shape.heads,
                shape.scale,
                None,
            )
            .reshape([n, t, s])
        }
    }
}
