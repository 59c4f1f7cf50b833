//! Parity of the multimodal `Llark` model with its reference (transformers' Llama, LLark's
//! projector and splice), in the fixture format of the project's design notes.

use std::path::Path;

use burn::tensor::{backend::Backend, Int, Tensor, TensorData};
use llark_lm::{check_model_with_embeddings, LmError, ParityReport, WeightDtype, WeightSource};

use crate::error::{LlarkError, Result};
use crate::model::Llark;

/// Loads the LLark directory `dir` and compares it with `dir/reference.safetensors`: logits
/// (max-abs <= 1e-4), greedy continuations (exact) and the loss (1e-5), with the clips of
/// `audio_encodings` `[B, F, mm_hidden]` spliced after each `<audio_start>` (several clips of
/// one example follow each other along `F`).
pub fn check_llark_fixture<B: Backend>(
    dir: impl AsRef<Path>,
    device: &B::Device,
) -> Result<ParityReport> {
    check_llark_fixture_with_dtype::<B>(dir, WeightDtype::F32, device)
}

/// [`check_llark_fixture`] with the language model's weight matrices kept as `dtype` (see
/// [`Llark::from_pretrained_with_dtype`]); the report's `passed` still uses the f32 tolerances,
/// so packed weights are judged by `max_abs_err`.
pub fn check_llark_fixture_with_dtype<B: Backend>(
    dir: impl AsRef<Path>,
    dtype: WeightDtype,
    device: &B::Device,
) -> Result<ParityReport> {
    let dir = dir.as_ref();
    let model = Llark::<B>::from_pretrained_with_dtype(dir, dtype, device)?;
    let reference = WeightSource::open_files(&[dir.join(llark_lm::parity::REFERENCE_FILE)])?;
    let (audio, shape) = reference.read_f32("audio_encodings")?;
    let [batch, frames, width] = shape[..] else {
        return Err(LlarkError::FixtureShape {
            path: dir.to_path_buf(),
            tensor: "audio_encodings",
            expected: "[B, F, mm_hidden]",
            found: shape,
        });
    };
    let audio = Tensor::<B, 3>::from_data(TensorData::new(audio, [batch, frames, width]), device);
    let embed = |ids: Tensor<B, 2, Int>| -> llark_lm::Result<Tensor<B, 3>> {
        let rows = host_rows(ids)?;
        let clips = clips_of_rows(&model, &rows, &audio)?;
        model
            .embed(&rows, &clips)
            .map_err(|e| LmError::Input(e.to_string()))
    };
    Ok(check_model_with_embeddings(&model.lm, dir, device, &embed)?)
}

fn host_rows<B: Backend>(ids: Tensor<B, 2, Int>) -> llark_lm::Result<Vec<Vec<u32>>> {
    let [_, len] = ids.dims();
    let values: Vec<i64> = ids
        .into_data()
        .convert::<i64>()
        .into_vec()
        .map_err(|e| LmError::Input(format!("input ids: {e:?}")))?;
    Ok(values
        .chunks(len.max(1))
        .map(|r| r.iter().map(|&v| v as u32).collect())
        .collect())
}

/// Splits row `b` of `audio` into one clip per `<audio_start>` of `rows[b]`, each as long as
/// the patch run that follows it.
fn clips_of_rows<B: Backend>(
    model: &Llark<B>,
    rows: &[Vec<u32>],
    audio: &Tensor<B, 3>,
) -> llark_lm::Result<Vec<Vec<Tensor<B, 2>>>> {
    let tokens = model.audio_tokens();
    let [batch, frames, width] = audio.dims();
    if rows.len() != batch {
        return Err(LmError::Input(format!(
            "{} id rows but audio_encodings for {batch}",
            rows.len()
        )));
    }
    rows.iter()
        .enumerate()
        .map(|(b, row)| {
            let mut offset = 0;
            let mut clips = Vec::new();
            for (start, _) in row.iter().enumerate().filter(|(_, &id)| id == tokens.start) {
                let patches = row[start + 1..]
                    .iter()
                    .take_while(|&&id| id == tokens.patch)
                    .count();
                if offset + patches > frames {
                    return Err(LmError::Input(format!(
                        "row {b} has more audio patches than audio_encodings' {frames} frames"
                    )));
                }
                clips.push(
                    audio
                        .clone()
                        .slice([b..b + 1, offset..offset + patches, 0..width])
                        .reshape([patches, width]),
                );
                offset += patches;
            }
            Ok(clips)
        })
        .collect()
}
