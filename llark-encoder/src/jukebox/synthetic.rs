//! The tensor inventory of a configuration (names and shapes the loader reads) and random weight
//! files with that inventory, for benchmarks and smoke tests without the real checkpoints.

use std::collections::BTreeMap;
use std::path::Path;

use llark_tensors::{write_file, FloatDtype, TensorBuf};

use super::config::{JukeboxConfig, PriorConfig};
use crate::EncoderError;

/// Names and shapes of the VQ-VAE tensors the model reads (`encoders.{level}.*` and the codebook).
pub fn vqvae_inventory(config: &JukeboxConfig) -> Vec<(String, Vec<usize>)> {
    let v = &config.vqvae;
    let level = config.prior.level;
    let (width, depth) = (v.level_width(level), v.level_depth(level));
    let state = ((v.m_conv * width as f64) as usize).max(1);
    let mut out = Vec::new();
    let mut conv = |name: String, shape: [usize; 3]| {
        out.push((format!("{name}.weight"), shape.to_vec()));
        out.push((format!("{name}.bias"), vec![shape[0]]));
    };
    for l in 0..=level {
        let prefix = format!("encoders.{level}.level_blocks.{l}.model");
        for i in 0..v.downs_t[l] {
            let input = match (l, i) {
                (0, 0) => 1,
                (_, 0) => v.emb_width,
                _ => width,
            };
            conv(
                format!("{prefix}.{i}.0"),
                [width, input, 2 * v.strides_t[l]],
            );
            for d in 0..depth {
                conv(
                    format!("{prefix}.{i}.1.model.{d}.model.1"),
                    [state, width, 3],
                );
                conv(
                    format!("{prefix}.{i}.1.model.{d}.model.3"),
                    [width, state, 1],
                );
            }
        }
        conv(
            format!("{prefix}.{}", v.downs_t[l]),
            [v.emb_width, width, 3],
        );
    }
    out.push((
        format!("bottleneck.level_blocks.{level}.k"),
        vec![v.l_bins, v.emb_width],
    ));
    out
}

/// Names and shapes of the prior tensors the model reads (embeddings, label conditioner and
/// layers `0..prior_depth`).
pub fn prior_inventory(config: &JukeboxConfig) -> Vec<(String, Vec<usize>)> {
    let p = &config.prior;
    let w = p.width;
    let mut out = vec![
        ("prior.x_emb.weight".to_string(), vec![p.bins, w]),
        ("prior.pos_emb.pos_emb".to_string(), vec![p.n_ctx, w]),
        (
            "y_emb.artist_emb.emb.weight".to_string(),
            vec![p.y_bins[1], w],
        ),
        (
            "y_emb.bow_genre_emb.emb.weight".to_string(),
            vec![p.y_bins[0], w],
        ),
        (
            "y_emb.total_length_emb.emb.weight".to_string(),
            vec![p.t_bins, w],
        ),
        (
            "y_emb.absolute_pos_emb.emb.weight".to_string(),
            vec![p.t_bins, w],
        ),
        (
            "y_emb.relative_pos_emb.emb.weight".to_string(),
            vec![p.t_bins, w],
        ),
    ];
    for i in 0..p.prior_depth {
        out.extend(prior_layer_inventory(p, i));
    }
    out
}

/// Names and shapes of the tensors of prior layer `index` (`prior.transformer._attn_mods.{index}.*`).
pub fn prior_layer_inventory(p: &PriorConfig, index: usize) -> Vec<(String, Vec<usize>)> {
    let (w, s, m) = (p.width, p.attn_state(), p.mlp_state());
    let l = format!("prior.transformer._attn_mods.{index}");
    [
        ("ln_0.weight", vec![w]),
        ("ln_0.bias", vec![w]),
        ("attn.c_attn.w", vec![w, 3 * s]),
        ("attn.c_attn.b", vec![3 * s]),
        ("attn.c_proj.w", vec![s, w]),
        ("attn.c_proj.b", vec![w]),
        ("ln_1.weight", vec![w]),
        ("ln_1.bias", vec![w]),
        ("mlp.c_fc.w", vec![w, m]),
        ("mlp.c_fc.b", vec![m]),
        ("mlp.c_proj.w", vec![m, w]),
        ("mlp.c_proj.b", vec![w]),
    ]
    .into_iter()
    .map(|(name, shape)| (format!("{l}.{name}"), shape))
    .collect()
}

/// A small deterministic generator (splitmix64) for reproducible random weights.
struct SplitMix(u64);

impl SplitMix {
    fn next_f32(&mut self) -> f32 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        // Uniform in [-1, 1).
        (z >> 40) as f32 / (1u64 << 23) as f32 - 1.0
    }
}

fn random_values(name: &str, shape: &[usize], rng: &mut SplitMix) -> Vec<f32> {
    let count: usize = shape.iter().product();
    let (offset, scale) = if name.ends_with(".bias") || name.ends_with(".b") {
        (0.0, 0.1)
    } else if name.contains(".ln_") {
        (1.0, 0.1)
    } else if name.contains("emb") || name.ends_with(".k") {
        (0.0, 0.5)
    } else {
        // Conv `[out, in, k]` or Conv1D `[in, out]`: fan-in scaling.
        let fan_in = if shape.len() == 3 {
            shape[1] * shape[2]
        } else {
            shape[0]
        };
        (0.0, (3.0 / fan_in as f32).sqrt())
    };
    (0..count)
        .map(|_| offset + scale * rng.next_f32())
        .collect()
}

fn write(
    path: &Path,
    inventory: &[(String, Vec<usize>)],
    seed: u64,
    f16_matrices: bool,
) -> Result<(), EncoderError> {
    let mut rng = SplitMix(seed);
    let mut buffers = Vec::with_capacity(inventory.len());
    for (name, shape) in inventory {
        let values = random_values(name, shape, &mut rng);
        let dtype = if f16_matrices && name.ends_with(".w") {
            FloatDtype::F16
        } else {
            FloatDtype::F32
        };
        buffers.push((
            name.as_str(),
            TensorBuf::from_f32(name, &values, shape.clone(), dtype)?,
        ));
    }
    write_file(path, buffers.iter().map(|(n, b)| (*n, b)), &BTreeMap::new())?;
    Ok(())
}

/// Writes random VQ-VAE and prior weight files with exactly the tensors `config` needs; the prior's
/// Conv1D `.w` matrices are stored as f16 (like the real checkpoint) when `f16_matrices`.
pub fn write_random_weights(
    config: &JukeboxConfig,
    vqvae_path: &Path,
    prior_path: &Path,
    seed: u64,
    f16_matrices: bool,
) -> Result<(), EncoderError> {
    write(vqvae_path, &vqvae_inventory(config), seed, false)?;
    write(
        prior_path,
        &prior_inventory(config),
        seed.wrapping_add(1),
        f16_matrices,
    )
}
