//! The out-of-the-box demo: synthetic music with ground truth -> the lightweight encoder ->
//! instruction data -> a small LLark trained from scratch -> LLark's evaluation -> answers.
//!
//! Everything runs on a CPU in minutes and needs no download: the music is synthesised
//! ([`llark_audio::synth`]), the language model is a small Llama initialised at random with a
//! word-level vocabulary trained on the instruction text, and the audio encoder is
//! [`llark_encoder::lite::LiteEncoder`]. The held-out evaluation uses LLark's own answer parsing
//! and metrics ([`llark::eval`]).

mod data;
mod evaluate;

use std::path::{Path, PathBuf};

use burn::module::AutodiffModule;
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::Tensor;
use llark::audio::synth::{PieceMetadata, SynthConfig};
use llark::data::{AudioPlacement, ExampleEncoder, MaskingPolicy, TokenizedExample};
use llark::encoder::lite::{LiteConfig, LiteEncoder};
use llark::encoder::Frames;
use llark::lm::{GenerationConfig, Llama, LlamaConfig};
use llark::projector::ProjectorKind;
use llark::train::{
    CheckpointOptions, InMemoryAudio, ScheduleKind, TrainConfig, TrainData, TrainPolicy, Trainer,
    Warmup,
};
use llark::{AudioFrontEnd, Llark, LlarkError, Pipeline};
use serde::{Deserialize, Serialize};

use crate::error::{JobError, Result};
use crate::progress::bar;
use data::{encode_all, instructions, synthesise, train_tokenizer};
use evaluate::{evaluate, print_table};

/// The question asked about tempo in the evaluation (one of the training phrasings).
pub const TEMPO_QUESTION: &str = "What is the tempo of this clip in BPM?";
/// The question asked about the key.
pub const KEY_QUESTION: &str = "What key is this piece in?";
/// The question asked about instruments.
pub const INSTRUMENT_QUESTION: &str = "Which instruments are playing in this clip?";

/// Sizes and settings of a quickstart run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QuickstartConfig {
    /// Output directory (audio, encodings, training run, model, `eval.json`).
    pub out: PathBuf,
    /// Synthetic clips to train on.
    pub train_clips: usize,
    /// Held-out synthetic clips to evaluate on.
    pub eval_clips: usize,
    /// Length of each clip in seconds.
    pub clip_seconds: f64,
    /// Seed of everything (synthesis, questions, initialisation, shuffling).
    pub seed: u64,
    /// Pooled audio frames per second fed to the model.
    pub pool_fps: u32,
    /// Width of the language model.
    pub hidden_size: usize,
    /// Decoder layers.
    pub layers: usize,
    /// Attention heads.
    pub heads: usize,
    /// Optimizer steps.
    pub steps: usize,
    /// Examples per step.
    pub batch_size: usize,
    /// Peak learning rate (cosine schedule with warmup).
    pub learning_rate: f64,
    /// Draw progress bars.
    pub progress: bool,
}

impl Default for QuickstartConfig {
    fn default() -> Self {
        Self {
            out: PathBuf::from("quickstart-out"),
            train_clips: 800,
            eval_clips: 48,
            clip_seconds: 8.0,
            seed: 7,
            pool_fps: 1,
            hidden_size: 128,
            layers: 2,
            heads: 4,
            steps: 3600,
            batch_size: 16,
            learning_rate: 2e-3,
            progress: true,
        }
    }
}

/// The held-out results, as written to `eval.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QuickstartReport {
    /// Held-out clips evaluated.
    pub n_clips: usize,
    /// Tempo ACC1 (within 4%), mir_eval's inclusive form.
    pub tempo_acc1: f64,
    /// Tempo ACC2 (within 4% of the tempo or of 2x, 1/2x, 3x, 1/3x).
    pub tempo_acc2: f64,
    /// Mean MIREX weighted key score.
    pub key_mirex: f64,
    /// Micro-averaged instrument F1 over the synthesiser's instrument names.
    pub instrument_f1: f64,
}

/// One held-out clip: its pooled encodings (on the device) and ground truth.
struct HeldOut<B: Backend> {
    meta: PieceMetadata,
    encodings: Tensor<B, 2>,
}

/// Runs the whole demo; returns the held-out report (also written to `out/eval.json`). The
/// trained model is saved in `out/model` (with `tokenizer.json` and the encoder in
/// `out/model/encoder`), ready for the `ask` example.
pub fn run<B: AutodiffBackend>(
    config: &QuickstartConfig,
    device: &B::Device,
) -> Result<QuickstartReport> {
    let out = &config.out;
    create_dir(out)?;
    let synth_config = SynthConfig {
        duration: config.clip_seconds,
        ..SynthConfig::default()
    };

    stage(1, "synthesising music");
    let train_meta = synthesise(
        &out.join("audio/train"),
        config.train_clips,
        config.seed,
        &synth_config,
        config.progress,
    )?;
    let eval_meta = synthesise(
        &out.join("audio/eval"),
        config.eval_clips,
        config.seed.wrapping_add(1_000_003),
        &synth_config,
        config.progress,
    )?;

    stage(2, "encoding with the lightweight encoder");
    let encoder_config = LiteConfig::default();
    let front_end = AudioFrontEnd::<B::InnerBackend>::new(
        Box::new(LiteEncoder::new(encoder_config.clone()).map_err(LlarkError::from)?),
        Some(config.pool_fps),
        device,
    )?;
    let width = front_end.encoder().width();
    let train_audio = encode_all(
        &front_end,
        &out.join("audio/train"),
        &train_meta,
        config.progress,
    )?
    .into_iter()
    .map(|tensor| Frames::from_tensor(tensor).map_err(LlarkError::from))
    .collect::<std::result::Result<Vec<_>, _>>()?;
    let held_out: Vec<HeldOut<B::InnerBackend>> = encode_all(
        &front_end,
        &out.join("audio/eval"),
        &eval_meta,
        config.progress,
    )?
    .into_iter()
    .zip(eval_meta)
    .map(|(encodings, meta)| HeldOut { meta, encodings })
    .collect();

    stage(3, "generating instruction data");
    let conversations = instructions(&train_meta, config.seed)?;
    let tokenizer = train_tokenizer(&conversations)?;
    let encoder_for_examples =
        ExampleEncoder::new(&tokenizer).with_masking(MaskingPolicy::AssistantOnly);
    let mut examples: Vec<TokenizedExample> = Vec::with_capacity(conversations.len());
    let mut audio = InMemoryAudio::new(width);
    let by_id: std::collections::HashMap<&str, &Frames> = train_meta
        .iter()
        .map(|m| m.id.as_str())
        .zip(&train_audio)
        .collect();
    let mut stored = std::collections::HashSet::new();
    for (clip, turns) in &conversations {
        let Some(frames) = by_id.get(clip.as_str()) else {
            continue;
        };
        examples.push(
            encoder_for_examples
                .encode_turns(clip, turns, Some(frames.frames))
                .map_err(LlarkError::from)?,
        );
        if stored.insert(clip.as_str()) {
            audio.insert(clip.as_str(), frames.data.clone())?;
        }
    }
    println!(
        "  {} question/answer examples over {} clips, vocabulary of {} tokens",
        examples.len(),
        train_meta.len(),
        tokenizer.vocab_size()
    );

    stage(4, "training a small LLark from scratch");
    let lm_config = LlamaConfig {
        vocab_size: tokenizer.vocab_size(),
        hidden_size: config.hidden_size,
        intermediate_size: config.hidden_size * 2,
        num_hidden_layers: config.layers,
        num_attention_heads: config.heads,
        num_key_value_heads: Some(config.heads),
        max_position_embeddings: 512,
        rms_norm_eps: 1e-5,
        bos_token_id: Some(tokenizer.special_ids().bos),
        eos_token_id: Some(llark::lm::TokenIds::One(tokenizer.special_ids().eos)),
        ..LlamaConfig::llama2_7b()
    };
    // Seed the backend's generator too, so the projector's initialisation repeats.
    B::seed(device, config.seed);
    let lm = Llama::<B>::random(lm_config, 0.02, config.seed, device).map_err(LlarkError::from)?;
    let model = Llark::from_llama(lm, &tokenizer, width, ProjectorKind::Linear)?;
    let data = TrainData::new(examples, audio, tokenizer.special_ids().pad)?;
    let train_config = TrainConfig {
        policy: TrainPolicy::LmAndProjector,
        optimizer: llark::train::AdamWOptions {
            learning_rate: config.learning_rate,
            weight_decay: 0.0,
            ..Default::default()
        },
        schedule: ScheduleKind::Cosine,
        warmup: Warmup {
            ratio: 0.05,
            steps: 0,
        },
        micro_batch_size: config.batch_size,
        grad_accum_steps: 1,
        max_steps: Some(config.steps),
        epochs: None,
        seed: config.seed,
        task_mix: None,
        checkpoint: CheckpointOptions {
            every: 0,
            keep_last: 1,
        },
        progress_bar: config.progress,
        ..TrainConfig::llark()
    };
    let mut trainer = Trainer::new(model, data, train_config, out.join("train"))?;
    let progress = bar(config.steps, config.progress, "training");
    let summary = trainer
        .run_observed(&mut |m: &llark::train::StepMetrics| progress.set_position(m.step as u64))?;
    progress.finish_and_clear();
    if let Some(last) = summary.history.last() {
        println!(
            "  final training loss {:.4} after {} steps",
            last.loss, summary.steps
        );
    }
    let mut model = trainer.into_model().valid();
    model.set_audio_pool_fps(Some(config.pool_fps));

    stage(5, "saving the model");
    let model_dir = out.join("model");
    model.save(&model_dir)?;
    tokenizer
        .save(model_dir.join("tokenizer.json"))
        .map_err(LlarkError::Tokenizer)?;
    LiteEncoder::new(encoder_config)
        .and_then(|encoder| encoder.save_dir(model_dir.join("encoder")))
        .map_err(LlarkError::from)?;
    println!("  {}", model_dir.display());

    stage(6, "evaluating on held-out clips");
    let pipeline = Pipeline::new(model, tokenizer)?
        .with_generation(GenerationConfig::greedy(24))
        .with_placement(AudioPlacement::Last);
    let report = evaluate(&pipeline, &held_out, config.progress)?;
    let eval_path = out.join("eval.json");
    let json = serde_json::to_string_pretty(&report).map_err(|source| JobError::Json {
        path: eval_path.clone(),
        source,
    })?;
    write_file(&eval_path, &json)?;
    print_table(&report);

    stage(7, "asking about a held-out clip");
    if let Some(clip) = held_out.first() {
        for question in [TEMPO_QUESTION, KEY_QUESTION, INSTRUMENT_QUESTION] {
            let answer = pipeline.ask(&clip.encodings, question, None)?;
            println!("  Q: {question}\n  A: {answer}");
        }
        println!(
            "  (truth: {} BPM, {}, {})",
            clip.meta.tempo_bpm,
            clip.meta.key,
            clip.meta
                .instruments
                .iter()
                .map(|i| i.name())
                .collect::<Vec<_>>()
                .join(", ")
        );
        println!(
            "  try: cargo run --release --example ask -- --model {} --audio {} \"{KEY_QUESTION}\"",
            model_dir.display(),
            out.join("audio/eval").join(&clip.meta.audio).display()
        );
    }
    Ok(report)
}

fn stage(n: usize, what: &str) {
    println!("[{n}/7] {what}");
}

fn create_dir(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(JobError::io(dir))
}

fn write_file(path: &Path, text: &str) -> Result<()> {
    Ok(llark_tensors::write_bytes_atomic(path, text.as_bytes())?)
}
