//! Trains LLark: `cargo run --release --example train -- --config train.json`.
//!
//! `train.json` names the model to start from (a base Llama directory, or an existing LLark
//! directory to continue from), the tokenizer, the LLark record files, the encoding store and the
//! output directory, and holds the trainer's options under `"training"` (every field optional;
//! missing ones take LLark's recipe, see `llark-train/README.md`):
//!
//! ```json
//! {
//!   "base_llama": "models/Llama-2-7b-chat-hf",
//!   "mm_projector_type": "linear",
//!   "tokenizer": "models/Llama-2-7b-chat-hf/tokenizer.json",
//!   "records": ["data/musiccaps-captioning.jsonl", "data/fma-mir.jsonl"],
//!   "encodings": "data/encodings",
//!   "output": "runs/llark",
//!   "masking": "llark-compatible",
//!   "max_len": 2048,
//!   "placement_seed": 0,
//!   "resume": true,
//!   "training": {"policy": "lm-and-projector", "max_steps": 100000}
//! }
//! ```
//! Relative paths are taken from `train.json`'s directory. With `"llark": "runs/stage1/final"`
//! instead of `"base_llama"`, training starts from an LLark directory. A run whose output directory holds a checkpoint continues from it when `resume` is
//! true (the default).
//!
//! `--workers N` trains data-parallel on N devices of this machine (N GPUs with `--features
//! cuda`, N CPU threads otherwise): each optimizer step's micro-batches are split across the
//! workers and their gradients all-reduced with burn's collective operations, which gives the
//! trajectory of one worker; `micro_batch_size` must be at least N.

mod common;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Parser;
use indicatif::{ProgressBar, ProgressStyle};
use llark::backend::{backend_name, default_device, worker_devices, TrainBackend};
use llark::train::{DataParallel, StepMetrics, TrainObserver};
use llark::training::TrainRun;

#[derive(Parser)]
#[command(about = "Train LLark (projector-only, LM + projector, or LM only)")]
struct Args {
    /// The run's JSON configuration.
    #[arg(long)]
    config: PathBuf,
    /// Data-parallel workers on this machine: GPUs 0..N with `--features cuda`, else N threads
    /// on the CPU. The trajectory is that of one worker (the batch is split, the gradients
    /// all-reduced), so a run may resume with another count.
    #[arg(long, default_value_t = 1)]
    workers: usize,
}

/// The progress bar: step, loss, learning rate, tokens/s and ETA.
struct Bar(Option<ProgressBar>);

impl TrainObserver for Bar {
    fn on_start(&mut self, step: usize, total: usize) {
        let bar = self.0.get_or_insert_with(|| {
            let bar = ProgressBar::new(total as u64);
            let style = ProgressStyle::with_template(
                "{bar:30} step {pos}/{len} {msg} [{elapsed_precise} < ETA {eta_precise}]",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar());
            bar.set_style(style);
            bar
        });
        bar.set_position(step as u64);
    }

    fn on_step(&mut self, m: &StepMetrics, _total: usize) {
        if let Some(bar) = &self.0 {
            bar.set_position(m.step as u64);
            bar.set_message(format!(
                "loss {:.4} lr {:.3e} {:.0} tok/s",
                m.loss, m.lr, m.tokens_per_s
            ));
        }
    }

    fn on_checkpoint(&mut self, step: usize, dir: &Path) {
        if let Some(bar) = &self.0 {
            bar.println(format!("step {step}: checkpoint {}", dir.display()));
        }
    }

    fn on_finish(&mut self, _total: usize) {
        if let Some(bar) = &self.0 {
            bar.finish();
        }
    }
}

fn main() -> ExitCode {
    run(Args::parse()).map_or_else(common::fail, |()| ExitCode::SUCCESS)
}

fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let run = TrainRun::from_file(&args.config)?;
    eprintln!("backend {}", backend_name());
    let mut observer: Box<dyn TrainObserver> = if run.training.progress_bar {
        Box::new(Bar(None))
    } else {
        Box::new(llark::train::Silent)
    };
    let summary = if args.workers > 1 {
        let layout = DataParallel::local(worker_devices(args.workers));
        run.run_data_parallel::<TrainBackend>(
            &layout,
            |line| eprintln!("{line}"),
            observer.as_mut(),
        )?
    } else {
        run.run::<TrainBackend>(
            &default_device(),
            |line| eprintln!("{line}"),
            observer.as_mut(),
        )?
    };
    let last = summary.history.last().map_or(f64::NAN, |m| m.loss);
    eprintln!(
        "done: {} steps, last loss {last:.4}; model in {}",
        summary.steps,
        run.output.join("final").display()
    );
    Ok(())
}
