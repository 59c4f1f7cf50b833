//! What the training benches share: a small LLark (hidden 256, MLP 688, 4 layers, 8 heads,
//! vocabulary 1024, audio width 64) and examples of 128 tokens holding 16 audio frames.
// Each bench uses part of this module.
#![allow(dead_code)]

use burn::optim::adaptor::OptimizerAdaptor;
use burn::optim::{AdamW, Optimizer};
use burn::tensor::{Tensor, TensorData};
use llark::backend::TrainBackend;
use llark::{Llark, LlarkConfig};
use llark_data::{AudioSpan, Batch, TokenizedExample};
use llark_lm::{Llama, LlamaConfig};
use llark_train::{accumulate_gradients, AccumulationNorm};

/// Tokens per example.
pub const SEQ: usize = 128;
/// Audio frames per example.
pub const FRAMES: usize = 16;
/// Width of an audio frame.
pub const WIDTH: usize = 64;
const VOCAB: usize = 1024;
const AUDIO_START: u32 = 1021;
const AUDIO_END: u32 = 1022;
const AUDIO_PATCH: u32 = 1023;

/// The small LLark, with random weights (seed 0).
pub fn small_llark(device: &burn::tensor::Device<TrainBackend>) -> Llark<TrainBackend> {
    let llama = LlamaConfig::from_json_str(&format!(
        r#"{{"vocab_size": {VOCAB}, "hidden_size": 256, "intermediate_size": 688,
            "num_hidden_layers": 4, "num_attention_heads": 8, "max_position_embeddings": 512}}"#
    ))
    .expect("config");
    llark_with(llama, WIDTH, device)
}

/// An LLark of this language model's shape (random weights, seed 0) and audio frames of
/// `width`; the audio tokens are ids 1021 to 1023, so the vocabulary holds at least 1024.
pub fn llark_with(
    llama: LlamaConfig,
    width: usize,
    device: &burn::tensor::Device<TrainBackend>,
) -> Llark<TrainBackend> {
    let lm = Llama::<TrainBackend>::random(llama.clone(), 0.02, 0, device).expect("llama");
    let config = LlarkConfig {
        llama,
        mm_hidden_size: width,
        mm_projector_type: Default::default(),
        audio_start_token_id: AUDIO_START,
        audio_end_token_id: AUDIO_END,
        audio_patch_token_id: AUDIO_PATCH,
        audio_pool_fps: None,
        max_audio_seconds: None,
        extra: Default::default(),
    };
    let projector = config.projector().init(device);
    Llark::new(config, projector, lm).expect("model")
}

/// `n` examples `clip-0 ..`: BOS, the audio span, then filler text, every token a label.
pub fn examples(n: usize) -> Vec<TokenizedExample> {
    (0..n)
        .map(|b| {
            let mut ids: Vec<u32> = vec![1, AUDIO_START];
            ids.extend(std::iter::repeat_n(AUDIO_PATCH, FRAMES));
            ids.push(AUDIO_END);
            while ids.len() < SEQ {
                ids.push(3 + ((ids.len() * 31 + b * 17) % 1000) as u32);
            }
            let labels = ids.iter().map(|&t| i64::from(t)).collect();
            TokenizedExample {
                id: format!("clip-{b}"),
                input_ids: ids,
                labels,
                audio_spans: vec![AudioSpan {
                    start: 1,
                    frames: FRAMES,
                }],
                task: None,
            }
        })
        .collect()
}

/// The audio frames of example `b` (`FRAMES x WIDTH`, row-major).
pub fn frames(b: usize) -> Vec<f32> {
    frames_of(b, WIDTH)
}

/// The audio frames of example `b` at `width` (`FRAMES x width`, row-major).
pub fn frames_of(b: usize, width: usize) -> Vec<f32> {
    (0..FRAMES * width)
        .map(|i| (((b * FRAMES * width + i) % 97) as f32) / 97.0 - 0.5)
        .collect()
}

/// AdamW over an LLark, as the trainer builds it.
pub type LlarkAdamW = OptimizerAdaptor<AdamW, Llark<TrainBackend>, TrainBackend>;

/// One optimizer step (learning rate 1e-4) on `batch` with its audio frames `audio`
/// (`[frames, width]`, row-major).
pub fn step(
    model: Llark<TrainBackend>,
    optim: &mut LlarkAdamW,
    batch: &Batch,
    audio: Vec<f32>,
    width: usize,
) -> Llark<TrainBackend> {
    let device = model.lm.device();
    let frames = audio.len() / width;
    let audio =
        Tensor::<TrainBackend, 2>::from_data(TensorData::new(audio, [frames, width]), &device);
    let grads = accumulate_gradients(
        &model,
        vec![(batch.clone(), audio)],
        AccumulationNorm::MeanOfMicroBatches,
    )
    .expect("training step");
    optim.step(1e-4, model, grads.grads)
}
