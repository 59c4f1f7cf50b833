//! `LoraConfig`: the adapter configuration, serde-compatible with PEFT's `adapter_config.json`.

use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::config::LlamaConfig;
use crate::error::{LmError, Result};
use crate::lora::error::LoraError;

/// Name of the adapter configuration file in a PEFT adapter directory.
pub const ADAPTER_CONFIG_FILE: &str = "adapter_config.json";
/// Name of the adapter weights file in a PEFT adapter directory.
pub const ADAPTER_WEIGHTS_FILE: &str = "adapter_model.safetensors";

/// A projection of a Llama decoder layer that can carry an adapter, under its PEFT name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TargetModule {
    /// `self_attn.q_proj`.
    QProj,
    /// `self_attn.k_proj`.
    KProj,
    /// `self_attn.v_proj`.
    VProj,
    /// `self_attn.o_proj`.
    OProj,
    /// `mlp.gate_proj`.
    GateProj,
    /// `mlp.up_proj`.
    UpProj,
    /// `mlp.down_proj`.
    DownProj,
}

impl TargetModule {
    /// Every projection, in the order of a decoder layer.
    pub const ALL: [TargetModule; 7] = [
        TargetModule::QProj,
        TargetModule::KProj,
        TargetModule::VProj,
        TargetModule::OProj,
        TargetModule::GateProj,
        TargetModule::UpProj,
        TargetModule::DownProj,
    ];

    /// PEFT's name (`q_proj`, ..., `down_proj`).
    pub fn name(self) -> &'static str {
        match self {
            TargetModule::QProj => "q_proj",
            TargetModule::KProj => "k_proj",
            TargetModule::VProj => "v_proj",
            TargetModule::OProj => "o_proj",
            TargetModule::GateProj => "gate_proj",
            TargetModule::UpProj => "up_proj",
            TargetModule::DownProj => "down_proj",
        }
    }

    /// The path of the projection inside a decoder layer (`self_attn.q_proj`, `mlp.up_proj`).
    pub fn path(self) -> String {
        let block = match self {
            TargetModule::QProj
            | TargetModule::KProj
            | TargetModule::VProj
            | TargetModule::OProj => "self_attn",
            _ => "mlp",
        };
        format!("{block}.{}", self.name())
    }

    /// The projection of that name, if it is one.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.name() == name)
    }

    /// `[out, in]` of the projection in a model of `config`.
    pub fn shape(self, config: &LlamaConfig) -> [usize; 2] {
        let (d, f) = (config.hidden_size, config.intermediate_size);
        let q = config.num_attention_heads * config.head_dim();
        let kv = config.num_kv_heads() * config.head_dim();
        match self {
            TargetModule::QProj => [q, d],
            TargetModule::KProj | TargetModule::VProj => [kv, d],
            TargetModule::OProj => [d, q],
            TargetModule::GateProj | TargetModule::UpProj => [f, d],
            TargetModule::DownProj => [d, f],
        }
    }
}

/// `target_modules` as PEFT stores it: a list of module names, or one string (a regular
/// expression, or `"all-linear"`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum TargetModules {
    /// Module names (`["q_proj", "v_proj"]`).
    Names(Vec<String>),
    /// A pattern; only `"all-linear"` (every projection of the decoder layers, not `lm_head`)
    /// is supported.
    Pattern(String),
}

/// `layers_to_transform`: one layer index or a list of them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum LayerSelection {
    /// One layer.
    One(usize),
    /// Several layers.
    Many(Vec<usize>),
}

/// `init_lora_weights`: `true` (A kaiming-uniform, B zeros: the adapter starts as the identity),
/// `false` (A and B both kaiming-uniform, as an untouched `nn.Linear`), or the name of a scheme
/// (only `"gaussian"`: A from `N(0, 1/r)`, B zeros).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum InitLoraWeights {
    /// `true` or `false`.
    Flag(bool),
    /// A named scheme.
    Scheme(String),
}

impl Default for InitLoraWeights {
    fn default() -> Self {
        InitLoraWeights::Flag(true)
    }
}

/// How the weights of a new adapter are drawn (the validated form of [`InitLoraWeights`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoraInit {
    /// A kaiming-uniform (`U(-1/sqrt(in), 1/sqrt(in))`), B zeros (PEFT's default).
    Kaiming,
    /// A from `N(0, 1/r)`, B zeros.
    Gaussian,
    /// A and B both kaiming-uniform (the adapter does not start as the identity).
    Random,
}

/// A LoRA adapter configuration in PEFT's `adapter_config.json` format (`peft.LoraConfig`).
///
/// Every field has PEFT's default, so `{"r": 8, "lora_alpha": 16}` is a whole configuration.
/// Fields this crate does not know are kept in [`Self::extra`] and written back; those that
/// would change what the adapter computes (DoRA, rsLoRA, trained biases, per-module ranks,
/// modules to save, ...) are refused by [`Self::validate`] with [`LoraError::Unsupported`]
/// unless they hold their "off" value.
///
/// The adapted projection computes `y = W x + b + (lora_alpha / r) * B (A dropout(x))` with
/// `A` `[r, in]` and `B` `[out, r]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct LoraConfig {
    /// The rank of the adapters (PEFT's default 8).
    pub r: usize,
    /// The scale numerator: the update is multiplied by `lora_alpha / r` (default 8).
    pub lora_alpha: f64,
    /// Dropout probability on the adapter's input while training (default 0).
    pub lora_dropout: f64,
    /// The projections that get adapters; `None` is PEFT's choice for Llama, `q_proj` and
    /// `v_proj`.
    pub target_modules: Option<TargetModules>,
    /// Bias training: only `"none"` is supported.
    pub bias: String,
    /// PEFT's task type (`"CAUSAL_LM"`, or none).
    pub task_type: Option<String>,
    /// Must be `"LORA"`.
    pub peft_type: String,
    /// The base model the adapter was trained on (informative).
    pub base_model_name_or_path: Option<String>,
    /// Whether the base stores weights as `[in, out]`; Llama's are `[out, in]`, so `false`.
    pub fan_in_fan_out: bool,
    /// Whether the adapter was saved for inference (PEFT sets `true` when saving).
    pub inference_mode: bool,
    /// How new adapters are initialised.
    pub init_lora_weights: InitLoraWeights,
    /// The decoder layers that get adapters (`None`: all).
    pub layers_to_transform: Option<LayerSelection>,
    /// Name of the layer list for `layers_to_transform` (`None` or `"layers"`).
    pub layers_pattern: Option<Value>,
    /// rsLoRA's scale `lora_alpha / sqrt(r)`: not supported (must be `false`).
    pub use_rslora: bool,
    /// DoRA: not supported (must be `false`).
    pub use_dora: bool,
    /// Every other field of the file, kept as it was.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Default for LoraConfig {
    /// PEFT's defaults: r 8, lora_alpha 8, no dropout, `q_proj` and `v_proj`, task `CAUSAL_LM`.
    fn default() -> Self {
        LoraConfig {
            r: 8,
            lora_alpha: 8.0,
            lora_dropout: 0.0,
            target_modules: None,
            bias: "none".into(),
            task_type: Some("CAUSAL_LM".into()),
            peft_type: "LORA".into(),
            base_model_name_or_path: None,
            fan_in_fan_out: false,
            inference_mode: false,
            init_lora_weights: InitLoraWeights::default(),
            layers_to_transform: None,
            layers_pattern: None,
            use_rslora: false,
            use_dora: false,
            extra: Map::new(),
        }
    }
}

/// PEFT options that change what an adapter computes: accepted only with their "off" value
/// (`null`, `false`, `{}`, `[]` or `""`).
const OFF_FIELDS: &[(&str, &str)] = &[
    ("lora_bias", "adapters without a bias"),
    ("rank_pattern", "one rank for every module"),
    ("alpha_pattern", "one lora_alpha for every module"),
    (
        "modules_to_save",
        "no fully trained modules besides the adapters",
    ),
    ("layer_replication", "no replicated layers"),
    ("trainable_token_indices", "no trained embedding rows"),
    ("target_parameters", "adapters on modules, not parameters"),
    ("exclude_modules", "a plain list of target modules"),
    ("use_qalora", "plain LoRA"),
    ("alora_invocation_tokens", "plain LoRA"),
    ("megatron_config", "plain linear layers"),
    ("use_bdlora", "plain LoRA"),
    ("loftq_config", "plain initialisation"),
    ("eva_config", "plain initialisation"),
    ("corda_config", "plain initialisation"),
    ("lora_ga_config", "plain initialisation"),
    ("velora_config", "plain LoRA"),
    ("monteclora_config", "plain LoRA"),
    ("arrow_config", "plain LoRA"),
    ("kasa_config", "plain LoRA"),
];

fn is_off(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::Object(m) => m.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::String(s) => s.is_empty(),
        Value::Number(_) => false,
    }
}

fn unsupported(field: &str, value: impl Serialize, reason: &str) -> LoraError {
    LoraError::Unsupported {
        field: field.to_string(),
        value: serde_json::to_string(&value).unwrap_or_default(),
        reason: reason.to_string(),
    }
}

fn invalid(field: &str, reason: impl Into<String>) -> LoraError {
    LoraError::Value {
        field: field.to_string(),
        reason: reason.into(),
    }
}

impl LoraConfig {
    /// A configuration of rank `r`, scale numerator `lora_alpha` and these targets (PEFT's
    /// defaults otherwise).
    pub fn new(r: usize, lora_alpha: f64, targets: &[TargetModule]) -> Self {
        LoraConfig {
            r,
            lora_alpha,
            target_modules: Some(TargetModules::Names(
                targets.iter().map(|t| t.name().to_string()).collect(),
            )),
            ..Self::default()
        }
    }

    /// The same configuration with dropout probability `p`.
    pub fn with_dropout(mut self, p: f64) -> Self {
        self.lora_dropout = p;
        self
    }

    /// The factor of the adapter's update, `lora_alpha / r`.
    pub fn scale(&self) -> f64 {
        self.lora_alpha / self.r as f64
    }

    /// The projections that get adapters, in decoder-layer order.
    pub fn targets(&self) -> std::result::Result<Vec<TargetModule>, LoraError> {
        let mut out = match &self.target_modules {
            None => vec![TargetModule::QProj, TargetModule::VProj],
            Some(TargetModules::Pattern(p)) if p == "all-linear" => TargetModule::ALL.to_vec(),
            Some(TargetModules::Pattern(p)) => {
                return Err(unsupported(
                    "target_modules",
                    p,
                    "a list of module names among q_proj, k_proj, v_proj, o_proj, gate_proj, \
                     up_proj, down_proj, or \"all-linear\"",
                ))
            }
            Some(TargetModules::Names(names)) => names
                .iter()
                .map(|n| {
                    TargetModule::from_name(n).ok_or_else(|| {
                        invalid(
                            "target_modules",
                            format!(
                                "`{n}` is not a projection of a Llama decoder layer (q_proj, \
                                 k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj)"
                            ),
                        )
                    })
                })
                .collect::<std::result::Result<Vec<_>, _>>()?,
        };
        out.sort();
        out.dedup();
        if out.is_empty() {
            return Err(invalid("target_modules", "the list is empty"));
        }
        Ok(out)
    }

    /// Whether decoder layer `layer` gets adapters.
    pub fn transforms_layer(&self, layer: usize) -> bool {
        match &self.layers_to_transform {
            None => true,
            Some(LayerSelection::One(i)) => *i == layer,
            Some(LayerSelection::Many(list)) => list.contains(&layer),
        }
    }

    /// How new adapters are initialised.
    pub fn init_scheme(&self) -> std::result::Result<LoraInit, LoraError> {
        match &self.init_lora_weights {
            InitLoraWeights::Flag(true) => Ok(LoraInit::Kaiming),
            InitLoraWeights::Flag(false) => Ok(LoraInit::Random),
            InitLoraWeights::Scheme(s) if s == "gaussian" => Ok(LoraInit::Gaussian),
            InitLoraWeights::Scheme(s) => Err(unsupported(
                "init_lora_weights",
                s,
                "true, false or \"gaussian\"",
            )),
        }
    }

    /// Checks every field on its own (see [`Self::validate_for`] for the model).
    pub fn validate(&self) -> std::result::Result<(), LoraError> {
        if self.peft_type != "LORA" {
            return Err(unsupported("peft_type", &self.peft_type, "\"LORA\""));
        }
        if let Some(task) = &self.task_type {
            if task != "CAUSAL_LM" {
                return Err(unsupported("task_type", task, "\"CAUSAL_LM\" or null"));
            }
        }
        if self.r == 0 || self.r > crate::config::MAX_WIDTH {
            return Err(invalid(
                "r",
                format!("{} is outside 1..={}", self.r, crate::config::MAX_WIDTH),
            ));
        }
        if !self.lora_alpha.is_finite() {
            return Err(invalid(
                "lora_alpha",
                format!("{} is not finite", self.lora_alpha),
            ));
        }
        if !(0.0..1.0).contains(&self.lora_dropout) {
            return Err(invalid(
                "lora_dropout",
                format!("{} is outside [0, 1)", self.lora_dropout),
            ));
        }
        if self.bias != "none" {
            return Err(unsupported("bias", &self.bias, "\"none\""));
        }
        if self.fan_in_fan_out {
            return Err(unsupported(
                "fan_in_fan_out",
                true,
                "false (Llama stores projections as [out, in])",
            ));
        }
        if self.use_rslora {
            return Err(unsupported("use_rslora", true, "the scale lora_alpha / r"));
        }
        if self.use_dora {
            return Err(unsupported("use_dora", true, "plain LoRA"));
        }
        match &self.layers_pattern {
            None => {}
            Some(Value::String(s)) if s == "layers" => {}
            Some(Value::Array(a)) if a.iter().all(|v| v == "layers") => {}
            Some(v) => return Err(unsupported("layers_pattern", v, "null or \"layers\"")),
        }
        for (field, reason) in OFF_FIELDS {
            if let Some(v) = self.extra.get(*field) {
                if !is_off(v) {
                    return Err(unsupported(field, v, reason));
                }
            }
        }
        self.targets()?;
        self.init_scheme()?;
        Ok(())
    }

    /// [`Self::validate`], and that the selected layers exist in a model of `config`.
    pub fn validate_for(&self, config: &LlamaConfig) -> std::result::Result<(), LoraError> {
        self.validate()?;
        let layers = config.num_hidden_layers;
        let listed = match &self.layers_to_transform {
            None => vec![],
            Some(LayerSelection::One(i)) => vec![*i],
            Some(LayerSelection::Many(list)) => list.clone(),
        };
        if let Some(bad) = listed.iter().find(|&&i| i >= layers) {
            return Err(invalid(
                "layers_to_transform",
                format!("layer {bad} does not exist (the model has {layers})"),
            ));
        }
        if matches!(&self.layers_to_transform, Some(LayerSelection::Many(l)) if l.is_empty()) {
            return Err(invalid("layers_to_transform", "the list is empty"));
        }
        Ok(())
    }

    /// Reads and checks an `adapter_config.json`.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let text = crate::error::read_text(path)?;
        let in_file = |source: LoraError| LmError::Adapter {
            path: path.to_path_buf(),
            source,
        };
        let config: Self = serde_json::from_str(&text).map_err(|source| {
            in_file(LoraError::Parse {
                path: path.to_path_buf(),
                source,
            })
        })?;
        config.validate().map_err(in_file)?;
        Ok(config)
    }

    /// The configuration as PEFT writes it: every field of this struct, the kept unknown
    /// fields, and PEFT's "off" values of the usual optional fields that are absent, with the
    /// target modules as a list of names in decoder-layer order.
    pub fn to_peft_json(&self) -> std::result::Result<Value, LoraError> {
        let mut config = self.clone();
        config.target_modules = Some(TargetModules::Names(
            self.targets()?
                .into_iter()
                .map(|t| t.name().to_string())
                .collect(),
        ));
        let mut value =
            serde_json::to_value(&config).map_err(|e| invalid("config", e.to_string()))?;
        if let Value::Object(map) = &mut value {
            for (field, default) in [
                ("alpha_pattern", Value::Object(Map::new())),
                ("rank_pattern", Value::Object(Map::new())),
                ("modules_to_save", Value::Null),
                ("lora_bias", Value::Bool(false)),
                ("revision", Value::Null),
                ("auto_mapping", Value::Null),
            ] {
                map.entry(field).or_insert(default);
            }
        }
        Ok(value)
    }

    /// Writes the configuration ([`Self::to_peft_json`], pretty-printed) atomically to `path`.
    pub fn write(&self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        let value = self.to_peft_json().map_err(|source| LmError::Adapter {
            path: path.to_path_buf(),
            source,
        })?;
        let text = serde_json::to_string_pretty(&value).map_err(|e| LmError::Adapter {
            path: path.to_path_buf(),
            source: invalid("config", e.to_string()),
        })?;
        llark_tensors::write_bytes_atomic(path, (text + "\n").as_bytes())?;
        Ok(())
    }
}
