//! LLark out of the box, on a CPU, in minutes: compose music and take real compositions with
//! known tempo, key, metre and instruments, render them through a SoundFont, encode it with the
//! lightweight encoder, generate instruction data, train a small
//! LLark from scratch, evaluate it on held-out clips with LLark's metrics, and answer questions.
//!
//! ```sh
//! cargo run --release --example quickstart                 # writes quickstart-out/
//! cargo run --release --example ask -- --model quickstart-out/model \
//!     --audio quickstart-out/audio/real/<clip>.wav "What key is this piece in?"
//! ```

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use clap::Parser;
use llark::backend::{backend_name, default_device, TrainBackend};
use llark_jobs::quickstart::{run, write_development_set, QuickstartConfig};

/// Train and evaluate a small LLark on composed and real music.
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
    /// Clips of each held-out corpus piece in the real-music check (and of each training piece
    /// in a development set).
    #[arg(long)]
    real_variants: Option<usize>,
    /// Optimizer steps.
    #[arg(long)]
    steps: Option<usize>,
    /// Seed of everything.
    #[arg(long)]
    seed: Option<u64>,
    /// A SoundFont to render training music with (repeat for several; default: the shipped
    /// TimGM6mb).
    #[arg(long = "soundfont")]
    soundfonts: Vec<PathBuf>,
    /// The SoundFont of the real-music evaluation (default: the shipped csound GM bank).
    #[arg(long)]
    held_out_soundfont: Option<PathBuf>,
    /// Train and evaluate on composed music only, without the corpus of compositions.
    #[arg(long)]
    no_corpus: bool,
    /// Fixed clip length in seconds (default: drawn from 5-30 s; evaluation at 23.78 s).
    #[arg(long)]
    clip_seconds: Option<f64>,
    /// Only write a development set into this directory (training pieces and composed clips
    /// from unused seeds, as WAVs with `clips.jsonl`), for designing encoders; nothing is
    /// trained.
    #[arg(long)]
    development_set: Option<PathBuf>,
    /// Augment the development set's clips as the training music is (instrument substitution,
    /// effects, detune, EQ tilt, noise).
    #[arg(long, requires = "development_set")]
    augmented: bool,
    /// No progress bars.
    #[arg(long)]
    quiet: bool,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let defaults = QuickstartConfig::default();
    let (args_development_set, args_augmented) = (args.development_set.clone(), args.augmented);
    let config = QuickstartConfig {
        out: args.out,
        train_clips: args.train_clips.unwrap_or(defaults.train_clips),
        eval_clips: args.eval_clips.unwrap_or(defaults.eval_clips),
        steps: args.steps.unwrap_or(defaults.steps),
        real_variants: args.real_variants.unwrap_or(defaults.real_variants),
        seed: args.seed.unwrap_or(defaults.seed),
        soundfonts: if args.soundfonts.is_empty() {
            defaults.soundfonts.clone()
        } else {
            args.soundfonts
        },
        held_out_soundfont: args
            .held_out_soundfont
            .unwrap_or_else(|| defaults.held_out_soundfont.clone()),
        corpus: if args.no_corpus {
            None
        } else {
            defaults.corpus.clone()
        },
        clip_seconds: args.clip_seconds.or(defaults.clip_seconds),
        progress: !args.quiet,
        ..defaults
    };
    if let Some(dir) = &args_development_set {
        return match write_development_set(&config, dir, args_augmented) {
            Ok(n) => {
                println!(
                    "{n} development clips in {}",
                    dir.join("clips.jsonl").display()
                );
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::FAILURE
            }
        };
    }
    println!(
        "llark quickstart on {} -> {}",
        backend_name(),
        config.out.display()
    );
    let started = Instant::now();
    match run::<TrainBackend>(&config, &default_device()) {
        Ok(report) => {
            println!(
                "done in {:.1} min ({})",
                started.elapsed().as_secs_f64() / 60.0,
                config.out.join("eval.json").display()
            );
            for set in std::iter::once(&report.composed).chain(report.real.as_ref()) {
                println!(
                    "  {}: tempo ACC2 {:.3}, key MIREX {:.3}, instrument F1 {:.3} ({} clips)",
                    set.name, set.tempo_acc2, set.key_mirex, set.instrument_f1, set.n_clips
                );
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
