//! # llark-serve
//!
//! An OpenAI-compatible HTTP server for LLark, on axum and tokio:
//!
//! | route | what |
//! |---|---|
//! | `POST /v1/chat/completions` | OpenAI chat messages whose content parts include audio (`input_audio` `{data: base64, format}`, or `audio_url` with a `data:` URL or a path under `--audio-dir`); `stream: true` as server-sent events in OpenAI's chunk format; `max_tokens`, `temperature`, `top_p`, `stop`, `seed` |
//! | `GET /v1/models` | the served model |
//! | `GET /health` | `{"status": "ok", "answered", "cancelled", "failed"}` |
//! | `GET /` | a page to try it: choose or record a clip, see it, ask, watch the answer stream in |
//!
//! Every refused request gets an OpenAI-shaped error body (`{"error": {"message", "type",
//! "param", "code"}}`) with a 4xx status; the [`Limits`] bound the body, the decoded audio, the
//! prompt, `max_tokens`, concurrent requests, the queue and the time an answer may take. An
//! optional API key is checked as a Bearer token in constant time.
//!
//! The model runs on one worker thread ([`engine`]): requests are queued, and those waiting
//! together with the same decoding options are generated in one batch; a client that
//! disconnects mid-stream stops its generation at the next token (a batch stops when all its
//! clients have gone).
//!
//! ```no_run
//! # use llark_serve::{Limits, Server, ServerConfig};
//! # async fn run(pipeline: impl FnOnce() -> Result<llark::Pipeline<burn::backend::Flex>, llark::LlarkError> + Send + 'static) {
//! let config = ServerConfig::new("llark");
//! let server = Server::start(pipeline, config).unwrap();
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await.unwrap();
//! server.serve(listener).await.unwrap();
//! # }
//! ```
#![warn(missing_docs)]

pub mod api;
pub mod engine;
mod error;
pub mod request;

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, FromRequest, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use burn::tensor::backend::Backend;
use llark::data::AudioPlacement;
use llark::{LlarkError, Pipeline};
use serde_json::json;
use tokio::sync::Semaphore;

use crate::api::{
    AssistantMessage, ChatCompletion, ChatCompletionChunk, Choice, ChunkChoice, Delta, ModelCard,
    ModelList,
};
use crate::engine::{Engine, Event};
pub use crate::error::ApiError;
use crate::request::{parse_request, AudioSources};

/// What the server accepts; everything beyond is a 4xx (or a 503 when busy).
#[derive(Debug, Clone)]
pub struct Limits {
    /// Largest request body, in bytes (base64 audio included).
    pub max_body_bytes: usize,
    /// Longest decoded clip, in seconds.
    pub max_audio_seconds: f64,
    /// Most text tokens in the conversation (audio frames not counted; the model's context
    /// bounds the whole prompt).
    pub max_prompt_tokens: usize,
    /// Most bytes of text in the conversation.
    pub max_text_bytes: usize,
    /// Largest `max_tokens` a request may ask for.
    pub max_tokens: usize,
    /// `max_tokens` when a request gives none.
    pub default_max_tokens: usize,
    /// Requests being answered or waiting at once (the rest get 503).
    pub max_concurrent: usize,
    /// Requests waiting for the model at once.
    pub queue: usize,
    /// Most requests generated together in one batch.
    pub max_batch: usize,
    /// Conversations kept with their KV caches for follow-up requests (0: none).
    pub kept_conversations: usize,
    /// Longest time an answer may take, queueing included.
    pub timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_body_bytes: 32 << 20,
            max_audio_seconds: 600.0,
            max_prompt_tokens: 4096,
            max_text_bytes: 64 << 10,
            max_tokens: 1024,
            default_max_tokens: 256,
            max_concurrent: 64,
            queue: 32,
            max_batch: 8,
            kept_conversations: 4,
            timeout: Duration::from_secs(300),
        }
    }
}

/// How the server runs.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// The name clients give as `model`.
    pub model_name: String,
    /// A Bearer token every `/v1` request must carry, when set.
    pub api_key: Option<String>,
    /// The directory `audio_url` paths may point into (none: only `data:` URLs).
    pub audio_dir: Option<PathBuf>,
    /// The limits.
    pub limits: Limits,
}

impl ServerConfig {
    /// A server for `model_name` with the default limits, no API key and no audio directory.
    pub fn new(model_name: impl Into<String>) -> Self {
        ServerConfig {
            model_name: model_name.into(),
            api_key: None,
            audio_dir: None,
            limits: Limits::default(),
        }
    }
}

struct AppState {
    engine: Engine,
    config: ServerConfig,
    sources: AudioSources,
    placement: AudioPlacement,
    slots: Arc<Semaphore>,
    started: u64,
    next_id: AtomicU64,
}

/// A running model with its routes; [`Server::serve`] answers on a listener.
#[derive(Clone)]
pub struct Server {
    state: Arc<AppState>,
}

impl Server {
    /// Builds the pipeline on the model's thread (it must have an audio encoder) and prepares
    /// the routes.
    pub fn start<B, F>(make: F, config: ServerConfig) -> Result<Server, String>
    where
        B: Backend,
        F: FnOnce() -> Result<Pipeline<B>, LlarkError> + Send + 'static,
    {
        let (placement_tx, placement_rx) = std::sync::mpsc::channel();
        let engine = Engine::start(
            move || {
                let pipeline = make()?;
                let _ = placement_tx.send(pipeline.placement());
                Ok(pipeline)
            },
            config.limits.clone(),
        )?;
        let placement = placement_rx.recv().unwrap_or(AudioPlacement::Last);
        let state = AppState {
            engine,
            sources: AudioSources {
                dir: config.audio_dir.clone(),
            },
            placement,
            slots: Arc::new(Semaphore::new(config.limits.max_concurrent)),
            started: unix_now(),
            next_id: AtomicU64::new(1),
            config,
        };
        Ok(Server {
            state: Arc::new(state),
        })
    }

    /// The routes.
    pub fn router(&self) -> Router {
        Router::new()
            .route("/", get(page))
            .route("/health", get(health))
            .route("/v1/models", get(models))
            .route("/v1/chat/completions", post(chat_completions))
            .fallback(not_found)
            .layer(DefaultBodyLimit::max(
                self.state.config.limits.max_body_bytes,
            ))
            .with_state(self.state.clone())
    }

    /// Answers on `listener` until the task is dropped.
    pub async fn serve(self, listener: tokio::net::TcpListener) -> std::io::Result<()> {
        axum::serve(listener, self.router()).await
    }
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Compares two byte strings in time that depends only on their lengths.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let mut diff = a.len() ^ b.len();
    for (i, &x) in a.iter().enumerate() {
        let y = b.get(i % b.len().max(1)).copied().unwrap_or(0);
        diff |= usize::from(x ^ y);
    }
    diff == 0
}

fn authorize(state: &AppState, headers: &HeaderMap) -> Result<(), ApiError> {
    let Some(key) = &state.config.api_key else {
        return Ok(());
    };
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    if constant_time_eq(given.as_bytes(), key.as_bytes()) {
        Ok(())
    } else {
        Err(ApiError::unauthorized())
    }
}

async fn page() -> Html<&'static str> {
    Html(include_str!("page.html"))
}

async fn health(State(state): State<Arc<AppState>>) -> Json<serde_json::Value> {
    let stats = state.engine.stats();
    Json(json!({
        "status": "ok",
        "answered": stats.answered.load(Ordering::Relaxed),
        "cancelled": stats.cancelled.load(Ordering::Relaxed),
        "failed": stats.failed.load(Ordering::Relaxed),
        "batches": stats.batches.load(Ordering::Relaxed),
        "reused_positions": stats.reused_positions.load(Ordering::Relaxed),
    }))
}

async fn not_found() -> ApiError {
    ApiError {
        status: StatusCode::NOT_FOUND,
        kind: "invalid_request_error",
        param: None,
        code: Some("not_found"),
        message: "no such route (see GET /v1/models, POST /v1/chat/completions)".into(),
    }
}

async fn models(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
) -> Result<Json<ModelList>, ApiError> {
    authorize(&state, &headers)?;
    Ok(Json(ModelList {
        object: "list".into(),
        data: vec![ModelCard {
            id: state.config.model_name.clone(),
            object: "model".into(),
            created: state.started,
            owned_by: "llark-rs".into(),
        }],
    }))
}

/// The request's body. A body that declares more than `limit` bytes is refused with a 413
/// before any of it is read; one that turns out longer while it is read is refused the same way.
async fn read_body(request: Request, limit: usize) -> Result<Bytes, ApiError> {
    let refusal = |status: StatusCode, what: String| ApiError {
        status,
        kind: "invalid_request_error",
        param: Some("body".into()),
        code: None,
        message: format!("{what} (this server accepts bodies up to {limit} bytes)"),
    };
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.trim().parse::<u64>().ok());
    if let Some(declared) = declared.filter(|&n| n > limit as u64) {
        return Err(refusal(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("the body declares {declared} bytes"),
        ));
    }
    Bytes::from_request(request, &())
        .await
        .map_err(|e| refusal(e.status(), e.body_text()))
}

async fn chat_completions(
    State(state): State<Arc<AppState>>,
    request: Request,
) -> Result<Response, ApiError> {
    // The body is read before the key is checked: a client whose request is refused has sent
    // it whole, so it reads the refusal instead of a connection reset.
    let headers = request.headers().clone();
    let body = read_body(request, state.config.limits.max_body_bytes).await?;
    authorize(&state, &headers)?;
    let permit = state
        .slots
        .clone()
        .try_acquire_owned()
        .map_err(|_| ApiError::busy())?;
    let job = parse_request(
        &body,
        &state.config.model_name,
        &state.config.limits,
        &state.sources,
        state.placement,
    )?;
    let stream = job.stream;
    let mut events = state.engine.submit(job)?;
    let id = format!(
        "chatcmpl-{:x}-{}",
        state.started,
        state.next_id.fetch_add(1, Ordering::Relaxed)
    );
    let created = unix_now();
    let model = state.config.model_name.clone();
    if !stream {
        let wait = state.config.limits.timeout + Duration::from_secs(5);
        let outcome = tokio::time::timeout(wait, async {
            while let Some(event) = events.recv().await {
                match event {
                    Event::Text(_) => {}
                    Event::Done {
                        finish_reason,
                        usage,
                        text,
                    } => return Ok((finish_reason, usage, text)),
                    Event::Failed(e) => return Err(e),
                }
            }
            Err(ApiError::internal("the model thread dropped the request"))
        })
        .await
        .map_err(|_| ApiError::timeout(wait.as_secs_f64()))??;
        drop(permit);
        let (finish_reason, usage, text) = outcome;
        return Ok(Json(ChatCompletion {
            id,
            object: "chat.completion".into(),
            created,
            model,
            choices: vec![Choice {
                index: 0,
                message: AssistantMessage {
                    role: "assistant".into(),
                    content: text,
                },
                finish_reason: finish_reason.into(),
            }],
            usage,
        })
        .into_response());
    }
    // Streaming: the first event is awaited so that a request the worker refuses (bad audio, a
    // prompt beyond the context) still gets its 4xx; then a task forwards the worker's events
    // as SSE events. When the client goes, the SSE receiver is dropped, the task stops, and the
    // worker sees its channel closed.
    let first_event = tokio::time::timeout(state.config.limits.timeout, events.recv())
        .await
        .map_err(|_| ApiError::timeout(state.config.limits.timeout.as_secs_f64()))?
        .ok_or_else(|| ApiError::internal("the model thread dropped the request"))?;
    if let Event::Failed(e) = first_event {
        return Err(e);
    }
    let (sse_tx, sse_rx) =
        tokio::sync::mpsc::channel::<Result<SseEvent, std::convert::Infallible>>(64);
    let chunk = move |delta: Delta, finish: Option<&str>, usage| ChatCompletionChunk {
        id: id.clone(),
        object: "chat.completion.chunk".into(),
        created,
        model: model.clone(),
        choices: vec![ChunkChoice {
            index: 0,
            delta,
            finish_reason: finish.map(str::to_string),
        }],
        usage,
    };
    tokio::spawn(async move {
        let _permit = permit;
        let send = |value: serde_json::Value| {
            let sse_tx = sse_tx.clone();
            async move {
                sse_tx
                    .send(Ok(SseEvent::default().data(value.to_string())))
                    .await
                    .is_ok()
            }
        };
        let first = Delta {
            role: Some("assistant".into()),
            content: Some(String::new()),
        };
        if !send(json!(chunk(first, None, None))).await {
            return;
        }
        let mut pending = Some(first_event);
        while let Some(event) = match pending.take() {
            Some(event) => Some(event),
            None => events.recv().await,
        } {
            let value = match event {
                Event::Text(piece) => json!(chunk(
                    Delta {
                        role: None,
                        content: Some(piece),
                    },
                    None,
                    None
                )),
                Event::Done {
                    finish_reason,
                    usage,
                    ..
                } => {
                    let last = chunk(Delta::default(), Some(finish_reason), Some(usage));
                    if send(json!(last)).await {
                        let _ = sse_tx.send(Ok(SseEvent::default().data("[DONE]"))).await;
                    }
                    return;
                }
                Event::Failed(e) => {
                    let _ = send(e.body()).await;
                    return;
                }
            };
            if !send(value).await {
                return;
            }
        }
    });
    let stream = tokio_stream::wrappers::ReceiverStream::new(sse_rx);
    Ok(Sse::new(stream)
        .keep_alive(KeepAlive::default())
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::constant_time_eq;

    #[test]
    fn keys_compare_equal_only_when_equal() {
        assert!(constant_time_eq(b"secret", b"secret"));
        assert!(!constant_time_eq(b"secret", b"secreT"));
        assert!(!constant_time_eq(b"secret", b"secret2"));
        assert!(!constant_time_eq(b"", b"secret"));
        assert!(!constant_time_eq(b"secret", b""));
        assert!(constant_time_eq(b"", b""));
    }
}
