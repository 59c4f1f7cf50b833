//! Parity with transformers: runs a model directory against `reference.safetensors` outputs.
//!
//! Fixture format (see the project's design notes): a Hugging Face model directory plus
//! `reference.safetensors` with `input_ids` `[B, T]`, `logits` `[B, T, V]`, `greedy_ids`
//! `[B, T + N]`, optionally `attention_mask` `[B, T]` (a left-padded batch: logits compared where
//! the mask is 1, greedy ids from batched generation) and optionally `loss_input_ids`,
//! `loss_attention_mask`, `loss_labels` `[B, T]` with `loss` `[1]`.

use std::path::{Path, PathBuf};

use burn::tensor::{backend::Backend, Int, Tensor, TensorData};

use crate::config::LlamaConfig;
use crate::error::{LmError, Result};
use crate::generate::{GenerationConfig, GenerationHooks, Prompt};
use crate::load::LoadOptions;
use crate::loss::causal_lm_loss;
use crate::mask::AttentionMask;
use crate::model::Llama;
use crate::weights::WeightSource;

/// The label value transformers' reference losses ignore (PyTorch's default `ignore_index`); the
/// fixtures' `loss_labels` use it.
const REFERENCE_IGNORE_INDEX: i64 = -100;

/// Largest accepted absolute logit difference.
pub const LOGITS_TOLERANCE: f32 = 1e-4;
/// Largest accepted absolute loss difference.
pub const LOSS_TOLERANCE: f32 = 1e-5;
/// Name of the reference file in a fixture directory.
pub const REFERENCE_FILE: &str = "reference.safetensors";

/// The outcome of a parity check.
#[derive(Debug, Clone, PartialEq)]
pub struct ParityReport {
    /// The fixture directory.
    pub fixture: PathBuf,
    /// Largest absolute logit difference over the compared positions.
    pub max_abs_err: f32,
    /// Number of logits compared.
    pub compared_logits: usize,
    /// Whether every greedy continuation equals the reference.
    pub greedy_match: bool,
    /// Number of generated positions that differ from the reference.
    pub greedy_mismatches: usize,
    /// `(ours, reference)` loss when the fixture has a loss case.
    pub loss: Option<(f32, f32)>,
    /// Whether everything is within tolerance.
    pub passed: bool,
}

impl std::fmt::Display for ParityReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}: max_abs_err={:e} over {} logits, greedy {} ({} mismatches)",
            self.fixture.display(),
            self.max_abs_err,
            self.compared_logits,
            if self.greedy_match {
                "exact"
            } else {
                "DIFFERENT"
            },
            self.greedy_mismatches
        )?;
        if let Some((ours, theirs)) = self.loss {
            write!(
                f,
                ", loss {ours} vs {theirs} (|diff|={:e})",
                (ours - theirs).abs()
            )?;
        }
        write!(f, ": {}", if self.passed { "PASS" } else { "FAIL" })
    }
}

struct Reference {
    source: WeightSource,
    path: PathBuf,
}

impl Reference {
    fn fixture_err(&self, reason: String) -> LmError {
        LmError::Fixture {
            path: self.path.clone(),
            reason,
        }
    }

    fn ints(&self, name: &str) -> Result<(Vec<i64>, Vec<usize>)> {
        let (values, shape) = self.source.read_i64(name)?;
        if shape.len() != 2 {
            return Err(self.fixture_err(format!("`{name}` has shape {shape:?}, expected [B, T]")));
        }
        Ok((values, shape))
    }

    fn int_tensor<B: Backend>(&self, name: &str, device: &B::Device) -> Result<Tensor<B, 2, Int>> {
        let (values, shape) = self.ints(name)?;
        Ok(Tensor::from_data(TensorData::new(values, shape), device))
    }

    fn mask(&self, name: &str) -> Result<Option<AttentionMask>> {
        if !self.source.contains(name) {
            return Ok(None);
        }
        let (values, shape) = self.ints(name)?;
        Ok(Some(AttentionMask::from_flat(&values, shape[0], shape[1])?))
    }
}

/// Loads the model of a fixture directory strictly and checks it. See the module documentation.
pub fn check_fixture<B: Backend>(
    dir: impl AsRef<Path>,
    device: &B::Device,
) -> Result<ParityReport> {
    check_fixture_with::<B>(dir, &LoadOptions::strict(), device)
}

/// [`check_fixture`] with loading options (e.g. extra tensor prefixes in a multimodal checkpoint).
pub fn check_fixture_with<B: Backend>(
    dir: impl AsRef<Path>,
    options: &LoadOptions,
    device: &B::Device,
) -> Result<ParityReport> {
    let dir = dir.as_ref();
    let config = LlamaConfig::from_file(dir.join("config.json"))?;
    let weights = WeightSource::open_dir(dir)?;
    let model = Llama::<B>::from_source(config, &weights, options, device)?;
    check_model(&model, dir, device)
}

/// Checks an already loaded model against the `reference.safetensors` of `dir`.
pub fn check_model<B: Backend>(
    model: &Llama<B>,
    dir: &Path,
    device: &B::Device,
) -> Result<ParityReport> {
    check_model_with_embeddings(model, dir, device, &|ids| model.embed_tokens(ids))
}

/// Input embeddings `[B, T, hidden]` for token ids `[B, T]`.
pub type EmbedFn<'a, B> = &'a dyn Fn(Tensor<B, 2, Int>) -> Result<Tensor<B, 3>>;

/// As [`check_model`], with the input embeddings computed by `embed` instead of the plain token
/// embedding: a multimodal model passes a function that splices its audio frames in, and the
/// logits, greedy continuation and loss are checked on top of it.
pub fn check_model_with_embeddings<B: Backend>(
    model: &Llama<B>,
    dir: &Path,
    device: &B::Device,
    embed: EmbedFn<'_, B>,
) -> Result<ParityReport> {
    let path = dir.join(REFERENCE_FILE);
    let reference = Reference {
        source: WeightSource::open_files(std::slice::from_ref(&path))?,
        path,
    };
    let (ids, ids_shape) = reference.ints("input_ids")?;
    let (batch, len) = (ids_shape[0], ids_shape[1]);
    let mask = reference.mask("attention_mask")?;

    // Logits.
    let (expected, logits_shape) = reference.source.read_f32("logits")?;
    let vocab = model.vocab_size();
    if logits_shape != [batch, len, vocab] {
        return Err(reference.fixture_err(format!(
            "`logits` has shape {logits_shape:?}, expected [{batch}, {len}, {vocab}]"
        )));
    }
    let ids_tensor = reference.int_tensor::<B>("input_ids", device)?;
    let logits = model.forward_embeds(embed(ids_tensor.clone())?, mask.as_ref(), None)?;
    let ours: Vec<f32> = logits
        .into_data()
        .convert::<f32>()
        .into_vec()
        .map_err(|e| reference.fixture_err(format!("logits: {e:?}")))?;
    let mut max_abs_err = 0.0f32;
    let mut compared = 0usize;
    for b in 0..batch {
        for t in 0..len {
            if mask.as_ref().is_some_and(|m| !m.rows()[b][t]) {
                continue;
            }
            let start = (b * len + t) * vocab;
            for (x, y) in ours[start..start + vocab]
                .iter()
                .zip(&expected[start..start + vocab])
            {
                let err = (x - y).abs();
                // NaN counts as an infinite error.
                max_abs_err = if err.is_nan() {
                    f32::INFINITY
                } else {
                    max_abs_err.max(err)
                };
            }
            compared += vocab;
        }
    }

    // Greedy continuation.
    let (greedy, greedy_shape) = reference.ints("greedy_ids")?;
    if greedy_shape[0] != batch || greedy_shape[1] < len {
        return Err(reference.fixture_err(format!(
            "`greedy_ids` has shape {greedy_shape:?}, expected [{batch}, >= {len}]"
        )));
    }
    let total = greedy_shape[1];
    let new_tokens = total - len;
    let rows: Vec<Vec<u32>> = ids
        .chunks(len)
        .map(|r| r.iter().map(|&v| v as u32).collect())
        .collect();
    let prompt = Prompt::Embeds {
        embeds: embed(ids_tensor)?,
        mask: mask
            .clone()
            .unwrap_or_else(|| AttentionMask::ones(batch, len)),
        history: rows,
    };
    let out = model.generate(
        prompt,
        &GenerationConfig::greedy(new_tokens),
        GenerationHooks::default(),
    )?;
    let mut greedy_mismatches = 0;
    for (b, new) in out.tokens.iter().enumerate() {
        let expected_new = &greedy[b * total + len..(b + 1) * total];
        greedy_mismatches += expected_new
            .iter()
            .enumerate()
            .filter(|&(i, &e)| new.get(i).map(|&v| v as i64) != Some(e))
            .count();
    }

    // Loss.
    let loss = if reference.source.contains("loss") {
        let ids = reference.int_tensor::<B>("loss_input_ids", device)?;
        let labels = reference.int_tensor::<B>("loss_labels", device)?;
        let mask = reference.mask("loss_attention_mask")?;
        let logits = model.forward_embeds(embed(ids)?, mask.as_ref(), None)?;
        let ours: Vec<f32> = causal_lm_loss(logits, labels, REFERENCE_IGNORE_INDEX)?
            .into_data()
            .convert::<f32>()
            .into_vec()
            .map_err(|e| reference.fixture_err(format!("loss: {e:?}")))?;
        let (theirs, _) = reference.source.read_f32("loss")?;
        match (ours.first(), theirs.first()) {
            (Some(&o), Some(&t)) => Some((o, t)),
            _ => return Err(reference.fixture_err("`loss` is empty".into())),
        }
    } else {
        None
    };

    let loss_ok = loss.is_none_or(|(o, t)| (o - t).abs() <= LOSS_TOLERANCE);
    let greedy_match = greedy_mismatches == 0;
    Ok(ParityReport {
        fixture: dir.to_path_buf(),
        max_abs_err,
        compared_logits: compared,
        greedy_match,
        greedy_mismatches,
        loss,
        passed: max_abs_err <= LOGITS_TOLERANCE && greedy_match && loss_ok,
    })
}
