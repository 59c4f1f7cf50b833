//! The composed `Llark` model: loading, saving, building from a base Llama, batches and errors.
//! Logit and greedy parity with transformers is in `tests/llark_parity.rs`.

use std::path::{Path, PathBuf};

use burn::backend::Flex;
use burn::tensor::{Tensor, TensorData};
use llark::{Llark, LlarkConfig, LlarkError};
use llark_data::{AudioSpan, Batch, LlarkTokenizer};
use llark_lm::{Llama, LlamaConfig, WeightSource};
use llark_projector::ProjectorKind;

type B = Flex;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/llark")
        .join(name)
}

/// Reference tensors of a fixture: token rows, per-row raw clips, labels and the loss.
struct Reference {
    rows: Vec<Vec<u32>>,
    clips: Vec<Vec<Tensor<B, 2>>>,
    spans: Vec<Vec<AudioSpan>>,
    labels: Vec<i64>,
    loss: f32,
}

fn reference(name: &str, config: &LlarkConfig) -> Reference {
    let source = WeightSource::open_files(&[fixture(name).join("reference.safetensors")]).unwrap();
    let (ids, shape) = source.read_i64("input_ids").unwrap();
    let (audio, audio_shape) = source.read_f32("audio_encodings").unwrap();
    let (labels, _) = source.read_i64("loss_labels").unwrap();
    let (loss, _) = source.read_f32("loss").unwrap();
    let (batch, len) = (shape[0], shape[1]);
    let (frames_per_row, width) = (audio_shape[1], audio_shape[2]);
    let device = Default::default();
    let rows: Vec<Vec<u32>> = ids
        .chunks(len)
        .map(|r| r.iter().map(|&v| v as u32).collect())
        .collect();
    let mut clips = Vec::new();
    let mut spans = Vec::new();
    for (b, row) in rows.iter().enumerate() {
        let mut offset = 0;
        let mut row_clips = Vec::new();
        let mut row_spans = Vec::new();
        for start in (0..len).filter(|&t| row[t] == config.audio_start_token_id) {
            let end = (start..len)
                .find(|&t| row[t] == config.audio_end_token_id)
                .unwrap();
            let frames = end - start - 1;
            let base = (b * frames_per_row + offset) * width;
            let values = audio[base..base + frames * width].to_vec();
            row_clips.push(Tensor::from_data(
                TensorData::new(values, [frames, width]),
                &device,
            ));
            row_spans.push(AudioSpan { start, frames });
            offset += frames;
        }
        clips.push(row_clips);
        spans.push(row_spans);
    }
    assert_eq!(rows.len(), batch);
    Reference {
        rows,
        clips,
        spans,
        labels,
        loss: loss[0],
    }
}

fn batch_of(reference: &Reference) -> Batch {
    let seq_len = reference.rows[0].len();
    let batch_size = reference.rows.len();
    Batch {
        batch_size,
        seq_len,
        input_ids: reference.rows.concat(),
        labels: reference.labels.clone(),
        attention_mask: vec![true; batch_size * seq_len],
        lengths: vec![seq_len; batch_size],
        audio_spans: reference.spans.clone(),
        ids: (0..batch_size).map(|i| format!("clip-{i}")).collect(),
        tasks: vec![None; batch_size],
    }
}

fn stacked_audio(reference: &Reference) -> Tensor<B, 2> {
    Tensor::cat(reference.clips.iter().flatten().cloned().collect(), 0)
}

fn values(t: Tensor<B, 3>) -> Vec<f32> {
    t.into_data().to_vec::<f32>().unwrap()
}

#[test]
fn batch_loss_equals_transformers_loss() {
    let device = Default::default();
    for name in ["llark-tiny", "llark-tiny-two-clips", "llark-tiny-mlp"] {
        let model = Llark::<B>::from_pretrained(fixture(name), &device).unwrap();
        let reference = reference(name, model.config());
        let batch = batch_of(&reference);
        let loss = model.loss(&batch, stacked_audio(&reference)).unwrap();
        let loss = loss.into_data().to_vec::<f32>().unwrap()[0];
        assert!(
            (loss - reference.loss).abs() <= 1e-5,
            "{name}: loss {loss} vs transformers {}",
            reference.loss
        );
        // The batch path gives the logits of the per-row path.
        let by_batch = values(
            model
                .forward_batch(&batch, stacked_audio(&reference))
                .unwrap(),
        );
        let by_rows = values(
            model
                .forward(&reference.rows, &reference.clips, None)
                .unwrap(),
        );
        let diff = by_batch
            .iter()
            .zip(&by_rows)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        assert!(
            diff <= 1e-5,
            "{name}: batch and row logits differ by {diff}"
        );
    }
}

#[test]
fn save_and_load_round_trip_bit_exactly() {
    let device = Default::default();
    let name = "llark-tiny-mlp";
    let model = Llark::<B>::from_pretrained(fixture(name), &device).unwrap();
    let reference = reference(name, model.config());
    let dir = tempfile::tempdir().unwrap();
    model.save(dir.path()).unwrap();
    let reloaded = Llark::<B>::from_pretrained(dir.path(), &device).unwrap();
    assert_eq!(reloaded.config(), model.config());
    let a = values(
        model
            .forward(&reference.rows, &reference.clips, None)
            .unwrap(),
    );
    let b = values(
        reloaded
            .forward(&reference.rows, &reference.clips, None)
            .unwrap(),
    );
    assert!(a == b, "reloaded logits differ");
    // Unknown config fields survive.
    let text = std::fs::read_to_string(dir.path().join("config.json")).unwrap();
    assert!(text.contains("\"model_type\": \"llama\""), "{text}");
    // The saved tensors are exactly the checkpoint's names.
    let original = WeightSource::open_dir(fixture(name)).unwrap();
    let saved = WeightSource::open_dir(dir.path()).unwrap();
    let mut original_names = original.names();
    let mut saved_names = saved.names();
    original_names.sort();
    saved_names.sort();
    assert_eq!(original_names, saved_names);
}

#[test]
fn building_from_a_base_llama_adds_llark_tokens_with_mean_rows() {
    let device = Default::default();
    let tokenizer = LlarkTokenizer::from_file(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("llark-data/tests/fixtures/llama2-tokenizer/tokenizer.json"),
    )
    .unwrap();
    let config = LlamaConfig {
        vocab_size: 32000,
        hidden_size: 8,
        intermediate_size: 16,
        num_hidden_layers: 1,
        num_attention_heads: 2,
        num_key_value_heads: Some(2),
        ..LlamaConfig::llama2_7b()
    };
    let base = Llama::<B>::random(config, 0.5, 3, &device).unwrap();
    let embed_mean = base.embed_tokens.val().mean_dim(0);
    let model = Llark::from_llama(base, &tokenizer, 12, ProjectorKind::Linear).unwrap();
    let ids = tokenizer.special_ids();
    assert_eq!(model.lm.vocab_size(), 32004);
    assert_eq!(
        (
            model.config().audio_patch_token_id,
            model.config().audio_start_token_id,
            model.config().audio_end_token_id
        ),
        (32001, 32002, 32003)
    );
    assert_eq!(model.llama_config().pad_token_id, Some(ids.pad));
    let new_rows = model.lm.embed_tokens.val().slice([32000..32004, 0..8]);
    let diff = (new_rows - embed_mean.repeat_dim(0, 4))
        .abs()
        .max()
        .into_scalar();
    assert!(diff <= 1e-6, "new rows differ from the mean by {diff}");
}

#[test]
fn mismatched_inputs_and_files_are_typed_errors() {
    let device = Default::default();
    let name = "llark-tiny";
    let model = Llark::<B>::from_pretrained(fixture(name), &device).unwrap();
    let reference = reference(name, model.config());

    // Encodings of the wrong width.
    let wrong = vec![vec![Tensor::<B, 2>::zeros([5, 7], &device)]; 2];
    let err = model.forward(&reference.rows, &wrong, None).unwrap_err();
    assert!(
        matches!(
            err,
            LlarkError::EncodingWidth {
                width: 7,
                expected: 24,
                ..
            }
        ),
        "{err}"
    );

    // A batch whose audio does not cover its spans.
    let batch = batch_of(&reference);
    let short = Tensor::<B, 2>::zeros([3, 24], &device);
    assert!(matches!(
        model.forward_batch(&batch, short),
        Err(LlarkError::AudioSpanMismatch { rows: 3, .. })
    ));

    // A checkpoint without the projector names what is missing.
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        fixture(name).join("config.json"),
        dir.path().join("config.json"),
    )
    .unwrap();
    let lm_only: Vec<_> = model.lm.to_hf_tensors();
    llark_lm::write_safetensors(
        dir.path().join("model.safetensors"),
        &lm_only,
        llark_lm::SaveDtype::F32,
    )
    .unwrap();
    let err = Llark::<B>::from_pretrained(dir.path(), &device).unwrap_err();
    assert!(
        err.to_string().contains("model.mm_projector.weight"),
        "{err}"
    );

    // A config whose audio ids fall outside the vocabulary.
    let mut text = std::fs::read_to_string(fixture(name).join("config.json")).unwrap();
    text = text.replace("\"audio_end_token_id\": 259", "\"audio_end_token_id\": 999");
    std::fs::write(dir.path().join("config.json"), text).unwrap();
    let err = Llark::<B>::from_pretrained(dir.path(), &device).unwrap_err();
    assert!(
        err.to_string().contains("audio_end_token_id = 999"),
        "{err}"
    );
    assert!(
        matches!(
            err,
            LlarkError::ConfigFile { ref source, .. }
                if matches!(**source, llark::error::ConfigError::TokenOutsideVocabulary { id: 999, .. })
        ),
        "{err:?}"
    );
}
