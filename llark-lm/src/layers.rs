//! The building blocks of a Llama decoder layer: projections, RMS norm, attention and gated MLP.
//! Weights keep the Hugging Face layout (`[out, in]`), so names and shapes match the checkpoint.

use std::sync::Arc;

use burn::module::{Module, Param};
use burn::tensor::{backend::Backend, Tensor, TensorData};
use llark_kernels::PackedMatrix;

use crate::cache::KvCache;
use crate::fused;
use crate::lora::{LoraAdapter, TargetModule};
use crate::rope;

/// A linear projection `y = x W^T + b` with `W` stored as `[out, in]`, plus the update of a LoRA
/// adapter when it has one (`y + scale * B (A dropout(x))`).
///
/// `W` is either a backend tensor (`weight`, f32: trainable, any backend) or a
/// [`PackedMatrix`] (`packed`: bf16, f16 or int8 kept as stored, multiplied by the host CPU
/// kernels of [`llark_kernels`], for inference). Exactly one of the two is set.
#[derive(Module, Debug)]
pub struct Projection<B: Backend> {
    /// `[out, in]` weight as a backend tensor; `None` when the weight is packed.
    pub weight: Option<Param<Tensor<B, 2>>>,
    /// Optional `[out]` bias.
    pub bias: Option<Param<Tensor<B, 1>>>,
    /// Optional LoRA adapter (see [`crate::lora`]).
    pub lora: Option<LoraAdapter<B>>,
    /// The `[out, in]` weight in packed storage; `None` when `weight` holds it.
    #[module(skip)]
    pub packed: Option<Arc<PackedMatrix>>,
}

impl<B: Backend> Projection<B> {
    /// Wraps loaded tensors.
    pub fn new(weight: Tensor<B, 2>, bias: Option<Tensor<B, 1>>) -> Self {
        Self {
            weight: Some(Param::from_tensor(weight)),
            bias: bias.map(Param::from_tensor),
            lora: None,
            packed: None,
        }
    }

    /// Wraps a packed weight (inference only: no gradient reaches it).
    pub fn packed(weight: PackedMatrix, bias: Option<Tensor<B, 1>>) -> Self {
        Self {
            weight: None,
            bias: bias.map(Param::from_tensor),
            lora: None,
            packed: Some(Arc::new(weight)),
        }
    }

    /// `[out, in]`.
    pub fn shape(&self) -> [usize; 2] {
        match (&self.packed, &self.weight) {
            (Some(p), _) => p.shape(),
            (None, Some(w)) => w.dims(),
            (None, None) => [0, 0],
        }
    }

    /// The weight as a backend tensor: the dense one, or the packed one widened to f32 on
    /// `device` (for saving and merging; the forward pass never widens it).
    pub fn weight_tensor(&self, device: &B::Device) -> Tensor<B, 2> {
        match (&self.packed, &self.weight) {
            (Some(p), _) => Tensor::from_data(TensorData::new(p.to_f32(), p.shape()), device),
            (None, Some(w)) => w.val(),
            (None, None) => Tensor::zeros([0, 0], device),
        }
    }

    /// `x W^T` for `[N, in]`.
    fn product(&self, x: Tensor<B, 2>) -> Tensor<B, 2> {
        match (&self.packed, &self.weight) {
            (Some(p), _) => packed_product(x, p),
            (None, Some(w)) => fused::matmul_transposed(x, w.val()),
            (None, None) => {
                let [n, _] = x.dims();
                Tensor::zeros([n, 0], &x.device())
            }
        }
    }

    /// Applies the projection to `[B, T, in]`.
    pub fn forward(&self, x: Tensor<B, 3>) -> Tensor<B, 3> {
        let [b, t, d_in] = x.dims();
        let d_out = self.shape()[0];
        let x = x.reshape([b * t, d_in]);
        let mut y = self.product(x.clone());
        if let Some(lora) = &self.lora {
            y = y + lora.forward(x);
        }
        if let Some(bias) = &self.bias {
            y = y + bias.val().unsqueeze::<2>().repeat_dim(0, b * t);
        }
        y.reshape([b, t, d_out])
    }
}

/// `x W^T` for `x` `[N, in]` and a packed `W`: the activations go to the host, the kernels of
/// [`llark_kernels`] read `W` in its stored width, and the result comes back to `x`'s device.
pub(crate) fn packed_product<B: Backend>(x: Tensor<B, 2>, w: &PackedMatrix) -> Tensor<B, 2> {
    let [n, d_in] = x.dims();
    let device = x.device();
    let host: Vec<f32> = x
        .into_data()
        .convert::<f32>()
        .into_vec()
        .expect("f32 data converts to a Vec<f32>");
    // The model is built with matching widths; burn's own matmul asserts the same.
    let y = llark_kernels::matmul_transposed(&host, n, w).unwrap_or_else(|e| {
        panic!(
            "activations [{n}, {d_in}] for a packed weight {:?}: {e}",
            w.shape()
        )
    });
    Tensor::from_data(TensorData::new(y, [n, w.rows()]), &device)
}

/// Root-mean-square normalisation with a learned scale, computed as transformers does.
#[derive(Module, Debug)]
pub struct RmsNorm<B: Backend> {
    /// `[hidden]` scale.
    pub weight: Param<Tensor<B, 1>>,
    /// Epsilon added to the mean square.
    pub eps: f64,
}

impl<B: Backend> RmsNorm<B> {
    /// Wraps a loaded scale.
    pub fn new(weight: Tensor<B, 1>, eps: f64) -> Self {
        Self {
            weight: Param::from_tensor(weight),
            eps,
        }
    }

    /// Normalises the last dimension of `[B, T, D]` (on `[B * T, D]` rows, through
    /// [`fused::rms_norm_rows`]).
    pub fn forward(&self, x: Tensor<B, 3>) -> Tensor<B, 3> {
        let [b, t, d] = x.dims();
        fused::rms_norm_rows(x.reshape([b * t, d]), self.weight.val(), self.eps).reshape([b, t, d])
    }
}

/// Multi-head self-attention with grouped key/value heads and rotary positions.
#[derive(Module, Debug)]
pub struct Attention<B: Backend> {
    /// Query projection.
    pub q_proj: Projection<B>,
    /// Key projection.
    pub k_proj: Projection<B>,
    /// Value projection.
    pub v_proj: Projection<B>,
    /// Output projection.
    pub o_proj: Projection<B>,
    /// Query heads.
    pub heads: usize,
    /// Key/value heads.
    pub kv_heads: usize,
    /// Width of a head.
    pub head_dim: usize,
}

/// Per-pass inputs shared by every layer: rotary tables and the additive attention bias.
pub(crate) struct PassContext<B: Backend> {
    pub cos: Tensor<B, 4>,
    pub sin: Tensor<B, 4>,
    /// `[B, 1, 1, T, S]`, `None` when nothing is masked.
    pub bias: Option<Tensor<B, 5>>,
}

impl<B: Backend> Attention<B> {
    /// `[B, T, heads * head_dim]` -> `[B, T, heads, head_dim]` (contiguous, no copy).
    fn token_major(x: Tensor<B, 3>, heads: usize, head_dim: usize) -> Tensor<B, 4> {
        let [b, t, _] = x.dims();
        x.reshape([b, t, heads, head_dim])
    }

    /// Attends `[B, T, D]` to itself and to the cached positions of `layer`.
    pub(crate) fn forward(
        &self,
        x: Tensor<B, 3>,
        ctx: &PassContext<B>,
        cache: Option<(&mut KvCache<B>, usize)>,
    ) -> Tensor<B, 3> {
        let [b, t, _] = x.dims();
        let (h, kvh, dh) = (self.heads, self.kv_heads, self.head_dim);
        // Rotary positions on the contiguous token-major layout, then heads first.
        let q = Self::token_major(self.q_proj.forward(x.clone()), h, dh);
        let k = Self::token_major(self.k_proj.forward(x.clone()), kvh, dh);
        let v = Self::token_major(self.v_proj.forward(x), kvh, dh).swap_dims(1, 2);
        let q = rope::apply_token_major(q, &ctx.cos, &ctx.sin).swap_dims(1, 2);
        let k = rope::apply_token_major(k, &ctx.cos, &ctx.sin).swap_dims(1, 2);
        let blocks = match cache {
            Some((cache, layer)) => cache.append(layer, k, v),
            None => vec![(k, v)],
        };
        let rep = h / kvh;
        // Query heads of one group share a key/value head: fold them into the row dimension.
        let q = q.reshape([b, kvh, rep * t, dh]);
        let lens: Vec<usize> = blocks.iter().map(|(k, _)| k.dims()[2]).collect();
        let s: usize = lens.iter().sum();
        let mut scores: Vec<Tensor<B, 4>> = blocks
            .iter()
            .map(|(k, _)| q.clone().matmul(k.clone().swap_dims(2, 3)))
            .collect();
        let mut scores = if scores.len() == 1 {
            scores.remove(0)
        } else {
            Tensor::cat(scores, 3)
        }
        .div_scalar((dh as f64).sqrt());
        if let Some(bias) = &ctx.bias {
            // Repeated over the heads rather than broadcast (burn-flex's broadcasting binary
            // ops take a slow strided path); a padded batch has one bias row per sequence.
            let bias = bias.clone().repeat_dim(1, kvh).repeat_dim(2, rep);
            let bias = if bias.dims()[0] == b {
                bias
            } else {
                bias.repeat_dim(0, b)
            };
            scores = (scores.reshape([b, kvh, rep, t, s]) + bias).reshape([b, kvh, rep * t, s]);
        }
        // On rows of a rank-2 tensor: the max and sum that softmax subtracts and divides by are
        // broadcast, which burn-flex does far faster in rank 2 than in rank 4 (and so does the
        // backward pass on an autodiff backend).
        let probs = fused::softmax_rows(scores.reshape([b * kvh * rep * t, s])).reshape([
            b,
            kvh,
            rep * t,
            s,
        ]);
        // Weighted values, block by block (the blocks stay where they are in the cache).
        let mut start = 0;
        let mut out: Option<Tensor<B, 4>> = None;
        for ((_, v), n) in blocks.into_iter().zip(lens) {
            let p = if n == s {
                probs.clone()
            } else {
                probs
                    .clone()
                    .slice([0..b, 0..kvh, 0..rep * t, start..start + n])
            };
            let part = p.matmul(v);
            out = Some(match out {
                Some(acc) => acc + part,
                None => part,
            });
            start += n;
        }
        let out = out
            .expect("at least the new block")
            .reshape([b, h, t, dh])
            .swap_dims(1, 2);
        self.o_proj.forward(out.reshape([b, t, h * dh]))
    }
}

/// The gated feed-forward block `down(silu(gate(x)) * up(x))`.
#[derive(Module, Debug)]
pub struct Mlp<B: Backend> {
    /// Gate projection.
    pub gate_proj: Projection<B>,
    /// Up projection.
    pub up_proj: Projection<B>,
    /// Down projection.
    pub down_proj: Projection<B>,
}

impl<B: Backend> Mlp<B> {
    /// Applies the block to `[B, T, D]`.
    pub fn forward(&self, x: Tensor<B, 3>) -> Tensor<B, 3> {
        let gate = self.gate_proj.forward(x.clone());
        self.down_proj
            .forward(fused::swiglu(gate, self.up_proj.forward(x)))
    }
}

/// One pre-norm decoder layer.
#[derive(Module, Debug)]
pub struct DecoderLayer<B: Backend> {
    /// Norm before attention.
    pub input_layernorm: RmsNorm<B>,
    /// Self-attention.
    pub self_attn: Attention<B>,
    /// Norm before the MLP.
    pub post_attention_layernorm: RmsNorm<B>,
    /// Feed-forward block.
    pub mlp: Mlp<B>,
}

impl<B: Backend> DecoderLayer<B> {
    /// The projection `target` of this layer.
    pub fn projection(&self, target: TargetModule) -> &Projection<B> {
        match target {
            TargetModule::QProj => &self.self_attn.q_proj,
            TargetModule::KProj => &self.self_attn.k_proj,
            TargetModule::VProj => &self.self_attn.v_proj,
            TargetModule::OProj => &self.self_attn.o_proj,
            TargetModule::GateProj => &self.mlp.gate_proj,
            TargetModule::UpProj => &self.mlp.up_proj,
            TargetModule::DownProj => &self.mlp.down_proj,
        }
    }

    /// The projection `target` of this layer, mutably.
    pub fn projection_mut(&mut self, target: TargetModule) -> &mut Projection<B> {
        match target {
            TargetModule::QProj => &mut self.self_attn.q_proj,
            TargetModule::KProj => &mut self.self_attn.k_proj,
            TargetModule::VProj => &mut self.self_attn.v_proj,
            TargetModule::OProj => &mut self.self_attn.o_proj,
            TargetModule::GateProj => &mut self.mlp.gate_proj,
            TargetModule::UpProj => &mut self.mlp.up_proj,
            TargetModule::DownProj => &mut self.mlp.down_proj,
        }
    }

    pub(crate) fn forward(
        &self,
        x: Tensor<B, 3>,
        ctx: &PassContext<B>,
        cache: Option<(&mut KvCache<B>, usize)>,
    ) -> Tensor<B, 3> {
        let h = x.clone()
            + self
                .self_attn
                .forward(self.input_layernorm.forward(x), ctx, cache);
        h.clone() + self.mlp.forward(self.post_attention_layernorm.forward(h))
    }
}
