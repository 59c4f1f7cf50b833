//! The server on loopback with a tiny random LLark, the lite encoder and the real Llama 2
//! tokenizer: OpenAI's request and response shapes, streaming, limits, the API key, a client
//! that disconnects mid-stream, and a 4xx for every kind of malformed request.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use common::*;
use llark_serve::ServerConfig;
use serde_json::{json, Value};

fn post(addr: SocketAddr, body: &str, key: Option<&str>) -> (u16, Value) {
    let mut req = ureq::post(&format!("http://{addr}/v1/chat/completions"))
        .set("Content-Type", "application/json");
    if let Some(key) = key {
        req = req.set("Authorization", &format!("Bearer {key}"));
    }
    let response = match req.send_string(body) {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("transport error: {e}"),
    };
    let status = response.status();
    let text = response.into_string().unwrap();
    let value = serde_json::from_str(&text).unwrap_or_else(|_| json!({"raw": text}));
    (status, value)
}

/// Declares a body of `length` bytes, sends none of it and returns the status the server
/// answers with. Sending such a body through an HTTP client races the server closing the
/// connection once it has answered, which the client reports as a broken pipe.
fn status_of_oversized_post(addr: SocketAddr, length: usize) -> u16 {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let head = format!(
        "POST /v1/chat/completions HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {length}\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).unwrap();
    let mut status_line = String::new();
    BufReader::new(stream).read_line(&mut status_line).unwrap();
    status_line
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("no status line: {status_line:?}"))
}

fn error_of(value: &Value) -> (&str, String) {
    let error = &value["error"];
    (
        error["type"].as_str().unwrap_or_default(),
        error["message"].as_str().unwrap_or_default().to_string(),
    )
}

#[test]
fn health_models_and_a_chat_completion() {
    let addr = start(config());
    assert_eq!(health(addr)["status"], "ok");
    let models: Value = ureq::get(&format!("http://{addr}/v1/models"))
        .call()
        .unwrap()
        .into_string()
        .map(|t| serde_json::from_str(&t).unwrap())
        .unwrap();
    assert_eq!(models["data"][0]["id"], "tiny");

    let clip = music(3.0);
    let (status, answer) = post(addr, &request(&clip, "What key?").to_string(), None);
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["object"], "chat.completion");
    assert_eq!(answer["choices"][0]["message"]["role"], "assistant");
    assert!(answer["choices"][0]["message"]["content"].is_string());
    let reason = answer["choices"][0]["finish_reason"].as_str().unwrap();
    assert!(reason == "stop" || reason == "length", "{reason}");
    let usage = &answer["usage"];
    assert!(usage["prompt_tokens"].as_u64().unwrap() > 10);
    assert!(usage["completion_tokens"].as_u64().unwrap() <= 8);

    // Streaming gives the same answer, piece by piece, in OpenAI's chunk format.
    let mut body = request(&clip, "What key?");
    body["stream"] = true.into();
    let response = ureq::post(&format!("http://{addr}/v1/chat/completions"))
        .send_string(&body.to_string())
        .unwrap();
    assert_eq!(response.header("content-type"), Some("text/event-stream"));
    let mut text = String::new();
    let mut finish = None;
    let mut done = false;
    for line in BufReader::new(response.into_reader()).lines() {
        let line = line.unwrap();
        let Some(data) = line.strip_prefix("data: ") else {
            continue;
        };
        if data == "[DONE]" {
            done = true;
            break;
        }
        let chunk: Value = serde_json::from_str(data).unwrap();
        assert_eq!(chunk["object"], "chat.completion.chunk");
        if let Some(piece) = chunk["choices"][0]["delta"]["content"].as_str() {
            text.push_str(piece);
        }
        if let Some(f) = chunk["choices"][0]["finish_reason"].as_str() {
            finish = Some(f.to_string());
        }
    }
    assert!(done && finish.is_some());
    assert_eq!(
        text,
        answer["choices"][0]["message"]["content"].as_str().unwrap()
    );

    // Multi-turn: an earlier answer in the history.
    let body = json!({
        "model": "tiny",
        "messages": [
            {"role": "system", "content": "You are helpful."},
            {"role": "user", "content": [
                {"type": "input_audio", "input_audio": {"data": b64(&clip), "format": "wav"}},
                {"type": "text", "text": "What key?"}]},
            {"role": "assistant", "content": "C major."},
            {"role": "user", "content": "And the tempo?"}
        ],
        "max_tokens": 4
    });
    let (status, answer) = post(addr, &body.to_string(), None);
    assert_eq!(status, 200, "{answer}");
}

#[test]
fn every_malformed_request_is_a_4xx_with_a_message() {
    let addr = start(config());
    let clip = music(2.0);
    let silent = wav_bytes(vec![0.0; 44_100], 44_100);
    let mut nan_wav = wav_bytes(vec![0.25; 4_000], 44_100);
    let at = nan_wav.len() - 400;
    nan_wav[at..at + 4].copy_from_slice(&f32::NAN.to_le_bytes());
    let long = music(8.0);
    let with = |f: &dyn Fn(&mut Value)| {
        let mut v = request(&clip, "What key?");
        f(&mut v);
        v.to_string()
    };
    let cases: Vec<(&str, String, u16)> = vec![
        ("bad JSON", "{\"model\": ".into(), 400),
        (
            "wrong types",
            json!({"model": "tiny", "messages": "hi"}).to_string(),
            400,
        ),
        ("unknown model", with(&|v| v["model"] = "gpt-9".into()), 404),
        ("empty messages", with(&|v| v["messages"] = json!([])), 400),
        (
            "no audio",
            with(&|v| v["messages"][0]["content"] = "hi".into()),
            400,
        ),
        (
            "bad base64",
            with(&|v| v["messages"][0]["content"][1]["input_audio"]["data"] = "@@@".into()),
            400,
        ),
        (
            "corrupt audio",
            with(&|v| {
                v["messages"][0]["content"][1]["input_audio"]["data"] =
                    b64(b"RIFF....WAVEjunk").into()
            }),
            400,
        ),
        ("silent audio", request(&silent, "Key?").to_string(), 400),
        ("NaN audio", request(&nan_wav, "Key?").to_string(), 400),
        ("audio too long", request(&long, "Key?").to_string(), 400),
        (
            "max_tokens too large",
            with(&|v| v["max_tokens"] = 1_000_000.into()),
            400,
        ),
        (
            "max_tokens zero",
            with(&|v| v["max_tokens"] = 0.into()),
            400,
        ),
        ("temperature", with(&|v| v["temperature"] = 9.into()), 400),
        (
            "placeholder in text",
            with(&|v| v["messages"][0]["content"][0]["text"] = "hi <audio>".into()),
            400,
        ),
        (
            "unknown role",
            with(&|v| v["messages"][0]["role"] = "tool".into()),
            400,
        ),
        (
            "local path without --audio-dir",
            with(&|v| {
                v["messages"][0]["content"][1] =
                    json!({"type": "audio_url", "audio_url": {"url": "/etc/passwd"}})
            }),
            400,
        ),
        (
            "prompt beyond the context",
            request(&clip, &"word ".repeat(3000)).to_string(),
            400,
        ),
    ];
    for (what, body, want) in cases {
        let (status, value) = post(addr, &body, None);
        assert_eq!(status, want, "{what}: {value}");
        let (kind, message) = error_of(&value);
        assert!(!kind.is_empty() && !message.is_empty(), "{what}: {value}");
    }
    // Special-token text is only text: the request is answered.
    let (status, value) = post(addr, &request(&clip, "Key? </s><s>[PAD]").to_string(), None);
    assert_eq!(status, 200, "{value}");
    // A body over the limit is refused from its declared length, before it is read.
    assert_eq!(status_of_oversized_post(addr, 33 << 20), 413);
    // The server is still fine after all that.
    let (status, _) = post(addr, &request(&clip, "Key?").to_string(), None);
    assert_eq!(status, 200);
}

#[test]
fn the_api_key_is_required_when_set() {
    let addr = start(ServerConfig {
        api_key: Some("s3cret".into()),
        ..config()
    });
    let body = request(&music(2.0), "Key?").to_string();
    assert_eq!(post(addr, &body, None).0, 401);
    assert_eq!(post(addr, &body, Some("wrong")).0, 401);
    assert_eq!(post(addr, &body, Some("s3cret")).0, 200);
    let models = ureq::get(&format!("http://{addr}/v1/models")).call();
    assert!(matches!(models, Err(ureq::Error::Status(401, _))));
}

#[test]
fn a_client_that_disconnects_mid_stream_frees_the_worker() {
    let addr = start(config());
    let mut body = request(&music(2.0), "Describe it.");
    body["stream"] = true.into();
    body["max_tokens"] = 2000.into();
    let body = body.to_string();
    let mut stream = TcpStream::connect(addr).unwrap();
    write!(
        stream,
        "POST /v1/chat/completions HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut first = [0u8; 256];
    let n = stream.read(&mut first).unwrap();
    assert!(String::from_utf8_lossy(&first[..n]).starts_with("HTTP/1.1 200"));
    drop(stream);
    // The generation is stopped, and the next request is answered.
    let mut waited = 0;
    while health(addr)["cancelled"] != 1 && waited < 200 {
        std::thread::sleep(Duration::from_millis(50));
        waited += 1;
    }
    assert_eq!(health(addr)["cancelled"], 1, "{}", health(addr));
    let (status, _) = post(addr, &request(&music(2.0), "Key?").to_string(), None);
    assert_eq!(status, 200);
}

#[test]
fn concurrent_requests_are_batched_and_get_the_answers_they_get_alone() {
    let addr = start(config());
    let bodies: Vec<String> = (0..4)
        .map(|i| {
            let mut body = request(&music(2.0 + f64::from(i) * 0.5), "What key?");
            body["max_tokens"] = 48.into();
            body.to_string()
        })
        .collect();
    let alone: Vec<Value> = bodies.iter().map(|b| post(addr, b, None).1).collect();
    let before = health(addr)["batches"].as_u64().unwrap();
    let together: Vec<Value> = std::thread::scope(|s| {
        let handles: Vec<_> = bodies
            .iter()
            .map(|b| s.spawn(move || post(addr, b, None)))
            .collect();
        handles
            .into_iter()
            .map(|h| {
                let (status, value) = h.join().unwrap();
                assert_eq!(status, 200, "{value}");
                value
            })
            .collect()
    });
    for (a, t) in alone.iter().zip(&together) {
        assert_eq!(a["choices"][0]["message"], t["choices"][0]["message"]);
        assert_eq!(a["usage"], t["usage"]);
    }
    let batches = health(addr)["batches"].as_u64().unwrap() - before;
    assert!(
        batches < 4,
        "4 concurrent requests took {batches} generations"
    );
}

#[test]
fn a_follow_up_request_reuses_the_kept_kv_cache_and_answers_as_from_scratch() {
    // One conversation kept: a request about another clip evicts it.
    let addr = start(ServerConfig {
        limits: llark_serve::Limits {
            kept_conversations: 1,
            ..config().limits
        },
        ..config()
    });
    let clip = music(2.0);
    let first = request(&clip, "What key?");
    let (_, one) = post(addr, &first.to_string(), None);
    let answer = one["choices"][0]["message"]["content"].clone();
    let mut follow_up = first.clone();
    follow_up["messages"].as_array_mut().unwrap().extend([
        json!({"role": "assistant", "content": answer}),
        json!({"role": "user", "content": "And the tempo?"}),
    ]);
    assert_eq!(health(addr)["reused_positions"], 0);
    let (status, reused) = post(addr, &follow_up.to_string(), None);
    assert_eq!(status, 200, "{reused}");
    let positions = health(addr)["reused_positions"].as_u64().unwrap();
    assert!(
        positions >= one["usage"]["prompt_tokens"].as_u64().unwrap(),
        "reused {positions} positions"
    );
    // Evict it, then ask the same follow-up from scratch.
    let (status, _) = post(addr, &request(&music(3.0), "Key?").to_string(), None);
    assert_eq!(status, 200);
    let before = health(addr)["reused_positions"].as_u64().unwrap();
    let (_, scratch) = post(addr, &follow_up.to_string(), None);
    assert_eq!(health(addr)["reused_positions"].as_u64().unwrap(), before);
    assert_eq!(reused["choices"], scratch["choices"]);
    assert_eq!(reused["usage"], scratch["usage"]);
}
