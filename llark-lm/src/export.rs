//! Saving a [`Llama`] in the Hugging Face layout: parameters by name, and safetensors files.

use std::collections::BTreeMap;
use std::path::Path;

use burn::tensor::{backend::Backend, TensorData};
use llark_tensors::{write_file, TensorBuf};

use crate::error::{LmError, Result};
use crate::layers::Projection;
use crate::model::Llama;

/// Storage type of saved float tensors (f32, f16 or bf16).
pub use llark_tensors::FloatDtype as SaveDtype;

impl<B: Backend> Llama<B> {
    /// Every parameter under its Hugging Face name, in Hugging Face layout, as f32 host data
    /// (the names and shapes of [`crate::tensor_specs`]; no `lm_head.weight` when tied).
    pub fn to_hf_tensors(&self) -> Vec<(String, TensorData)> {
        let f32_data = |t: burn::tensor::Tensor<B, 2>| t.into_data().convert::<f32>();
        let vec_data = |t: burn::tensor::Tensor<B, 1>| t.into_data().convert::<f32>();
        let device = self.device();
        let mut out = vec![(
            "model.embed_tokens.weight".to_string(),
            f32_data(self.embed_tokens.val()),
        )];
        let projection = |out: &mut Vec<(String, TensorData)>, name: String, p: &Projection<B>| {
            out.push((format!("{name}.weight"), f32_data(p.weight_tensor(&device))));
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
        } else if let (Some(head), false) = (&self.packed_head, self.config.tie_word_embeddings) {
            out.push((
                "lm_head.weight".to_string(),
                TensorData::new(head.to_f32(), head.shape()),
            ));
        }
        out
    }
}

/// Writes named float tensors to one safetensors file (with `{"format": "pt"}` metadata, as
/// transformers writes), converting them to `dtype`. The file is written to a temporary name
/// beside `path`, synced and renamed, so a crash never leaves a half-written file under `path`.
pub fn write_safetensors(
    path: impl AsRef<Path>,
    tensors: &[(String, TensorData)],
    dtype: SaveDtype,
) -> Result<()> {
    let stored = tensors
        .iter()
        .map(|(name, data)| {
            let values: Vec<f32> = data
                .clone()
                .convert::<f32>()
                .into_vec()
                .map_err(|e| LmError::Input(format!("tensor {name}: {e:?}")))?;
            let shape = data.shape.as_slice().to_vec();
            Ok((
                name.as_str(),
                TensorBuf::from_f32(name, &values, shape, dtype)?,
            ))
        })
        .collect::<Result<Vec<_>>>()?;
    let metadata = BTreeMap::from([("format".to_string(), "pt".to_string())]);
    write_file(path, stored.iter().map(|(n, t)| (*n, t)), &metadata)?;
    Ok(())
}
