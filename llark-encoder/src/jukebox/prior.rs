//! The top prior run as an encoder (`only_encode`): token + position embeddings with the start token,
//! then pre-LN transformer blocks; the output is the residual stream after the last kept layer.

use burn::tensor::activation::sigmoid;
use burn::tensor::{backend::Backend, Int, Tensor};

use super::attention::{causal_mask, factored, AttnShape};
use super::config::{AttnPattern, PriorConfig};
use crate::weights::WeightFile;
use crate::EncoderError;

/// LayerNorm epsilon of the reference (`torch.nn.LayerNorm` default).
const LN_EPS: f64 = 1e-5;

/// A GPT-2 style `Conv1D`: `y = x @ w + b`, `w` stored `[n_in, n_out]` (never transposed).
#[derive(Debug, Clone)]
struct Affine<B: Backend> {
    w: Tensor<B, 2>,
    b: Tensor<B, 1>,
}

impl<B: Backend> Affine<B> {
    fn load(
        file: &WeightFile,
        prefix: &str,
        n_in: usize,
        n_out: usize,
        device: &B::Device,
    ) -> Result<Self, EncoderError> {
        Ok(Self {
            w: file.tensor(&format!("{prefix}.w"), [n_in, n_out], device)?,
            b: file.tensor(&format!("{prefix}.b"), [n_out], device)?,
        })
    }

    /// `x [N, T, n_in] -> [N, T, n_out]`.
    fn forward(&self, x: Tensor<B, 3>) -> Tensor<B, 3> {
        let [n, t, d] = x.dims();
        let out = self.w.dims()[1];
        (x.reshape([n * t, d]).matmul(self.w.clone()) + self.b.clone().unsqueeze::<2>())
            .reshape([n, t, out])
    }
}

/// `torch.nn.LayerNorm` over the last dimension (biased variance).
#[derive(Debug, Clone)]
struct LayerNorm<B: Backend> {
    weight: Tensor<B, 1>,
    bias: Tensor<B, 1>,
}

impl<B: Backend> LayerNorm<B> {
    fn load(
        file: &WeightFile,
        prefix: &str,
        width: usize,
        device: &B::Device,
    ) -> Result<Self, EncoderError> {
        Ok(Self {
            weight: file.tensor(&format!("{prefix}.weight"), [width], device)?,
            bias: file.tensor(&format!("{prefix}.bias"), [width], device)?,
        })
    }

    fn forward(&self, x: Tensor<B, 3>) -> Tensor<B, 3> {
        let (var, mean) = x.clone().var_mean_bias(2);
        let normed = (x - mean) / var.add_scalar(LN_EPS).sqrt();
        normed * self.weight.clone().unsqueeze::<3>() + self.bias.clone().unsqueeze::<3>()
    }
}

/// One `ResAttnBlock`: `a = attn(ln_0(x)); m = mlp(ln_1(x + a)); out = (x + a) + m`.
#[derive(Debug, Clone)]
pub struct PriorBlock<B: Backend> {
    pattern: AttnPattern,
    shape: AttnShape,
    ln_0: LayerNorm<B>,
    c_attn: Affine<B>,
    c_proj: Affine<B>,
    ln_1: LayerNorm<B>,
    c_fc: Affine<B>,
    mlp_proj: Affine<B>,
}

impl<B: Backend> PriorBlock<B> {
    /// Loads layer `index` (`prior.transformer._attn_mods.{index}.*`), converting every tensor to f32.
    pub fn load(
        file: &WeightFile,
        config: &PriorConfig,
        index: usize,
        device: &B::Device,
    ) -> Result<Self, EncoderError> {
        let p = format!("prior.transformer._attn_mods.{index}");
        let (w, s, m) = (config.width, config.attn_state(), config.mlp_state());
        Ok(Self {
            pattern: config.pattern(index),
            shape: AttnShape::of(config),
            ln_0: LayerNorm::load(file, &format!("{p}.ln_0"), w, device)?,
            c_attn: Affine::load(file, &format!("{p}.attn.c_attn"), w, 3 * s, device)?,
            c_proj: Affine::load(file, &format!("{p}.attn.c_proj"), s, w, device)?,
            ln_1: LayerNorm::load(file, &format!("{p}.ln_1"), w, device)?,
            c_fc: Affine::load(file, &format!("{p}.mlp.c_fc"), w, m, device)?,
            mlp_proj: Affine::load(file, &format!("{p}.mlp.c_proj"), m, w, device)?,
        })
    }

    /// The attention pattern of this layer.
    pub fn pattern(&self) -> AttnPattern {
        self.pattern
    }

    /// Runs this layer alone on `x [N, T, W]` (`T` a multiple of `block_ctx`).
    pub fn forward(&self, x: Tensor<B, 3>) -> Tensor<B, 3> {
        let ctx = AttnContext::new(self.shape, x.dims()[1], &x.device());
        self.forward_with(x, &ctx)
    }

    fn forward_with(&self, x: Tensor<B, 3>, ctx: &AttnContext<B>) -> Tensor<B, 3> {
        let qkv = self.c_attn.forward(self.ln_0.forward(x.clone()));
        let [n, t, s3] = qkv.dims();
        let s = s3 / 3;
        let q = qkv.clone().slice([0..n, 0..t, 0..s]);
        let k = qkv.clone().slice([0..n, 0..t, s..2 * s]);
        let v = qkv.slice([0..n, 0..t, 2 * s..3 * s]);
        let a = factored(
            self.pattern,
            q,
            k,
            v,
            ctx.shape,
            &ctx.block_mask,
            &ctx.transpose_mask,
        );
        let x = x + self.c_proj.forward(a);
        let hidden = self.c_fc.forward(self.ln_1.forward(x.clone()));
        let gelu = hidden.clone() * sigmoid(hidden.mul_scalar(1.702));
        x + self.mlp_proj.forward(gelu)
    }
}

/// Masks and sizes for one sequence length.
pub(crate) struct AttnContext<B: Backend> {
    shape: AttnShape,
    block_mask: Tensor<B, 4>,
    transpose_mask: Tensor<B, 4>,
}

impl<B: Backend> AttnContext<B> {
    /// Context for sequences of `t` tokens (`t` a multiple of `block_ctx`).
    pub(crate) fn new(shape: AttnShape, t: usize, device: &B::Device) -> Self {
        Self {
            shape,
            block_mask: causal_mask(shape.block_ctx, device),
            transpose_mask: causal_mask(t / shape.block_ctx, device),
        }
    }
}

/// Where the transformer layers live: resident f32 tensors, or read from the mapped weight file
/// (f16 storage stays on disk / in the page cache) one layer at a time during each forward pass.
pub enum LayerSource<B: Backend> {
    /// All layers converted to f32 at load time.
    Resident(Vec<PriorBlock<B>>),
    /// Layers read and converted from the mapped file when they run.
    Streamed(WeightFile),
}

/// The embeddings and layers of the top prior.
pub struct Prior<B: Backend> {
    config: PriorConfig,
    x_emb: Tensor<B, 2>,
    pos_emb: Tensor<B, 2>,
    layers: LayerSource<B>,
}

impl<B: Backend> Prior<B> {
    /// Loads `prior.x_emb.weight`, `prior.pos_emb.pos_emb` and layers `0..prior_depth`; if `stream`,
    /// the layers are kept in the mapped file and converted when run.
    pub fn load(
        file: WeightFile,
        config: &PriorConfig,
        stream: bool,
        device: &B::Device,
    ) -> Result<Self, EncoderError> {
        let x_emb = file.tensor("prior.x_emb.weight", [config.bins, config.width], device)?;
        let pos_emb = file.tensor(
            "prior.pos_emb.pos_emb",
            [config.n_ctx, config.width],
            device,
        )?;
        let layers = if stream {
            // Validate every layer now so that a bad file fails at load time, not mid-encode.
            for i in 0..config.prior_depth {
                check_layer(&file, config, i)?;
            }
            LayerSource::Streamed(file)
        } else {
            LayerSource::Resident(
                (0..config.prior_depth)
                    .map(|i| PriorBlock::load(&file, config, i, device))
                    .collect::<Result<_, _>>()?,
            )
        };
        Ok(Self {
            config: config.clone(),
            x_emb,
            pos_emb,
            layers,
        })
    }

    /// The transformer input `h0 [N, T, W]` for codes `[N, T]` (`T` ≤ `n_ctx`): token embeddings
    /// shifted right by one with `y_cond` at position 0, plus `pos_emb`, plus `x_cond`.
    pub fn embed(
        &self,
        codes: Tensor<B, 2, Int>,
        y_cond: Tensor<B, 2>,
        x_cond: Tensor<B, 2>,
    ) -> Tensor<B, 3> {
        let [n, t] = codes.dims();
        let w = self.config.width;
        let start = y_cond.reshape([1, 1, w]).repeat_dim(0, n);
        let pos = self.pos_emb.clone().slice([0..t, 0..w]).unsqueeze::<3>();
        let x_cond = x_cond.slice([0..t, 0..w]).unsqueeze::<3>();
        if t == 1 {
            return (start + pos) + x_cond;
        }
        let shifted = codes.slice([0..n, 0..t - 1]).reshape([n * (t - 1)]);
        let tokens = self.x_emb.clone().select(0, shifted).reshape([n, t - 1, w]);
        let e = Tensor::cat(vec![start, tokens], 1);
        (e + pos) + x_cond
    }

    /// Runs the kept layers on `h0 [N, T, W]` (`T` a multiple of `block_ctx`); calls `observe(i, h)`
    /// after every layer and returns the output of the last one (no final norm).
    pub fn transform(
        &self,
        h0: Tensor<B, 3>,
        mut observe: impl FnMut(usize, &Tensor<B, 3>),
    ) -> Result<Tensor<B, 3>, EncoderError> {
        let device = h0.device();
        let ctx = AttnContext::new(AttnShape::of(&self.config), h0.dims()[1], &device);
        let mut h = h0;
        for i in 0..self.config.prior_depth {
            let loaded;
            let block = match &self.layers {
                LayerSource::Resident(blocks) => &blocks[i],
                LayerSource::Streamed(file) => {
                    loaded = PriorBlock::load(file, &self.config, i, &device)?;
                    &loaded
                }
            };
            h = block.forward_with(h, &ctx);
            observe(i, &h);
        }
        Ok(h)
    }
}

/// Checks presence, shape and dtype of every tensor of layer `i` without converting it.
fn check_layer(file: &WeightFile, config: &PriorConfig, i: usize) -> Result<(), EncoderError> {
    let p = format!("prior.transformer._attn_mods.{i}");
    let (w, s, m) = (config.width, config.attn_state(), config.mlp_state());
    let expected: [(String, Vec<usize>); 12] = [
        (format!("{p}.ln_0.weight"), vec![w]),
        (format!("{p}.ln_0.bias"), vec![w]),
        (format!("{p}.attn.c_attn.w"), vec![w, 3 * s]),
        (format!("{p}.attn.c_attn.b"), vec![3 * s]),
        (format!("{p}.attn.c_proj.w"), vec![s, w]),
        (format!("{p}.attn.c_proj.b"), vec![w]),
        (format!("{p}.ln_1.weight"), vec![w]),
        (format!("{p}.ln_1.bias"), vec![w]),
        (format!("{p}.mlp.c_fc.w"), vec![w, m]),
        (format!("{p}.mlp.c_fc.b"), vec![m]),
        (format!("{p}.mlp.c_proj.w"), vec![m, w]),
        (format!("{p}.mlp.c_proj.b"), vec![w]),
    ];
    for (name, shape) in expected {
        file.check_float(&name, &shape)?;
    }
    Ok(())
}
