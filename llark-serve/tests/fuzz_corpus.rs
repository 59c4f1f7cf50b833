//! Replays the corpus of the `server_request` fuzz target (`fuzz/`) on stable: the harness is the
//! fuzz target's own body, `fuzz/harness/server_request.rs`. `write_seeds` (ignored) writes the
//! target's seed inputs.

mod harness {
    include!("../../fuzz/harness/server_request.rs");
}
mod replay {
    include!("../../fuzz/harness/replay.rs");
}

use base64::Engine as _;
use serde_json::json;

#[test]
fn server_request_corpus_replays() {
    let n = replay::replay("server_request", harness::run);
    assert!(n > 0);
}

/// The harness's own checks hold where they matter: local files under the directory are read,
/// links and paths out of it are refused.
#[test]
fn the_harness_audio_directory_confines_local_paths() {
    let limits = harness::limits();
    let sources = llark_serve::request::AudioSources {
        dir: Some(harness::audio_dir().clone()),
    };
    let request = |url: &str| {
        serde_json::to_vec(&json!({
            "model": harness::MODEL,
            "messages": [{"role": "user", "content": [
                {"type": "text", "text": "What key?"},
                {"type": "audio_url", "audio_url": {"url": url}},
            ]}],
        }))
        .unwrap()
    };
    let parse = |url: &str| {
        llark_serve::request::parse_request(
            &request(url),
            harness::MODEL,
            &limits,
            &sources,
            llark_data::AudioPlacement::First,
        )
    };
    assert_eq!(parse("clip.wav").unwrap().audio, harness::INSIDE);
    assert_eq!(
        parse("sub/../sub/inner.wav").unwrap().audio,
        harness::INSIDE
    );
    for outside in [
        "escape.wav",
        "../secret.wav",
        "sub/../../secret.wav",
        "sub",
        "missing.wav",
    ] {
        let e = parse(outside).unwrap_err();
        assert_eq!(e.status.as_u16(), 400, "{outside}: {e}");
    }
    let secret = harness::audio_dir().parent().unwrap().join("secret.wav");
    assert!(parse(secret.to_str().unwrap()).is_err());
}

#[test]
#[ignore = "writes fuzz/seeds/server_request; run by hand"]
fn write_seeds() {
    let wav = base64::engine::general_purpose::STANDARD.encode(b"RIFF\x24\0\0\0WAVEfmt ");
    let user = |parts: serde_json::Value| json!({"role": "user", "content": parts});
    let seeds = [
        (
            "input-audio.json",
            json!({"model": "llark", "messages": [user(json!([
                {"type": "text", "text": "What is the key of this piece?"},
                {"type": "input_audio", "input_audio": {"data": wav, "format": "WAV"}},
            ]))]}),
        ),
        (
            "data-url-stream.json",
            json!({"model": "llark", "stream": true, "max_tokens": 32, "temperature": 0.7,
                "top_p": 0.9, "seed": 7, "stop": ["\n", "."], "n": 1,
                "messages": [
                    {"role": "system", "content": "You are a musician."},
                    user(json!([{"type": "audio_url",
                        "audio_url": {"url": format!("data:audio/mpeg;base64,{wav}")}}])),
            ]}),
        ),
        (
            "local-path-follow-up.json",
            json!({"model": "llark", "max_completion_tokens": 8, "stop": "END",
                "messages": [
                    user(json!([{"type": "text", "text": "Describe it."},
                        {"type": "audio_url", "audio_url": {"url": "file://sub/inner.wav"}}])),
                    {"role": "assistant", "content": "A slow piece in D minor."},
                    {"role": "user", "content": [{"type": "text", "text": "And the tempo?"}]},
            ]}),
        ),
        (
            "escape.json",
            json!({"model": "llark", "messages": [user(json!([
                {"type": "audio_url", "audio_url": {"url": "escape.wav"}},
                {"type": "text", "text": "<audio> </s><s>[PAD]"},
            ]))]}),
        ),
    ];
    let mut files = Vec::new();
    for (control, (name, body)) in seeds.iter().enumerate() {
        let mut bytes = vec![control as u8];
        bytes.extend(serde_json::to_vec_pretty(body).unwrap());
        files.push((*name, bytes));
    }
    replay::write_seeds("server_request", &files);
}
