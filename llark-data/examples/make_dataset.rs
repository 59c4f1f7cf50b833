//! Turns clip metadata into LLark instruction records (question/answer pairs per task family).
//!
//! ```text
//! cargo run --release --example make_dataset -- --metadata clips.jsonl --output records.jsonl \
//!     [--families mir,captioning,reasoning] [--per-clip N] [--seed S] \
//!     [--generator offline|openai --base-url URL --model NAME --api-key-env VAR] [--prompts DIR]
//! ```
//! The metadata is JSON Lines (one clip object per line) or, for a `.json` file, one clip object
//! or a list of them. Each output line is one LLark record
//! `{"id", "audio", "response": [{"question", "answer"}], "task"}` per clip and family (a clip
//! and family with no accepted pair writes no line). The validation report goes to stderr.
//! The `openai` generator needs the crate feature `openai`
//! (`cargo run --release -p llark-data --features openai --example make_dataset -- ...`).

mod common;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use llark_data::instruct::{
    generate_record, read_metadata_json, ClipMetadata, Generator, OfflineGenerator, PromptBuilder,
    ValidationReport, Validator,
};
use llark_data::{JsonlReader, JsonlWriter, OnError, TaskFamily};

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum GeneratorKind {
    /// Template answers from the metadata alone (deterministic for a seed).
    Offline,
    /// An OpenAI-compatible chat-completions server (needs the `openai` feature).
    Openai,
}

/// Generate LLark question/answer records from clip metadata.
#[derive(Parser)]
#[command(version, about)]
struct Args {
    /// Clip metadata: JSON Lines, or a .json file with one clip or a list of clips.
    #[arg(long)]
    metadata: PathBuf,
    /// Output JSON Lines of LLark records.
    #[arg(long)]
    output: PathBuf,
    /// Task families to generate, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "mir,captioning,reasoning", value_parser = parse_family)]
    families: Vec<TaskFamily>,
    /// Most question/answer pairs kept per clip and family (all when absent).
    #[arg(long)]
    per_clip: Option<usize>,
    /// Seed of the offline generator.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Which generator writes the pairs.
    #[arg(long, value_enum, default_value = "offline")]
    generator: GeneratorKind,
    /// Base URL of the chat-completions API (openai generator).
    #[arg(long, default_value = "https://api.openai.com/v1")]
    base_url: String,
    /// Model name (openai generator).
    #[arg(long, default_value = "gpt-3.5-turbo")]
    model: String,
    /// Environment variable holding the API key (openai generator; no key sent when absent).
    #[arg(long)]
    api_key_env: Option<String>,
    /// Sampling temperature (openai generator).
    #[arg(long, default_value_t = 0.7)]
    temperature: f32,
    /// Directory of prompt files overriding the built-in ones (`mir.txt`,
    /// `fewshot-mir.json`, `mir-<dataset>.txt`, ...; openai generator).
    #[arg(long)]
    prompts: Option<PathBuf>,
}

fn parse_family(s: &str) -> Result<TaskFamily, String> {
    TaskFamily::ALL
        .into_iter()
        .find(|f| f.as_str() == s.trim())
        .ok_or_else(|| format!("unknown family `{s}` (expected mir, captioning or reasoning)"))
}

fn read_clips(path: &PathBuf) -> Result<Vec<ClipMetadata>, Box<dyn std::error::Error>> {
    if path.extension().is_some_and(|e| e == "json") {
        return Ok(read_metadata_json(path)?);
    }
    let mut reader = JsonlReader::<ClipMetadata, _>::open(path, OnError::Skip)?;
    let clips: Vec<ClipMetadata> = reader
        .by_ref()
        .map(|r| r.map(|n| n.value))
        .collect::<Result<_, _>>()?;
    for e in reader.skipped() {
        eprintln!("skipped {e}");
    }
    Ok(clips)
}

fn make_generator(args: &Args) -> Result<Box<dyn Generator>, Box<dyn std::error::Error>> {
    let prompts = match &args.prompts {
        Some(dir) => PromptBuilder::new().with_dir(dir)?,
        None => PromptBuilder::new(),
    };
    match args.generator {
        GeneratorKind::Offline => {
            let _ = prompts;
            Ok(Box::new(OfflineGenerator::new(args.seed)))
        }
        #[cfg(feature = "openai")]
        GeneratorKind::Openai => {
            use llark_data::instruct::{OpenAiConfig, OpenAiGenerator};
            let mut config =
                OpenAiConfig::new(&args.base_url, &args.model).with_temperature(args.temperature);
            if let Some(var) = &args.api_key_env {
                config = config.with_api_key_env(var);
            }
            Ok(Box::new(OpenAiGenerator::new(config, prompts)?))
        }
        #[cfg(not(feature = "openai"))]
        GeneratorKind::Openai => {
            let _ = (
                prompts,
                &args.base_url,
                &args.model,
                &args.api_key_env,
                args.temperature,
            );
            Err("the openai generator needs the `openai` feature: \
                 cargo run --release -p llark-data --features openai --example make_dataset -- ..."
                .into())
        }
    }
}

fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    if args.families.is_empty() {
        return Err("--families names no family".into());
    }
    if llark_tensors::same_file(&args.metadata, &args.output) {
        return Err(format!(
            "--output {} is the --metadata file: it would be overwritten",
            args.output.display()
        )
        .into());
    }
    let clips = read_clips(&args.metadata)?;
    let mut generator = make_generator(&args)?;
    let validator = Validator::default();
    let mut report = ValidationReport::default();
    let mut writer = JsonlWriter::create(&args.output)?;
    let bar = ProgressBar::new((clips.len() * args.families.len()) as u64);
    bar.set_style(ProgressStyle::with_template(
        "{bar:40} {pos}/{len} requests ({eta} left) {msg}",
    )?);
    bar.enable_steady_tick(Duration::from_millis(250));
    let mut failures = 0usize;
    let mut invalid = 0usize;
    for clip in &clips {
        if let Err(e) = clip.validate() {
            invalid += 1;
            bar.println(format!("rejected: {e}"));
            bar.inc(args.families.len() as u64);
            continue;
        }
        for &family in &args.families {
            bar.set_message(format!("{} {family}", clip.id));
            match generate_record(
                generator.as_mut(),
                clip,
                family,
                args.per_clip,
                &validator,
                &mut report,
            ) {
                Ok(Some(record)) => writer.write(&record)?,
                Ok(None) => {}
                Err(e) => {
                    failures += 1;
                    bar.println(format!("skipped: {e}"));
                }
            }
            bar.inc(1);
        }
    }
    bar.finish_and_clear();
    let written = writer.commit()?;
    eprint!("{report}");
    eprintln!(
        "{written} records written to {} by the {} generator ({} clips, {invalid} rejected for invalid metadata, {failures} failed requests)",
        args.output.display(),
        generator.name(),
        clips.len()
    );
    Ok(())
}

fn main() -> ExitCode {
    run(Args::parse()).map_or_else(common::fail, |()| ExitCode::SUCCESS)
}
