//! Converts a Hugging Face Llama or LLark model directory to int8 once, so that `ask`,
//! `evaluate` and `serve` load a quarter of the f32 bytes (half of bf16) with `--dtype int8`.
//!
//! ```sh
//! cargo run --release --example quantize -- --model DIR --out DIR [--group 64]
//! ```
//!
//! Every projection matrix of the language model and its output projection are stored as int8
//! `[out, in]` with one f32 scale per `--group` weights of a row (`{name}_scale`); the embedding,
//! norms, biases and LLark's projector are copied as stored, and so are the directory's other
//! files (tokenizer, encoder folder, adapters). `config.json` gains a `quantization_config`.
//! Shards are read and written one at a time, so a model larger than memory converts. See
//! `llark_lm::quantize` for the format.

mod common;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use llark::lm::{quantize_checkpoint, LoadOptions};
use llark::projector::PROJECTOR_PREFIX;

#[derive(Parser, Debug)]
#[command(about = "Convert a Llama / LLark model directory to int8 weights.")]
struct Args {
    /// The model directory (config.json and safetensors weights).
    #[arg(long)]
    model: PathBuf,
    /// Where to write the int8 copy (created; must differ from --model).
    #[arg(long)]
    out: PathBuf,
    /// Weights per scale along a row; must divide every matrix's row length.
    #[arg(long, default_value_t = 64)]
    group: usize,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let options = LoadOptions::allowing_prefixes([format!("{PROJECTOR_PREFIX}.")]);
    match quantize_checkpoint(&args.model, &args.out, args.group, &options) {
        Ok(report) => {
            println!(
                "{} matrices to int8, {} tensors copied: {:.1} MB -> {:.1} MB, {} other files; wrote {}",
                report.quantised,
                report.copied,
                report.bytes_in as f64 / 1e6,
                report.bytes_out as f64 / 1e6,
                report.files.len(),
                args.out.display()
            );
            ExitCode::SUCCESS
        }
        Err(e) => common::fail(e),
    }
}
