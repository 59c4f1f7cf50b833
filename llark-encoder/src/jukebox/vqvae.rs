//! The VQ-VAE part of the path: `encoders[level]` (chained level blocks of strided convs and dilated
//! residual stacks) and the nearest-codebook-row quantiser of `bottleneck.level_blocks[level]`.

use burn::tensor::activation::relu;
use burn::tensor::module::conv1d;
use burn::tensor::ops::ConvOptions;
use burn::tensor::{backend::Backend, Int, Tensor};

use super::config::VqvaeConfig;
use crate::weights::WeightFile;
use crate::EncoderError;

/// A PyTorch `Conv1d` with bias (weight `[out, in, k]`).
#[derive(Debug, Clone)]
struct Conv<B: Backend> {
    weight: Tensor<B, 3>,
    bias: Tensor<B, 1>,
    options: ConvOptions<1>,
}

impl<B: Backend> Conv<B> {
    #[allow(clippy::too_many_arguments)]
    fn load(
        file: &WeightFile,
        prefix: &str,
        shape: [usize; 3],
        stride: usize,
        padding: usize,
        dilation: usize,
        device: &B::Device,
    ) -> Result<Self, EncoderError> {
        Ok(Self {
            weight: file.tensor(&format!("{prefix}.weight"), shape, device)?,
            bias: file.tensor(&format!("{prefix}.bias"), [shape[0]], device)?,
            options: ConvOptions::new([stride], [padding], [dilation], 1),
        })
    }

    fn forward(&self, x: Tensor<B, 3>) -> Tensor<B, 3> {
        conv1d(
            x,
            self.weight.clone(),
            Some(self.bias.clone()),
            self.options.clone(),
        )
    }
}

/// `ResConv1DBlock`: `x + conv_1x1(relu(conv_dilated(relu(x))))`.
#[derive(Debug, Clone)]
struct ResBlock<B: Backend> {
    dilated: Conv<B>,
    pointwise: Conv<B>,
}

impl<B: Backend> ResBlock<B> {
    fn forward(&self, x: Tensor<B, 3>) -> Tensor<B, 3> {
        let branch = self
            .pointwise
            .forward(relu(self.dilated.forward(relu(x.clone()))));
        x + branch
    }
}

/// One `EncoderConvBlock`: `down_t` x (strided conv + Resnet1D), then a k=3 projection.
#[derive(Debug, Clone)]
struct LevelBlock<B: Backend> {
    steps: Vec<(Conv<B>, Vec<ResBlock<B>>)>,
    proj: Conv<B>,
}

impl<B: Backend> LevelBlock<B> {
    fn forward(&self, mut x: Tensor<B, 3>) -> Tensor<B, 3> {
        for (down, resnet) in &self.steps {
            x = down.forward(x);
            for block in resnet {
                x = block.forward(x);
            }
        }
        self.proj.forward(x)
    }
}

/// `encoders[level]` plus the codebook of `bottleneck.level_blocks[level]`.
#[derive(Debug, Clone)]
pub struct VqvaeEncoder<B: Backend> {
    level_blocks: Vec<LevelBlock<B>>,
    codebook: Tensor<B, 2>,
    codebook_sq: Tensor<B, 2>,
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
        let width = config.level_width(level);
        let depth = config.level_depth(level);
        let state = ((config.m_conv * width as f64) as usize).max(1);
        let emb = config.emb_width;
        let mut level_blocks = Vec::with_capacity(level + 1);
        for l in 0..=level {
            let prefix = format!("encoders.{level}.level_blocks.{l}.model");
            let stride = config.strides_t[l];
            let (filter, pad) = (2 * stride, stride / 2);
            let mut steps = Vec::with_capacity(config.downs_t[l]);
            for i in 0..config.downs_t[l] {
                let input = match (l, i) {
                    (0, 0) => 1,
                    (_, 0) => emb,
                    _ => width,
                };
                let down = Conv::load(
                    file,
                    &format!("{prefix}.{i}.0"),
                    [width, input, filter],
                    stride,
                    pad,
                    1,
                    device,
                )?;
                let resnet = (0..depth)
                    .map(|d| {
                        let dil = config.dilation(d);
                        let block = format!("{prefix}.{i}.1.model.{d}.model");
                        Ok(ResBlock {
                            dilated: Conv::load(
                                file,
                                &format!("{block}.1"),
                                [state, width, 3],
                                1,
                                dil,
                                dil,
                                device,
                            )?,
                            pointwise: Conv::load(
                                file,
                                &format!("{block}.3"),
                                [width, state, 1],
                                1,
                                0,
                                1,
                                device,
                            )?,
                        })
                    })
                    .collect::<Result<Vec<_>, EncoderError>>()?;
                steps.push((down, resnet));
            }
            let proj = Conv::load(
                file,
                &format!("{prefix}.{}", config.downs_t[l]),
                [emb, width, 3],
                1,
                1,
                1,
                device,
            )?;
            level_blocks.push(LevelBlock { steps, proj });
        }
        let codebook: Tensor<B, 2> = file.tensor(
            &format!("bottleneck.level_blocks.{level}.k"),
            [config.l_bins, emb],
            device,
        )?;
        // Σ_c k[j,c]² as a row vector [1, bins], as in the reference `sum(k_w ** 2, dim=0)`.
        let codebook_sq = (codebook.clone() * codebook.clone())
            .sum_dim(1)
            .reshape([1, config.l_bins]);
        Ok(Self {
            level_blocks,
            codebook,
            codebook_sq,
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
        let x = e.swap_dims(1, 2).reshape([n * t, c]);
        let x_sq = (x.clone() * x.clone()).sum_dim(1);
        let dots = x.matmul(self.codebook.clone().transpose());
        let dist = (x_sq - dots.mul_scalar(2.0)) + self.codebook_sq.clone();
        dist.argmin(1).reshape([n, t])
    }
}
