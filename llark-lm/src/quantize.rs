//! Converting a Hugging Face Llama directory to int8 once, so that later loads read a file half
//! (bf16) or a quarter (f32) the size: `quantize_checkpoint`.
//!
//! Format: each projection matrix and the output projection are stored as `I8` `[out, in]` under
//! their usual names, with `{name}_scale` (f32 `[out, in / group]`) beside them; value `q` of
//! group `g` of a row stands for `q * scale[g]`. Everything else (embedding, norms, biases,
//! tensors under allowed extra prefixes such as LLark's projector) is copied as stored.
//! `config.json` gains a `quantization_config` object (`quant_method: "llark-int8"`,
//! `group_size`), and the directory's other files (tokenizer, generation config, encoder
//! folder, adapters) are copied unchanged. [`crate::Llama::from_pretrained_with`] loads the result
//! with any `dtype`: int8 keeps the stored values, f32/bf16/f16 dequantise them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use llark_kernels::PackedDtype;
use llark_tensors::{write_shards_streaming, Dtype, TensorBuf, TensorError};

use crate::config::LlamaConfig;
use crate::error::{read_text, LmError, Result};
use crate::load::{check_weights, LoadOptions};
use crate::model::tensor_specs;
use crate::weights::{int8_scale_name, WeightSource};

/// Largest shard written (bytes of tensor data), as transformers' default `max_shard_size`.
pub const INT8_SHARD_BYTES: u64 = 5 * 1024 * 1024 * 1024;

/// What [`quantize_checkpoint`] wrote.
#[derive(Debug, Clone, PartialEq)]
pub struct QuantizeReport {
    /// Matrices stored as int8.
    pub quantised: usize,
    /// Tensors copied as stored.
    pub copied: usize,
    /// Bytes of tensor data read.
    pub bytes_in: u64,
    /// Bytes of tensor data written.
    pub bytes_out: u64,
    /// Other files copied (relative paths).
    pub files: Vec<PathBuf>,
}

/// Writes an int8 copy of the Llama (or LLark, with `options` allowing its extra tensors)
/// directory `src` into `dst` (created; must not be `src`), with `group` weights per scale.
/// Weights are read and written one shard at a time, so the model never needs to fit in memory.
pub fn quantize_checkpoint(
    src: impl AsRef<Path>,
    dst: impl AsRef<Path>,
    group: usize,
    options: &LoadOptions,
) -> Result<QuantizeReport> {
    let (src, dst) = (src.as_ref(), dst.as_ref());
    let config_path = src.join("config.json");
    let config = LlamaConfig::from_file(&config_path)?;
    let source = WeightSource::open_dir(src)?;
    check_weights(&config, &source, options)?;
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| LmError::Io { path, source }
    };
    std::fs::create_dir_all(dst).map_err(io(dst))?;
    if llark_tensors::same_file(src, dst) {
        return Err(LmError::Input(format!(
            "the int8 copy must go to another directory than {}",
            src.display()
        )));
    }
    let matrices: BTreeMap<String, [usize; 2]> = tensor_specs(&config)
        .into_iter()
        .filter(|(n, s)| s.len() == 2 && n != "model.embed_tokens.weight")
        .map(|(n, s)| (n, [s[0], s[1]]))
        .collect();
    for (name, &[_, cols]) in &matrices {
        if group == 0 || cols % group != 0 {
            return Err(LmError::packed(
                name,
                llark_kernels::KernelError::Group { group, cols },
            ));
        }
    }

    // The plan: every tensor in the source's order, an int8 weight followed by its scales.
    let mut plan = Vec::new();
    let mut bytes_in = 0u64;
    for name in source.names() {
        let raw = source.tensors().raw(&name)?;
        bytes_in += raw.bytes.len() as u64;
        match matrices.get(&name) {
            Some(&[rows, cols]) => {
                plan.push((name.clone(), (rows * cols) as u64));
                plan.push((int8_scale_name(&name), (rows * cols / group * 4) as u64));
            }
            None => plan.push((name, raw.bytes.len() as u64)),
        }
    }
    let (mut quantised, mut copied) = (0, 0);
    let mut pending_scales: Option<TensorBuf> = None;
    let as_tensor_error = |name: &str, e: LmError| TensorError::Values {
        name: name.to_string(),
        reason: e.to_string(),
    };
    let metadata = BTreeMap::from([("format".to_string(), "pt".to_string())]);
    let shards =
        write_shards_streaming(dst, "model", &plan, INT8_SHARD_BYTES, &metadata, |name| {
            if let Some(&shape) = matrices.get(name) {
                let packed = source
                    .packed_matrix(name, shape, PackedDtype::Int8 { group })
                    .map_err(|e| as_tensor_error(name, e))?;
                let (values, scales, _) =
                    packed.int8_parts().ok_or_else(|| TensorError::Values {
                        name: name.to_string(),
                        reason: "not int8 after quantising".into(),
                    })?;
                let bytes = values.iter().map(|&v| v as u8).collect();
                let scale_bytes = scales.iter().flat_map(|s| s.to_le_bytes()).collect();
                pending_scales = Some(TensorBuf::new(
                    &int8_scale_name(name),
                    Dtype::F32,
                    vec![shape[0], shape[1] / group],
                    scale_bytes,
                )?);
                quantised += 1;
                return TensorBuf::new(name, Dtype::I8, shape.to_vec(), bytes);
            }
            if let Some(scales) = pending_scales.take() {
                return Ok(scales);
            }
            let raw = source.tensors().raw(name)?;
            let buf = TensorBuf::new(name, raw.dtype, raw.shape.to_vec(), raw.bytes.to_vec())?;
            source.tensors().release(name);
            copied += 1;
            Ok(buf)
        })?;
    let bytes_out = shards.total_size;

    // config.json with its quantisation, then every other file of the directory.
    let mut json: serde_json::Value =
        serde_json::from_str(&read_text(&config_path)?).map_err(|source| LmError::ConfigParse {
            path: config_path.clone(),
            source,
        })?;
    if let Some(object) = json.as_object_mut() {
        object.insert(
            "quantization_config".into(),
            serde_json::json!({"quant_method": "llark-int8", "bits": 8, "group_size": group}),
        );
    }
    let text = serde_json::to_vec_pretty(&json).map_err(|e| LmError::Input(e.to_string()))?;
    llark_tensors::write_bytes_atomic(dst.join("config.json"), &text)?;
    let mut files = Vec::new();
    copy_other_files(src, dst, Path::new(""), &mut files)?;
    Ok(QuantizeReport {
        quantised,
        copied,
        bytes_in,
        bytes_out,
        files,
    })
}

/// Whether `name` is one of the weight files or the config that the conversion writes itself.
fn is_rewritten(name: &str) -> bool {
    name == "config.json"
        || name.ends_with(".safetensors") && name.starts_with("model")
        || name == crate::weights::INDEX_FILE
}

/// Copies the files of `src/rel` (recursively) to `dst/rel`, atomically, except those the
/// conversion rewrites at the top level.
fn copy_other_files(src: &Path, dst: &Path, rel: &Path, files: &mut Vec<PathBuf>) -> Result<()> {
    let dir = src.join(rel);
    let entries = std::fs::read_dir(&dir).map_err(|source| LmError::Io {
        path: dir.clone(),
        source,
    })?;
    let mut names: Vec<_> = entries.filter_map(|e| e.ok()).map(|e| e.path()).collect();
    names.sort();
    for path in names {
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        let rel_path = rel.join(name);
        if rel.as_os_str().is_empty() && is_rewritten(name) {
            continue;
        }
        if path.is_dir() {
            let target = dst.join(&rel_path);
            std::fs::create_dir_all(&target).map_err(|source| LmError::Io {
                path: target.clone(),
                source,
            })?;
            copy_other_files(src, dst, &rel_path, files)?;
        } else if path.is_file() {
            let bytes = std::fs::read(&path).map_err(|source| LmError::Io {
                path: path.clone(),
                source,
            })?;
            llark_tensors::write_bytes_atomic(dst.join(&rel_path), &bytes)?;
            files.push(rel_path);
        }
    }
    Ok(())
}
