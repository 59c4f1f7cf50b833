//! Rotary position embedding in the Hugging Face layout ("rotate half"): the two halves of each
//! head are the real and imaginary parts, as transformers' `LlamaRotaryEmbedding` expects.
//!
//! Frequencies follow transformers' `ROPE_INIT_FUNCTIONS` for the `default`, `linear` and
//! `llama3` variants. The cos/sin tables are built on the host for exactly the positions of a
//! forward pass (positions depend on the padding of each row) and uploaded once per pass.

use burn::tensor::{backend::Backend, Tensor, TensorData};

use crate::config::{LlamaConfig, RopeKind};

/// Inverse frequencies of one head (`head_dim / 2` values), as transformers computes them in f32.
pub fn inverse_frequencies(config: &LlamaConfig) -> Vec<f32> {
    let dim = config.head_dim();
    let base = config.rope_theta as f32;
    let plain: Vec<f32> = (0..dim)
        .step_by(2)
        .map(|i| 1.0 / base.powf(i as f32 / dim as f32))
        .collect();
    // `validate` has checked the scaling; an invalid one falls back to the plain frequencies.
    match config.rope_kind().unwrap_or(RopeKind::Default) {
        RopeKind::Default => plain,
        RopeKind::Linear { factor } => plain.iter().map(|f| f / factor as f32).collect(),
        RopeKind::Llama3 {
            factor,
            low_freq_factor,
            high_freq_factor,
            original_max_position_embeddings: old_len,
        } => {
            let low_wavelen = old_len / low_freq_factor;
            let high_wavelen = old_len / high_freq_factor;
            plain
                .iter()
                .map(|&f| {
                    let f = f as f64;
                    let wavelen = 2.0 * std::f64::consts::PI / f;
                    let scaled = if wavelen > low_wavelen { f / factor } else { f };
                    let medium = wavelen >= high_wavelen && wavelen <= low_wavelen;
                    if medium {
                        let smooth = (old_len / wavelen - low_freq_factor)
                            / (high_freq_factor - low_freq_factor);
                        ((1.0 - smooth) * scaled / factor + smooth * scaled) as f32
                    } else {
                        scaled as f32
                    }
                })
                .collect()
        }
    }
}

/// cos and sin tables `[B, 1, T, head_dim]` for the given positions (`positions[b][t]`).
pub fn cos_sin<B: Backend>(
    inv_freq: &[f32],
    positions: &[Vec<i64>],
    device: &B::Device,
) -> (Tensor<B, 4>, Tensor<B, 4>) {
    let batch = positions.len();
    let len = positions.first().map_or(0, Vec::len);
    let half = inv_freq.len();
    let dim = 2 * half;
    let mut cos = Vec::with_capacity(batch * len * dim);
    let mut sin = Vec::with_capacity(batch * len * dim);
    for row in positions {
        for &p in row {
            let start = cos.len();
            for &f in inv_freq {
                let angle = (f * p as f32) as f64;
                cos.push(angle.cos() as f32);
                sin.push(angle.sin() as f32);
            }
            cos.extend_from_within(start..start + half);
            sin.extend_from_within(start..start + half);
        }
    }
    let shape = [batch, 1, len, dim];
    (
        Tensor::from_data(TensorData::new(cos, shape), device),
        Tensor::from_data(TensorData::new(sin, shape), device),
    )
}

/// Applies the rotation to `x` `[B, H, T, head_dim]`: `x * cos + rotate_half(x) * sin`.
pub fn apply<B: Backend>(x: Tensor<B, 4>, cos: &Tensor<B, 4>, sin: &Tensor<B, 4>) -> Tensor<B, 4> {
    apply_token_major(x.swap_dims(1, 2), cos, sin).swap_dims(1, 2)
}

/// [`apply`] for `x` in token-major layout `[B, T, H, head_dim]` (the projections' output
/// reshaped, contiguous), the tables `[B, 1, T, head_dim]` shared by the heads: one fused pass
/// on burn-flex, equal contiguous operands elsewhere ([`crate::fused::rope_token_major`]).
pub fn apply_token_major<B: Backend>(
    x: Tensor<B, 4>,
    cos: &Tensor<B, 4>,
    sin: &Tensor<B, 4>,
) -> Tensor<B, 4> {
    crate::fused::rope_token_major(x, cos, sin)
}
