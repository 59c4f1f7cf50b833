//! Real clients against the server on loopback:
//! - OpenAI's official Python client (`tests/clients/openai_client.py`), run with the Python
//!   named by `LLARK_TEST_PYTHON` (a venv with `pip install openai`);
//! - the web page at `/` in headless Chromium, driven over WebDriver by `chromedriver`
//!   (`LLARK_TEST_CHROMEDRIVER`, with the browser at `LLARK_TEST_CHROMIUM`): load the page,
//!   upload a clip, ask, and read the streamed answer from the page.
//!
//! `.ci/run` installs both and sets the variables. Without them these tests say so on stderr and
//! pass: `cargo test` needs no Python or browser.

mod common;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use llark::audio::{synth, write_wav, WavFormat};
use llark_serve::ServerConfig;
use serde_json::{json, Value};

fn env_path(var: &str) -> Option<PathBuf> {
    match std::env::var_os(var) {
        Some(v) if !v.is_empty() => Some(PathBuf::from(v)),
        _ => {
            eprintln!("{var} is not set: this client check runs in .ci/run");
            None
        }
    }
}

fn clip_file(dir: &Path) -> PathBuf {
    let path = dir.join("clip.wav");
    let audio = synth::music(22_050, 3.0, 4).unwrap();
    write_wav(&path, &audio, WavFormat::Pcm16).unwrap();
    path
}

#[test]
fn the_official_openai_python_client_talks_to_the_server() {
    let Some(python) = env_path("LLARK_TEST_PYTHON") else {
        return;
    };
    let addr = start(ServerConfig {
        api_key: Some("test-key".into()),
        ..config()
    });
    let dir = tempfile::tempdir().unwrap();
    let clip = clip_file(dir.path());
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/clients/openai_client.py");
    let out = Command::new(python)
        .arg(script)
        .arg(format!("http://{addr}/v1"))
        .arg(&clip)
        .arg("tiny")
        .arg("test-key")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(stdout.contains("openai client ok"), "{stdout}");
}

/// A chromedriver process, killed on drop.
struct Driver {
    child: Child,
    url: String,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn start_driver(path: &Path) -> Driver {
    let port = free_port();
    let child = Command::new(path)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let driver = Driver {
        child,
        url: format!("http://127.0.0.1:{port}"),
    };
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(20) {
        if let Ok(r) = ureq::get(&format!("{}/status", driver.url)).call() {
            let status: Value = serde_json::from_str(&r.into_string().unwrap()).unwrap();
            if status["value"]["ready"] == true {
                return driver;
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("chromedriver did not start");
}

/// One WebDriver command: `method` on `path` of the session API, with a JSON body.
fn webdriver(method: &str, url: &str, body: Option<Value>) -> Result<Value, Value> {
    let request = ureq::request(method, url)
        .timeout(Duration::from_secs(60))
        .set("Content-Type", "application/json");
    let response = match body {
        Some(b) => request.send_string(&b.to_string()),
        None => request.call(),
    };
    match response {
        Ok(r) => {
            Ok(serde_json::from_str::<Value>(&r.into_string().unwrap()).unwrap()["value"].clone())
        }
        Err(ureq::Error::Status(_, r)) => {
            Err(serde_json::from_str::<Value>(&r.into_string().unwrap()).unwrap_or(Value::Null))
        }
        Err(e) => panic!("webdriver transport error: {e}"),
    }
}

const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

fn find(session: &str, css: &str) -> Option<String> {
    match webdriver(
        "POST",
        &format!("{session}/element"),
        Some(json!({"using": "css selector", "value": css})),
    ) {
        Ok(v) => v[ELEMENT].as_str().map(str::to_string),
        Err(e) if e["value"]["error"] == "no such element" => None,
        Err(e) => panic!("finding {css}: {e}"),
    }
}

fn text_of(session: &str, element: &str) -> String {
    webdriver("GET", &format!("{session}/element/{element}/text"), None)
        .unwrap()
        .as_str()
        .unwrap_or_default()
        .to_string()
}

fn wait_for(what: &str, mut found: impl FnMut() -> Option<String>) -> String {
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(60) {
        if let Some(v) = found() {
            return v;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    panic!("timed out waiting for {what}");
}

#[test]
fn the_web_page_uploads_a_clip_asks_and_shows_the_streamed_answer() {
    let (Some(chromedriver), Some(chromium)) = (
        env_path("LLARK_TEST_CHROMEDRIVER"),
        env_path("LLARK_TEST_CHROMIUM"),
    ) else {
        return;
    };
    let addr = start(config());
    let dir = tempfile::tempdir().unwrap();
    let clip = clip_file(dir.path());
    let profile = dir.path().join("profile");
    let driver = start_driver(&chromedriver);
    let capabilities = json!({"capabilities": {"alwaysMatch": {
        "browserName": "chrome",
        "goog:chromeOptions": {
            "binary": chromium,
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--disable-quic", "--no-first-run", "--disable-background-networking",
                     "--disable-component-update", "--disable-sync",
                     format!("--user-data-dir={}", profile.display())]
        }
    }}});
    let created = webdriver(
        "POST",
        &format!("{}/session", driver.url),
        Some(capabilities),
    )
    .expect("a browser session");
    let session = format!(
        "{}/session/{}",
        driver.url,
        created["sessionId"].as_str().unwrap()
    );
    webdriver(
        "POST",
        &format!("{session}/url"),
        Some(json!({"url": format!("http://{addr}/")})),
    )
    .unwrap();
    let file = wait_for("the file input", || find(&session, "#file"));
    webdriver(
        "POST",
        &format!("{session}/element/{file}/value"),
        Some(json!({"text": clip.display().to_string()})),
    )
    .unwrap();
    let info = wait_for("the clip to be decoded", || {
        let el = find(&session, "#clipinfo")?;
        let text = text_of(&session, &el);
        (!text.is_empty()).then_some(text)
    });
    assert!(
        info.contains("clip.wav") && info.contains("3.0 s"),
        "{info}"
    );
    let tempo = text_of(&session, &find(&session, "#tempo").unwrap());
    assert!(
        tempo.ends_with("BPM"),
        "the page shows a tempo estimate: {tempo}"
    );
    let ask = find(&session, "#ask").unwrap();
    webdriver(
        "POST",
        &format!("{session}/element/{ask}/click"),
        Some(json!({})),
    )
    .unwrap();
    let answer = wait_for("the streamed answer", || {
        find(&session, "#answer-0[data-done='true']")
    });
    let shown = text_of(&session, &answer);
    let status = text_of(&session, &find(&session, "#status").unwrap());
    assert!(status.is_empty(), "the page reported an error: {status}");
    // The page shows what the API answers for the same request (greedy decoding).
    let pcm = std::fs::read(&clip).unwrap();
    let mut body = request(&pcm, "What is the key of this song?");
    body["max_tokens"] = 256.into();
    let reply: Value = serde_json::from_str(
        &ureq::post(&format!("http://{addr}/v1/chat/completions"))
            .send_string(&body.to_string())
            .unwrap()
            .into_string()
            .unwrap(),
    )
    .unwrap();
    let _ = webdriver("DELETE", &session, None);
    let api = reply["choices"][0]["message"]["content"]
        .as_str()
        .unwrap()
        .trim();
    assert_eq!(shown.trim(), api);
    drop(driver);
}
