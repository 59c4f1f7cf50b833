//! Training-step throughput of a small LLark (LM + projector, AdamW) on the default backend,
//! to compare with `tools/reference/train_step_bench.py` (the same step in PyTorch).
//!
//! `cargo bench --bench train_step` prints tokens per second (median and best of 8 timed steps
//! after 2 warmup steps). Sizes: hidden 256, MLP 688, 4 layers, 8 heads, vocabulary 1024,
//! batch 4 x 128 tokens of which 16 are audio frames of width 64.

mod common;

use std::time::Instant;

use common::*;
use llark::backend::{backend_name, TrainBackend};
use llark::Llark;
use llark_data::collate;
use llark_train::AdamWOptions;

type B = TrainBackend;

const BATCH: usize = 4;

fn main() {
    let device = Default::default();
    let mut model = small_llark(&device);
    let examples = examples(BATCH);
    let batch = collate(&examples, 0, 1).expect("batch");
    let audio: Vec<f32> = (0..BATCH).flat_map(frames).collect();
    let mut optim = AdamWOptions::default().to_burn().init::<B, Llark<B>>();
    let (warmup, timed) = (2, 8);
    let mut times = Vec::new();
    for i in 0..warmup + timed {
        let start = Instant::now();
        model = step(model, &mut optim, &batch, audio.clone(), WIDTH);
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
