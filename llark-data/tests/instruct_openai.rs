//! The chat-completions client against a small HTTP server on 127.0.0.1 started by each test:
//! good replies, malformed and wrongly shaped content, replies that are not chat completions,
//! HTTP errors, a closed port and a missing API key. No other network is used.
#![cfg(feature = "openai")]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use llark_data::instruct::{
    generate_record, ClipMetadata, GenerateError, Generator, OpenAiConfig, OpenAiGenerator,
    PromptBuilder, RejectReason, ResponseError, ValidationReport, Validator,
};
use llark_data::TaskFamily;
use serde_json::{json, Value};

/// One request as the server saw it.
#[derive(Debug)]
struct Seen {
    request_line: String,
    headers: Vec<(String, String)>,
    body: Value,
}

impl Seen {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

fn read_request(stream: &mut TcpStream) -> Seen {
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut reader = BufReader::new(stream);
    let mut request_line = String::new();
    reader.read_line(&mut request_line).unwrap();
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        let (k, v) = line.split_once(':').unwrap();
        headers.push((k.trim().to_string(), v.trim().to_string()));
    }
    let len: usize = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .map(|(_, v)| v.parse().unwrap())
        .unwrap_or(0);
    let mut body = vec![0u8; len];
    reader.read_exact(&mut body).unwrap();
    Seen {
        request_line: request_line.trim_end().to_string(),
        headers,
        body: serde_json::from_slice(&body).unwrap(),
    }
}

/// Serves the canned `(status, body)` replies in order, one connection each, then stops; it
/// also stops by itself after 10 s. Returns the base URL and the requests it saw.
fn serve(replies: Vec<(u16, String)>) -> (String, JoinHandle<Vec<Seen>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let base = format!("http://{}/v1", listener.local_addr().unwrap());
    let handle = std::thread::spawn(move || {
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut seen = Vec::new();
        for (status, body) in replies {
            let mut stream = loop {
                match listener.accept() {
                    Ok((s, _)) => break s,
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                        if Instant::now() > deadline {
                            return seen;
                        }
                        std::thread::sleep(Duration::from_millis(5));
                    }
                    Err(e) => panic!("{e}"),
                }
            };
            stream.set_nonblocking(false).unwrap();
            seen.push(read_request(&mut stream));
            let reply = format!(
                "HTTP/1.1 {status} Canned\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            stream.write_all(reply.as_bytes()).unwrap();
        }
        seen
    });
    (base, handle)
}

/// A chat-completion reply whose message text is `content`.
fn completion(content: &str) -> String {
    json!({
        "id": "cmpl-1",
        "object": "chat.completion",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}]
    })
    .to_string()
}

fn clip() -> ClipMetadata {
    serde_json::from_value(json!({
        "id": "song-7", "audio": "song-7.wav", "tempo": 96.0, "key": "D minor",
        "instruments": ["guitar"], "label_id": 42
    }))
    .unwrap()
}

fn client(base: &str) -> OpenAiGenerator {
    let config = OpenAiConfig::new(base, "local-model")
        .with_temperature(0.25)
        .with_timeout(Duration::from_secs(5));
    OpenAiGenerator::new(config, PromptBuilder::new()).unwrap()
}

#[test]
fn good_reply_is_parsed_validated_and_the_request_is_well_formed() {
    let content = json!([
        {"question": "What is the tempo?", "answer": "About 96 BPM."},
        {"question": "What key is it in?", "answer": "It is in D minor."},
        {"question": "Is there a guitar?", "answer": "Based on the metadata, yes."},
        {"question": "What is the mood?", "answer": ""}
    ])
    .to_string();
    let (base, server) = serve(vec![(200, completion(&format!("```json\n{content}\n```")))]);
    std::env::set_var("LLARK_DATA_TEST_KEY_OK", "sk-test-123");
    let config = OpenAiConfig::new(format!("{base}/"), "local-model")
        .with_api_key_env("LLARK_DATA_TEST_KEY_OK")
        .with_temperature(0.25);
    let mut gen = OpenAiGenerator::new(config, PromptBuilder::new()).unwrap();
    assert_eq!(gen.endpoint(), format!("{base}/chat/completions"));
    let mut report = ValidationReport::default();
    let rec = generate_record(
        &mut gen,
        &clip(),
        TaskFamily::Mir,
        None,
        &Validator::default(),
        &mut report,
    )
    .unwrap()
    .unwrap();
    assert_eq!(rec.response.len(), 2);
    assert_eq!(rec.response[1].answer, "It is in D minor.");
    assert_eq!(rec.task, Some(TaskFamily::Mir));
    assert_eq!(report.rejected_for(RejectReason::OffTopicAnswer), 1);
    assert_eq!(report.rejected_for(RejectReason::EmptyAnswer), 1);

    let seen = server.join().unwrap();
    assert_eq!(seen.len(), 1);
    let req = &seen[0];
    assert_eq!(req.request_line, "POST /v1/chat/completions HTTP/1.1");
    assert_eq!(req.header("authorization"), Some("Bearer sk-test-123"));
    assert_eq!(req.header("content-type"), Some("application/json"));
    assert_eq!(req.body["model"], "local-model");
    assert_eq!(req.body["temperature"], json!(0.25));
    let messages = req.body["messages"].as_array().unwrap();
    let expected = PromptBuilder::new().messages(&clip(), TaskFamily::Mir);
    assert_eq!(messages.len(), expected.len());
    assert_eq!(messages[0]["role"], "system");
    let last: Value =
        serde_json::from_str(messages.last().unwrap()["content"].as_str().unwrap()).unwrap();
    assert_eq!(last[0]["tempo"], json!(96.0));
    assert_eq!(last[0]["label_id"], 42);
}

#[test]
fn malformed_and_wrongly_shaped_content_is_an_error_and_counted() {
    let (base, server) = serve(vec![
        (
            200,
            completion("Sure! Here are some questions about the song."),
        ),
        (
            200,
            completion(r#"{"question": "Tempo?", "answer": "96 BPM"}"#),
        ),
        (
            200,
            completion(r#"[{"question": "Tempo?", "answer": "96 BPM"}, 7, ["x"]]"#),
        ),
    ]);
    let mut gen = client(&base);
    let v = Validator::default();
    let mut report = ValidationReport::default();
    let e = gen
        .generate_checked(&clip(), TaskFamily::Reasoning, &v, &mut report)
        .unwrap_err();
    assert!(
        matches!(&e, GenerateError::Response { clip, family: TaskFamily::Reasoning, source: ResponseError::MalformedJson(_) } if clip == "song-7"),
        "{e}"
    );
    let e = gen
        .generate_checked(&clip(), TaskFamily::Reasoning, &v, &mut report)
        .unwrap_err();
    assert_eq!(e.kind(), "wrong-shape", "{e}");
    let kept = gen
        .generate_checked(&clip(), TaskFamily::Reasoning, &v, &mut report)
        .unwrap();
    assert_eq!(kept.len(), 1);
    assert_eq!(report.requests, 3);
    assert_eq!(report.failed_for("malformed-json"), 1);
    assert_eq!(report.failed_for("wrong-shape"), 1);
    assert_eq!(report.rejected_for(RejectReason::NotAnObject), 2);
    assert_eq!(server.join().unwrap().len(), 3);
}

#[test]
fn replies_that_are_not_chat_completions_are_errors() {
    let (base, server) = serve(vec![
        (200, "<html>gateway</html>".to_string()),
        (200, json!({"choices": []}).to_string()),
        (
            200,
            json!({"choices": [{"message": {"content": null}}]}).to_string(),
        ),
    ]);
    let mut gen = client(&base);
    let mut report = ValidationReport::default();
    for _ in 0..3 {
        let e = gen
            .generate_checked(&clip(), TaskFamily::Mir, &Validator::default(), &mut report)
            .unwrap_err();
        assert!(matches!(e, GenerateError::BadCompletion { .. }), "{e}");
        assert!(e.to_string().contains("song-7"), "{e}");
    }
    assert_eq!(report.failed_for("bad-completion"), 3);
    server.join().unwrap();
}

#[test]
fn http_errors_carry_status_and_body() {
    let (base, server) = serve(vec![
        (
            500,
            r#"{"error": {"message": "model overloaded"}}"#.to_string(),
        ),
        (401, r#"{"error": {"message": "bad key"}}"#.to_string()),
    ]);
    let mut gen = client(&base);
    let mut report = ValidationReport::default();
    let v = Validator::default();
    match gen.generate_checked(&clip(), TaskFamily::Captioning, &v, &mut report) {
        Err(GenerateError::Http {
            status, body, url, ..
        }) => {
            assert_eq!(status, 500);
            assert!(body.contains("model overloaded"));
            assert!(url.ends_with("/v1/chat/completions"));
        }
        other => panic!("{other:?}"),
    }
    match gen.generate(&clip(), TaskFamily::Captioning) {
        Err(GenerateError::Http { status: 401, .. }) => {}
        other => panic!("{other:?}"),
    }
    assert_eq!(report.failed_for("http"), 1);
    server.join().unwrap();
}

#[test]
fn closed_port_and_missing_key_are_reported() {
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let mut gen = client(&format!("http://127.0.0.1:{port}/v1"));
    let e = gen.generate(&clip(), TaskFamily::Mir).unwrap_err();
    assert_eq!(e.kind(), "transport", "{e}");
    assert!(e.to_string().contains(&port.to_string()), "{e}");

    let config = OpenAiConfig::new("http://127.0.0.1:9/v1", "m")
        .with_api_key_env("LLARK_DATA_TEST_KEY_SURELY_UNSET");
    match OpenAiGenerator::new(config, PromptBuilder::new()) {
        Err(GenerateError::MissingApiKey { var }) => {
            assert_eq!(var, "LLARK_DATA_TEST_KEY_SURELY_UNSET")
        }
        Err(e) => panic!("{e}"),
        Ok(_) => panic!("a client without its key"),
    }
}
