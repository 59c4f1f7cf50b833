//! Evaluates an LLark model on a labelled set with LLark's answer parsing and metrics, and prints
//! a table like the paper's (also written as JSON).
//!
//! ```sh
//! cargo run --release --example evaluate -- --model quickstart-out/model --labels labels.jsonl \
//!     --output results.json
//! ```
//!
//! Each line of `labels.jsonl` names one clip and its references:
//! `{"id": "...", "audio": "clip.wav" | "encoding": "clip.npy", "key": "F minor", "tempo": 128.0,
//!   "genre": "rock", "instruments": ["guitar", "drums"], "dataset": "gtzan" | "medleydb" | "musicnet"}`.
//! Every label present is asked about (the task's question, or the one given with
//! `--key-question`, `--tempo-question`, `--genre-question`, `--instrument-question`). Paths are
//! relative to the labels file. Audio needs an encoder (`--encoder DIR` or `MODEL/encoder`).

mod common;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Parser;
use common::ModelArgs;
use indicatif::{ProgressBar, ProgressStyle};
use llark::backend::{default_device, DefaultBackend};
use llark::data::{JsonlReader, OnError};
use llark::encoders::{load_encoder, read_encoding_file};
use llark::eval::{evaluate, EvalConfig, Reference, Task};
use llark::lm::GenerationConfig;
use llark::LlarkError;
use serde::Deserialize;

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
}

/// One labelled clip.
#[derive(Debug, Deserialize)]
struct Labelled {
    id: String,
    #[serde(default)]
    audio: Option<String>,
    #[serde(default)]
    encoding: Option<String>,
    #[serde(default)]
    key: Option<String>,
    #[serde(default)]
    tempo: Option<f64>,
    #[serde(default)]
    genre: Option<String>,
    #[serde(default)]
    instruments: Option<Vec<String>>,
    #[serde(default)]
    dataset: Option<String>,
}

fn main() -> ExitCode {
    run(Args::parse()).map_or_else(common::fail, |()| ExitCode::SUCCESS)
}

fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let device = default_device();
    let base = args.labels.parent().unwrap_or(Path::new(".")).to_path_buf();
    let reader = JsonlReader::<Labelled, _>::open(&args.labels, OnError::Stop)?;
    let clips: Vec<Labelled> = reader
        .map(|line| line.map(|n| n.value))
        .collect::<Result<_, _>>()?;
    if clips.is_empty() {
        return Err(format!("{}: no labelled clips", args.labels.display()).into());
    }

    let mut pipeline = args.model.pipeline(
        &args.model.dir.join("tokenizer.json"),
        GenerationConfig::greedy(args.max_new_tokens),
        &device,
    )?;
    if clips.iter().any(|c| c.audio.is_some()) {
        let dir = args.model.encoder_dir();
        pipeline = pipeline.with_encoder(load_encoder::<DefaultBackend>(&dir, &device)?)?;
    }

    let bar = ProgressBar::new(clips.len() as u64);
    if let Ok(style) = ProgressStyle::with_template("{msg:10} [{bar:30}] {pos}/{len} {eta}") {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_message("evaluating");
    let mut rows = Vec::new();
    for clip in &clips {
        let audio = match (&clip.audio, &clip.encoding) {
            (Some(path), None) => pipeline.encode_file(base.join(path))?,
            (None, Some(path)) => {
                let (values, shape) = read_encoding_file(base.join(path))?;
                pipeline.encodings(values, shape)?
            }
            _ => {
                return Err(format!(
                    "clip {}: give exactly one of `audio` and `encoding`",
                    clip.id
                )
                .into())
            }
        };
        for (task, reference) in tasks_of(clip)? {
            let question = question_for(&args, task);
            let answer = pipeline.ask(&audio, &question, None)?;
            rows.push((task, answer, reference));
        }
        bar.inc(1);
    }
    bar.finish_and_clear();

    let table = evaluate(rows, &EvalConfig::default())?;
    println!("{}", table.to_markdown());
    if let Some(path) = &args.output {
        let json = table.to_json_pretty()?;
        std::fs::write(path, json + "\n").map_err(|source| LlarkError::Io {
            path: path.clone(),
            source,
        })?;
        eprintln!("wrote {}", path.display());
    }
    Ok(())
}

/// The tasks a clip's labels call for, with their references.
fn tasks_of(clip: &Labelled) -> Result<Vec<(Task, Reference)>, Box<dyn std::error::Error>> {
    let dataset = clip.dataset.as_deref().map(str::to_ascii_lowercase);
    let mut tasks = Vec::new();
    if let Some(key) = &clip.key {
        tasks.push((Task::Key, Reference::Key(key.clone())));
    }
    if let Some(bpm) = clip.tempo {
        tasks.push((Task::Tempo, Reference::Bpm(bpm)));
    }
    if let Some(genre) = &clip.genre {
        let task = match dataset.as_deref() {
            Some("medleydb") => Task::GenreMedleyDb,
            _ => Task::GenreGtzan,
        };
        tasks.push((task, Reference::Genre(genre.clone())));
    }
    if let Some(instruments) = &clip.instruments {
        let task = match dataset.as_deref() {
            Some("musicnet") => Task::InstrumentsMusicNet,
            _ => Task::InstrumentsMedleyDb,
        };
        tasks.push((task, Reference::Instruments(instruments.clone())));
    }
    if tasks.is_empty() {
        return Err(format!(
            "clip {}: no key, tempo, genre or instruments label",
            clip.id
        )
        .into());
    }
    Ok(tasks)
}

fn question_for(args: &Args, task: Task) -> String {
    let given = match task {
        Task::Key => &args.key_question,
        Task::Tempo => &args.tempo_question,
        Task::GenreGtzan | Task::GenreMedleyDb => &args.genre_question,
        Task::InstrumentsMedleyDb | Task::InstrumentsMusicNet => &args.instrument_question,
    };
    given
        .clone()
        .unwrap_or_else(|| task.default_prompt().to_string())
}
