//! Checks a model directory against reference outputs and prints the largest error.
//!
//! ```sh
//! cargo run --release --example parity -- llama tests/fixtures/llama-tiny     # max_abs_err=...
//! cargo run --release --example parity -- jukebox DIR                         # max_rel_err=...
//! cargo run --release --example parity -- llark tests/fixtures/llark/llark-tiny
//! ```
//!
//! Fixture formats are described in the project's design notes: a model directory plus
//! `reference.safetensors`. The same command checks converted real weights against reference
//! outputs computed with the original implementation. Exits with status 1 when out of tolerance
//! and 2 when the directory cannot be read.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use llark::backend::{backend_name, default_device, DefaultBackend};

type B = DefaultBackend;

/// Compare a model directory with reference outputs of the original implementation.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Args {
    #[command(subcommand)]
    kind: Kind,
}

#[derive(Subcommand, Debug)]
enum Kind {
    /// A Hugging Face Llama directory: logits (max-abs <= 1e-4), greedy ids (exact), loss.
    Llama {
        /// Fixture directory.
        dir: PathBuf,
    },
    /// A Jukebox encoder directory: codes (exact), every activation (<= 1e-4 x RMS).
    Jukebox {
        /// Fixture directory.
        dir: PathBuf,
    },
    /// An LLark directory (Llama + projector, audio spliced): logits, greedy ids, loss.
    Llark {
        /// Fixture directory.
        dir: PathBuf,
    },
}

fn main() -> ExitCode {
    let args = Args::parse();
    let device = default_device();
    eprintln!("backend: {}", backend_name());
    let outcome = match &args.kind {
        Kind::Llama { dir } => llark::lm::check_fixture::<B>(dir, &device)
            .map(|r| {
                println!("{r}");
                println!("max_abs_err={:e}", r.max_abs_err);
                r.passed
            })
            .map_err(|e| e.to_string()),
        Kind::Llark { dir } => llark::parity::check_llark_fixture::<B>(dir, &device)
            .map(|r| {
                println!("{r}");
                println!("max_abs_err={:e}", r.max_abs_err);
                r.passed
            })
            .map_err(|e| e.to_string()),
        Kind::Jukebox { dir } => llark::encoder::parity::check_fixture::<B>(dir, &device)
            .map(|r| {
                println!("{r}");
                println!("max_rel_err={:e}", r.max_rel_err);
                r.passed
            })
            .map_err(|e| e.to_string()),
    };
    match outcome {
        Ok(true) => {
            println!("PASS");
            ExitCode::SUCCESS
        }
        Ok(false) => {
            println!("FAIL: out of tolerance");
            ExitCode::from(1)
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}
