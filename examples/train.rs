//! Trains LLark: `cargo run --release --example train -- --config train.json`.
//!
//! `train.json` names the model to start from (a base Llama directory, or an existing LLark
//! directory to continue from), the tokenizer, the LLark record files, the encoding store and the
//! output directory, and holds the trainer's options under `"training"` (every field optional;
//! missing ones take LLark's recipe, see `crates/llark-train/README.md`):
//!
//! ```json
//! {
//!   "base_llama": "models/Llama-2-7b-chat-hf",
//!   "mm_projector_type": "linear",
//!   "tokenizer": "models/Llama-2-7b-chat-hf/tokenizer.json",
//!   "records": ["data/musiccaps-captioning.jsonl", "data/fma-mir.jsonl"],
//!   "encodings": "data/encodings",
//!   "output": "runs/llark",
//!   "masking": "llark-compatible",
//!   "max_len": 2048,
//!   "placement_seed": 0,
//!   "resume": true,
//!   "training": {"policy": "lm-and-projector", "max_steps": 100000}
//! }
//! ```
//! With `"llark": "runs/stage1/final"` instead of `"base_llama"`, training starts from an LLark
//! directory. A run whose output directory holds a checkpoint continues from it when `resume` is
//! true (the default).

use std::path::PathBuf;

use burn::tensor::backend::Backend;
use clap::Parser;
use llark::backend::{backend_name, default_device, TrainBackend};
use llark::data::{EncodingStore, ExampleEncoder, LlarkTokenizer, MaskingPolicy, Truncation};
use llark::projector::ProjectorKind;
use llark::train::{count_params, load_llark_records, TrainConfig, TrainData, Trainer};
use llark::Llark;
use serde::Deserialize;

#[derive(Parser)]
#[command(about = "Train LLark (projector-only, LM + projector, or LM only)")]
struct Args {
    /// The run's JSON configuration.
    #[arg(long)]
    config: PathBuf,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RunConfig {
    /// A base Llama directory (Hugging Face layout); a new projector is initialised.
    #[serde(default)]
    base_llama: Option<PathBuf>,
    /// An LLark directory to start from instead.
    #[serde(default)]
    llark: Option<PathBuf>,
    /// Projector of a model built from a base Llama.
    #[serde(default)]
    mm_projector_type: ProjectorKind,
    /// `tokenizer.json` of the base model (LLark's special tokens are added).
    tokenizer: PathBuf,
    /// LLark record files (JSON Lines).
    records: Vec<PathBuf>,
    /// The encoding store directory.
    encodings: PathBuf,
    /// Output directory: checkpoints, metrics, curve, final model.
    output: PathBuf,
    /// `llark-compatible` (default) or `assistant-only`.
    #[serde(default)]
    masking: Option<String>,
    /// Longest sequence; longer examples are cut at the tail (default 2048).
    #[serde(default = "default_max_len")]
    max_len: usize,
    /// Seed of the audio-first/audio-last coin.
    #[serde(default)]
    placement_seed: u64,
    /// Continue from the newest checkpoint in `output` when there is one.
    #[serde(default = "yes")]
    resume: bool,
    /// The trainer's options.
    #[serde(default)]
    training: TrainConfig,
}

fn default_max_len() -> usize {
    2048
}

fn yes() -> bool {
    true
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let text = std::fs::read_to_string(&args.config)
        .map_err(|e| format!("{}: {e}", args.config.display()))?;
    let run: RunConfig =
        serde_json::from_str(&text).map_err(|e| format!("{}: {e}", args.config.display()))?;
    run.training.validate()?;
    let device = default_device();
    let tokenizer = LlarkTokenizer::from_file(&run.tokenizer)?;
    let store = EncodingStore::open(&run.encodings)?;
    let masking: MaskingPolicy = match &run.masking {
        Some(m) => m.parse()?,
        None => MaskingPolicy::LlarkCompatible,
    };
    let encoder = ExampleEncoder::new(&tokenizer)
        .with_masking(masking)
        .with_truncation(Truncation::CutTail(run.max_len));
    let mut examples = Vec::new();
    for path in &run.records {
        examples.extend(load_llark_records(
            path,
            &encoder,
            run.placement_seed,
            Some(&store),
        )?);
    }
    // A new projector's initial weights come from the backend's generator.
    TrainBackend::seed(&device, run.training.seed);
    let model: Llark<TrainBackend> = match (&run.base_llama, &run.llark) {
        (Some(base), None) => Llark::from_base_llama(
            base,
            &tokenizer,
            store.dim(),
            run.mm_projector_type,
            &device,
        )?,
        (None, Some(dir)) => Llark::from_pretrained(dir, &device)?,
        _ => return Err("set exactly one of `base_llama` and `llark`".into()),
    };
    eprintln!(
        "{} examples from {} files, backend {}, policy {:?}",
        examples.len(),
        run.records.len(),
        backend_name(),
        run.training.policy
    );
    let data = TrainData::new(examples, store, tokenizer.special_ids().pad)?;
    let mut trainer = if run.resume {
        Trainer::new_or_resume(model, data, run.training, &run.output)?
    } else {
        Trainer::new(model, data, run.training, &run.output)?
    };
    let (trained, frozen) = count_params(trainer.model());
    eprintln!(
        "{trained} trained and {frozen} frozen parameters; step {} of {}",
        trainer.step_count(),
        trainer.total_steps()
    );
    let summary = trainer.run()?;
    let last = summary.history.last().map_or(f64::NAN, |m| m.loss);
    eprintln!(
        "done: {} steps, last loss {last:.4}; model in {}",
        summary.steps,
        run.output.join("final").display()
    );
    Ok(())
}
