// Harness of the `server_request` fuzz target (included by `fuzz_targets/server_request.rs` and
// by `llark-serve/tests/fuzz_corpus.rs`, which replays the corpus on stable).

use std::path::PathBuf;
use std::sync::OnceLock;

use llark_data::template::AUDIO_PLACEHOLDER;
use llark_data::{AudioPlacement, Speaker};
use llark_serve::request::{parse_request, AudioSources};
use llark_serve::Limits;

/// The model name the harness serves.
pub const MODEL: &str = "llark";
/// The bytes of the one file under the audio directory (`clip.wav`, also reachable as
/// `sub/inner.wav`).
pub const INSIDE: &[u8] = b"RIFF inside the audio directory";
/// The bytes of a file beside the audio directory (`../secret.wav`, and the target of the
/// link `escape.wav` inside it): a request must never read them.
pub const OUTSIDE: &[u8] = b"RIFF outside the audio directory";

/// The audio directory, made once per process: `audio/clip.wav`, `audio/sub/inner.wav`, the
/// link `audio/escape.wav -> ../secret.wav`, and `secret.wav` beside `audio/`.
pub fn audio_dir() -> &'static PathBuf {
    static DIR: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    &DIR.get_or_init(|| {
        let root = tempfile::tempdir().expect("a scratch directory");
        let audio = root.path().join("audio");
        std::fs::create_dir_all(audio.join("sub")).expect("the audio directory");
        std::fs::write(audio.join("clip.wav"), INSIDE).expect("clip.wav");
        std::fs::write(audio.join("sub/inner.wav"), INSIDE).expect("inner.wav");
        std::fs::write(root.path().join("secret.wav"), OUTSIDE).expect("secret.wav");
        #[cfg(unix)]
        std::os::unix::fs::symlink("../secret.wav", audio.join("escape.wav")).expect("a link");
        (root, audio)
    })
    .1
}

/// Small limits, so that the fuzzer reaches every bound.
pub fn limits() -> Limits {
    Limits {
        max_text_bytes: 512,
        max_tokens: 64,
        default_max_tokens: 16,
        ..Limits::default()
    }
}

/// Parses `data` as a chat-completions body with [`parse_request`] (local paths allowed under
/// [`audio_dir`]; the first byte's low bit picks the audio placement, the rest is the body) and
/// checks what it returns: a refusal is a 4xx in OpenAI's error shape with a message; an
/// accepted request keeps every field in its bounds, ends with the user's turn, carries exactly
/// one `<audio>` placeholder, and its clip is never read from outside the audio directory.
pub fn run(data: &[u8]) {
    let Some((&control, body)) = data.split_first() else {
        return;
    };
    let placement = if control & 1 == 0 {
        AudioPlacement::First
    } else {
        AudioPlacement::Last
    };
    let limits = limits();
    let sources = AudioSources {
        dir: Some(audio_dir().clone()),
    };
    match parse_request(body, MODEL, &limits, &sources, placement) {
        Err(e) => {
            assert!(e.status.is_client_error(), "{} for {e}", e.status);
            assert!(!e.message.is_empty());
            let body = e.body();
            assert_eq!(body["error"]["message"], e.message.as_str());
            assert!(body["error"]["type"].is_string());
        }
        Ok(job) => {
            assert!((1..=limits.max_tokens).contains(&job.max_tokens));
            if let Some(t) = job.temperature {
                assert!(t.is_finite() && (0.0..=2.0).contains(&t));
            }
            if let Some(p) = job.top_p {
                assert!(p.is_finite() && p > 0.0 && p <= 1.0);
            }
            assert!(job.stop.len() <= 4);
            assert!(job.stop.iter().all(|s| (1..=64).contains(&s.len())));
            assert!(
                job.audio != OUTSIDE,
                "a clip was read from outside the audio directory"
            );
            let last = job
                .turns
                .last()
                .expect("an accepted conversation has turns");
            assert_eq!(last.from, Speaker::Human);
            let placeholders: usize = job
                .turns
                .iter()
                .map(|turn| turn.value.matches(AUDIO_PLACEHOLDER).count())
                .sum();
            assert_eq!(placeholders, 1);
            let placed = job
                .turns
                .iter()
                .find(|turn| turn.value.contains(AUDIO_PLACEHOLDER))
                .expect("one turn has the placeholder");
            assert_eq!(placed.from, Speaker::Human);
            let text: usize = job.turns.iter().map(|turn| turn.value.len()).sum();
            // The placeholder and its newline are the server's, not the request's.
            assert!(text <= limits.max_text_bytes + AUDIO_PLACEHOLDER.len() + 1);
        }
    }
}
