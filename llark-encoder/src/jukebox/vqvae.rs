//! The VQ-VAE part of the path: `encoders[level]` (chained level blocks of strided convs and dilated
//! residual stacks) and the nearest-codebook-row quantiser of `bottleneck.level_blocks[level]`.
//!
//! Each part is a burn [`Module`] built by its [`Config`] (`init(&device)` makes lazily
//! initialised parameters of the right shapes) and then filled from a weight file with `load`,
//! which checks every tensor's shape against the parameter's.

use burn::config::Config;
use burn::module::{Initializer, Module, Param};
use burn::nn::conv::{Conv1d, Conv1dConfig};
use burn::nn::PaddingConfig1d;
use burn::tensor::activation::relu;
use burn::tensor::{backend::Backend, Int, Tensor};

use super::config::VqvaeConfig;
use crate::weights::WeightFile;
use crate::EncoderError;

/// A PyTorch `Conv1d` with bias (weight `[out, in, k]`), as burn's [`Conv1d`].
fn conv<B: Backend>(
    [out, input, kernel]: [usize; 3],
    stride: usize,
    padding: usize,
    dilation: usize,
    device: &B::Device,
) -> Conv1d<B> {
    Conv1dConfig::new(input, out, kernel)
        .with_stride(stride)
        .with_padding(PaddingConfig1d::Explicit(padding, padding))
        .with_dilation(dilation)
        .with_initializer(Initializer::Zeros)
        .init(device)
}

/// Fills a conv's weight and bias from `{prefix}.weight` and `{prefix}.bias`.
fn load_conv<B: Backend>(
    mut conv: Conv1d<B>,
    file: &WeightFile,
    prefix: &str,
) -> Result<Conv1d<B>, EncoderError> {
    conv.weight = file.load_param(&format!("{prefix}.weight"), conv.weight)?;
    conv.bias = match conv.bias {
        Some(bias) => Some(file.load_param(&format!("{prefix}.bias"), bias)?),
        None => None,
    };
    Ok(conv)
}

/// Configuration of a [`ResBlock`].
#[derive(Config, Debug)]
pub struct ResBlockConfig {
    /// Channels in and out.
    pub width: usize,
    /// Channels of the hidden state (`m_conv * width`).
    pub state: usize,
    /// Dilation (and padding) of the k=3 conv.
    pub dilation: usize,
}

impl ResBlockConfig {
    /// A block with lazily initialised (zero) parameters.
    pub fn init<B: Backend>(&self, device: &B::Device) -> ResBlock<B> {
        let (w, s, d) = (self.width, self.state, self.dilation);
        ResBlock {
            dilated: conv([s, w, 3], 1, d, d, device),
            pointwise: conv([w, s, 1], 1, 0, 1, device),
        }
    }
}

/// `ResConv1DBlock`: `x + conv_1x1(relu(conv_dilated(relu(x))))`.
#[derive(Module, Debug)]
pub struct ResBlock<B: Backend> {
    dilated: Conv1d<B>,
    pointwise: Conv1d<B>,
}

impl<B: Backend> ResBlock<B> {
    /// Fills the block from `{prefix}.1.*` (dilated conv) and `{prefix}.3.*` (1x1 conv).
    pub fn load(self, file: &WeightFile, prefix: &str) -> Result<Self, EncoderError> {
        Ok(Self {
            dilated: load_conv(self.dilated, file, &format!("{prefix}.1"))?,
            pointwise: load_conv(self.pointwise, file, &format!("{prefix}.3"))?,
        })
    }

    /// `x [N, width, L] -> [N, width, L]`.
    pub fn forward(&self, x: Tensor<B, 3>) -> Tensor<B, 3> {
        let branch = self
            .pointwise
            .forward(relu(self.dilated.forward(relu(x.clone()))));
        x + branch
    }
}

/// Configuration of a [`LevelBlock`] (one `EncoderConvBlock`).
#[derive(Config, Debug)]
pub struct LevelBlockConfig {
    /// Channels of the input (1 for audio, `emb_width` after the first level block).
    pub input: usize,
    /// Conv width.
    pub width: usize,
    /// Hidden channels of the residual blocks.
    pub state: usize,
    /// Channels of the output (`emb_width`).
    pub output: usize,
    /// Number of strided downsampling steps (`down_t`).
    pub downs: usize,
    /// Stride of each step (`stride_t`).
    pub stride: usize,
    /// Dilation of each residual block of a step (its length is the depth).
    pub dilations: Vec<usize>,
}

impl LevelBlockConfig {
    /// A level block with lazily initialised (zero) parameters.
    pub fn init<B: Backend>(&self, device: &B::Device) -> LevelBlock<B> {
        let (filter, pad) = (2 * self.stride, self.stride / 2);
        let steps = (0..self.downs)
            .map(|i| {
                let input = if i == 0 { self.input } else { self.width };
                DownStep {
                    down: conv([self.width, input, filter], self.stride, pad, 1, device),
                    resnet: self
                        .dilations
                        .iter()
                        .map(|&d| ResBlockConfig::new(self.width, self.state, d).init(device))
                        .collect(),
                }
            })
            .collect();
        LevelBlock {
            steps,
            proj: conv([self.output, self.width, 3], 1, 1, 1, device),
        }
    }
}

/// One downsampling step: a strided conv, then a `Resnet1D` of dilated residual blocks.
#[derive(Module, Debug)]
pub struct DownStep<B: Backend> {
    down: Conv1d<B>,
    resnet: Vec<ResBlock<B>>,
}

/// One `EncoderConvBlock`: `down_t` x (strided conv + Resnet1D), then a k=3 projection.
#[derive(Module, Debug)]
pub struct LevelBlock<B: Backend> {
    steps: Vec<DownStep<B>>,
    proj: Conv1d<B>,
}

impl<B: Backend> LevelBlock<B> {
    /// Fills the block from `{prefix}.{i}.0.*` (step convs), `{prefix}.{i}.1.model.{d}.model.*`
    /// (residual blocks) and `{prefix}.{downs}.*` (projection).
    pub fn load(self, file: &WeightFile, prefix: &str) -> Result<Self, EncoderError> {
        let downs = self.steps.len();
        let steps = self
            .steps
            .into_iter()
            .enumerate()
            .map(|(i, step)| {
                let resnet = step
                    .resnet
                    .into_iter()
                    .enumerate()
                    .map(|(d, block)| block.load(file, &format!("{prefix}.{i}.1.model.{d}.model")))
                    .collect::<Result<Vec<_>, EncoderError>>()?;
                Ok(DownStep {
                    down: load_conv(step.down, file, &format!("{prefix}.{i}.0"))?,
                    resnet,
                })
            })
            .collect::<Result<Vec<_>, EncoderError>>()?;
        Ok(Self {
            steps,
            proj: load_conv(self.proj, file, &format!("{prefix}.{downs}"))?,
        })
    }

    /// `x [N, input, L] -> [N, output, L / stride^downs]`.
    pub fn forward(&self, mut x: Tensor<B, 3>) -> Tensor<B, 3> {
        for step in &self.steps {
            x = step.down.forward(x);
            for block in &step.resnet {
                x = block.forward(x);
            }
        }
        self.proj.forward(x)
    }
}

/// Configuration of a [`VqvaeEncoder`]: `encoders[level]` and the codebook of that level.
#[derive(Config, Debug)]
pub struct VqvaeEncoderConfig {
    /// The level whose encoder and codebook are used.
    pub level: usize,
    /// The chained level blocks `0..=level`.
    pub level_blocks: Vec<LevelBlockConfig>,
    /// Codebook size (`l_bins`).
    pub bins: usize,
    /// Code width (`emb_width`).
    pub emb_width: usize,
}

impl VqvaeEncoderConfig {
    /// The encoder of `level` of a VQ-VAE configuration.
    pub fn from_vqvae(config: &VqvaeConfig, level: usize) -> Self {
        let width = config.level_width(level);
        let depth = config.level_depth(level);
        let state = ((config.m_conv * width as f64) as usize).max(1);
        let emb = config.emb_width;
        let level_blocks = (0..=level)
            .map(|l| LevelBlockConfig {
                input: if l == 0 { 1 } else { emb },
                width,
                state,
                output: emb,
                downs: config.downs_t[l],
                stride: config.strides_t[l],
                dilations: (0..depth).map(|d| config.dilation(d)).collect(),
            })
            .collect();
        Self::new(level, level_blocks, config.l_bins, emb)
    }

    /// An encoder with lazily initialised (zero) parameters.
    pub fn init<B: Backend>(&self, device: &B::Device) -> VqvaeEncoder<B> {
        VqvaeEncoder {
            level: self.level,
            level_blocks: self.level_blocks.iter().map(|c| c.init(device)).collect(),
            codebook: Initializer::Zeros.init([self.bins, self.emb_width], device),
        }
    }
}

/// `encoders[level]` plus the codebook of `bottleneck.level_blocks[level]`.
#[derive(Module, Debug)]
pub struct VqvaeEncoder<B: Backend> {
    level: usize,
    level_blocks: Vec<LevelBlock<B>>,
    codebook: Param<Tensor<B, 2>>,
}

impl<B: Backend> VqvaeEncoder<B> {
    /// Loads `encoders.{level}.*` and `bottleneck.level_blocks.{level}.k` from a VQ-VAE state dict
    /// (original key names); every other tensor of the file is ignored.
    pub fn load(
        file: &WeightFile,
        config: &VqvaeConfig,
        level: usize,
        device: &B::Device,
    ) -> Result<Self, EncoderError> {
        VqvaeEncoderConfig::from_vqvae(config, level)
            .init(device)
            .load_weights(file)
    }

    /// Fills every parameter from a VQ-VAE state dict, checking each tensor's shape.
    pub fn load_weights(self, file: &WeightFile) -> Result<Self, EncoderError> {
        let level = self.level;
        let level_blocks = self
            .level_blocks
            .into_iter()
            .enumerate()
            .map(|(l, block)| block.load(file, &format!("encoders.{level}.level_blocks.{l}.model")))
            .collect::<Result<Vec<_>, EncoderError>>()?;
        Ok(Self {
            level,
            level_blocks,
            codebook: file
                .load_param(&format!("bottleneck.level_blocks.{level}.k"), self.codebook)?,
        })
    }

    /// Runs the chained level blocks on audio `[N, 1, S]`; returns the output of every level block
    /// (the last one is the latent `e` `[N, emb_width, S / hop]`).
    pub fn encode_levels(&self, audio: Tensor<B, 3>) -> Vec<Tensor<B, 3>> {
        let mut outputs = Vec::with_capacity(self.level_blocks.len());
        let mut x = audio;
        for block in &self.level_blocks {
            x = block.forward(x);
            outputs.push(x.clone());
        }
        outputs
    }

    /// Nearest codebook row (squared L2, first index on ties) of every time step of `e` `[N, C, T]`;
    /// returns codes `[N, T]`.
    pub fn quantise(&self, e: Tensor<B, 3>) -> Tensor<B, 2, Int> {
        let [n, c, t] = e.dims();
        let codebook = self.codebook.val();
        let bins = codebook.dims()[0];
        // Σ_c k[j,c]² as a row vector [1, bins], as in the reference `sum(k_w ** 2, dim=0)`.
        let codebook_sq = (codebook.clone() * codebook.clone())
            .sum_dim(1)
            .reshape([1, bins]);
        let x = e.swap_dims(1, 2).reshape([n * t, c]);
        let x_sq = (x.clone() * x.clone()).sum_dim(1);
        let dots = x.matmul(codebook.transpose());
        let dist = (x_sq - dots.mul_scalar(2.0)) + codebook_sq;
        dist.argmin(1).reshape([n, t])
    }
}
