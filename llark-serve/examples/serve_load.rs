//! Load on loopback: throughput and latency of the server for 1, 4 and 16 concurrent clients,
//! with batching (up to 8 requests per generation) and one-at-a-time serving, on a randomly
//! initialised LLark of a given size with the lite encoder and the real Llama 2 tokenizer.
//! Bounded: `--requests` per setting, `--max-tokens` per answer.
//!
//! ```sh
//! cargo run --release -p llark-serve --example serve_load -- [--hidden 256] [--layers 4] \
//!     [--requests 32] [--max-tokens 32]
//! ```
//! Prints a markdown table: clients, serving mode, requests/s, generated tokens/s, p50 and p99
//! latency.

use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use base64::Engine as _;
use burn::backend::Flex;
use clap::Parser;
use llark::audio::{synth, write_wav, WavFormat};
use llark::data::LlarkTokenizer;
use llark::encoder::lite::{LiteConfig, LiteEncoder};
use llark::encoder::EncoderInfo;
use llark::lm::{Llama, LlamaConfig};
use llark::projector::ProjectorKind;
use llark::{Llark, LlarkError, Pipeline};
use llark_serve::{Limits, Server, ServerConfig};
use serde_json::{json, Value};

/// Measure the server under concurrent load.
#[derive(Parser, Debug, Clone)]
struct Args {
    /// Width of the random model.
    #[arg(long, default_value_t = 256)]
    hidden: usize,
    /// Decoder layers of the random model.
    #[arg(long, default_value_t = 4)]
    layers: usize,
    /// Requests per setting.
    #[arg(long, default_value_t = 32)]
    requests: usize,
    /// `max_tokens` of each request.
    #[arg(long, default_value_t = 32)]
    max_tokens: usize,
}

fn pipeline(args: &Args) -> Result<Pipeline<Flex>, LlarkError> {
    let tokenizer = LlarkTokenizer::from_file(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../llark-data/tests/fixtures/llama2-tokenizer/tokenizer.json"),
    )?;
    let encoder = LiteEncoder::new(LiteConfig::default())?;
    let heads = (args.hidden / 64).max(1);
    let config = LlamaConfig {
        vocab_size: 32000,
        hidden_size: args.hidden,
        intermediate_size: args.hidden * 8 / 3,
        num_hidden_layers: args.layers,
        num_attention_heads: heads,
        num_key_value_heads: Some(heads),
        max_position_embeddings: 1024,
        ..LlamaConfig::llama2_7b()
    };
    let lm = Llama::<Flex>::random(config, 0.02, 7, &Default::default())?;
    let width = EncoderInfo::width(&encoder);
    let model = Llark::from_llama(lm, &tokenizer, width, ProjectorKind::Linear)?;
    Pipeline::new(model, tokenizer)?
        .with_pool_fps(2)?
        .with_encoder(Box::new(encoder))
}

fn start(args: &Args, max_batch: usize) -> SocketAddr {
    let config = ServerConfig {
        limits: Limits {
            max_batch,
            queue: 64,
            ..Limits::default()
        },
        ..ServerConfig::new("load")
    };
    let model_args = args.clone();
    let server = Server::start(move || pipeline(&model_args), config).expect("server");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Runtime::new().expect("runtime");
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind");
            tx.send(listener.local_addr().expect("addr")).expect("send");
            let _ = server.serve(listener).await;
        });
    });
    rx.recv().expect("address")
}

fn clip() -> String {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("clip.wav");
    let audio = synth::music(22_050, 5.0, 11).expect("music");
    write_wav(&path, &audio, WavFormat::Pcm16).expect("wav");
    base64::engine::general_purpose::STANDARD.encode(std::fs::read(path).expect("read"))
}

/// One request's latency and generated tokens.
fn one(addr: SocketAddr, body: &str) -> (Duration, u64) {
    let started = Instant::now();
    let text = ureq::post(&format!("http://{addr}/v1/chat/completions"))
        .send_string(body)
        .expect("request")
        .into_string()
        .expect("body");
    let value: Value = serde_json::from_str(&text).expect("json");
    let tokens = value["usage"]["completion_tokens"].as_u64().unwrap_or(0);
    (started.elapsed(), tokens)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn main() {
    let args = Args::parse();
    let data = clip();
    println!(
        "| clients | serving | requests/s | tokens/s | p50 latency | p99 latency |\n|---|---|---|---|---|---|"
    );
    for (mode, max_batch) in [("one at a time", 1), ("batched (8)", 8)] {
        let addr = start(&args, max_batch);
        for clients in [1usize, 4, 16] {
            let questions = [
                "What is the key?",
                "What is the tempo?",
                "Which instruments?",
            ];
            let bodies: Vec<String> = (0..args.requests)
                .map(|i| {
                    json!({
                        "model": "load",
                        "max_tokens": args.max_tokens,
                        "messages": [{"role": "user", "content": [
                            {"type": "text", "text": questions[i % questions.len()]},
                            {"type": "input_audio", "input_audio": {"data": data, "format": "wav"}}
                        ]}]
                    })
                    .to_string()
                })
                .collect();
            let started = Instant::now();
            let next = std::sync::atomic::AtomicUsize::new(0);
            let results: Vec<(Duration, u64)> = std::thread::scope(|s| {
                let workers: Vec<_> = (0..clients)
                    .map(|_| {
                        s.spawn(|| {
                            let mut mine = Vec::new();
                            loop {
                                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                                if i >= bodies.len() {
                                    break mine;
                                }
                                mine.push(one(addr, &bodies[i]));
                            }
                        })
                    })
                    .collect();
                workers
                    .into_iter()
                    .flat_map(|w| w.join().expect("client"))
                    .collect()
            });
            let wall = started.elapsed().as_secs_f64();
            let mut latencies: Vec<Duration> = results.iter().map(|r| r.0).collect();
            latencies.sort();
            let tokens: u64 = results.iter().map(|r| r.1).sum();
            println!(
                "| {clients} | {mode} | {:.2} | {:.1} | {:.0} ms | {:.0} ms |",
                results.len() as f64 / wall,
                tokens as f64 / wall,
                percentile(&latencies, 0.5).as_secs_f64() * 1e3,
                percentile(&latencies, 0.99).as_secs_f64() * 1e3,
            );
        }
    }
}
