//! Data-parallel training speed: one worker against two on this machine's devices, the same
//! small LLark and the same optimizer steps (`llark_train::train_data_parallel`, gradients
//! all-reduced with burn's collective operations).
//!
//! `cargo bench --bench data_parallel` prints, for 1 and 2 workers, the median time of an
//! optimizer step of 8 examples x 128 tokens (2 micro-batches of 4, split across the workers)
//! and its tokens per second, over 10 steps after 2 warmup steps. On the CPU the workers share
//! the machine's cores (run it with `RAYON_NUM_THREADS=1` and `=2` to separate intra-op threads
//! from workers); with `--features cuda`, each worker is one GPU.

mod common;

use std::time::Instant;

use common::*;
use llark::backend::{backend_name, worker_devices};
use llark_train::{
    train_data_parallel, CheckpointOptions, DataParallel, InMemoryAudio, StepMetrics, TrainConfig,
    TrainData,
};

const MICRO_BATCH: usize = 4;
const ACCUMULATION: usize = 2;
const WARMUP_STEPS: usize = 2;
const TIMED_STEPS: usize = 10;

/// The median step time in seconds and the tokens per step with `workers` workers.
fn measure(workers: usize) -> (f64, usize) {
    let steps = WARMUP_STEPS + TIMED_STEPS;
    let examples = examples(MICRO_BATCH * ACCUMULATION * steps);
    let mut audio = InMemoryAudio::new(WIDTH);
    for (b, example) in examples.iter().enumerate() {
        audio.insert(example.id.clone(), frames(b)).expect("frames");
    }
    let data = TrainData::new(examples, audio, 0).expect("data");
    let config = TrainConfig {
        micro_batch_size: MICRO_BATCH,
        grad_accum_steps: ACCUMULATION,
        max_steps: Some(steps),
        checkpoint: CheckpointOptions {
            every: 0,
            keep_last: 1,
        },
        progress_bar: false,
        plot_every: 0,
        task_mix: None,
        ..TrainConfig::llark()
    };
    let devices = worker_devices(workers);
    let model = small_llark(&devices[0]);
    let out = tempfile::tempdir().expect("temporary folder");
    let mut ends = vec![Instant::now()];
    let mut tokens = 0;
    let mut observe = |metrics: &StepMetrics| {
        ends.push(Instant::now());
        tokens = metrics.tokens;
    };
    let layout = DataParallel::local(devices);
    train_data_parallel(model, data, config, out.path(), &layout, None, &mut observe)
        .expect("training");
    let mut times: Vec<f64> = ends
        .windows(2)
        .skip(WARMUP_STEPS)
        .map(|pair| (pair[1] - pair[0]).as_secs_f64())
        .collect();
    times.sort_by(f64::total_cmp);
    (times[times.len() / 2], tokens)
}

fn main() {
    let threads = std::env::var("RAYON_NUM_THREADS").unwrap_or_else(|_| "all".into());
    let (one, tokens) = measure(1);
    let (two, _) = measure(2);
    for (workers, time) in [(1, one), (2, two)] {
        println!(
            "data_parallel ({}, {workers} worker{}, RAYON_NUM_THREADS={threads}): median {:.1} ms/step, {:.0} tokens/s",
            backend_name(),
            if workers == 1 { "" } else { "s" },
            time * 1e3,
            tokens as f64 / time
        );
    }
    println!(
        "data_parallel: 2 workers / 1 worker speed {:.2}x",
        one / two
    );
}
