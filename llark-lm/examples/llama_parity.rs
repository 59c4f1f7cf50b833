//! Checks Llama fixture directories (Hugging Face model + `reference.safetensors` from
//! transformers) on the CPU backend and prints `max_abs_err=<value>` for each.
//!
//! ```text
//! cargo run --release -p llark-lm --example llama_parity -- llark-lm/tests/fixtures/*
//! ```
//! Exits with status 1 when a fixture is out of tolerance and 2 when one cannot be read.

use std::process::ExitCode;

use burn::backend::Flex;
use llark_lm::parity::check_fixture;

fn main() -> ExitCode {
    let dirs: Vec<String> = std::env::args().skip(1).collect();
    if dirs.is_empty() || dirs.iter().any(|a| a == "--help" || a == "-h") {
        eprintln!("usage: llama_parity FIXTURE_DIR...");
        return ExitCode::from(2);
    }
    let mut status = ExitCode::SUCCESS;
    for dir in &dirs {
        match check_fixture::<Flex>(dir, &Default::default()) {
            Ok(report) => {
                println!("{report}");
                println!("max_abs_err={}", report.max_abs_err);
                if !report.passed {
                    status = ExitCode::from(1);
                }
            }
            Err(e) => {
                eprintln!("{dir}: {e}");
                return ExitCode::from(2);
            }
        }
    }
    status
}
