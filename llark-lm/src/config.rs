//! `LlamaConfig`: the Hugging Face `config.json` of a Llama 1, 2 or 3 model.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{LmError, Result};

/// One token id or a list of them (`eos_token_id` is a list in Llama 3 configs).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum TokenIds {
    /// A single id.
    One(u32),
    /// Several ids.
    Many(Vec<u32>),
}

impl TokenIds {
    /// The ids as a vector.
    pub fn to_vec(&self) -> Vec<u32> {
        match self {
            TokenIds::One(id) => vec![*id],
            TokenIds::Many(ids) => ids.clone(),
        }
    }
}

/// The most decoder layers a configuration may declare (checked before anything is allocated).
pub const MAX_LAYERS: usize = 1024;
/// The widest `hidden_size` or `intermediate_size` accepted.
pub const MAX_WIDTH: usize = 1 << 17;
/// The largest vocabulary accepted.
pub const MAX_VOCAB_SIZE: usize = 1 << 22;
/// The most attention (or key/value) heads accepted.
pub const MAX_HEADS: usize = 1024;
/// The widest attention head accepted.
pub const MAX_HEAD_DIM: usize = 1024;
/// The longest context (`max_position_embeddings`) accepted.
pub const MAX_POSITIONS: usize = 1 << 22;

/// RoPE frequency scaling, as `rope_scaling` in `config.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RopeScaling {
    /// `"linear"`, `"llama3"` or `"default"` (written by transformers >= 4.43).
    #[serde(default)]
    pub rope_type: Option<String>,
    /// The same, as older files name it (`type`); `rope_type` wins when both are present.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub legacy_type: Option<String>,
    /// Scaling factor.
    #[serde(default)]
    pub factor: Option<f64>,
    /// Llama 3: low-frequency factor.
    #[serde(default)]
    pub low_freq_factor: Option<f64>,
    /// Llama 3: high-frequency factor.
    #[serde(default)]
    pub high_freq_factor: Option<f64>,
    /// Llama 3: context length of pre-training.
    #[serde(default)]
    pub original_max_position_embeddings: Option<usize>,
}

/// The Hugging Face Llama configuration. Unknown fields (e.g. LLark's `mm_hidden_size`) are ignored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LlamaConfig {
    /// Vocabulary size (rows of the embedding).
    pub vocab_size: usize,
    /// Model width.
    pub hidden_size: usize,
    /// Width of the gated MLP.
    pub intermediate_size: usize,
    /// Number of decoder layers.
    pub num_hidden_layers: usize,
    /// Number of query heads.
    pub num_attention_heads: usize,
    /// Number of key/value heads (grouped-query attention); defaults to `num_attention_heads`.
    #[serde(default)]
    pub num_key_value_heads: Option<usize>,
    /// Per-head width; defaults to `hidden_size / num_attention_heads`.
    #[serde(default)]
    pub head_dim: Option<usize>,
    /// Maximum context length.
    #[serde(default = "default_max_positions")]
    pub max_position_embeddings: usize,
    /// Epsilon of the RMS norms.
    #[serde(default = "default_eps")]
    pub rms_norm_eps: f64,
    /// RoPE base.
    #[serde(default = "default_theta")]
    pub rope_theta: f64,
    /// RoPE frequency scaling.
    #[serde(default)]
    pub rope_scaling: Option<RopeScaling>,
    /// Whether the output projection shares the input embedding.
    #[serde(default)]
    pub tie_word_embeddings: bool,
    /// Biases on q/k/v/o projections.
    #[serde(default)]
    pub attention_bias: bool,
    /// Biases on the MLP projections.
    #[serde(default)]
    pub mlp_bias: bool,
    /// Activation of the MLP (only `silu` is supported).
    #[serde(default = "default_act")]
    pub hidden_act: String,
    /// Beginning-of-sequence id.
    #[serde(default)]
    pub bos_token_id: Option<u32>,
    /// End-of-sequence id or ids.
    #[serde(default)]
    pub eos_token_id: Option<TokenIds>,
    /// Padding id.
    #[serde(default)]
    pub pad_token_id: Option<u32>,
}

fn default_max_positions() -> usize {
    2048
}
fn default_eps() -> f64 {
    1e-6
}
fn default_theta() -> f64 {
    10000.0
}
fn default_act() -> String {
    "silu".to_string()
}

impl LlamaConfig {
    /// Reads and validates `config.json`.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let text = crate::error::read_text(path)?;
        let config: Self = serde_json::from_str(&text).map_err(|source| LmError::ConfigParse {
            path: path.to_path_buf(),
            source,
        })?;
        config.validate()?;
        Ok(config)
    }

    /// Parses and validates a JSON string.
    pub fn from_json_str(text: &str) -> Result<Self> {
        let config: Self = serde_json::from_str(text).map_err(|source| LmError::ConfigParse {
            path: "<string>".into(),
            source,
        })?;
        config.validate()?;
        Ok(config)
    }

    /// Checks the fields for consistency (head counts, activation, RoPE scaling) and range: sizes
    /// positive and within the `MAX_*` limits, `rms_norm_eps` in `(0, 1)`, `rope_theta` finite and
    /// above 1, RoPE scaling factors finite and positive.
    pub fn validate(&self) -> Result<()> {
        let bad = |field: &str, reason: String| {
            Err(LmError::ConfigValue {
                field: field.to_string(),
                reason,
            })
        };
        for (field, value, max) in [
            ("vocab_size", self.vocab_size, MAX_VOCAB_SIZE),
            ("hidden_size", self.hidden_size, MAX_WIDTH),
            ("intermediate_size", self.intermediate_size, MAX_WIDTH),
            ("num_attention_heads", self.num_attention_heads, MAX_HEADS),
            (
                "max_position_embeddings",
                self.max_position_embeddings,
                MAX_POSITIONS,
            ),
        ] {
            if value == 0 || value > max {
                return bad(field, format!("is {value}, not in 1..={max}"));
            }
        }
        if self.num_hidden_layers > MAX_LAYERS {
            return bad(
                "num_hidden_layers",
                format!("is {}, more than {MAX_LAYERS}", self.num_hidden_layers),
            );
        }
        for (field, value) in [
            ("num_key_value_heads", self.num_key_value_heads),
            ("head_dim", self.head_dim),
        ] {
            if let Some(v) = value.filter(|&v| v == 0 || v > MAX_HEADS.max(MAX_HEAD_DIM)) {
                return bad(field, format!("is {v}, out of range"));
            }
        }
        if self.head_dim() > MAX_HEAD_DIM {
            return bad(
                "head_dim",
                format!("is {}, more than {MAX_HEAD_DIM}", self.head_dim()),
            );
        }
        if !(self.rms_norm_eps.is_finite() && self.rms_norm_eps > 0.0 && self.rms_norm_eps < 1.0) {
            return bad(
                "rms_norm_eps",
                format!("is {}, not a small positive number", self.rms_norm_eps),
            );
        }
        if !(self.rope_theta.is_finite() && self.rope_theta > 1.0) {
            return bad(
                "rope_theta",
                format!("is {}, not a RoPE base above 1", self.rope_theta),
            );
        }
        if self.head_dim.is_none() && !self.hidden_size.is_multiple_of(self.num_attention_heads) {
            return bad(
                "num_attention_heads",
                format!(
                    "{} does not divide hidden_size {}",
                    self.num_attention_heads, self.hidden_size
                ),
            );
        }
        let kv = self.num_kv_heads();
        if kv == 0 || !self.num_attention_heads.is_multiple_of(kv) {
            return bad(
                "num_key_value_heads",
                format!(
                    "{kv} does not divide num_attention_heads {}",
                    self.num_attention_heads
                ),
            );
        }
        if !self.head_dim().is_multiple_of(2) {
            return bad("head_dim", format!("{} is odd", self.head_dim()));
        }
        if self.hidden_act != "silu" {
            return bad(
                "hidden_act",
                format!("`{}` is not supported (silu)", self.hidden_act),
            );
        }
        self.rope_kind()?;
        Ok(())
    }

    /// Number of key/value heads.
    pub fn num_kv_heads(&self) -> usize {
        self.num_key_value_heads.unwrap_or(self.num_attention_heads)
    }

    /// Per-head width.
    pub fn head_dim(&self) -> usize {
        self.head_dim
            .unwrap_or(self.hidden_size / self.num_attention_heads.max(1))
    }

    /// End-of-sequence ids (empty when the config has none).
    pub fn eos_ids(&self) -> Vec<u32> {
        self.eos_token_id
            .as_ref()
            .map(TokenIds::to_vec)
            .unwrap_or_default()
    }

    /// The validated RoPE scaling.
    pub fn rope_kind(&self) -> Result<RopeKind> {
        let Some(s) = &self.rope_scaling else {
            return Ok(RopeKind::Default);
        };
        let need = |v: Option<f64>, name: &str| {
            v.ok_or_else(|| LmError::ConfigValue {
                field: format!("rope_scaling.{name}"),
                reason: "missing".into(),
            })
        };
        let positive = |v: Option<f64>, name: &str| {
            let v = need(v, name)?;
            if v.is_finite() && v > 0.0 {
                Ok(v)
            } else {
                Err(LmError::ConfigValue {
                    field: format!("rope_scaling.{name}"),
                    reason: format!("is {v}, not a positive number"),
                })
            }
        };
        let kind = s.rope_type.as_deref().or(s.legacy_type.as_deref());
        match kind.unwrap_or("default") {
            "default" => Ok(RopeKind::Default),
            "linear" => Ok(RopeKind::Linear {
                factor: positive(s.factor, "factor")?,
            }),
            "llama3" => {
                let low_freq_factor = positive(s.low_freq_factor, "low_freq_factor")?;
                let high_freq_factor = positive(s.high_freq_factor, "high_freq_factor")?;
                if high_freq_factor <= low_freq_factor {
                    return Err(LmError::ConfigValue {
                        field: "rope_scaling.high_freq_factor".into(),
                        reason: format!(
                            "{high_freq_factor} is not above low_freq_factor {low_freq_factor}"
                        ),
                    });
                }
                let original = s
                    .original_max_position_embeddings
                    .filter(|&n| n > 0)
                    .ok_or_else(|| LmError::ConfigValue {
                        field: "rope_scaling.original_max_position_embeddings".into(),
                        reason: "missing or 0".into(),
                    })?;
                Ok(RopeKind::Llama3 {
                    factor: positive(s.factor, "factor")?,
                    low_freq_factor,
                    high_freq_factor,
                    original_max_position_embeddings: original as f64,
                })
            }
            other => Err(LmError::ConfigValue {
                field: "rope_scaling.rope_type".into(),
                reason: format!("`{other}` is not supported (linear, llama3)"),
            }),
        }
    }

    /// Llama 2 7B (the language model of LLark before its vocabulary is extended).
    pub fn llama2_7b() -> Self {
        Self {
            vocab_size: 32000,
            hidden_size: 4096,
            intermediate_size: 11008,
            num_hidden_layers: 32,
            num_attention_heads: 32,
            num_key_value_heads: Some(32),
            head_dim: None,
            max_position_embeddings: 4096,
            rms_norm_eps: 1e-5,
            rope_theta: 10000.0,
            rope_scaling: None,
            tie_word_embeddings: false,
            attention_bias: false,
            mlp_bias: false,
            hidden_act: "silu".into(),
            bos_token_id: Some(1),
            eos_token_id: Some(TokenIds::One(2)),
            pad_token_id: None,
        }
    }
}

/// Validated RoPE scaling variants.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum RopeKind {
    /// Plain RoPE.
    Default,
    /// Positions divided by `factor` (frequencies divided by `factor`).
    Linear {
        /// Scaling factor.
        factor: f64,
    },
    /// Llama 3.1 frequency-dependent scaling.
    Llama3 {
        /// Scaling factor.
        factor: f64,
        /// Low-frequency factor.
        low_freq_factor: f64,
        /// High-frequency factor.
        high_freq_factor: f64,
        /// Pre-training context length.
        original_max_position_embeddings: f64,
    },
}
