//! The out-of-the-box demo: composed music and real compositions rendered through a SoundFont
//! -> the lightweight encoder -> instruction data -> a small LLark trained from scratch ->
//! LLark's evaluation on held-out composed clips and on held-out real compositions rendered with
//! a SoundFont never trained on -> answers.
//!
//! Everything runs on a CPU in minutes and needs no download: the music is composed
//! ([`llark::midi::compose`]) or read from the shipped corpus of public-domain compositions
//! ([`llark::midi::Corpus`]), rendered with the shipped SoundFonts, the language model is a small
//! Llama initialised at random with a word-level vocabulary trained on the instruction text, and
//! the audio encoder is [`llark_encoder::lite::LiteEncoder`]. The evaluation uses LLark's own
//! answer parsing and metrics ([`llark::eval`]).

mod data;
mod evaluate;
mod music;

use std::path::{Path, PathBuf};

use burn::module::AutodiffModule;
use burn::tensor::backend::AutodiffBackend;
use llark::data::{AudioPlacement, ExampleEncoder, MaskingPolicy, TokenizedExample};
use llark::encoder::lite::{LiteConfig, LiteEncoder};
use llark::encoder::Frames;
use llark::lm::{GenerationConfig, Llama, LlamaConfig};
use llark::midi::{shipped, shipped_corpus, Corpus, HELD_OUT_SOUNDFONT, TRAINING_SOUNDFONT};
use llark::projector::ProjectorKind;
use llark::train::{
    CheckpointOptions, InMemoryAudio, ScheduleKind, TrainConfig, TrainData, TrainPolicy, Trainer,
    Warmup,
};
use llark::{AudioFrontEnd, Llark, LlarkError, Pipeline};
use serde::{Deserialize, Serialize};

use crate::error::{JobError, Result};
use crate::progress::bar;
use data::{encode, instructions, train_tokenizer, Encoded};
use evaluate::{evaluate, print_table, SetReport};
use music::{composed, from_corpus, load_fonts, write_clip, Renderer, Variation};
pub use music::{llark_window_seconds, Truth, CLIP_SECONDS};

/// The question asked about tempo in the evaluation (one of the training phrasings).
pub const TEMPO_QUESTION: &str = "What is the tempo of this clip in BPM?";
/// The question asked about the key.
pub const KEY_QUESTION: &str = "What key is this piece in?";
/// The question asked about instruments.
pub const INSTRUMENT_QUESTION: &str = "Which instruments are playing in this clip?";
/// The caption request (one of the training phrasings).
pub const DESCRIBE_QUESTION: &str = "Describe what you hear in this recording.";

/// Sizes and settings of a quickstart run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QuickstartConfig {
    /// Output directory (audio, encodings, training run, model, `eval.json`).
    pub out: PathBuf,
    /// Composed clips to train on.
    pub train_clips: usize,
    /// Clips drawn from each training piece of the corpus (transposed, at other tempi).
    pub corpus_variants: usize,
    /// Held-out composed clips to evaluate on.
    pub eval_clips: usize,
    /// Clips drawn from each held-out piece of the corpus for the real-music evaluation.
    pub real_variants: usize,
    /// Length of each training clip in seconds; `None`: drawn from [`CLIP_SECONDS`], a quarter
    /// of them LLark's 23.78 s window. Evaluation clips are LLark's window (or this length).
    pub clip_seconds: Option<f64>,
    /// SoundFonts training music is rendered with (one drawn per clip).
    pub soundfonts: Vec<PathBuf>,
    /// The SoundFont the real-music evaluation is rendered with: never one of `soundfonts`.
    pub held_out_soundfont: PathBuf,
    /// The corpus of compositions (`None`: composed music only).
    pub corpus: Option<PathBuf>,
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
            train_clips: 640,
            corpus_variants: 3,
            eval_clips: 48,
            real_variants: 2,
            clip_seconds: None,
            soundfonts: vec![shipped(TRAINING_SOUNDFONT)],
            held_out_soundfont: shipped(HELD_OUT_SOUNDFONT),
            corpus: Some(shipped_corpus()),
            seed: 7,
            pool_fps: 1,
            hidden_size: 128,
            layers: 2,
            heads: 4,
            steps: 3500,
            batch_size: 16,
            learning_rate: 2e-3,
            progress: true,
        }
    }
}

/// The held-out results, as written to `eval.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QuickstartReport {
    /// Held-out composed clips, rendered with the training SoundFonts.
    pub composed: SetReport,
    /// Held-out real compositions rendered with the held-out SoundFont, from their opening
    /// (absent without a corpus).
    pub real: Option<SetReport>,
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
    if config.soundfonts.is_empty() {
        return Err(JobError::Config(
            "the quickstart needs at least one training SoundFont".into(),
        ));
    }
    if config
        .soundfonts
        .iter()
        .any(|f| llark_tensors::same_file(f, &config.held_out_soundfont))
    {
        return Err(JobError::Config(format!(
            "{} is both a training SoundFont and the held-out one: the real-music check would not be held out",
            config.held_out_soundfont.display()
        )));
    }
    let fonts = load_fonts(&config.soundfonts)?;
    let held_out_font = load_fonts(std::slice::from_ref(&config.held_out_soundfont))?;
    let corpus = match &config.corpus {
        Some(dir) => Some(Corpus::open(dir).map_err(|e| JobError::Midi(Box::new(e)))?),
        None => None,
    };
    let encoder_config = LiteConfig::default();
    let front_end = AudioFrontEnd::<B::InnerBackend>::new(
        Box::new(LiteEncoder::new(encoder_config.clone()).map_err(LlarkError::from)?),
        Some(config.pool_fps),
        device,
    )?;
    let width = front_end.encoder().width();
    // The same encoder on the rendering threads: each clip is encoded where it is rendered and
    // only pooled here, as the front end would (the rendered audio is at the encoder's rate).
    let host_encoder = LiteEncoder::new(encoder_config.clone()).map_err(LlarkError::from)?;

    stage(1, "rendering and encoding training music");
    let training = Variation {
        fixed_seconds: config.clip_seconds,
        augment: true,
    };
    let train_pieces = corpus.as_ref().map_or(0, |c| c.split(false).count());
    let total = config.train_clips + train_pieces * config.corpus_variants;
    let progress = bar(total, config.progress, "training music");
    let mut train_set: Vec<Encoded<B::InnerBackend>> = Vec::with_capacity(total);
    let mut keep = |clip| {
        train_set.push(encode(&front_end, clip)?);
        progress.inc(1);
        Ok(())
    };
    let renderer = Renderer {
        fonts: &fonts,
        variation: training,
        encoder: Some(&host_encoder),
    };
    composed(config.train_clips, config.seed, &renderer, &mut keep)?;
    if let Some(corpus) = &corpus {
        from_corpus(
            corpus,
            false,
            config.corpus_variants,
            config.seed,
            &renderer,
            &mut keep,
        )?;
    }
    progress.finish_and_clear();
    let train_seconds: f64 = train_set.iter().map(|c| c.truth.duration).sum();
    println!(
        "  {} clips, {:.1} minutes of music",
        train_set.len(),
        train_seconds / 60.0
    );

    stage(2, "rendering and encoding held-out music");
    let evaluation = Variation {
        fixed_seconds: Some(config.clip_seconds.unwrap_or_else(llark_window_seconds)),
        augment: false,
    };
    let composed_dir = out.join("audio/eval");
    let mut composed_set = Vec::new();
    let renderer = Renderer {
        fonts: &fonts,
        variation: evaluation,
        encoder: Some(&host_encoder),
    };
    composed(
        config.eval_clips,
        config.seed.wrapping_add(1_000_003),
        &renderer,
        written_and_encoded(&composed_dir, &front_end, &mut composed_set),
    )?;
    let real_dir = out.join("audio/real");
    let mut real_set = Vec::new();
    if let Some(corpus) = &corpus {
        from_corpus(
            corpus,
            true,
            config.real_variants,
            config.seed.wrapping_add(2_000_003),
            &Renderer {
                fonts: &held_out_font,
                ..renderer
            },
            written_and_encoded(&real_dir, &front_end, &mut real_set),
        )?;
        write_clip_list(
            &real_dir,
            real_set.iter().map(|c| (c.id.as_str(), &c.truth)),
        )?;
    }
    println!(
        "  {} composed clips ({}), {} real-composition clips ({})",
        composed_set.len(),
        composed_dir.display(),
        real_set.len(),
        real_dir.display()
    );

    stage(3, "generating instruction data");
    let metas: Vec<_> = train_set.iter().map(|c| &c.meta).collect();
    let conversations = instructions(&metas, config.seed)?;
    let tokenizer = train_tokenizer(&conversations)?;
    let encoder_for_examples =
        ExampleEncoder::new(&tokenizer).with_masking(MaskingPolicy::AssistantOnly);
    let mut examples: Vec<TokenizedExample> = Vec::with_capacity(conversations.len());
    let mut audio = InMemoryAudio::new(width);
    let frames: Vec<Frames> = train_set
        .iter()
        .map(|c| Frames::from_tensor(c.encodings.clone()).map_err(LlarkError::from))
        .collect::<std::result::Result<_, _>>()?;
    let by_id: std::collections::HashMap<&str, &Frames> = train_set
        .iter()
        .map(|c| c.id.as_str())
        .zip(&frames)
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
        train_set.len(),
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
    model
        .set_max_audio_seconds(Some(config.clip_seconds.unwrap_or(CLIP_SECONDS.1)))
        .map_err(|e| JobError::Config(e.to_string()))?;

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
        .with_generation(GenerationConfig::greedy(48))
        .with_placement(AudioPlacement::Last);
    let answers_path = out.join("answers.jsonl");
    let mut answers = String::new();
    let composed_report = evaluate(
        &pipeline,
        "composed",
        &composed_set,
        config.progress,
        &mut answers,
    )?;
    let real_report = if real_set.is_empty() {
        None
    } else {
        Some(evaluate(
            &pipeline,
            "real",
            &real_set,
            config.progress,
            &mut answers,
        )?)
    };
    write_file(&answers_path, &answers)?;
    let report = QuickstartReport {
        composed: composed_report,
        real: real_report,
    };
    let eval_path = out.join("eval.json");
    let json = serde_json::to_string_pretty(&report).map_err(|source| JobError::Json {
        path: eval_path.clone(),
        source,
    })?;
    write_file(&eval_path, &json)?;
    print_table(&report.composed);
    if let Some(real) = &report.real {
        print_table(real);
    }
    println!("  per-clip answers: {}", answers_path.display());

    stage(7, "asking about held-out clips");
    let firsts = [
        composed_set.first().map(|c| (c, &composed_dir)),
        real_set.first().map(|c| (c, &real_dir)),
    ];
    for (clip, dir) in firsts.into_iter().flatten() {
        println!("  {}:", clip.id);
        for question in [
            TEMPO_QUESTION,
            KEY_QUESTION,
            INSTRUMENT_QUESTION,
            DESCRIBE_QUESTION,
        ] {
            let answer = pipeline.ask(&clip.encodings, question, None)?;
            println!("  Q: {question}\n  A: {answer}");
        }
        let t = &clip.truth;
        println!(
            "  (truth: {} BPM, {}, {}, {})",
            t.tempo_bpm,
            t.key,
            t.time_signature,
            t.instruments.join(", ")
        );
        println!(
            "  try: cargo run --release --example ask -- --model {} --audio {} \"{KEY_QUESTION}\"",
            model_dir.display(),
            dir.join(format!("{}.wav", clip.id)).display()
        );
    }
    Ok(report)
}

/// A clip sink for held-out sets: each clip's WAV goes to `dir` (for `ask` and the baselines)
/// and its encodings into `set`.
fn written_and_encoded<'a, B: burn::tensor::backend::Backend>(
    dir: &'a Path,
    front_end: &'a AudioFrontEnd<B>,
    set: &'a mut Vec<Encoded<B>>,
) -> impl FnMut(music::Clip) -> Result<()> + 'a {
    move |clip| {
        write_clip(dir, &clip)?;
        set.push(encode(front_end, clip)?);
        Ok(())
    }
}

/// Writes `dir/clips.jsonl`: each clip's audio file and truth, the input of the baseline
/// scripts in `tools/baselines/`.
fn write_clip_list<'a>(
    dir: &Path,
    clips: impl Iterator<Item = (&'a str, &'a Truth)>,
) -> Result<()> {
    let mut text = String::new();
    for (id, truth) in clips {
        let line = serde_json::json!({
            "id": id,
            "audio": format!("{id}.wav"),
            "key": truth.key,
            "tempo_bpm": truth.tempo_bpm,
            "time_signature": truth.time_signature,
            "instruments": truth.instruments,
            "source": truth.source,
            "soundfont": truth.soundfont,
        });
        text.push_str(&line.to_string());
        text.push('\n');
    }
    write_file(&dir.join("clips.jsonl"), &text)
}

/// Writes a development set into `dir` (WAVs and `clips.jsonl`, as the real-music check's
/// `audio/real/`), for designing and checking encoders without looking at held-out music:
/// `config.real_variants` LLark-window clips of every *training* piece of the corpus and
/// `config.eval_clips` composed clips from seeds the quickstart never uses, all rendered with
/// the training SoundFonts, with the training music's augmentation when `augment` (else
/// unaugmented, as the held-out checks). Returns the number of clips written.
pub fn write_development_set(
    config: &QuickstartConfig,
    dir: &Path,
    augment: bool,
) -> Result<usize> {
    create_dir(dir)?;
    let fonts = load_fonts(&config.soundfonts)?;
    let variation = Variation {
        fixed_seconds: Some(config.clip_seconds.unwrap_or_else(llark_window_seconds)),
        augment,
    };
    let mut truths: Vec<(String, Truth)> = Vec::new();
    let mut keep = |clip: music::Clip| {
        write_clip(dir, &clip)?;
        truths.push((clip.id, clip.truth));
        Ok(())
    };
    let renderer = Renderer {
        fonts: &fonts,
        variation,
        encoder: None,
    };
    composed(
        config.eval_clips,
        config.seed.wrapping_add(3_000_003),
        &renderer,
        &mut keep,
    )?;
    if let Some(corpus_dir) = &config.corpus {
        let corpus = Corpus::open(corpus_dir).map_err(|e| JobError::Midi(Box::new(e)))?;
        from_corpus(
            &corpus,
            false,
            config.real_variants,
            config.seed.wrapping_add(4_000_003),
            &renderer,
            &mut keep,
        )?;
    }
    write_clip_list(dir, truths.iter().map(|(id, t)| (id.as_str(), t)))?;
    Ok(truths.len())
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
