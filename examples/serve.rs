//! Serves a model over an OpenAI-compatible HTTP API (`llark_serve`), with a page to try it at `/`.
//!
//! ```sh
//! cargo run --release --example serve -- --model quickstart-out/model [--encoder DIR] \
//!     [--addr 127.0.0.1:8080] [--api-key-env LLARK_API_KEY | --api-key KEY] [--audio-dir clips/]
//! ```
//! Then `POST /v1/chat/completions` with a user message whose content has an `input_audio`
//! part (`{"data": base64, "format": "wav"}`), as OpenAI's clients send it; `GET /v1/models`,
//! `GET /health`.

mod common;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use common::ModelArgs;
use llark::backend::{backend_name, default_device, DefaultBackend};
use llark::encoders::load_encoder;
use llark::lm::GenerationConfig;
use llark_serve::{Limits, Server, ServerConfig};

/// Serve LLark over an OpenAI-compatible API.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Args {
    #[command(flatten)]
    model: ModelArgs,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    addr: String,
    /// Name clients give as `model` (default: the model directory's name).
    #[arg(long)]
    model_name: Option<String>,
    /// API key every request must send as a Bearer token (visible to other local users in the
    /// process list: prefer --api-key-env).
    #[arg(long, conflicts_with = "api_key_env")]
    api_key: Option<String>,
    /// Environment variable holding the API key every request must send as a Bearer token.
    #[arg(long)]
    api_key_env: Option<String>,
    /// Directory `audio_url` paths may point into (otherwise only data: URLs are read).
    #[arg(long)]
    audio_dir: Option<PathBuf>,
    /// Longest clip, in seconds.
    #[arg(long, default_value_t = 600.0)]
    max_audio_seconds: f64,
    /// Largest `max_tokens` a request may ask for.
    #[arg(long, default_value_t = 1024)]
    max_tokens: usize,
    /// Longest time an answer may take, in seconds.
    #[arg(long, default_value_t = 300)]
    timeout: u64,
}

fn main() -> ExitCode {
    run(Args::parse()).map_or_else(common::fail, |()| ExitCode::SUCCESS)
}

fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let api_key = match &args.api_key_env {
        None if args.api_key.as_deref() == Some("") => return Err("--api-key is empty".into()),
        None => args.api_key.clone(),
        Some(var) => Some(
            std::env::var(var)
                .ok()
                .filter(|k| !k.is_empty())
                .ok_or_else(|| format!("environment variable {var} (the API key) is not set"))?,
        ),
    };
    let name = args.model_name.clone().unwrap_or_else(|| {
        args.model
            .dir
            .file_name()
            .map_or("llark".into(), |n| n.to_string_lossy().into_owned())
    });
    let config = ServerConfig {
        model_name: name.clone(),
        api_key,
        audio_dir: args.audio_dir.clone(),
        limits: Limits {
            max_audio_seconds: args.max_audio_seconds,
            max_tokens: args.max_tokens,
            timeout: Duration::from_secs(args.timeout),
            ..Limits::default()
        },
    };
    let model = args.model;
    eprintln!("loading {} on {}", model.dir.display(), backend_name());
    let server = Server::start(
        move || {
            let device = default_device();
            let pipeline = model.pipeline(
                &model.dir.join("tokenizer.json"),
                GenerationConfig::greedy(256),
                &device,
            )?;
            pipeline.with_encoder(load_encoder::<DefaultBackend>(
                &model.encoder_dir(),
                &device,
            )?)
        },
        config,
    )?;
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(&args.addr).await?;
        eprintln!("serving `{name}` on http://{}", listener.local_addr()?);
        tokio::select! {
            served = server.serve(listener) => served,
            _ = tokio::signal::ctrl_c() => Ok(()),
        }
    })?;
    Ok(())
}
