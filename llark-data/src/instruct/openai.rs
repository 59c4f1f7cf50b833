//! An OpenAI-compatible chat-completions client as a [`Generator`] (cargo feature `openai`).
//!
//! It sends `POST {base_url}/chat/completions` with `{"model", "temperature", "messages"}`
//! built by a [`PromptBuilder`], reads `choices[0].message.content` from the reply and parses
//! that text as a JSON list of `{"question", "answer"}` objects. The base URL is free, so the
//! client works with any server that speaks the same protocol, a local one included. The API
//! key comes from an environment variable the caller names (none is sent when no variable is
//! named). Blocking HTTP through `ureq`, TLS through rustls.

use std::time::Duration;

use serde_json::{json, Value};

use super::metadata::ClipMetadata;
use super::prompt::{ChatMessage, PromptBuilder};
use super::validate::parse_response;
use super::{GenerateError, Generator};
use crate::record::TaskFamily;

/// Most characters of an error body kept in an error message.
const BODY_EXCERPT: usize = 300;

/// Where and how to ask.
#[derive(Debug, Clone, PartialEq)]
pub struct OpenAiConfig {
    /// Base URL of the API, e.g. `https://api.openai.com/v1` or `http://127.0.0.1:8000/v1`.
    pub base_url: String,
    /// Model name sent with each request.
    pub model: String,
    /// Name of the environment variable holding the API key (`None`: send no key).
    pub api_key_env: Option<String>,
    /// Sampling temperature.
    pub temperature: f32,
    /// Limit on the reply length, when set.
    pub max_tokens: Option<u32>,
    /// Time limit of one request (connect, send and receive).
    pub timeout: Duration,
}

impl OpenAiConfig {
    /// A configuration with temperature 0.7, no token limit, a 120 s time limit and no key.
    pub fn new(base_url: impl Into<String>, model: impl Into<String>) -> Self {
        OpenAiConfig {
            base_url: base_url.into(),
            model: model.into(),
            api_key_env: None,
            temperature: 0.7,
            max_tokens: None,
            timeout: Duration::from_secs(120),
        }
    }

    /// Reads the API key from the environment variable `var`.
    pub fn with_api_key_env(mut self, var: impl Into<String>) -> Self {
        self.api_key_env = Some(var.into());
        self
    }

    /// Sets the temperature.
    pub fn with_temperature(mut self, temperature: f32) -> Self {
        self.temperature = temperature;
        self
    }

    /// Sets the time limit of one request.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }
}

/// A chat-completions client that generates pairs from the prompts of a [`PromptBuilder`].
pub struct OpenAiGenerator {
    config: OpenAiConfig,
    endpoint: String,
    api_key: Option<String>,
    prompts: PromptBuilder,
    agent: ureq::Agent,
}

impl OpenAiGenerator {
    /// A client; fails when the named API-key variable is unset or empty.
    pub fn new(config: OpenAiConfig, prompts: PromptBuilder) -> Result<Self, GenerateError> {
        let api_key = match &config.api_key_env {
            Some(var) => Some(
                std::env::var(var)
                    .ok()
                    .filter(|k| !k.trim().is_empty())
                    .ok_or_else(|| GenerateError::MissingApiKey { var: var.clone() })?,
            ),
            None => None,
        };
        let endpoint = format!("{}/chat/completions", config.base_url.trim_end_matches('/'));
        let agent = ureq::AgentBuilder::new().timeout(config.timeout).build();
        Ok(OpenAiGenerator {
            config,
            endpoint,
            api_key,
            prompts,
            agent,
        })
    }

    /// The URL requests go to.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// The request body for a list of messages.
    pub fn request_body(&self, messages: &[ChatMessage]) -> Value {
        let mut body = json!({
            "model": self.config.model,
            "temperature": self.config.temperature,
            "messages": messages,
        });
        if let (Some(n), Value::Object(map)) = (self.config.max_tokens, &mut body) {
            map.insert("max_tokens".into(), json!(n));
        }
        body
    }

    /// Sends one chat-completion request and returns the reply's message text.
    pub fn complete(&self, messages: &[ChatMessage], clip: &str) -> Result<String, GenerateError> {
        let url = self.endpoint.clone();
        let mut request = self
            .agent
            .post(&url)
            .set("Content-Type", "application/json");
        if let Some(key) = &self.api_key {
            request = request.set("Authorization", &format!("Bearer {key}"));
        }
        let transport = |message: String| GenerateError::Transport {
            clip: clip.to_string(),
            url: url.clone(),
            message,
        };
        let response = match request.send_string(&self.request_body(messages).to_string()) {
            Ok(r) => r,
            Err(ureq::Error::Status(status, r)) => {
                let body: String = r
                    .into_string()
                    .unwrap_or_default()
                    .chars()
                    .take(BODY_EXCERPT)
                    .collect();
                return Err(GenerateError::Http {
                    clip: clip.to_string(),
                    url: url.clone(),
                    status,
                    body,
                });
            }
            Err(ureq::Error::Transport(t)) => return Err(transport(t.to_string())),
        };
        let text = response
            .into_string()
            .map_err(|e| transport(e.to_string()))?;
        let bad = |reason: String| GenerateError::BadCompletion {
            clip: clip.to_string(),
            url: url.clone(),
            reason,
        };
        let reply: Value =
            serde_json::from_str(&text).map_err(|e| bad(format!("not JSON ({e})")))?;
        reply
            .pointer("/choices/0/message/content")
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| bad("no choices[0].message.content string".to_string()))
    }
}

impl Generator for OpenAiGenerator {
    fn name(&self) -> &str {
        "openai"
    }

    fn candidates(
        &mut self,
        meta: &ClipMetadata,
        family: TaskFamily,
    ) -> Result<Vec<Value>, GenerateError> {
        let messages = self.prompts.messages(meta, family);
        let text = self.complete(&messages, &meta.id)?;
        parse_response(&text).map_err(|source| GenerateError::Response {
            clip: meta.id.clone(),
            family,
            source,
        })
    }
}
