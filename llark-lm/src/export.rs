//! Saving a [`Llama`] in the Hugging Face layout: parameters by name, and safetensors files.

use std::collections::HashMap;
use std::path::Path;

use burn::tensor::{backend::Backend, TensorData};
use safetensors::{Dtype, View};

use crate::error::{LmError, Result};
use crate::layers::Projection;
use crate::model::Llama;

/// Storage type of saved float tensors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SaveDtype {
    /// IEEE f32 (exact).
    #[default]
    F32,
    /// IEEE f16.
    F16,
    /// bfloat16 (what Llama-2 checkpoints use).
    Bf16,
}

impl<B: Backend> Llama<B> {
    /// Every parameter under its Hugging Face name, in Hugging Face layout, as f32 host data
    /// (the names and shapes of [`crate::tensor_specs`]; no `lm_head.weight` when tied).
    pub fn to_hf_tensors(&self) -> Vec<(String, TensorData)> {
        let f32_data = |t: burn::tensor::Tensor<B, 2>| t.into_data().convert::<f32>();
        let vec_data = |t: burn::tensor::Tensor<B, 1>| t.into_data().convert::<f32>();
        let mut out = vec![(
            "model.embed_tokens.weight".to_string(),
            f32_data(self.embed_tokens.val()),
        )];
        let projection = |out: &mut Vec<(String, TensorData)>, name: String, p: &Projection<B>| {
            out.push((format!("{name}.weight"), f32_data(p.weight.val())));
            if let Some(bias) = &p.bias {
                out.push((format!("{name}.bias"), vec_data(bias.val())));
            }
        };
        for (i, layer) in self.layers.iter().enumerate() {
            let p = format!("model.layers.{i}");
            out.push((
                format!("{p}.input_layernorm.weight"),
                vec_data(layer.input_layernorm.weight.val()),
            ));
            out.push((
                format!("{p}.post_attention_layernorm.weight"),
                vec_data(layer.post_attention_layernorm.weight.val()),
            ));
            let attn = &layer.self_attn;
            for (name, proj) in [
                ("q_proj", &attn.q_proj),
                ("k_proj", &attn.k_proj),
                ("v_proj", &attn.v_proj),
                ("o_proj", &attn.o_proj),
            ] {
                projection(&mut out, format!("{p}.self_attn.{name}"), proj);
            }
            for (name, proj) in [
                ("gate_proj", &layer.mlp.gate_proj),
                ("up_proj", &layer.mlp.up_proj),
                ("down_proj", &layer.mlp.down_proj),
            ] {
                projection(&mut out, format!("{p}.mlp.{name}"), proj);
            }
        }
        out.push((
            "model.norm.weight".to_string(),
            vec_data(self.norm.weight.val()),
        ));
        if let Some(head) = &self.lm_head {
            out.push(("lm_head.weight".to_string(), f32_data(head.val())));
        }
        out
    }
}

/// A host tensor ready to be written.
struct Stored {
    dtype: Dtype,
    shape: Vec<usize>,
    bytes: Vec<u8>,
}

impl View for &Stored {
    fn dtype(&self) -> Dtype {
        self.dtype
    }
    fn shape(&self) -> &[usize] {
        &self.shape
    }
    fn data(&self) -> std::borrow::Cow<'_, [u8]> {
        std::borrow::Cow::Borrowed(&self.bytes)
    }
    fn data_len(&self) -> usize {
        self.bytes.len()
    }
}

fn encode(name: &str, data: &TensorData, dtype: SaveDtype) -> Result<Stored> {
    let values: Vec<f32> = data
        .clone()
        .convert::<f32>()
        .into_vec()
        .map_err(|e| LmError::Input(format!("tensor {name}: {e:?}")))?;
    let (dtype, bytes) = match dtype {
        SaveDtype::F32 => (
            Dtype::F32,
            values.iter().flat_map(|v| v.to_le_bytes()).collect(),
        ),
        SaveDtype::F16 => (
            Dtype::F16,
            values
                .iter()
                .flat_map(|v| half::f16::from_f32(*v).to_le_bytes())
                .collect(),
        ),
        SaveDtype::Bf16 => (
            Dtype::BF16,
            values
                .iter()
                .flat_map(|v| half::bf16::from_f32(*v).to_le_bytes())
                .collect(),
        ),
    };
    Ok(Stored {
        dtype,
        shape: data.shape.as_slice().to_vec(),
        bytes,
    })
}

/// Writes named float tensors to one safetensors file (with `{"format": "pt"}` metadata, as
/// transformers writes), converting them to `dtype`. The file is written to a temporary name
/// beside `path` and renamed, so a crash never leaves a half-written file under `path`.
pub fn write_safetensors(
    path: impl AsRef<Path>,
    tensors: &[(String, TensorData)],
    dtype: SaveDtype,
) -> Result<()> {
    let path = path.as_ref();
    let stored = tensors
        .iter()
        .map(|(name, data)| Ok((name.clone(), encode(name, data, dtype)?)))
        .collect::<Result<Vec<_>>>()?;
    let views = stored.iter().map(|(name, s)| (name.clone(), s));
    let metadata = HashMap::from([("format".to_string(), "pt".to_string())]);
    let tmp = path.with_extension("safetensors.partial");
    safetensors::serialize_to_file(views, Some(metadata), &tmp).map_err(|e| {
        LmError::Safetensors {
            path: tmp.clone(),
            reason: e.to_string(),
        }
    })?;
    std::fs::rename(&tmp, path).map_err(|source| LmError::Io {
        path: path.to_path_buf(),
        source,
    })
}
