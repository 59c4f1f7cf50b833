//! Adapters on disk in PEFT's format: `adapter_config.json` and `adapter_model.safetensors`
//! with PEFT's key names (`base_model.model.model.layers.{i}.self_attn.q_proj.lora_A.weight`).

use std::path::Path;

use burn::tensor::{backend::Backend, TensorData};

use crate::config::LlamaConfig;
use crate::error::{LmError, Result};
use crate::export::{write_safetensors, SaveDtype};
use crate::load::compare_tensors;
use crate::lora::adapter::LoraAdapter;
use crate::lora::config::{LoraConfig, TargetModule, ADAPTER_CONFIG_FILE, ADAPTER_WEIGHTS_FILE};
use crate::lora::error::LoraError;
use crate::model::Llama;
use crate::weights::WeightSource;

/// Which matrix of an adapter a key names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoraMatrix {
    /// `lora_A.weight`, `[r, in]`.
    A,
    /// `lora_B.weight`, `[out, r]`.
    B,
}

/// PEFT's key of an adapter matrix in `adapter_model.safetensors` (the adapter name removed, as
/// `save_pretrained` writes it): `base_model.model.model.layers.{layer}.{block}.{proj}.lora_{A|B}.weight`.
pub fn peft_key(layer: usize, target: TargetModule, matrix: LoraMatrix) -> String {
    let m = match matrix {
        LoraMatrix::A => "lora_A",
        LoraMatrix::B => "lora_B",
    };
    format!(
        "base_model.model.model.layers.{layer}.{}.{m}.weight",
        target.path()
    )
}

/// Every tensor an adapter file of `lora` for a model of `config` holds, with its shape.
pub fn adapter_specs(
    config: &LlamaConfig,
    lora: &LoraConfig,
) -> std::result::Result<Vec<(String, Vec<usize>)>, LoraError> {
    lora.validate_for(config)?;
    let targets = lora.targets()?;
    let mut specs = Vec::new();
    for layer in (0..config.num_hidden_layers).filter(|&i| lora.transforms_layer(i)) {
        for &target in &targets {
            let [out, inp] = target.shape(config);
            specs.push((peft_key(layer, target, LoraMatrix::A), vec![lora.r, inp]));
            specs.push((peft_key(layer, target, LoraMatrix::B), vec![out, lora.r]));
        }
    }
    Ok(specs)
}

impl<B: Backend> Llama<B> {
    /// The adapter matrices under PEFT's key names as f32 host data (A then B of each adapted
    /// projection, in layer order).
    pub fn adapter_tensors(&self) -> Result<Vec<(String, TensorData)>> {
        if self.lora.is_none() {
            return Err(LoraError::NoAdapters.into());
        }
        let data = |t: burn::tensor::Tensor<B, 2>| t.into_data().convert::<f32>();
        let mut out = Vec::new();
        for (layer, target, adapter) in self.adapters() {
            out.push((
                peft_key(layer, target, LoraMatrix::A),
                data(adapter.lora_a.val()),
            ));
            out.push((
                peft_key(layer, target, LoraMatrix::B),
                data(adapter.lora_b.val()),
            ));
        }
        Ok(out)
    }

    /// Writes the adapters as PEFT does into `dir` (created if needed): `adapter_config.json`
    /// (with `inference_mode: true`, as `save_pretrained` writes it) and
    /// `adapter_model.safetensors` (f32, `{"format": "pt"}`), each atomically. The base weights
    /// are not written (see [`Self::to_hf_tensors`]).
    pub fn save_adapter(&self, dir: impl AsRef<Path>) -> Result<()> {
        let dir = dir.as_ref();
        let mut config = self.lora.clone().ok_or(LoraError::NoAdapters)?;
        let tensors = self.adapter_tensors()?;
        std::fs::create_dir_all(dir).map_err(|source| LmError::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        write_safetensors(dir.join(ADAPTER_WEIGHTS_FILE), &tensors, SaveDtype::F32)?;
        config.inference_mode = true;
        config.write(dir.join(ADAPTER_CONFIG_FILE))
    }

    /// The model with the adapters of the PEFT directory `dir` (`adapter_config.json` and
    /// `adapter_model.safetensors`) on its projections and its base frozen. The configuration is
    /// checked against the model, and the file's names and shapes against the configuration
    /// before anything is read: every missing, unexpected or mis-shaped key is listed in one
    /// [`LmError::WeightMismatch`] naming the file.
    pub fn load_adapter(self, dir: impl AsRef<Path>) -> Result<Self> {
        let dir = dir.as_ref();
        let config = LoraConfig::from_file(dir.join(ADAPTER_CONFIG_FILE))?;
        let weights = dir.join(ADAPTER_WEIGHTS_FILE);
        if !weights.is_file() && dir.join("adapter_model.bin").is_file() {
            return Err(LmError::Adapter {
                path: dir.join("adapter_model.bin"),
                source: LoraError::Unsupported {
                    field: "adapter_model.bin".into(),
                    value: "a pickled PyTorch file".into(),
                    reason: "save the adapter with safe_serialization=True \
                             (adapter_model.safetensors)"
                        .into(),
                },
            });
        }
        let source = WeightSource::open_files(std::slice::from_ref(&weights))?;
        let specs = adapter_specs(&self.config, &config).map_err(|source| LmError::Adapter {
            path: dir.join(ADAPTER_CONFIG_FILE),
            source,
        })?;
        compare_tensors(&specs, &source, |_| false)?;
        let device = self.device();
        let (r, scale, dropout) = (config.r, config.scale(), config.lora_dropout);
        self.attach(&config, |layer, target, [out, inp]| {
            let a =
                source.tensor_shaped(&peft_key(layer, target, LoraMatrix::A), [r, inp], &device)?;
            let b =
                source.tensor_shaped(&peft_key(layer, target, LoraMatrix::B), [out, r], &device)?;
            Ok(LoraAdapter::new(a, b, scale, dropout))
        })
    }
}
