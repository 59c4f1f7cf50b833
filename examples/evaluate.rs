//! Evaluates an LLark model on a labelled set with LLark's answer parsing and metrics, and prints
//! a table like the paper's (also written as JSON).
//!
//! ```sh
//! cargo run --release --example evaluate -- --model quickstart-out/model --labels labels.jsonl \
//!     --output results.json [--answers answers.jsonl] [--strict]
//! ```
//!
//! Each line of `labels.jsonl` names one clip and its references:
//! `{"id": "...", "audio": "clip.wav" | "encoding": "clip.npy", "start": 30.0, "duration": 23.78,
//!   "key": "F minor", "tempo": 128.0, "genre": "rock", "instruments": ["guitar", "drums"],
//!   "dataset": "gtzan" | "medleydb" | "musicnet"}`.
//! Every label present is asked about (the task's question, or the one given with
//! `--key-question`, `--tempo-question`, `--genre-question`, `--instrument-question`). Paths are
//! relative to the labels file. Audio needs an encoder (`--encoder DIR` or `MODEL/encoder`).
//!
//! Every label is checked before the model runs. A clip that cannot be scored or answered (a bad
//! label, a missing or corrupt file, a prompt longer than the model's context) is reported with
//! its line and id and left out; the table covers the rest and says how many were left out.
//! `--strict` stops at the first such clip instead.

mod common;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Parser;
use common::ModelArgs;
use indicatif::{ProgressBar, ProgressStyle};
use llark::backend::{default_device, DefaultBackend};
use llark::encoders::load_encoder;
use llark::lm::GenerationConfig;
use llark_jobs::evaluate::{plan_evaluation, run_evaluation, EvalOptions, Questions};

/// Evaluate an LLark model on labelled clips with LLark's metrics.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Args {
    #[command(flatten)]
    model: ModelArgs,
    /// JSONL file of labelled clips.
    #[arg(long)]
    labels: PathBuf,
    /// Where to write the table as JSON.
    #[arg(long)]
    output: Option<PathBuf>,
    /// Most tokens per answer.
    #[arg(long, default_value_t = 64)]
    max_new_tokens: usize,
    /// Question for key labels.
    #[arg(long)]
    key_question: Option<String>,
    /// Question for tempo labels.
    #[arg(long)]
    tempo_question: Option<String>,
    /// Question for genre labels.
    #[arg(long)]
    genre_question: Option<String>,
    /// Question for instrument labels.
    #[arg(long)]
    instrument_question: Option<String>,
    /// Where to write every answer (JSON Lines: id, line, task, question, answer, reference).
    #[arg(long)]
    answers: Option<PathBuf>,
    /// Stop at the first clip that cannot be scored or answered.
    #[arg(long)]
    strict: bool,
}

fn main() -> ExitCode {
    run(Args::parse()).map_or_else(common::fail, |()| ExitCode::SUCCESS)
}

fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let device = default_device();
    let base = args.labels.parent().unwrap_or(Path::new(".")).to_path_buf();
    let plan = plan_evaluation(&args.labels, args.strict)?;
    for refused in &plan.refused {
        eprintln!("left out {}: {refused}", args.labels.display());
    }

    let mut pipeline = args.model.pipeline(
        &args.model.dir.join("tokenizer.json"),
        GenerationConfig::greedy(args.max_new_tokens),
        &device,
    )?;
    if plan.clips.iter().any(|c| c.clip.audio.is_some()) {
        let dir = args.model.encoder_dir();
        pipeline = pipeline.with_encoder(load_encoder::<DefaultBackend>(&dir, &device)?)?;
    }

    let bar = ProgressBar::new(plan.clips.len() as u64);
    if let Ok(style) = ProgressStyle::with_template("{msg:10} [{bar:30}] {pos}/{len} {eta}") {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_message("evaluating");
    let refused: Vec<u64> = plan.refused.iter().map(|f| f.line).collect();
    let options = EvalOptions {
        questions: Questions {
            key: args.key_question.clone(),
            tempo: args.tempo_question.clone(),
            genre: args.genre_question.clone(),
            instruments: args.instrument_question.clone(),
        },
        strict: args.strict,
        answers: args.answers.clone(),
        config: Default::default(),
    };
    let outcome = run_evaluation(&pipeline, &base, plan, &options, |_| bar.inc(1))?;
    bar.finish_and_clear();
    for failure in outcome
        .failures
        .iter()
        .filter(|f| !refused.contains(&f.line))
    {
        eprintln!("left out {}: {failure}", args.labels.display());
    }

    println!("{}", outcome.table.to_markdown());
    println!(
        "{} clips evaluated, {} left out{}",
        outcome.evaluated,
        outcome.failures.len(),
        if outcome.failures.is_empty() {
            ""
        } else {
            " (listed above)"
        }
    );
    if let Some(path) = &args.output {
        let json = outcome.table.to_json_pretty()? + "\n";
        llark_tensors::write_bytes_atomic(path, json.as_bytes())?;
        eprintln!("wrote {}", path.display());
    }
    if let Some(path) = &args.answers {
        eprintln!(
            "wrote {} answers to {}",
            outcome.answers.len(),
            path.display()
        );
    }
    Ok(())
}
