//! From a chat-completions body to a [`ChatJob`]: the conversation as LLark turns, the clip's
//! bytes and the decoding options, every field checked against the server's [`Limits`].
//!
//! Policy: exactly one audio part in the whole conversation (LLark answers about one clip); its
//! message gets LLark's `<audio>` placeholder (before or after the text, as the pipeline
//! places it); system messages are accepted and not shown to the model (LLark's template has
//! a fixed system prompt); the last message must be the user's.

use std::path::{Path, PathBuf};

use base64::Engine as _;
use llark::data::template::{prompt_with_audio, AUDIO_PLACEHOLDER};
use llark::data::{AudioPlacement, Turn};
use serde_json::Value;

use crate::api::{AudioUrl, ChatCompletionRequest, Content, InputAudio, Stop};
use crate::error::ApiError;
use crate::Limits;

/// A checked request, ready for the engine.
#[derive(Debug, Clone)]
pub struct ChatJob {
    /// The conversation in LLark's turns; the first human turn with the clip carries `<audio>`.
    pub turns: Vec<Turn>,
    /// The clip's file bytes.
    pub audio: Vec<u8>,
    /// Its format (`wav`, `mp3`, `flac`, `ogg`), when the request says.
    pub format: Option<String>,
    /// Most tokens to generate.
    pub max_tokens: usize,
    /// Sampling temperature (`None` or 0: greedy).
    pub temperature: Option<f64>,
    /// Nucleus sampling mass.
    pub top_p: Option<f64>,
    /// Extra stop strings.
    pub stop: Vec<String>,
    /// Sampler seed.
    pub seed: u64,
    /// Stream the answer.
    pub stream: bool,
}

/// Where the server may read `audio_url` paths from.
#[derive(Debug, Clone, Default)]
pub struct AudioSources {
    /// The directory local paths must lie under; `None`: local paths are refused.
    pub dir: Option<PathBuf>,
}

/// Parses and checks a request body.
pub fn parse_request(
    body: &[u8],
    served_model: &str,
    limits: &Limits,
    sources: &AudioSources,
    placement: AudioPlacement,
) -> Result<ChatJob, ApiError> {
    let request: ChatCompletionRequest = serde_json::from_slice(body).map_err(|e| {
        ApiError::invalid(
            "body",
            format!("the body is not a chat-completions request: {e}"),
        )
    })?;
    if request.model != served_model {
        return Err(ApiError::unknown_model(&request.model, served_model));
    }
    if request.n.is_some_and(|n| n != 1) {
        return Err(ApiError::invalid("n", "only n = 1 is served"));
    }
    let max_tokens = request
        .max_completion_tokens
        .or(request.max_tokens)
        .unwrap_or(limits.default_max_tokens as u64);
    if max_tokens == 0 || max_tokens > limits.max_tokens as u64 {
        return Err(ApiError::invalid(
            "max_tokens",
            format!(
                "max_tokens is {max_tokens}; this server allows 1..={}",
                limits.max_tokens
            ),
        ));
    }
    if let Some(t) = request
        .temperature
        .filter(|t| !(t.is_finite() && (0.0..=2.0).contains(t)))
    {
        return Err(ApiError::invalid(
            "temperature",
            format!("temperature {t} is not in [0, 2]"),
        ));
    }
    if let Some(p) = request
        .top_p
        .filter(|p| !(p.is_finite() && *p > 0.0 && *p <= 1.0))
    {
        return Err(ApiError::invalid(
            "top_p",
            format!("top_p {p} is not in (0, 1]"),
        ));
    }
    let stop = match request.stop {
        None => Vec::new(),
        Some(Stop::One(s)) => vec![s],
        Some(Stop::Many(v)) => v,
    };
    if stop.len() > 4 || stop.iter().any(|s| s.is_empty() || s.len() > 64) {
        return Err(ApiError::invalid(
            "stop",
            "at most 4 stop strings of 1 to 64 bytes",
        ));
    }
    let (turns, clip) = conversation(&request.messages, limits, sources, placement)?;
    Ok(ChatJob {
        turns,
        audio: clip.bytes,
        format: clip.format,
        max_tokens: max_tokens as usize,
        temperature: request.temperature,
        top_p: request.top_p,
        stop,
        seed: request.seed.unwrap_or(0),
        stream: request.stream,
    })
}

struct Clip {
    bytes: Vec<u8>,
    format: Option<String>,
}

fn conversation(
    messages: &[crate::api::Message],
    limits: &Limits,
    sources: &AudioSources,
    placement: AudioPlacement,
) -> Result<(Vec<Turn>, Clip), ApiError> {
    if messages.is_empty() {
        return Err(ApiError::invalid("messages", "the conversation is empty"));
    }
    let mut turns = Vec::new();
    let mut clip: Option<Clip> = None;
    let mut text_bytes = 0usize;
    for (i, message) in messages.iter().enumerate() {
        let param = format!("messages[{i}]");
        let (text, audio) = message_content(message.content.as_ref(), &param, sources)?;
        text_bytes += text.len();
        if text.contains(AUDIO_PLACEHOLDER) {
            return Err(ApiError::invalid(
                format!("{param}.content"),
                format!("text may not contain {AUDIO_PLACEHOLDER:?}: the clip goes where the server places it"),
            ));
        }
        match message.role.as_str() {
            "system" | "developer" => {
                if audio.is_some() {
                    return Err(ApiError::invalid(param, "audio belongs in a user message"));
                }
            }
            "user" => {
                let value = match audio {
                    Some(found) => {
                        if clip.is_some() {
                            return Err(ApiError::invalid(
                                param,
                                "the conversation has more than one audio part; LLark answers about one clip",
                            ));
                        }
                        clip = Some(found);
                        prompt_with_audio(&text, placement)
                    }
                    None => text,
                };
                turns.push(Turn::human(value));
            }
            "assistant" => {
                if audio.is_some() {
                    return Err(ApiError::invalid(param, "audio belongs in a user message"));
                }
                turns.push(Turn::gpt(text));
            }
            other => {
                return Err(ApiError::invalid(
                    format!("{param}.role"),
                    format!("role `{other}` is not one of system, user, assistant"),
                ))
            }
        }
    }
    if text_bytes > limits.max_text_bytes {
        return Err(ApiError::invalid(
            "messages",
            format!(
                "{text_bytes} bytes of text; this server allows {}",
                limits.max_text_bytes
            ),
        ));
    }
    if messages.last().is_some_and(|m| m.role != "user") {
        return Err(ApiError::invalid(
            "messages",
            "the last message must be the user's",
        ));
    }
    let clip = clip.ok_or_else(|| {
        ApiError::invalid(
            "messages",
            "no audio: add an `input_audio` or `audio_url` part to a user message",
        )
    })?;
    Ok((turns, clip))
}

/// The text of a message (parts joined by newlines) and its audio part, if any.
fn message_content(
    content: Option<&Content>,
    param: &str,
    sources: &AudioSources,
) -> Result<(String, Option<Clip>), ApiError> {
    let parts = match content {
        None => return Ok((String::new(), None)),
        Some(Content::Text(t)) => return Ok((t.clone(), None)),
        Some(Content::Parts(parts)) => parts,
    };
    let mut texts = Vec::new();
    let mut clip = None;
    for (j, part) in parts.iter().enumerate() {
        let at = format!("{param}.content[{j}]");
        let kind = part.get("type").and_then(Value::as_str).unwrap_or_default();
        let found = match kind {
            "text" => {
                let text = part.get("text").and_then(Value::as_str).ok_or_else(|| {
                    ApiError::invalid(format!("{at}.text"), "a text part needs a string `text`")
                })?;
                texts.push(text.to_string());
                None
            }
            "input_audio" => {
                let audio: InputAudio = field(part, "input_audio", &at)?;
                Some(Clip {
                    bytes: decode_base64(&audio.data, &format!("{at}.input_audio.data"))?,
                    format: audio.format.map(|f| f.to_ascii_lowercase()),
                })
            }
            "audio_url" => {
                let url: AudioUrl = field(part, "audio_url", &at)?;
                Some(read_audio_url(
                    &url.url,
                    &format!("{at}.audio_url.url"),
                    sources,
                )?)
            }
            other => {
                return Err(ApiError::invalid(
                    format!("{at}.type"),
                    format!("part type `{other}` is not one of text, input_audio, audio_url"),
                ))
            }
        };
        if let Some(found) = found {
            if clip.is_some() {
                return Err(ApiError::invalid(at, "more than one audio part"));
            }
            clip = Some(found);
        }
    }
    Ok((texts.join("\n"), clip))
}

fn field<T: serde::de::DeserializeOwned>(
    part: &Value,
    name: &str,
    at: &str,
) -> Result<T, ApiError> {
    let value = part
        .get(name)
        .ok_or_else(|| ApiError::invalid(format!("{at}.{name}"), format!("missing `{name}`")))?;
    serde_json::from_value(value.clone())
        .map_err(|e| ApiError::invalid(format!("{at}.{name}"), e.to_string()))
}

fn decode_base64(data: &str, param: &str) -> Result<Vec<u8>, ApiError> {
    base64::engine::general_purpose::STANDARD
        .decode(data.trim())
        .map_err(|e| ApiError::invalid(param, format!("not base64: {e}")))
}

/// A `data:` URL's bytes, or a local file under the server's audio directory.
fn read_audio_url(url: &str, param: &str, sources: &AudioSources) -> Result<Clip, ApiError> {
    if let Some(rest) = url.strip_prefix("data:") {
        let (meta, data) = rest
            .split_once(',')
            .ok_or_else(|| ApiError::invalid(param, "a data: URL needs a comma before its data"))?;
        let Some(mime) = meta.strip_suffix(";base64") else {
            return Err(ApiError::invalid(param, "only base64 data: URLs are read"));
        };
        let format = mime.strip_prefix("audio/").map(|f| match f {
            "mpeg" => "mp3".to_string(),
            "x-wav" | "wave" => "wav".to_string(),
            other => other.to_string(),
        });
        return Ok(Clip {
            bytes: decode_base64(data, param)?,
            format,
        });
    }
    let Some(dir) = &sources.dir else {
        return Err(ApiError::invalid(
            param,
            "only data: URLs are read (start the server with --audio-dir to allow local files)",
        ));
    };
    let path = url.strip_prefix("file://").unwrap_or(url);
    let path = resolve_under(dir, Path::new(path)).ok_or_else(|| {
        ApiError::invalid(
            param,
            format!("{path} is not a file under the server's audio directory"),
        )
    })?;
    let bytes = std::fs::read(&path)
        .map_err(|e| ApiError::invalid(param, format!("cannot read {}: {e}", path.display())))?;
    let format = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    Ok(Clip { bytes, format })
}

/// `path` (relative to `dir` or absolute) when, links resolved, it is a file inside `dir`.
fn resolve_under(dir: &Path, path: &Path) -> Option<PathBuf> {
    let dir = dir.canonicalize().ok()?;
    let full = dir.join(path).canonicalize().ok()?;
    (full.starts_with(&dir) && full.is_file()).then_some(full)
}
