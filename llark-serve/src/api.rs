//! OpenAI's chat-completions wire format: the request (messages whose content is text or a list
//! of parts, `input_audio` and `audio_url` among them), the response, the streamed chunks and
//! the error body.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// `POST /v1/chat/completions` body. Unknown fields are ignored, as OpenAI-compatible servers
/// do; the ones read are checked by [`crate::request`].
#[derive(Debug, Clone, Deserialize)]
pub struct ChatCompletionRequest {
    /// The model name (see `GET /v1/models`).
    pub model: String,
    /// The conversation.
    pub messages: Vec<Message>,
    /// Stream the answer as server-sent events.
    #[serde(default)]
    pub stream: bool,
    /// Most tokens to generate.
    #[serde(default)]
    pub max_tokens: Option<u64>,
    /// The same (OpenAI's newer name); wins over `max_tokens`.
    #[serde(default)]
    pub max_completion_tokens: Option<u64>,
    /// Sampling temperature (0: greedy).
    #[serde(default)]
    pub temperature: Option<f64>,
    /// Nucleus sampling mass.
    #[serde(default)]
    pub top_p: Option<f64>,
    /// Stop strings: one or a list.
    #[serde(default)]
    pub stop: Option<Stop>,
    /// Seed of the sampler.
    #[serde(default)]
    pub seed: Option<u64>,
    /// Number of choices (only 1 is served).
    #[serde(default)]
    pub n: Option<u64>,
}

/// `stop`: a string or a list of strings.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum Stop {
    /// One stop string.
    One(String),
    /// Several.
    Many(Vec<String>),
}

/// One message of the conversation.
#[derive(Debug, Clone, Deserialize)]
pub struct Message {
    /// `system`, `user` or `assistant`.
    pub role: String,
    /// Text, or a list of parts.
    #[serde(default)]
    pub content: Option<Content>,
}

/// A message's content.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum Content {
    /// Plain text.
    Text(String),
    /// Parts: text, audio.
    Parts(Vec<Value>),
}

/// An audio part's payload (`input_audio`).
#[derive(Debug, Clone, Deserialize)]
pub struct InputAudio {
    /// Base64 of the file's bytes.
    pub data: String,
    /// `wav`, `mp3`, `flac` or `ogg`.
    #[serde(default)]
    pub format: Option<String>,
}

/// An `audio_url` part's payload.
#[derive(Debug, Clone, Deserialize)]
pub struct AudioUrl {
    /// A `data:` URL or a path under the server's audio directory.
    pub url: String,
}

/// A non-streamed answer.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ChatCompletion {
    /// `chatcmpl-…`.
    pub id: String,
    /// `chat.completion`.
    pub object: String,
    /// Unix time of creation.
    pub created: u64,
    /// The model name.
    pub model: String,
    /// The answer.
    pub choices: Vec<Choice>,
    /// Token counts.
    pub usage: Usage,
}

/// The one choice of an answer.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Choice {
    /// Always 0.
    pub index: u32,
    /// The assistant's message.
    pub message: AssistantMessage,
    /// `stop` (stop string or end of sequence) or `length` (`max_tokens` or the context).
    pub finish_reason: String,
}

/// The assistant's message.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AssistantMessage {
    /// `assistant`.
    pub role: String,
    /// The answer text.
    pub content: String,
}

/// Token counts of a request.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub struct Usage {
    /// Prompt tokens, audio frames included.
    pub prompt_tokens: usize,
    /// Generated tokens.
    pub completion_tokens: usize,
    /// Their sum.
    pub total_tokens: usize,
}

/// One streamed chunk (`chat.completion.chunk`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ChatCompletionChunk {
    /// The same id for every chunk of an answer.
    pub id: String,
    /// `chat.completion.chunk`.
    pub object: String,
    /// Unix time of creation.
    pub created: u64,
    /// The model name.
    pub model: String,
    /// The delta.
    pub choices: Vec<ChunkChoice>,
    /// Token counts, on the last chunk only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<Usage>,
}

/// The one choice of a chunk.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ChunkChoice {
    /// Always 0.
    pub index: u32,
    /// New text (and the role, on the first chunk).
    pub delta: Delta,
    /// Set on the last chunk.
    pub finish_reason: Option<String>,
}

/// A chunk's new text.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Delta {
    /// `assistant`, on the first chunk.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// New text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
}

/// `GET /v1/models` body.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ModelList {
    /// `list`.
    pub object: String,
    /// The served model.
    pub data: Vec<ModelCard>,
}

/// One served model.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ModelCard {
    /// Its name.
    pub id: String,
    /// `model`.
    pub object: String,
    /// Unix time the server started.
    pub created: u64,
    /// `llark-rs`.
    pub owned_by: String,
}
