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

use std::io::{BufRead, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use burn::tensor::Tensor;
use clap::Parser;
use llark::backend::{backend_name, default_device, DefaultBackend};
use llark::data::{AudioPlacement, LlarkTokenizer};
use llark::encoders::{load_encoder, read_encoding_file};
use llark::lm::GenerationConfig;
use llark::{Llark, LlarkError, Pipeline};

type B = DefaultBackend;

/// Ask an LLark model questions about a music clip.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Args {
    /// LLark model directory (config.json, model.safetensors, tokenizer.json).
    #[arg(long)]
    model: PathBuf,
    /// Audio file (WAV, MP3, FLAC, OGG) to ask about.
    #[arg(long, conflicts_with = "encoding")]
    audio: Option<PathBuf>,
    /// Stored pooled encodings of the clip (.npy or single-tensor .safetensors), instead of audio.
    #[arg(long)]
    encoding: Option<PathBuf>,
    /// Audio encoder directory (default: MODEL/encoder when it exists).
    #[arg(long)]
    encoder: Option<PathBuf>,
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
    /// Pooled frames per second of the encoder output (default: the model's `audio_pool_fps`,
    /// else LLark's 10).
    #[arg(long)]
    pool_fps: Option<u32>,
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
    let args = Args::parse();
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    if args.question.is_none() && !args.interactive {
        return Err("give a question, or --interactive to chat".into());
    }
    let device = default_device();
    let tokenizer_path = args
        .tokenizer
        .clone()
        .unwrap_or_else(|| args.model.join("tokenizer.json"));
    let tokenizer = LlarkTokenizer::from_file(&tokenizer_path)?;
    eprintln!("loading {} on {}", args.model.display(), backend_name());
    let model = Llark::<B>::from_pretrained(&args.model, &device)?;
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
    let mut pipeline = Pipeline::new(model, tokenizer)?
        .with_generation(generation)
        .with_placement(placement);
    if let Some(fps) = args.pool_fps {
        pipeline = pipeline.with_pool_fps(fps)?;
    }

    let audio: Tensor<B, 2> = match (&args.audio, &args.encoding) {
        (Some(path), None) => {
            let encoder_dir = args
                .encoder
                .clone()
                .unwrap_or_else(|| args.model.join("encoder"));
            if !encoder_dir.join("config.json").exists() {
                return Err(format!(
                    "no audio encoder at {}: give --encoder DIR or --encoding FILE",
                    encoder_dir.display()
                )
                .into());
            }
            pipeline = pipeline.with_encoder(load_encoder::<B>(&encoder_dir, &device)?)?;
            eprintln!("encoding {}", path.display());
            pipeline.encode_file(path)?
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
