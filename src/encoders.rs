//! Opening audio encoders and stored encodings from files, for the pipeline and the tools.

use std::path::Path;

use burn::tensor::backend::Backend;
use llark_encoder::lite::LiteEncoder;
use llark_encoder::{AudioEncoder, Jukebox, JukeboxOptions};

use crate::error::{LlarkError, Result};

/// Opens the audio encoder stored in `dir`, recognised by its `config.json`:
/// - a Jukebox directory (`config.json` with `vqvae` and `prior`, `vqvae.safetensors`,
///   `prior.safetensors`; layers are streamed from the memory map to bound memory);
/// - a lightweight encoder (`config.json` with `"encoder": "lite"`, written by
///   [`LiteEncoder::save_dir`]).
pub fn load_encoder<B: Backend>(
    dir: impl AsRef<Path>,
    device: &B::Device,
) -> Result<Box<dyn AudioEncoder<B>>> {
    let dir = dir.as_ref();
    let config_path = dir.join("config.json");
    let text = crate::error::read_text(&config_path)?;
    let config: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| LlarkError::Config {
            path: config_path.clone(),
            message: e.to_string(),
        })?;
    if config.get("encoder").and_then(|v| v.as_str()) == Some("lite") {
        return Ok(Box::new(LiteEncoder::from_dir(dir)?));
    }
    if config.get("vqvae").is_some() && config.get("prior").is_some() {
        let options = JukeboxOptions {
            stream_layers: true,
        };
        return Ok(Box::new(Jukebox::<B>::load_dir(dir, options, device)?));
    }
    Err(LlarkError::Config {
        path: config_path,
        message: "not an encoder directory this version knows (expected a Jukebox config with `vqvae` and `prior`, or `\"encoder\": \"lite\"`)".into(),
    })
}

/// Reads one clip's stored encodings `[frames, width]` from a `.npy` file (LLark's per-clip
/// format; a leading batch dimension of 1 is dropped) or from a `.safetensors` file holding a
/// single tensor.
pub fn read_encoding_file(path: impl AsRef<Path>) -> Result<(Vec<f32>, [usize; 2])> {
    let path = path.as_ref();
    let (data, shape) = match path.extension().and_then(|e| e.to_str()) {
        Some("npy") => {
            let array = llark_data::read_npy(path)?;
            (array.data, array.shape)
        }
        Some("safetensors") => {
            let file = llark_tensors::TensorFile::open(path)?;
            if file.len() != 1 {
                return Err(LlarkError::TensorCount {
                    path: path.to_path_buf(),
                    found: file.len(),
                });
            }
            let tensor = llark_tensors::read_single(path)?;
            (tensor.values, tensor.shape)
        }
        _ => {
            return Err(LlarkError::FileExtension {
                path: path.to_path_buf(),
                expected: "`.npy` or `.safetensors`",
            })
        }
    };
    if let Some(index) = data.iter().position(|v| !v.is_finite()) {
        return Err(LlarkError::NonFiniteEncoding {
            source_name: path.display().to_string(),
            index,
            value: data[index],
        });
    }
    match shape.as_slice() {
        [frames, width] | [1, frames, width] => Ok((data, [*frames, *width])),
        other => Err(LlarkError::EncodingRank {
            path: path.to_path_buf(),
            shape: other.to_vec(),
        }),
    }
}
