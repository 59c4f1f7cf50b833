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
//!
//! Several machines (the output directory on a shared filesystem):
//!
//! ```sh
//! # on one machine, once:
//! cargo run --release --example train -- --orchestrator-port 3000
//! # on each node i of n, the same train.json:
//! cargo run --release --example train -- --config train.json --workers 2 \
//!     --nodes n --node i --orchestrator ws://HOST0:3000 --node-address ws://HOSTi:3001 --data-port 3001
//! ```

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
    #[arg(long, required_unless_present = "orchestrator_port")]
    config: Option<PathBuf>,
    /// Data-parallel workers on this machine: GPUs 0..N with `--features cuda`, else N threads
    /// on the CPU. The trajectory is that of one worker (the batch is split, the gradients
    /// all-reduced), so a run may resume with another count.
    #[arg(long, default_value_t = 1)]
    workers: usize,
    /// Machines in a multi-node run (each runs this command with its own `--node`).
    #[arg(long, default_value_t = 1)]
    nodes: usize,
    /// This machine's index in a multi-node run, `0..nodes` (node 0 writes the output).
    #[arg(long, default_value_t = 0)]
    node: usize,
    /// The orchestrator's address in a multi-node run, e.g. `ws://10.0.0.1:3000`.
    #[arg(long)]
    orchestrator: Option<String>,
    /// This node's address as the other nodes reach it, e.g. `ws://10.0.0.2:3001`.
    #[arg(long)]
    node_address: Option<String>,
    /// The port of this node's tensor data service (the port of `--node-address`).
    #[arg(long, default_value_t = 3001)]
    data_port: u16,
    /// Run only the multi-node orchestrator on this port (until interrupted); `--config` is
    /// not read.
    #[arg(long)]
    orchestrator_port: Option<u16>,
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
    if let Some(port) = args.orchestrator_port {
        eprintln!("orchestrator listening on port {port}");
        tokio::runtime::Runtime::new()?.block_on(burn_collective::start_global_orchestrator(port));
        return Ok(());
    }
    let config = args.config.as_ref().ok_or("--config is required")?;
    let run = TrainRun::from_file(config)?;
    eprintln!("backend {}", backend_name());
    let mut observer: Box<dyn TrainObserver> = if run.training.progress_bar {
        Box::new(Bar(None))
    } else {
        Box::new(llark::train::Silent)
    };
    let summary = if args.workers > 1 || args.nodes > 1 {
        let mut layout = DataParallel::local(worker_devices(args.workers));
        if args.nodes > 1 {
            let (Some(orchestrator), Some(address)) = (&args.orchestrator, &args.node_address)
            else {
                return Err("a multi-node run needs --orchestrator and --node-address".into());
            };
            layout = layout.across_nodes(
                args.nodes,
                args.node,
                orchestrator,
                address,
                args.data_port,
            )?;
        }
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
