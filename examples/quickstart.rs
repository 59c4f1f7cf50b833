//! LLark out of the box, on a CPU, in minutes: synthesise music with known tempo, key and
//! instruments, encode it with the lightweight encoder, generate instruction data, train a small
//! LLark from scratch, evaluate it on held-out clips with LLark's metrics, and answer questions.
//!
//! ```sh
//! cargo run --release --example quickstart                 # writes quickstart-out/
//! cargo run --release --example ask -- --model quickstart-out/model \
//!     --audio quickstart-out/audio/eval/synth-000000.wav "What key is this piece in?"
//! ```

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use clap::Parser;
use llark::backend::{backend_name, default_device, TrainBackend};
use llark_jobs::quickstart::{run, QuickstartConfig};

/// Train and evaluate a small LLark on synthetic music.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Args {
    /// Output directory.
    #[arg(long, default_value = "quickstart-out")]
    out: PathBuf,
    /// Training clips.
    #[arg(long)]
    train_clips: Option<usize>,
    /// Held-out clips.
    #[arg(long)]
    eval_clips: Option<usize>,
    /// Optimizer steps.
    #[arg(long)]
    steps: Option<usize>,
    /// Seed of everything.
    #[arg(long)]
    seed: Option<u64>,
    /// No progress bars.
    #[arg(long)]
    quiet: bool,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let defaults = QuickstartConfig::default();
    let config = QuickstartConfig {
        out: args.out,
        train_clips: args.train_clips.unwrap_or(defaults.train_clips),
        eval_clips: args.eval_clips.unwrap_or(defaults.eval_clips),
        steps: args.steps.unwrap_or(defaults.steps),
        seed: args.seed.unwrap_or(defaults.seed),
        progress: !args.quiet,
        ..defaults
    };
    println!(
        "llark quickstart on {} -> {}",
        backend_name(),
        config.out.display()
    );
    let started = Instant::now();
    match run::<TrainBackend>(&config, &default_device()) {
        Ok(report) => {
            println!(
                "done in {:.1} min: tempo ACC2 {:.3}, key MIREX {:.3}, instrument F1 {:.3} ({})",
                started.elapsed().as_secs_f64() / 60.0,
                report.tempo_acc2,
                report.key_mirex,
                report.instrument_f1,
                config.out.join("eval.json").display()
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
