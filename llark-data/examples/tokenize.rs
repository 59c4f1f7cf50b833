//! Tokenises conversation records (JSON Lines) with LLark's template and label masking.
//!
//! ```text
//! cargo run --release --example tokenize -- --tokenizer tokenizer.json \
//!     --input records.jsonl --output tokenized.jsonl [--masking llark-compatible|assistant-only]
//! ```
//! Each input line is the conversation form plus `audio_encoding_shape` [frames, D]:
//! `{"id": "...", "conversations": [{"from": "human", "value": "<audio>\nQ"}, {"from": "gpt", "value": "A"}], "audio_encoding_shape": [250, 4800]}`.
//! Each output line is the input record with `input_ids` and `labels` added. The output appears
//! only when the whole run succeeds (it is written to a temporary file and renamed); it may not
//! be the input file. A record that cannot be encoded (too many frames, or a `--max-len` that
//! leaves no answer token to train on) is reported with its line and skipped, or stops the run
//! with `--on-error stop`.

mod common;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, ValueEnum};
use llark_data::{
    ConversationRecord, ExampleEncoder, JsonlReader, JsonlWriter, LlarkTokenizer, MaskingPolicy,
    OnError, Truncation,
};
use serde::Serialize;

#[derive(Clone, Copy, ValueEnum)]
enum Masking {
    LlarkCompatible,
    AssistantOnly,
}

#[derive(Clone, Copy, ValueEnum)]
enum ErrorMode {
    /// Report the bad line, skip it and go on.
    Skip,
    /// Stop at the first bad line.
    Stop,
}

#[derive(Clone, Copy, ValueEnum)]
enum TooLong {
    /// Fail on a record longer than --max-len.
    Error,
    /// Cut its tail (never inside an audio span).
    Cut,
}

/// Tokenise LLark conversation records into input ids and masked labels.
#[derive(Parser)]
#[command(version, about)]
struct Args {
    /// Hugging Face tokenizer.json of Llama 2.
    #[arg(long)]
    tokenizer: PathBuf,
    /// Input JSON Lines (conversation form with audio_encoding_shape).
    #[arg(long)]
    input: PathBuf,
    /// Output JSON Lines.
    #[arg(long)]
    output: PathBuf,
    /// Label masking policy.
    #[arg(long, value_enum, default_value = "llark-compatible")]
    masking: Masking,
    /// What to do with a malformed line or a record that cannot be encoded.
    #[arg(long, value_enum, default_value = "skip")]
    on_error: ErrorMode,
    /// Maximum sequence length (LLark trains with 2048).
    #[arg(long)]
    max_len: Option<usize>,
    /// What to do with a record longer than --max-len.
    #[arg(long, value_enum, default_value = "cut")]
    too_long: TooLong,
}

#[derive(Serialize)]
struct Output<'a> {
    #[serde(flatten)]
    record: &'a ConversationRecord,
    input_ids: &'a [u32],
    labels: &'a [i64],
}

fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    if llark_tensors::same_file(&args.input, &args.output) {
        return Err(format!(
            "--output {} is the --input file: it would be overwritten",
            args.output.display()
        )
        .into());
    }
    if args.max_len == Some(0) {
        return Err("--max-len must be at least 1".into());
    }
    let tokenizer = LlarkTokenizer::from_file(&args.tokenizer)?;
    let masking = match args.masking {
        Masking::LlarkCompatible => MaskingPolicy::LlarkCompatible,
        Masking::AssistantOnly => MaskingPolicy::AssistantOnly,
    };
    let truncation = match (args.max_len, args.too_long) {
        (None, _) => Truncation::None,
        (Some(n), TooLong::Error) => Truncation::Error(n),
        (Some(n), TooLong::Cut) => Truncation::CutTail(n),
    };
    let encoder = ExampleEncoder::new(&tokenizer)
        .with_masking(masking)
        .with_truncation(truncation);
    let on_error = match args.on_error {
        ErrorMode::Skip => OnError::Skip,
        ErrorMode::Stop => OnError::Stop,
    };
    let mut reader = JsonlReader::<ConversationRecord, _>::open(&args.input, on_error)?;
    let mut writer = JsonlWriter::create(&args.output)?;
    let mut failed = Vec::new();
    for item in reader.by_ref() {
        let mut numbered = item?;
        // The new ids and labels replace any the input already had.
        for key in ["input_ids", "labels"] {
            numbered.value.extra.remove(key);
        }
        match encoder.encode(&numbered.value) {
            Ok(ex) => writer.write(&Output {
                record: &numbered.value,
                input_ids: &ex.input_ids,
                labels: &ex.labels,
            })?,
            Err(e) if on_error == OnError::Skip => failed.push((numbered.line, e.to_string())),
            Err(e) => return Err(format!("{}:{}: {e}", args.input.display(), numbered.line).into()),
        }
    }
    let written = writer.commit()?;
    let skipped = reader.skipped();
    for e in skipped {
        eprintln!("skipped {e}");
    }
    for (line, e) in &failed {
        eprintln!("skipped {}:{line}: {e}", args.input.display());
    }
    eprintln!(
        "{written} records written to {} ({masking}); {} malformed lines and {} unencodable records skipped, {} blank lines",
        args.output.display(),
        skipped.len(),
        failed.len(),
        reader.blank_lines()
    );
    Ok(())
}

fn main() -> ExitCode {
    run(Args::parse()).map_or_else(common::fail, |()| ExitCode::SUCCESS)
}
