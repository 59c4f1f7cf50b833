//! Generates a synthetic music dataset with ground truth: `N` short pieces as mono 32-bit float
//! WAV files at 44.1 kHz, one metadata JSON per clip and `metadata.jsonl` with all of them.
//!
//! ```text
//! cargo run --release --example synth_dataset -- --out synth-data --count 100 --seed 0 \
//!     [--duration 10] [--min-bpm 60] [--max-bpm 180]
//! ```
//!
//! The same arguments always give the same files, bit for bit.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use clap::Parser;
use llark_audio::synth::{write_dataset, SynthConfig};

/// Command-line arguments.
#[derive(Debug, Parser)]
#[command(
    version,
    about = "Generate seeded synthetic music clips (WAV) with their key, tempo, chords, instruments and genre (JSON)."
)]
struct Args {
    /// Output directory (created if needed).
    #[arg(long)]
    out: PathBuf,
    /// Number of clips.
    #[arg(long)]
    count: usize,
    /// Dataset seed (each clip's seed is drawn from it).
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Length of each clip in seconds.
    #[arg(long, default_value_t = 10.0, allow_negative_numbers = true)]
    duration: f64,
    /// Slowest tempo drawn, in BPM.
    #[arg(long, default_value_t = 60.0)]
    min_bpm: f64,
    /// Fastest tempo drawn, in BPM.
    #[arg(long, default_value_t = 180.0)]
    max_bpm: f64,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let config = SynthConfig {
        duration: args.duration,
        tempo_range: (args.min_bpm, args.max_bpm),
        ..SynthConfig::default()
    };
    let started = Instant::now();
    let result = write_dataset(
        &args.out,
        args.count,
        args.seed,
        &config,
        |done, total, meta| {
            eprintln!(
                "[{done}/{total}] {} {} {} BPM {:?}",
                meta.audio, meta.key, meta.tempo_bpm, meta.genre
            );
        },
    );
    match result {
        Ok(metas) => {
            eprintln!(
                "wrote {} clips to {} in {:.1} s",
                metas.len(),
                args.out.display(),
                started.elapsed().as_secs_f64()
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
