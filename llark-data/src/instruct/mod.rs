//! Instruction generation: clip metadata in, LLark records of question/answer pairs out.
//!
//! LLark turns each clip's annotations into question/answer pairs for three task families
//! (music understanding / MIR, captioning, reasoning) by prompting a chat model with a task
//! description, a few worked examples and the clip's metadata as JSON, then filters what comes
//! back. This module does the same with either generator behind one [`Generator`] trait:
//!
//! | module | job |
//! |---|---|
//! | [`metadata`] | [`ClipMetadata`] (serde, LLark's field names accepted; chords and beats are [`llark_music`]'s) |
//! | [`facts`] | [`ClipFacts`]: the facts read from the metadata, in [`llark_music`]'s wording |
//! | [`prompt`] | [`PromptBuilder`]: chat prompts per family (and dataset), overridable from files |
//! | [`validate`] | response parsing, per-pair checks, [`ValidationReport`] |
//! | [`offline`] | [`OfflineGenerator`]: seeded, template-based pairs from the metadata alone |
//! | `openai` | `OpenAiGenerator`: an OpenAI-compatible chat-completions client (feature `openai`) |
//!
//! ```
//! use llark_data::instruct::{generate_record, ClipMetadata, OfflineGenerator, ValidationReport, Validator};
//! use llark_data::TaskFamily;
//!
//! let meta: ClipMetadata = serde_json::from_str(
//!     r#"{"id": "c1", "audio": "c1.wav", "tempo": 120.0, "key": "A minor", "instruments": ["piano"]}"#,
//! )?;
//! let mut generator = OfflineGenerator::new(7);
//! let mut report = ValidationReport::default();
//! let record = generate_record(&mut generator, &meta, TaskFamily::Mir, None, &Validator::default(), &mut report)?
//!     .expect("the clip has facts to ask about");
//! assert_eq!(record.task, Some(TaskFamily::Mir));
//! assert!(record.response.iter().any(|qa| qa.answer.contains("120 BPM")));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod facts;
pub mod metadata;
pub mod offline;
#[cfg(feature = "openai")]
pub mod openai;
pub mod prompt;
pub mod validate;

use serde_json::Value;

use crate::record::{LlarkRecord, QaPair, TaskFamily};

pub use facts::ClipFacts;
pub use metadata::{
    parse_time_signature, read_metadata_json, ClipMetadata, InvalidField, MetadataError,
    MAX_BEATS_PER_BAR, MAX_METADATA_BPM,
};
pub use offline::{OfflineGenerator, OfflinePair, QaTemplate};
#[cfg(feature = "openai")]
pub use openai::{OpenAiConfig, OpenAiGenerator};
pub use prompt::{ChatMessage, FewShotExample, PromptBuilder, PromptError, PromptTemplate, Role};
pub use validate::{parse_response, RejectReason, ResponseError, ValidationReport, Validator};

/// Errors of generating pairs for one clip and family.
#[derive(Debug, thiserror::Error)]
pub enum GenerateError {
    /// The model's reply could not be read as a list of pairs.
    #[error("clip {clip} ({family}): {source}")]
    Response {
        /// The clip id.
        clip: String,
        /// The task family.
        family: TaskFamily,
        /// What was wrong with the reply.
        source: ResponseError,
    },
    /// The server answered with an HTTP error status.
    #[error("clip {clip}: {url} answered HTTP {status}: {body}")]
    Http {
        /// The clip id.
        clip: String,
        /// The endpoint.
        url: String,
        /// The status code.
        status: u16,
        /// The start of the response body.
        body: String,
    },
    /// The request could not be sent or the reply not received.
    #[error("clip {clip}: request to {url} failed: {message}")]
    Transport {
        /// The clip id.
        clip: String,
        /// The endpoint.
        url: String,
        /// What went wrong.
        message: String,
    },
    /// The server's reply is not a chat completion with a message.
    #[error("clip {clip}: {url} sent a reply that is not a chat completion: {reason}")]
    BadCompletion {
        /// The clip id.
        clip: String,
        /// The endpoint.
        url: String,
        /// What is missing or wrong.
        reason: String,
    },
    /// The clip's metadata states something impossible (no request is made for it).
    #[error(transparent)]
    InvalidMetadata(#[from] InvalidField),
    /// The environment variable meant to hold the API key is unset or empty.
    #[error("environment variable {var} (API key) is not set or empty")]
    MissingApiKey {
        /// The variable's name.
        var: String,
    },
}

impl GenerateError {
    /// A short name for counting (`malformed-json`, `wrong-shape`, `http`, `transport`,
    /// `bad-completion`, `missing-api-key`, `invalid-metadata`).
    pub fn kind(&self) -> &'static str {
        match self {
            GenerateError::Response { source, .. } => source.kind(),
            GenerateError::Http { .. } => "http",
            GenerateError::Transport { .. } => "transport",
            GenerateError::BadCompletion { .. } => "bad-completion",
            GenerateError::MissingApiKey { .. } => "missing-api-key",
            GenerateError::InvalidMetadata(_) => "invalid-metadata",
        }
    }
}

/// Something that writes question/answer pairs about a clip for a task family.
pub trait Generator {
    /// A short name for messages (`offline`, `openai`).
    fn name(&self) -> &str;

    /// The candidate items as produced, before any per-pair check (each should be a
    /// `{"question", "answer"}` object). A reply that is unusable as a whole is an error.
    fn candidates(
        &mut self,
        meta: &ClipMetadata,
        family: TaskFamily,
    ) -> Result<Vec<Value>, GenerateError>;

    /// The checked pairs for a clip and family; counts the request, its candidates and
    /// every rejection (or the failure of the whole request) in `report`.
    fn generate_checked(
        &mut self,
        meta: &ClipMetadata,
        family: TaskFamily,
        validator: &Validator,
        report: &mut ValidationReport,
    ) -> Result<Vec<QaPair>, GenerateError> {
        report.requests += 1;
        match self.candidates(meta, family) {
            Ok(items) => Ok(validator.check(items, report)),
            Err(e) => {
                report.count_failure(e.kind());
                Err(e)
            }
        }
    }

    /// The checked pairs for a clip and family, with the default [`Validator`].
    fn generate(
        &mut self,
        meta: &ClipMetadata,
        family: TaskFamily,
    ) -> Result<Vec<QaPair>, GenerateError> {
        self.generate_checked(
            meta,
            family,
            &Validator::default(),
            &mut ValidationReport::default(),
        )
    }
}

/// The LLark record of a clip's pairs for one family: id and audio path from the metadata,
/// `task` set to the family, the dataset (when known) kept as an extra field.
pub fn make_record(meta: &ClipMetadata, family: TaskFamily, pairs: Vec<QaPair>) -> LlarkRecord {
    let mut extra = serde_json::Map::new();
    if let Some(d) = &meta.dataset {
        extra.insert("dataset".into(), Value::String(d.clone()));
    }
    LlarkRecord {
        id: meta.id.clone(),
        audio: meta.audio.clone(),
        audio_encoding: None,
        audio_encoding_shape: None,
        response: pairs,
        task: Some(family),
        extra,
    }
}

/// Generates, checks and packs one record: at most `max_pairs` accepted pairs (all when
/// `None`), in the generator's order. `Ok(None)` when no pair survives; metadata that fails
/// [`ClipMetadata::validate`] is refused before any generation.
pub fn generate_record(
    generator: &mut (impl Generator + ?Sized),
    meta: &ClipMetadata,
    family: TaskFamily,
    max_pairs: Option<usize>,
    validator: &Validator,
    report: &mut ValidationReport,
) -> Result<Option<LlarkRecord>, GenerateError> {
    meta.validate()?;
    let mut pairs = generator.generate_checked(meta, family, validator, report)?;
    if let Some(n) = max_pairs {
        pairs.truncate(n);
    }
    Ok((!pairs.is_empty()).then(|| make_record(meta, family, pairs)))
}
