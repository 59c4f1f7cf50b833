//! Ask an LLark model about a music clip.
//!
//! ```sh
//! cargo run --release --example ask -- --model quickstart-out/model --audio song.wav "What is the tempo?"
//! cargo run --release --example ask -- --model DIR --encoding clip.npy --interactive
//! ```
//!
//! The model directory holds `config.json`, `model.safetensors` and `tokenizer.json` (or give
//! `--tokenizer`). Audio needs an encoder: `--encoder DIR`, or the `encoder/` folder inside the
//! model directory when there is one. `--encoding` takes stored, already pooled encodings instead.
//!
//! Audio of any length works: audio longer than the model was trained on (`max_audio_seconds`
//! in its `config.json`) is answered window by window and the answers combined (key by vote,
//! tempo by median, instruments by majority; see `llark::track`), each window's answer shown on
//! standard error.

mod common;

use std::io::{BufRead, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use burn::tensor::Tensor;
use clap::Parser;
use common::ModelArgs;
use llark::backend::{backend_name, default_device, DefaultBackend};
use llark::data::AudioPlacement;
use llark::encoders::{load_encoder, read_encoding_file};
use llark::lm::GenerationConfig;
use llark::LlarkError;

type B = DefaultBackend;

/// Ask an LLark model questions about a music clip.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Args {
    #[command(flatten)]
    model: ModelArgs,
    /// Audio file (WAV, MP3, FLAC, OGG) to ask about.
    #[arg(long, conflicts_with = "encoding")]
    audio: Option<PathBuf>,
    /// Stored pooled encodings of the clip (.npy or single-tensor .safetensors), instead of audio.
    #[arg(long)]
    encoding: Option<PathBuf>,
    /// tokenizer.json (default: MODEL/tokenizer.json).
    #[arg(long)]
    tokenizer: Option<PathBuf>,
    /// The question; omit it with --interactive.
    question: Option<String>,
    /// Chat about the clip: read questions from standard input, one per line.
    #[arg(long)]
    interactive: bool,
    /// Put the audio before the question instead of after it.
    #[arg(long)]
    audio_first: bool,
    /// Most tokens to generate per answer.
    #[arg(long, default_value_t = 256)]
    max_new_tokens: usize,
    /// Sample instead of greedy decoding.
    #[arg(long)]
    sample: bool,
    /// Sampling temperature.
    #[arg(long, default_value_t = 1.0)]
    temperature: f32,
    /// Keep the k most likely tokens when sampling.
    #[arg(long)]
    top_k: Option<usize>,
    /// Nucleus sampling threshold.
    #[arg(long)]
    top_p: Option<f32>,
    /// Repetition penalty (1.0: none).
    #[arg(long, default_value_t = 1.0)]
    repetition_penalty: f32,
    /// Seed of the sampler.
    #[arg(long, default_value_t = 0)]
    seed: u64,
}

fn main() -> ExitCode {
    run(Args::parse()).map_or_else(common::fail, |()| ExitCode::SUCCESS)
}

fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    if args.question.is_none() && !args.interactive {
        return Err("give a question, or --interactive to chat".into());
    }
    let device = default_device();
    let tokenizer_path = args
        .tokenizer
        .clone()
        .unwrap_or_else(|| args.model.dir.join("tokenizer.json"));
    eprintln!("loading {} on {}", args.model.dir.display(), backend_name());
    let generation = GenerationConfig {
        max_new_tokens: args.max_new_tokens,
        do_sample: args.sample,
        temperature: args.temperature,
        top_k: args.top_k,
        top_p: args.top_p,
        repetition_penalty: args.repetition_penalty,
        seed: args.seed,
        ..GenerationConfig::default()
    };
    let placement = if args.audio_first {
        AudioPlacement::First
    } else {
        AudioPlacement::Last
    };
    let mut pipeline = args
        .model
        .pipeline(&tokenizer_path, generation, &device)?
        .with_placement(placement);

    let audio: Tensor<B, 2> = match (&args.audio, &args.encoding) {
        (Some(path), None) => {
            let encoder_dir = args.model.encoder_dir();
            if !encoder_dir.join("config.json").exists() {
                return Err(format!(
                    "no audio encoder at {}: give --encoder DIR or --encoding FILE",
                    encoder_dir.display()
                )
                .into());
            }
            pipeline = pipeline.with_encoder(load_encoder::<B>(&encoder_dir, &device)?)?;
            let whole = llark::audio::load(path)?;
            if let Some(limit) = pipeline
                .max_audio_seconds()
                .filter(|limit| whole.duration_seconds() > *limit)
            {
                eprintln!(
                    "{} lasts {:.1} s, longer than the {limit:.1} s the model was trained on: answering window by window",
                    path.display(),
                    whole.duration_seconds()
                );
                return ask_track(&pipeline, &whole, &args);
            }
            eprintln!("encoding {}", path.display());
            pipeline.encode_audio(&whole)?
        }
        (None, Some(path)) => {
            let (values, shape) = read_encoding_file(path)?;
            pipeline.encodings(values, shape)?
        }
        _ => return Err("give exactly one of --audio FILE and --encoding FILE".into()),
    };

    let mut chat = pipeline.chat(audio);
    let answer_one = |chat: &mut llark::Chat<'_, B>, question: &str| -> Result<(), LlarkError> {
        let mut stdout = std::io::stdout();
        let mut sink = |piece: &str| {
            let _ = write!(stdout, "{piece}");
            let _ = stdout.flush();
        };
        chat.ask(question, Some(&mut sink))?;
        println!();
        Ok(())
    };
    if let Some(question) = &args.question {
        answer_one(&mut chat, question)?;
    }
    if args.interactive {
        let stdin = std::io::stdin();
        eprint!("> ");
        for line in stdin.lock().lines() {
            let line = line.map_err(|source| LlarkError::Io {
                path: "<stdin>".into(),
                source,
            })?;
            let question = line.trim();
            if !question.is_empty() {
                answer_one(&mut chat, question)?;
            }
            eprint!("> ");
        }
        eprintln!();
    }
    Ok(())
}

/// Answers the question (and, with `--interactive`, every line read) about a long recording,
/// window by window.
fn ask_track(
    pipeline: &llark::Pipeline<B>,
    audio: &llark::audio::Audio,
    args: &Args,
) -> Result<(), Box<dyn std::error::Error>> {
    let answer = |question: &str| -> Result<(), LlarkError> {
        let track = pipeline.ask_audio(audio, question)?;
        for w in &track.windows {
            eprintln!(
                "  [{:.1}-{:.1} s] {}",
                w.start_seconds,
                w.start_seconds + w.duration_seconds,
                w.answer
            );
        }
        eprintln!("  ({:?})", track.combination);
        println!("{}", track.text);
        Ok(())
    };
    if let Some(question) = &args.question {
        answer(question)?;
    }
    if args.interactive {
        for line in std::io::stdin().lock().lines() {
            let line = line.map_err(|source| LlarkError::Io {
                path: "<stdin>".into(),
                source,
            })?;
            if !line.trim().is_empty() {
                answer(line.trim())?;
            }
        }
    }
    Ok(())
}
