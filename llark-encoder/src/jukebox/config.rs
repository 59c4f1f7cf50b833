//! [`JukeboxConfig`]: every size of the Jukebox encoder path, read from JSON.
//!
//! The JSON layout is the one of the fixture `config.json` files (`vqvae`, `prior`, `labels`,
//! `sample_rate`; unknown fields are ignored). [`JukeboxConfig::jukebox_5b`] is the real model used by
//! LLark: VQ-VAE level 2 and the `prior_5b` top prior cut to 36 layers.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::EncoderError;

/// VQ-VAE hyper-parameters (names as in Jukebox's `hparams.py`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VqvaeConfig {
    /// Number of levels (3).
    pub levels: usize,
    /// Downsampling steps per level block (`(3, 2, 2)`).
    pub downs_t: Vec<usize>,
    /// Stride of each downsampling step per level block (`(2, 2, 2)`).
    pub strides_t: Vec<usize>,
    /// Channels of the latent `e` and of the codebook rows (64).
    pub emb_width: usize,
    /// Codebook size (2048).
    pub l_bins: usize,
    /// Width/depth multiplier per level encoder (`(2, 1, 1)`).
    pub hvqvae_multipliers: Vec<usize>,
    /// Base conv width (32).
    pub width: usize,
    /// Base number of residual blocks per Resnet1D (4).
    pub depth: usize,
    /// Residual-branch width multiplier (1.0).
    pub m_conv: f64,
    /// Dilation growth rate (3).
    pub dilation_growth_rate: usize,
    /// Dilation cycle (`None`).
    #[serde(default)]
    pub dilation_cycle: Option<usize>,
}

/// Top-prior hyper-parameters (names as in Jukebox's `hparams.py`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PriorConfig {
    /// VQ-VAE level whose codes the prior reads (2).
    pub level: usize,
    /// Context length in tokens (8192).
    pub n_ctx: usize,
    /// Residual width (4800).
    pub width: usize,
    /// Number of transformer layers to run (LLark: 36 of the checkpoint's 72).
    pub prior_depth: usize,
    /// Attention heads (8).
    pub heads: usize,
    /// Number of attention blocks per context (128, so a block holds `n_ctx / blocks` tokens).
    pub blocks: usize,
    /// Attention width multiplier (0.25).
    pub m_attn: f64,
    /// MLP width multiplier (1.0).
    pub m_mlp: f64,
    /// Attention-pattern order; only order 2 (block, transpose-block, previous-block) is supported.
    pub attn_order: usize,
    /// Number of token embeddings (= VQ-VAE `l_bins`).
    pub bins: usize,
    /// `(genre bins, artist bins)` of the label conditioner (`(120, 4111)`).
    pub y_bins: [usize; 2],
    /// Bins of the time-signal range embeddings (128).
    pub t_bins: usize,
    /// Genre slots in the label vector (5).
    pub max_bow_genre_size: usize,
    /// Sample rate of the time signal (44100).
    pub sr: u32,
    /// Lower end of the total-length range, seconds (60).
    pub min_duration: f64,
    /// Upper end of the total-length and absolute-position ranges, seconds (600).
    pub max_duration: f64,
}

/// The whole Jukebox encoder path.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JukeboxConfig {
    /// VQ-VAE hyper-parameters.
    pub vqvae: VqvaeConfig,
    /// Top-prior hyper-parameters.
    pub prior: PriorConfig,
    /// The label vector `[total_length, offset, length, artist, genre_0..]` after Jukebox's `get_y`.
    /// LLark: `[2734080, 0, 1048576, 0, 0, -1, -1, -1, -1]` (unknown artist and genre, 62 s total).
    pub labels: Vec<i64>,
    /// Audio sample rate (44100).
    pub sample_rate: u32,
}

/// Attention pattern of one transformer layer (Jukebox's `attn_func`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum AttnPattern {
    /// Causal attention inside each block (`attn_func` 1).
    Block,
    /// Causal attention across blocks at the same in-block offset (`attn_func` 2).
    TransposeBlock,
    /// Full attention to the previous block (`attn_func` 3).
    PrevBlock,
}

impl VqvaeConfig {
    /// Raw samples per code at `level`: the product of `stride^down` over level blocks `0..=level`.
    pub fn hop_length(&self, level: usize) -> usize {
        (0..=level)
            .map(|l| self.strides_t[l].pow(self.downs_t[l] as u32))
            .product()
    }

    /// Conv width of the encoder of `level` (base width times that level's multiplier).
    pub fn level_width(&self, level: usize) -> usize {
        self.width * self.hvqvae_multipliers[level]
    }

    /// Residual blocks per Resnet1D in the encoder of `level`.
    pub fn level_depth(&self, level: usize) -> usize {
        self.depth * self.hvqvae_multipliers[level]
    }

    /// Dilation of residual block `d` of a Resnet1D (`growth^d`, or `growth^(d % cycle)`).
    pub fn dilation(&self, d: usize) -> usize {
        let exp = match self.dilation_cycle {
            Some(cycle) if cycle > 0 => d % cycle,
            _ => d,
        };
        self.dilation_growth_rate.pow(exp as u32)
    }
}

impl PriorConfig {
    /// Tokens per attention block (`n_ctx / blocks`).
    pub fn block_ctx(&self) -> usize {
        self.n_ctx / self.blocks
    }

    /// Attention width (`m_attn * width`).
    pub fn attn_state(&self) -> usize {
        (self.m_attn * self.width as f64) as usize
    }

    /// MLP hidden width (`m_mlp * width`).
    pub fn mlp_state(&self) -> usize {
        (self.m_mlp * self.width as f64) as usize
    }

    /// Width of one attention head.
    pub fn head_dim(&self) -> usize {
        self.attn_state() / self.heads
    }

    /// The attention pattern of layer `d` (`[block, transpose, prev][d % 3]` for `attn_order` 2).
    pub fn pattern(&self, d: usize) -> AttnPattern {
        match d % 3 {
            0 => AttnPattern::Block,
            1 => AttnPattern::TransposeBlock,
            _ => AttnPattern::PrevBlock,
        }
    }
}

impl JukeboxConfig {
    /// The real model used by LLark: Jukebox 5B VQ-VAE level 2 and `prior_5b` cut to 36 layers,
    /// with LLark's label vector (unknown artist/genre, total length 62 s, offset 0).
    pub fn jukebox_5b() -> Self {
        Self {
            vqvae: VqvaeConfig {
                levels: 3,
                downs_t: vec![3, 2, 2],
                strides_t: vec![2, 2, 2],
                emb_width: 64,
                l_bins: 2048,
                hvqvae_multipliers: vec![2, 1, 1],
                width: 32,
                depth: 4,
                m_conv: 1.0,
                dilation_growth_rate: 3,
                dilation_cycle: None,
            },
            prior: PriorConfig {
                level: 2,
                n_ctx: 8192,
                width: 4800,
                prior_depth: 36,
                heads: 8,
                blocks: 128,
                m_attn: 0.25,
                m_mlp: 1.0,
                attn_order: 2,
                bins: 2048,
                y_bins: [120, 4111],
                t_bins: 128,
                max_bow_genre_size: 5,
                sr: 44100,
                min_duration: 60.0,
                max_duration: 600.0,
            },
            labels: vec![2_734_080, 0, 1_048_576, 0, 0, -1, -1, -1, -1],
            sample_rate: 44100,
        }
    }

    /// Parses a configuration from JSON text and validates it; `origin` names it in errors.
    pub fn from_json_str(json: &str, origin: &str) -> Result<Self, EncoderError> {
        let config: Self = crate::config_file::parse(json, origin)?;
        config.validate(origin)?;
        Ok(config)
    }

    /// Reads and validates a `config.json`.
    pub fn from_json_file(path: impl AsRef<Path>) -> Result<Self, EncoderError> {
        let (text, origin) = crate::config_file::read(path.as_ref())?;
        Self::from_json_str(&text, &origin)
    }

    /// The same configuration with a different number of prior layers.
    pub fn with_depth(mut self, depth: usize) -> Self {
        self.prior.prior_depth = depth;
        self
    }

    /// Raw samples per token of the prior's level (128 for Jukebox).
    pub fn hop_length(&self) -> usize {
        self.vqvae.hop_length(self.prior.level)
    }

    /// Samples in one input window: `n_ctx * hop_length` (1,048,576 for Jukebox, 23.78 s).
    pub fn window_samples(&self) -> usize {
        self.prior.n_ctx * self.hop_length()
    }

    /// Output frames per second: `sample_rate / hop_length` (344.53125 Hz for Jukebox).
    pub fn frame_rate(&self) -> f64 {
        f64::from(self.sample_rate) / self.hop_length() as f64
    }

    /// Checks every size the model relies on; errors name the field at fault.
    pub fn validate(&self, origin: &str) -> Result<(), EncoderError> {
        let err = |field: &str, message: String| EncoderError::Config {
            origin: origin.to_string(),
            field: field.to_string(),
            message,
        };
        let v = &self.vqvae;
        let p = &self.prior;
        if v.levels == 0 {
            return Err(err("vqvae.levels", "must be at least 1".into()));
        }
        for (field, len) in [
            ("vqvae.downs_t", v.downs_t.len()),
            ("vqvae.strides_t", v.strides_t.len()),
            ("vqvae.hvqvae_multipliers", v.hvqvae_multipliers.len()),
        ] {
            if len != v.levels {
                return Err(err(
                    field,
                    format!("has {len} entries, expected levels = {}", v.levels),
                ));
            }
        }
        if v.strides_t.iter().any(|&s| s < 2) {
            return Err(err("vqvae.strides_t", "strides must be at least 2".into()));
        }
        if v.downs_t.contains(&0) {
            return Err(err(
                "vqvae.downs_t",
                "each level needs at least one downsampling step".into(),
            ));
        }
        for (field, value) in [
            ("vqvae.emb_width", v.emb_width),
            ("vqvae.l_bins", v.l_bins),
            ("vqvae.width", v.width),
            ("vqvae.depth", v.depth),
            ("prior.n_ctx", p.n_ctx),
            ("prior.width", p.width),
            ("prior.heads", p.heads),
            ("prior.blocks", p.blocks),
            ("prior.t_bins", p.t_bins),
        ] {
            if value == 0 {
                return Err(err(field, "must be positive".into()));
            }
        }
        if v.m_conv.is_nan()
            || v.m_conv <= 0.0
            || (v.m_conv * v.level_width(p.level.min(v.levels - 1)) as f64) < 1.0
        {
            return Err(err(
                "vqvae.m_conv",
                format!("{} gives an empty residual branch", v.m_conv),
            ));
        }
        if p.level >= v.levels {
            return Err(err(
                "prior.level",
                format!("{} but the VQ-VAE has {} levels", p.level, v.levels),
            ));
        }
        if p.bins != v.l_bins {
            return Err(err(
                "prior.bins",
                format!("{} differs from vqvae.l_bins {}", p.bins, v.l_bins),
            ));
        }
        if p.attn_order != 2 {
            return Err(err(
                "prior.attn_order",
                format!("{} is not supported (only 2)", p.attn_order),
            ));
        }
        if !p.n_ctx.is_multiple_of(p.blocks) {
            return Err(err(
                "prior.blocks",
                format!("{} does not divide n_ctx {}", p.blocks, p.n_ctx),
            ));
        }
        if p.attn_state() == 0 || !p.attn_state().is_multiple_of(p.heads) {
            return Err(err(
                "prior.m_attn",
                format!(
                    "attention width {} is not a positive multiple of heads {}",
                    p.attn_state(),
                    p.heads
                ),
            ));
        }
        if p.mlp_state() == 0 {
            return Err(err("prior.m_mlp", "gives an empty MLP".into()));
        }
        if p.min_duration.is_nan() || p.min_duration >= p.max_duration || p.min_duration < 0.0 {
            return Err(err(
                "prior.min_duration",
                "need 0 <= min_duration < max_duration".into(),
            ));
        }
        if self.labels.len() != 4 + p.max_bow_genre_size {
            return Err(err(
                "labels",
                format!(
                    "has {} entries, expected 4 + max_bow_genre_size = {}",
                    self.labels.len(),
                    4 + p.max_bow_genre_size
                ),
            ));
        }
        if self.sample_rate == 0 {
            return Err(err("sample_rate", "must be positive".into()));
        }
        Ok(())
    }
}
