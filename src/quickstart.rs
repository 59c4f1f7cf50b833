//! The out-of-the-box demo: synthetic music with ground truth -> the lightweight encoder ->
//! instruction data -> a small LLark trained from scratch -> LLark's evaluation -> answers.
//!
//! Everything runs on a CPU in minutes and needs no download: the music is synthesised
//! ([`llark_audio::synth`]), the language model is a small Llama initialised at random with a
//! word-level vocabulary trained on the instruction text, and the audio encoder is
//! [`llark_encoder::lite::LiteEncoder`]. The held-out evaluation uses LLark's own answer parsing
//! and metrics ([`crate::eval`]).

use std::path::{Path, PathBuf};

use burn::module::AutodiffModule;
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::{Tensor, TensorData};
use indicatif::{ProgressBar, ProgressStyle};
use llark_audio::synth::{self, PieceMetadata, SynthConfig};
use llark_data::instruct::{ClipMetadata, OfflineGenerator};
use llark_data::template::{prompt_with_audio, HEADER};
use llark_data::{
    train_word_level, AudioPlacement, AudioPlacementSampler, ExampleEncoder, LlarkTokenizer,
    MaskingPolicy, TaskFamily, TokenizedExample, Turn,
};
use llark_encoder::lite::{LiteConfig, LiteEncoder};
use llark_encoder::AudioEncoder;
use llark_lm::{GenerationConfig, Llama, LlamaConfig};
use llark_projector::{Pooling, ProjectorKind};
use llark_train::{
    CheckpointOptions, InMemoryAudio, ScheduleKind, TrainConfig, TrainData, TrainPolicy, Trainer,
    Warmup,
};
use serde::{Deserialize, Serialize};

use crate::error::{LlarkError, Result};
use crate::eval::{
    judge_key_answer, musicnet_counts_with_vocabulary, parse_tempo, tempo_accuracy, Acc,
    InstrumentF1Mode, TempoFormula,
};
use crate::model::Llark;
use crate::pipeline::Pipeline;

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

/// One held-out clip: its pooled encodings and ground truth.
struct HeldOut {
    meta: PieceMetadata,
    encodings: Vec<f32>,
    frames: usize,
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
    let encoder = LiteEncoder::new(LiteConfig::default())?;
    let pooling = Pooling::new(encoder.frame_rate(), config.pool_fps);
    let width = encoder.width();
    let train_audio = encode_all::<B::InnerBackend>(
        &encoder,
        &pooling,
        &out.join("audio/train"),
        &train_meta,
        config.progress,
    )?;
    let held_out: Vec<HeldOut> = encode_all::<B::InnerBackend>(
        &encoder,
        &pooling,
        &out.join("audio/eval"),
        &eval_meta,
        config.progress,
    )?
    .into_iter()
    .zip(eval_meta)
    .map(|((encodings, frames), meta)| HeldOut {
        meta,
        encodings,
        frames,
    })
    .collect();

    stage(3, "generating instruction data");
    let conversations = instructions(&train_meta, config.seed)?;
    let tokenizer = train_tokenizer(&conversations)?;
    let encoder_for_examples =
        ExampleEncoder::new(&tokenizer).with_masking(MaskingPolicy::AssistantOnly);
    let mut examples: Vec<TokenizedExample> = Vec::with_capacity(conversations.len());
    let mut audio = InMemoryAudio::new(width);
    let by_id: std::collections::HashMap<&str, &(Vec<f32>, usize)> = train_meta
        .iter()
        .map(|m| m.id.as_str())
        .zip(&train_audio)
        .collect();
    let mut stored = std::collections::HashSet::new();
    for (clip, turns) in &conversations {
        let Some((values, frames)) = by_id.get(clip.as_str()) else {
            continue;
        };
        examples.push(encoder_for_examples.encode_turns(clip, turns, Some(*frames))?);
        if stored.insert(clip.as_str()) {
            audio
                .insert(clip.as_str(), values.clone())
                .map_err(train_err)?;
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
        eos_token_id: Some(llark_lm::TokenIds::One(tokenizer.special_ids().eos)),
        ..LlamaConfig::llama2_7b()
    };
    // Seed the backend's generator too, so the projector's initialisation repeats.
    B::seed(device, config.seed);
    let lm = Llama::<B>::random(lm_config, 0.02, config.seed, device)?;
    let model = Llark::from_llama(lm, &tokenizer, width, ProjectorKind::Linear)?;
    let data = TrainData::new(examples, audio, tokenizer.special_ids().pad).map_err(train_err)?;
    let train_config = TrainConfig {
        policy: TrainPolicy::LmAndProjector,
        optimizer: llark_train::AdamWOptions {
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
    let mut trainer =
        Trainer::new(model, data, train_config, out.join("train")).map_err(train_err)?;
    let summary = trainer.run().map_err(train_err)?;
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
    encoder.save_dir(model_dir.join("encoder"))?;
    println!("  {}", model_dir.display());

    stage(6, "evaluating on held-out clips");
    let pipeline = Pipeline::new(model, tokenizer)?
        .with_generation(GenerationConfig::greedy(24))
        .with_placement(AudioPlacement::Last);
    let report = evaluate(&pipeline, &held_out, config.progress)?;
    let json =
        serde_json::to_string_pretty(&report).map_err(|e| LlarkError::Input(e.to_string()))?;
    write_file(&out.join("eval.json"), &json)?;
    print_table(&report);

    stage(7, "asking about a held-out clip");
    if let Some(clip) = held_out.first() {
        let audio = pipeline.encodings(clip.encodings.clone(), [clip.frames, width])?;
        for question in [TEMPO_QUESTION, KEY_QUESTION, INSTRUMENT_QUESTION] {
            let answer = pipeline.ask(&audio, question, None)?;
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

fn train_err(e: llark_train::TrainError) -> LlarkError {
    LlarkError::Input(format!("training: {e}"))
}

fn create_dir(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|source| LlarkError::Io {
        path: dir.to_path_buf(),
        source,
    })
}

fn write_file(path: &Path, text: &str) -> Result<()> {
    std::fs::write(path, text).map_err(|source| LlarkError::Io {
        path: path.to_path_buf(),
        source,
    })
}

fn bar(total: usize, visible: bool, what: &str) -> ProgressBar {
    if !visible {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(total as u64);
    if let Ok(style) = ProgressStyle::with_template("  {msg:12} [{bar:30}] {pos}/{len} {eta}") {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_message(what.to_string());
    bar
}

fn synthesise(
    dir: &Path,
    count: usize,
    seed: u64,
    config: &SynthConfig,
    progress: bool,
) -> Result<Vec<PieceMetadata>> {
    let bar = bar(count, progress, "synthesis");
    let meta = synth::write_dataset(dir, count, seed, config, |done, _, _| {
        bar.set_position(done as u64)
    })?;
    bar.finish_and_clear();
    Ok(meta)
}

/// Encodes and pools every clip: `(values, frames)` per clip, in order.
fn encode_all<B: Backend>(
    encoder: &LiteEncoder,
    pooling: &Pooling,
    dir: &Path,
    clips: &[PieceMetadata],
    progress: bool,
) -> Result<Vec<(Vec<f32>, usize)>> {
    let bar = bar(clips.len(), progress, "encoding");
    let device = Default::default();
    let mut out = Vec::with_capacity(clips.len());
    for meta in clips {
        let audio = llark_audio::load_resampled(dir.join(&meta.audio), encoder.sample_rate())?;
        let frames = encoder.encode(audio.samples(), audio.sample_rate())?;
        let tensor = Tensor::<B, 2>::from_data(
            TensorData::new(frames.data, [frames.frames, frames.width]),
            &device,
        );
        let pooled = pooling.apply(tensor)?;
        let rows = pooled.dims()[0];
        let values = pooled
            .into_data()
            .to_vec::<f32>()
            .map_err(|e| LlarkError::Input(format!("{}: {e:?}", meta.id)))?;
        out.push((values, rows));
        bar.inc(1);
    }
    bar.finish_and_clear();
    Ok(out)
}

/// Facts the evaluation asks about; the demo trains on the MIR pairs that quote them.
const TRAINED_FACTS: [&str; 4] = ["tempo", "key", "instrument", "instruments"];

/// Phrasings drawn per clip: each generator seed picks other question and answer wordings.
const PHRASINGS_PER_CLIP: u64 = 2;

/// Question/answer conversations (one pair each) from the offline generator, per clip id: the
/// music-understanding pairs about tempo, key and instruments.
fn instructions(clips: &[PieceMetadata], seed: u64) -> Result<Vec<(String, Vec<Turn>)>> {
    let mut placement = AudioPlacementSampler::new(seed);
    let mut out = Vec::new();
    for piece in clips {
        let meta = clip_metadata(piece);
        let mut seen = std::collections::HashSet::new();
        for phrasing in 0..PHRASINGS_PER_CLIP {
            let generator = OfflineGenerator::new(seed.wrapping_add(phrasing));
            for generated in generator.pairs(&meta, TaskFamily::Mir) {
                let relevant = generated.facts.iter().any(|f| TRAINED_FACTS.contains(f));
                let pair = generated.pair;
                if relevant && seen.insert((pair.question.clone(), pair.answer.clone())) {
                    let human = prompt_with_audio(&pair.question, placement.sample());
                    out.push((
                        piece.id.clone(),
                        vec![Turn::human(human), Turn::gpt(pair.answer)],
                    ));
                }
            }
        }
    }
    Ok(out)
}

/// The instruction generator's view of a synthesised piece: the same facts, field by field
/// (the chords and beats are one type on both sides); the synthesiser's own fields (sample
/// rate, seed, tonic, mode, progression) are kept as extra fields.
fn clip_metadata(piece: &PieceMetadata) -> ClipMetadata {
    let mut meta = ClipMetadata::new(piece.id.clone());
    meta.audio = Some(piece.audio.clone());
    meta.duration = Some(piece.duration);
    meta.tempo = Some(piece.tempo_bpm);
    meta.key = Some(piece.key.clone());
    meta.time_signature = Some(piece.time_signature.clone());
    meta.downbeats = piece.downbeats.clone();
    meta.chords = piece.chords.clone();
    meta.instruments = piece
        .instruments
        .iter()
        .map(|t| t.name().to_owned())
        .collect();
    meta.genres = piece.genre.iter().map(|g| g.name().to_owned()).collect();
    meta.tags = piece.tags.clone();
    meta.caption = Some(piece.caption.clone());
    let extra: [(&str, serde_json::Value); 5] = [
        ("sample_rate", piece.sample_rate.into()),
        ("seed", piece.seed.into()),
        ("tonic", piece.tonic.clone().into()),
        ("mode", piece.mode.as_str().into()),
        ("progression", piece.progression.clone().into()),
    ];
    for (name, value) in extra {
        meta.extra.insert(name.to_owned(), value);
    }
    meta
}

fn train_tokenizer(conversations: &[(String, Vec<Turn>)]) -> Result<LlarkTokenizer> {
    let texts = std::iter::once(HEADER.to_string())
        .chain(["### Human:".to_string(), "### Assistant:".to_string()])
        .chain(["The tempo is about BPM.".to_string()])
        .chain(
            conversations
                .iter()
                .flat_map(|(_, turns)| turns.iter().map(|t| t.value.replace("<audio>", ""))),
        )
        .collect::<Vec<_>>();
    Ok(train_word_level(texts.into_iter(), 1, 100_000)?)
}

/// Asks the three evaluation questions about every held-out clip and scores the answers.
fn evaluate<B: Backend>(
    pipeline: &Pipeline<B>,
    clips: &[HeldOut],
    progress: bool,
) -> Result<QuickstartReport> {
    let bar = bar(clips.len(), progress, "evaluation");
    let width = pipeline.model().config().mm_hidden_size;
    let (mut acc1, mut acc2, mut key) = (0usize, 0usize, 0.0f64);
    let mut instrument_rows: Vec<(String, Vec<&'static str>)> = Vec::new();
    let eval_err = |e: crate::eval::EvalError| LlarkError::Input(e.to_string());
    for clip in clips {
        let audio = pipeline.encodings(clip.encodings.clone(), [clip.frames, width])?;
        let tempo_answer = pipeline.ask(&audio, TEMPO_QUESTION, None)?;
        let estimate = parse_tempo(&tempo_answer);
        let reference = clip.meta.tempo_bpm;
        acc1 += tempo_accuracy(reference, estimate, Acc::Acc1, TempoFormula::MirEval)
            .map_err(eval_err)? as usize;
        acc2 += tempo_accuracy(reference, estimate, Acc::Acc2, TempoFormula::MirEval)
            .map_err(eval_err)? as usize;
        let key_answer = pipeline.ask(&audio, KEY_QUESTION, None)?;
        key += judge_key_answer(&clip.meta.key, &key_answer)
            .map_err(eval_err)?
            .score;
        let instrument_answer = pipeline.ask(&audio, INSTRUMENT_QUESTION, None)?;
        let truth = clip.meta.instruments.iter().map(|t| t.name()).collect();
        instrument_rows.push((instrument_answer, truth));
        bar.inc(1);
    }
    bar.finish_and_clear();
    let n = clips.len().max(1) as f64;
    // Pooled F1 over the synthesiser's instrument names, the answer lower-cased.
    let vocabulary = synth::Timbre::ALL
        .iter()
        .map(|t| t.name().to_owned())
        .collect();
    let rows: Vec<(&str, &[&str])> = instrument_rows
        .iter()
        .map(|(answer, truth)| (answer.as_str(), truth.as_slice()))
        .collect();
    let f1 = musicnet_counts_with_vocabulary(&rows, &vocabulary, InstrumentF1Mode::Corrected)
        .f1()
        .unwrap_or(0.0);
    Ok(QuickstartReport {
        n_clips: clips.len(),
        tempo_acc1: acc1 as f64 / n,
        tempo_acc2: acc2 as f64 / n,
        key_mirex: key / n,
        instrument_f1: f1,
    })
}

fn print_table(report: &QuickstartReport) {
    println!("  | task | metric | value |");
    println!("  |---|---|---|");
    println!("  | tempo | ACC1 | {:.3} |", report.tempo_acc1);
    println!("  | tempo | ACC2 | {:.3} |", report.tempo_acc2);
    println!("  | key | MIREX weighted score | {:.3} |", report.key_mirex);
    println!("  | instruments | F1 | {:.3} |", report.instrument_f1);
    println!("  ({} held-out clips)", report.n_clips);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clip_metadata_reads_the_piece_as_its_json_would() {
        let config = SynthConfig {
            duration: 3.0,
            ..SynthConfig::default()
        };
        for seed in 0..8 {
            let piece = synth::describe(seed, &config).unwrap();
            let json = serde_json::to_string(&piece).unwrap();
            let from_json: ClipMetadata = serde_json::from_str(&json).unwrap();
            assert_eq!(clip_metadata(&piece), from_json, "seed {seed}");
        }
    }
}
