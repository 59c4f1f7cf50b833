//! The top prior run as an encoder (`only_encode`): token + position embeddings with the start token,
//! then pre-LN transformer blocks; the output is the residual stream after the last kept layer.

use std::sync::Arc;

use burn::config::Config;
use burn::module::{Initializer, Module, Param};
use burn::tensor::activation::sigmoid;
use burn::tensor::{backend::Backend, Int, Tensor};

use super::attention::{causal_mask, factored, AttnShape};
use super::config::{AttnPattern, PriorConfig};
use super::synthetic::prior_layer_inventory;
use crate::weights::WeightFile;
use crate::EncoderError;

/// LayerNorm epsilon of the reference (`torch.nn.LayerNorm` default).
const LN_EPS: f64 = 1e-5;

/// Configuration of an [`Affine`].
#[derive(Config, Debug)]
pub struct AffineConfig {
    /// Input features.
    pub n_in: usize,
    /// Output features.
    pub n_out: usize,
}

impl AffineConfig {
    /// A layer with lazily initialised (zero) parameters.
    pub fn init<B: Backend>(&self, device: &B::Device) -> Affine<B> {
        Affine {
            w: Initializer::Zeros.init([self.n_in, self.n_out], device),
            b: Initializer::Zeros.init([self.n_out], device),
        }
    }
}

/// A GPT-2 style `Conv1D`: `y = x @ w + b`, `w` stored `[n_in, n_out]` (never transposed).
#[derive(Module, Debug)]
pub struct Affine<B: Backend> {
    w: Param<Tensor<B, 2>>,
    b: Param<Tensor<B, 1>>,
}

impl<B: Backend> Affine<B> {
    /// Fills the layer from `{prefix}.w` and `{prefix}.b`.
    pub fn load(self, file: &WeightFile, prefix: &str) -> Result<Self, EncoderError> {
        Ok(Self {
            w: file.load_param(&format!("{prefix}.w"), self.w)?,
            b: file.load_param(&format!("{prefix}.b"), self.b)?,
        })
    }

    /// `x [N, T, n_in] -> [N, T, n_out]`.
    pub fn forward(&self, x: Tensor<B, 3>) -> Tensor<B, 3> {
        let [n, t, d] = x.dims();
        let w = self.w.val();
        let out = w.dims()[1];
        (x.reshape([n * t, d]).matmul(w) + self.b.val().unsqueeze::<2>()).reshape([n, t, out])
    }
}

/// Configuration of a [`LayerNorm`].
#[derive(Config, Debug)]
pub struct LayerNormConfig {
    /// Normalised width.
    pub width: usize,
    /// Epsilon added to the variance.
    #[config(default = 1e-5)]
    pub eps: f64,
}

impl LayerNormConfig {
    /// A norm with lazily initialised parameters (weight 1, bias 0).
    pub fn init<B: Backend>(&self, device: &B::Device) -> LayerNorm<B> {
        LayerNorm {
            weight: Initializer::Ones.init([self.width], device),
            bias: Initializer::Zeros.init([self.width], device),
            eps: self.eps,
        }
    }
}

/// `torch.nn.LayerNorm` over the last dimension (biased variance), computed as the reference does.
#[derive(Module, Debug)]
pub struct LayerNorm<B: Backend> {
    weight: Param<Tensor<B, 1>>,
    bias: Param<Tensor<B, 1>>,
    eps: f64,
}

impl<B: Backend> LayerNorm<B> {
    /// Fills the norm from `{prefix}.weight` and `{prefix}.bias`.
    pub fn load(self, file: &WeightFile, prefix: &str) -> Result<Self, EncoderError> {
        Ok(Self {
            weight: file.load_param(&format!("{prefix}.weight"), self.weight)?,
            bias: file.load_param(&format!("{prefix}.bias"), self.bias)?,
            eps: self.eps,
        })
    }

    /// Normalises the last dimension of `x [N, T, W]`.
    pub fn forward(&self, x: Tensor<B, 3>) -> Tensor<B, 3> {
        let (var, mean) = x.clone().var_mean_bias(2);
        let normed = (x - mean) / var.add_scalar(self.eps).sqrt();
        normed * self.weight.val().unsqueeze::<3>() + self.bias.val().unsqueeze::<3>()
    }
}

/// Configuration of a [`PriorBlock`].
#[derive(Config, Debug)]
pub struct PriorBlockConfig {
    /// Residual width.
    pub width: usize,
    /// Attention width (`m_attn * width`).
    pub attn_state: usize,
    /// MLP hidden width (`m_mlp * width`).
    pub mlp_state: usize,
    /// Attention heads.
    pub heads: usize,
    /// Tokens per attention block.
    pub block_ctx: usize,
    /// The layer's attention pattern.
    pub pattern: AttnPattern,
}

impl PriorBlockConfig {
    /// Layer `index` of a prior configuration.
    pub fn from_prior(config: &PriorConfig, index: usize) -> Self {
        Self::new(
            config.width,
            config.attn_state(),
            config.mlp_state(),
            config.heads,
            config.block_ctx(),
            config.pattern(index),
        )
    }

    /// A layer with lazily initialised parameters.
    pub fn init<B: Backend>(&self, device: &B::Device) -> PriorBlock<B> {
        let (w, s, m) = (self.width, self.attn_state, self.mlp_state);
        let ln = LayerNormConfig::new(w).with_eps(LN_EPS);
        PriorBlock {
            pattern: self.pattern,
            shape: AttnShape::new(self.heads, s / self.heads, self.block_ctx),
            ln_0: ln.init(device),
            c_attn: AffineConfig::new(w, 3 * s).init(device),
            c_proj: AffineConfig::new(s, w).init(device),
            ln_1: ln.init(device),
            c_fc: AffineConfig::new(w, m).init(device),
            mlp_proj: AffineConfig::new(m, w).init(device),
        }
    }
}

/// One `ResAttnBlock`: `a = attn(ln_0(x)); m = mlp(ln_1(x + a)); out = (x + a) + m`.
#[derive(Module, Debug)]
pub struct PriorBlock<B: Backend> {
    #[module(skip)]
    pattern: AttnPattern,
    #[module(skip)]
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
        PriorBlockConfig::from_prior(config, index)
            .init(device)
            .load_weights(file, index)
    }

    /// Fills the layer from `prior.transformer._attn_mods.{index}.*`, checking every shape.
    pub fn load_weights(self, file: &WeightFile, index: usize) -> Result<Self, EncoderError> {
        let p = format!("prior.transformer._attn_mods.{index}");
        Ok(Self {
            pattern: self.pattern,
            shape: self.shape,
            ln_0: self.ln_0.load(file, &format!("{p}.ln_0"))?,
            c_attn: self.c_attn.load(file, &format!("{p}.attn.c_attn"))?,
            c_proj: self.c_proj.load(file, &format!("{p}.attn.c_proj"))?,
            ln_1: self.ln_1.load(file, &format!("{p}.ln_1"))?,
            c_fc: self.c_fc.load(file, &format!("{p}.mlp.c_fc"))?,
            mlp_proj: self.mlp_proj.load(file, &format!("{p}.mlp.c_proj"))?,
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

/// The embeddings and layers of the top prior. The layers are resident (converted to f32 at load
/// time) or, when streamed, read and converted from the mapped weight file one at a time while
/// they run (f16 storage stays on disk / in the page cache).
#[derive(Module, Debug)]
pub struct Prior<B: Backend> {
    #[module(skip)]
    config: PriorConfig,
    x_emb: Param<Tensor<B, 2>>,
    pos_emb: Param<Tensor<B, 2>>,
    blocks: Vec<PriorBlock<B>>,
    #[module(skip)]
    streamed: Option<Arc<WeightFile>>,
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
        let (bins, n_ctx, w) = (config.bins, config.n_ctx, config.width);
        let x_emb = file.load_param(
            "prior.x_emb.weight",
            Initializer::Zeros.init([bins, w], device),
        )?;
        let pos_emb = file.load_param(
            "prior.pos_emb.pos_emb",
            Initializer::Zeros.init([n_ctx, w], device),
        )?;
        let (blocks, streamed) = if stream {
            // Validate every layer now so that a bad file fails at load time, not mid-encode.
            for i in 0..config.prior_depth {
                for (name, shape) in prior_layer_inventory(config, i) {
                    file.check_float(&name, &shape)?;
                }
            }
            (Vec::new(), Some(Arc::new(file)))
        } else {
            let blocks = (0..config.prior_depth)
                .map(|i| PriorBlock::load(&file, config, i, device))
                .collect::<Result<_, _>>()?;
            (blocks, None)
        };
        Ok(Self {
            config: config.clone(),
            x_emb,
            pos_emb,
            blocks,
            streamed,
        })
    }

    /// Whether the layers are read from the mapped file while they run.
    pub fn is_streamed(&self) -> bool {
        self.streamed.is_some()
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
        let pos = self.pos_emb.val().slice([0..t, 0..w]).unsqueeze::<3>();
        let x_cond = x_cond.slice([0..t, 0..w]).unsqueeze::<3>();
        if t == 1 {
            return (start + pos) + x_cond;
        }
        let shifted = codes.slice([0..n, 0..t - 1]).reshape([n * (t - 1)]);
        let tokens = self.x_emb.val().select(0, shifted).reshape([n, t - 1, w]);
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
            let block = match &self.streamed {
                None => &self.blocks[i],
                Some(file) => {
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
