//! Training-step throughput of a small LLark (LM + projector, AdamW) on the default backend,
//! to compare with `tools/reference/train_step_bench.py` (the same step in PyTorch).
//!
//! `cargo bench --bench train_step` prints tokens per second (median and best of 8 timed steps
//! after 2 warmup steps). Sizes: hidden 256, MLP 688, 4 layers, 8 heads, vocabulary 1024,
//! batch 4 x 128 tokens of which 16 are audio frames of width 64.

use std::time::Instant;

use burn::optim::Optimizer;
use burn::tensor::{Tensor, TensorData};
use llark::backend::{backend_name, TrainBackend};
use llark::{Llark, LlarkConfig};
use llark_data::{collate, AudioSpan, TokenizedExample};
use llark_lm::{Llama, LlamaConfig};
use llark_train::{accumulate_gradients, AccumulationNorm, AdamWOptions};

type B = TrainBackend;

const BATCH: usize = 4;
const SEQ: usize = 128;
const FRAMES: usize = 16;
const WIDTH: usize = 64;
const VOCAB: usize = 1024;

fn main() {
    let device = Default::default();
    let llama = LlamaConfig::from_json_str(&format!(
        r#"{{"vocab_size": {VOCAB}, "hidden_size": 256, "intermediate_size": 688,
            "num_hidden_layers": 4, "num_attention_heads": 8, "max_position_embeddings": 512}}"#
    ))
    .expect("config");
    let lm = Llama::<B>::random(llama.clone(), 0.02, 0, &device).expect("llama");
    let config = LlarkConfig {
        llama,
        mm_hidden_size: WIDTH,
        mm_projector_type: Default::default(),
        audio_start_token_id: 1021,
        audio_end_token_id: 1022,
        audio_patch_token_id: 1023,
        audio_pool_fps: None,
        extra: Default::default(),
    };
    let projector = config.projector().init(&device);
    let mut model = Llark::new(config, projector, lm).expect("model");
    let mut examples = Vec::new();
    for b in 0..BATCH {
        let mut ids: Vec<u32> = vec![1, 1021];
        ids.extend(std::iter::repeat_n(1023, FRAMES));
        ids.push(1022);
        while ids.len() < SEQ {
            ids.push(3 + ((ids.len() * 31 + b * 17) % 1000) as u32);
        }
        let labels = ids.iter().map(|&t| i64::from(t)).collect();
        examples.push(TokenizedExample {
            id: format!("clip-{b}"),
            input_ids: ids,
            labels,
            audio_spans: vec![AudioSpan {
                start: 1,
                frames: FRAMES,
            }],
            task: None,
        });
    }
    let batch = collate(&examples, 0, 1).expect("batch");
    let audio: Vec<f32> = (0..BATCH * FRAMES * WIDTH)
        .map(|i| ((i % 97) as f32) / 97.0 - 0.5)
        .collect();
    let mut optim = AdamWOptions::default().to_burn().init::<B, Llark<B>>();
    let (warmup, timed) = (2, 8);
    let mut times = Vec::new();
    for i in 0..warmup + timed {
        let start = Instant::now();
        let audio = Tensor::<B, 2>::from_data(
            TensorData::new(audio.clone(), [BATCH * FRAMES, WIDTH]),
            &device,
        );
        let grads = accumulate_gradients(
            &model,
            vec![(batch.clone(), audio)],
            AccumulationNorm::MeanOfMicroBatches,
        )
        .expect("training step");
        model = optim.step(1e-4, model, grads.grads);
        // Wait for the backend: read one value of the updated weights.
        let _ = model.projector.to_torch_weights();
        if i >= warmup {
            times.push(start.elapsed().as_secs_f64());
        }
    }
    let tokens = (BATCH * SEQ) as f64;
    times.sort_by(f64::total_cmp);
    let median = times[times.len() / 2];
    println!(
        "train_step ({}, {} threads available): median {:.0} tokens/s ({:.1} ms/step), best {:.0} tokens/s",
        backend_name(),
        std::thread::available_parallelism().map_or(1, |n| n.get()),
        tokens / median,
        median * 1e3,
        tokens / times[0]
    );
}
