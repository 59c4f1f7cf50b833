//! Helpers shared by the server tests: a tiny random LLark served on loopback, and clips.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::Path;

use base64::Engine as _;
use burn::backend::Flex;
use llark::audio::{synth, write_wav, Audio, WavFormat};
use llark::data::LlarkTokenizer;
use llark::encoder::lite::{LiteConfig, LiteEncoder};
use llark::encoder::EncoderInfo;
use llark::lm::{GenerationConfig, Llama, LlamaConfig};
use llark::projector::ProjectorKind;
use llark::{Llark, LlarkError, Pipeline};
use llark_serve::{Limits, Server, ServerConfig};
use serde_json::{json, Value};

pub type B = Flex;

pub fn pipeline() -> Result<Pipeline<B>, LlarkError> {
    let tokenizer = LlarkTokenizer::from_file(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../llark-data/tests/fixtures/llama2-tokenizer/tokenizer.json"),
    )?;
    let encoder = LiteEncoder::new(LiteConfig::default())?;
    let config = LlamaConfig {
        vocab_size: 32000,
        hidden_size: 16,
        intermediate_size: 32,
        num_hidden_layers: 1,
        num_attention_heads: 2,
        num_key_value_heads: Some(2),
        max_position_embeddings: 512,
        ..LlamaConfig::llama2_7b()
    };
    let lm = Llama::<B>::random(config, 0.3, 5, &Default::default())?;
    let width = EncoderInfo::width(&encoder);
    let model = Llark::from_llama(lm, &tokenizer, width, ProjectorKind::Linear)?;
    Pipeline::new(model, tokenizer)?
        .with_generation(GenerationConfig::greedy(8))
        .with_pool_fps(2)?
        .with_encoder(Box::new(encoder))
}

/// Starts a server on a free loopback port; it runs until the test process ends.
pub fn start(config: ServerConfig) -> SocketAddr {
    let server = Server::start(pipeline, config).unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            tx.send(listener.local_addr().unwrap()).unwrap();
            server.serve(listener).await.unwrap();
        });
    });
    rx.recv().unwrap()
}

pub fn config() -> ServerConfig {
    ServerConfig {
        limits: Limits {
            max_audio_seconds: 6.0,
            max_tokens: 2048,
            ..Limits::default()
        },
        ..ServerConfig::new("tiny")
    }
}

pub fn wav_bytes(samples: Vec<f32>, rate: u32) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("clip.wav");
    write_wav(
        &path,
        &Audio::new(samples, rate).unwrap(),
        WavFormat::Float32,
    )
    .unwrap();
    std::fs::read(path).unwrap()
}

pub fn music(seconds: f64) -> Vec<u8> {
    let audio = synth::music(22_050, seconds, 3).unwrap();
    wav_bytes(audio.into_samples(), 22_050)
}

pub fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

pub fn request(audio: &[u8], question: &str) -> Value {
    json!({
        "model": "tiny",
        "messages": [{"role": "user", "content": [
            {"type": "text", "text": question},
            {"type": "input_audio", "input_audio": {"data": b64(audio), "format": "wav"}}
        ]}],
        "max_tokens": 8
    })
}

/// The server's `GET /health` body.
pub fn health(addr: SocketAddr) -> Value {
    let text = ureq::get(&format!("http://{addr}/health"))
        .call()
        .unwrap()
        .into_string()
        .unwrap();
    serde_json::from_str(&text).unwrap()
}
