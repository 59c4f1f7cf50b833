//! From a conversation to the ids, labels and audio spans the model sees.
//!
//! [`ExampleEncoder`] renders a [`ConversationRecord`] with LLark's template, tokenises it, masks
//! the labels with a [`MaskingPolicy`], finds the audio spans, and applies a [`Truncation`] policy
//! that never cuts inside an audio span. It also builds inference prompts
//! ([`ExampleEncoder::inference_prompt`]).

use std::ops::Range;
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

use crate::masking::{
    assistant_only_labels, llark_compatible_labels, llark_token_count, MaskingPolicy, IGNORE_INDEX,
};
use crate::record::{ConversationRecord, TaskFamily};
use crate::template::{
    prompt_with_audio, render_conversation, AudioPlacement, EMPTY_ANSWER, HEADER, PROMPT_END,
};
use crate::tokenizer::{LlarkTokenizer, SpecialTokenIds, TokenizerError};
use crate::turn::Turn;

/// The most audio frames one clip may have in a prompt (65,536: over 100 minutes at LLark's
/// 10 pooled frames per second, far beyond any Llama context). Records claiming more are refused
/// before their audio tokens are built.
pub const MAX_AUDIO_FRAMES: usize = 1 << 16;

/// Where one clip's frames go: the position of its `<audio_start>` and its frame count.
/// The frames replace the embeddings at `start + 1 .. start + 1 + frames`; `<audio_end>` is at
/// `start + frames + 1`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct AudioSpan {
    /// Index of `<audio_start>` in the sequence.
    pub start: usize,
    /// Number of `<audio_patch>` tokens (pooled frames).
    pub frames: usize,
}

impl AudioSpan {
    /// Index of the first `<audio_patch>`.
    pub fn first_patch(&self) -> usize {
        self.start + 1
    }

    /// Index of `<audio_end>`.
    pub fn end_token(&self) -> usize {
        self.start + self.frames + 1
    }

    /// Token positions covered, `<audio_start>` to `<audio_end>` inclusive.
    pub fn token_range(&self) -> Range<usize> {
        self.start..self.start + self.frames + 2
    }
}

/// What to do with a sequence longer than a maximum length.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Truncation {
    /// Keep every token.
    #[default]
    None,
    /// Fail with [`ExampleError::TooLong`] above the maximum.
    Error(usize),
    /// Cut the tail to at most this many tokens; a cut that would fall inside an audio span moves
    /// before its `<audio_start>`. (LLark cuts at 2,048 tokens, anywhere.)
    CutTail(usize),
}

/// A tokenised training example.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenizedExample {
    /// The record's id.
    pub id: String,
    /// Token ids, `<s>` first.
    pub input_ids: Vec<u32>,
    /// Labels (`-100` where masked), same length as `input_ids`.
    pub labels: Vec<i64>,
    /// Audio spans, in order of position.
    pub audio_spans: Vec<AudioSpan>,
    /// Task family, when the record has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task: Option<TaskFamily>,
}

/// An inference prompt: ids ending right after `"\n### Assistant:"`, and its audio spans.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InferencePrompt {
    /// Token ids, `<s>` first.
    pub input_ids: Vec<u32>,
    /// Audio spans, in order of position.
    pub audio_spans: Vec<AudioSpan>,
}

/// Errors turning a conversation into an example.
#[derive(Debug, thiserror::Error)]
pub enum ExampleError {
    /// Tokenisation failed.
    #[error("record {id}: {source}")]
    Tokenizer {
        /// The record's id.
        id: String,
        /// The tokenizer error.
        source: TokenizerError,
    },
    /// The text holds `<audio>` but the record has no usable `audio_encoding_shape`.
    #[error("record {id}: `<audio>` occurs but audio_encoding_shape is missing or empty")]
    MissingAudioShape {
        /// The record's id.
        id: String,
    },
    /// The clip has zero frames.
    #[error("record {id}: audio_encoding_shape gives 0 frames")]
    ZeroFrames {
        /// The record's id.
        id: String,
    },
    /// The audio tokens in the sequence are not well-formed spans (e.g. the text itself holds
    /// `<audio_start>` or `<audio_patch>`).
    #[error("record {id}: malformed audio tokens at position {position}: {reason}")]
    MalformedAudio {
        /// The record's id.
        id: String,
        /// Token position of the problem.
        position: usize,
        /// What is wrong.
        reason: String,
    },
    /// The sequence exceeds the maximum length under [`Truncation::Error`].
    #[error("record {id}: {len} tokens exceed the maximum of {max}")]
    TooLong {
        /// The record's id.
        id: String,
        /// Sequence length.
        len: usize,
        /// The maximum.
        max: usize,
    },
    /// The clip has more frames than any prompt can hold (before anything is allocated for it).
    #[error(
        "record {id}: audio_encoding_shape gives {frames} frames, more than the limit of {max}"
    )]
    TooManyFrames {
        /// The record's id.
        id: String,
        /// Frames the record claims.
        frames: usize,
        /// [`MAX_AUDIO_FRAMES`].
        max: usize,
    },
    /// After truncation no token is left for the loss (e.g. a maximum length that cuts the
    /// answer off): the example would train nothing.
    #[error("record {id}: no answer token is left to train on in its {len} tokens (is the maximum length too short?)")]
    NothingToTrain {
        /// The record's id.
        id: String,
        /// Tokens left after truncation.
        len: usize,
    },
    /// A question spells the audio placeholder, which only the template may place.
    #[error("the question contains {placeholder:?}, the placeholder where the clip goes; the clip is placed by the template")]
    PlaceholderInQuestion {
        /// The placeholder text.
        placeholder: &'static str,
    },
    /// The conversation has no turns.
    #[error("record {id}: the conversation has no turns")]
    Empty {
        /// The record's id.
        id: String,
    },
    /// The inference prompt does not contain the prompt-end tokens.
    #[error("record {id}: the prompt-end tokens of {end:?} were not found")]
    NoPromptEnd {
        /// The record's id.
        id: String,
        /// The prompt-end text.
        end: &'static str,
    },
}

/// Finds the audio spans in `ids`, each `<audio_start>` + `expected` patches + `<audio_end>`.
/// Any other arrangement of audio tokens is an error naming the position.
pub fn find_audio_spans(
    ids: &[u32],
    special: &SpecialTokenIds,
    expected: Option<usize>,
) -> Result<Vec<AudioSpan>, (usize, String)> {
    let mut spans = Vec::new();
    let mut i = 0;
    while i < ids.len() {
        let id = ids[i];
        if id == special.audio_start {
            let patches = ids[i + 1..]
                .iter()
                .take_while(|&&t| t == special.audio_patch)
                .count();
            let end = i + 1 + patches;
            if ids.get(end) != Some(&special.audio_end) {
                return Err((
                    end,
                    "<audio_start> and its patches are not followed by <audio_end>".into(),
                ));
            }
            if let Some(n) = expected {
                if patches != n {
                    return Err((
                        i,
                        format!("span has {patches} patches, the clip has {n} frames"),
                    ));
                }
            }
            spans.push(AudioSpan {
                start: i,
                frames: patches,
            });
            i = end + 1;
        } else if id == special.audio_patch || id == special.audio_end {
            return Err((i, "audio token outside an <audio_start> span".into()));
        } else {
            i += 1;
        }
    }
    Ok(spans)
}

/// Turns conversations into tokenised examples.
#[derive(Debug, Clone)]
pub struct ExampleEncoder<'t> {
    tokenizer: &'t LlarkTokenizer,
    masking: MaskingPolicy,
    truncation: Truncation,
    header: String,
    header_len: OnceLock<usize>,
}

impl<'t> ExampleEncoder<'t> {
    /// An encoder with LLark's header, the `llark-compatible` policy and no truncation.
    pub fn new(tokenizer: &'t LlarkTokenizer) -> Self {
        ExampleEncoder {
            tokenizer,
            masking: MaskingPolicy::default(),
            truncation: Truncation::default(),
            header: HEADER.to_string(),
            header_len: OnceLock::new(),
        }
    }

    /// Sets the masking policy.
    pub fn with_masking(mut self, masking: MaskingPolicy) -> Self {
        self.masking = masking;
        self
    }

    /// Sets the truncation policy.
    pub fn with_truncation(mut self, truncation: Truncation) -> Self {
        self.truncation = truncation;
        self
    }

    /// Replaces the conversation header (LLark's system prompt and blank line by default).
    pub fn with_header(mut self, header: impl Into<String>) -> Self {
        self.header = header.into();
        self.header_len = OnceLock::new();
        self
    }

    /// The tokenizer.
    pub fn tokenizer(&self) -> &LlarkTokenizer {
        self.tokenizer
    }

    /// The masking policy.
    pub fn masking(&self) -> MaskingPolicy {
        self.masking
    }

    /// Encodes a record; its `<audio>` placeholders expand to `record.audio_frames()` frames.
    pub fn encode(&self, record: &ConversationRecord) -> Result<TokenizedExample, ExampleError> {
        let mut ex = self.encode_turns(&record.id, &record.conversations, record.audio_frames())?;
        ex.task = record.task;
        Ok(ex)
    }

    /// Encodes turns; `<audio>` placeholders expand to `frames` frames (required when one occurs).
    pub fn encode_turns(
        &self,
        id: &str,
        turns: &[Turn],
        frames: Option<usize>,
    ) -> Result<TokenizedExample, ExampleError> {
        if turns.is_empty() {
            return Err(ExampleError::Empty { id: id.into() });
        }
        let frames = self.check_frames(id, turns, frames)?;
        let rendered = render_conversation(&self.header, turns, frames.unwrap_or(0));
        let tok_err = |source| ExampleError::Tokenizer {
            id: id.into(),
            source,
        };
        let (input_ids, labels, audio_spans) = match self.masking {
            MaskingPolicy::LlarkCompatible => {
                let ids = self
                    .tokenizer
                    .encode_template(&rendered.text, &rendered.audio, true)
                    .map_err(tok_err)?
                    .ids;
                let spans = self.spans(id, &ids, frames, rendered.audio_placeholders)?;
                let header_len = match self.header_len.get() {
                    Some(&n) => n,
                    None => {
                        let n = llark_token_count(self.tokenizer, &self.header).map_err(tok_err)?;
                        *self.header_len.get_or_init(|| n)
                    }
                };
                let labels =
                    llark_compatible_labels(self.tokenizer, &rendered, &ids, Some(header_len))
                        .map_err(tok_err)?;
                (ids, labels, spans)
            }
            MaskingPolicy::AssistantOnly => {
                let enc = self
                    .tokenizer
                    .encode_template(&rendered.text, &rendered.audio, true)
                    .map_err(tok_err)?;
                let spans = self.spans(id, &enc.ids, frames, rendered.audio_placeholders)?;
                let audio: Vec<Range<usize>> = spans.iter().map(AudioSpan::token_range).collect();
                let labels = assistant_only_labels(&rendered, &enc.ids, &enc.offsets, &audio);
                (enc.ids, labels, spans)
            }
        };
        let mut ex = TokenizedExample {
            id: id.into(),
            input_ids,
            labels,
            audio_spans,
            task: None,
        };
        self.truncate(&mut ex)?;
        if !ex.labels.iter().any(|&l| l != IGNORE_INDEX) {
            return Err(ExampleError::NothingToTrain {
                id: id.into(),
                len: ex.input_ids.len(),
            });
        }
        Ok(ex)
    }

    /// The inference prompt for one question about a clip of `frames` frames: LLark's text with
    /// the answer `<empty>`, tokenised and cut right after the tokens of `"\n### Assistant:"`.
    pub fn inference_prompt(
        &self,
        question: &str,
        frames: usize,
        placement: AudioPlacement,
    ) -> Result<InferencePrompt, ExampleError> {
        if question.contains(crate::template::AUDIO_PLACEHOLDER) {
            return Err(ExampleError::PlaceholderInQuestion {
                placeholder: crate::template::AUDIO_PLACEHOLDER,
            });
        }
        self.inference_prompt_turns(
            "prompt",
            &[Turn::human(prompt_with_audio(question, placement))],
            Some(frames),
        )
    }

    /// The inference prompt after `turns` (which should end with a human turn): an assistant turn
    /// `<empty>` is appended, and the ids are cut after the last `"\n### Assistant:"` tokens.
    pub fn inference_prompt_turns(
        &self,
        id: &str,
        turns: &[Turn],
        frames: Option<usize>,
    ) -> Result<InferencePrompt, ExampleError> {
        let frames = self.check_frames(id, turns, frames)?;
        let mut all = turns.to_vec();
        all.push(Turn::gpt(EMPTY_ANSWER));
        let rendered = render_conversation(&self.header, &all, frames.unwrap_or(0));
        let tok_err = |source| ExampleError::Tokenizer {
            id: id.into(),
            source,
        };
        let ids = self
            .tokenizer
            .encode_template(&rendered.text, &rendered.audio, true)
            .map_err(tok_err)?
            .ids;
        let end_seq = self.prompt_end_ids().map_err(tok_err)?;
        let cut = ids
            .windows(end_seq.len().max(1))
            .rposition(|w| w == end_seq.as_slice())
            .map(|p| p + end_seq.len())
            .ok_or_else(|| ExampleError::NoPromptEnd {
                id: id.into(),
                end: PROMPT_END,
            })?;
        let input_ids = ids[..cut].to_vec();
        let audio_spans = self.spans(id, &input_ids, frames, rendered.audio_placeholders)?;
        Ok(InferencePrompt {
            input_ids,
            audio_spans,
        })
    }

    /// The tokens of `"\n### Assistant:"` as they occur inside a conversation: the text is
    /// tokenised alone and the lone `▁` that the tokenizer puts first is dropped (as LLark does
    /// for Llama 2).
    pub fn prompt_end_ids(&self) -> Result<Vec<u32>, TokenizerError> {
        let mut ids = self.tokenizer.encode(PROMPT_END, false)?;
        if ids.len() > 1 && self.tokenizer.inner().id_to_token(ids[0]).as_deref() == Some("▁") {
            ids.remove(0);
        }
        Ok(ids)
    }

    fn check_frames(
        &self,
        id: &str,
        turns: &[Turn],
        frames: Option<usize>,
    ) -> Result<Option<usize>, ExampleError> {
        let has_audio = turns
            .iter()
            .any(|t| t.value.contains(crate::template::AUDIO_PLACEHOLDER));
        match frames {
            _ if !has_audio => Ok(frames),
            None => Err(ExampleError::MissingAudioShape { id: id.into() }),
            Some(0) => Err(ExampleError::ZeroFrames { id: id.into() }),
            Some(n) if n > MAX_AUDIO_FRAMES => Err(ExampleError::TooManyFrames {
                id: id.into(),
                frames: n,
                max: MAX_AUDIO_FRAMES,
            }),
            Some(n) => Ok(Some(n)),
        }
    }

    fn spans(
        &self,
        id: &str,
        ids: &[u32],
        frames: Option<usize>,
        placeholders: usize,
    ) -> Result<Vec<AudioSpan>, ExampleError> {
        let special = self.tokenizer.special_ids();
        let spans = find_audio_spans(ids, &special, frames).map_err(|(position, reason)| {
            ExampleError::MalformedAudio {
                id: id.into(),
                position,
                reason,
            }
        })?;
        if spans.len() > placeholders {
            return Err(ExampleError::MalformedAudio {
                id: id.into(),
                position: spans[placeholders].start,
                reason: format!(
                    "{} audio spans but only {placeholders} `<audio>` placeholders (the text holds audio tokens)",
                    spans.len()
                ),
            });
        }
        Ok(spans)
    }

    fn truncate(&self, ex: &mut TokenizedExample) -> Result<(), ExampleError> {
        let len = ex.input_ids.len();
        match self.truncation {
            Truncation::None => Ok(()),
            Truncation::Error(max) if len > max => Err(ExampleError::TooLong {
                id: ex.id.clone(),
                len,
                max,
            }),
            Truncation::Error(_) => Ok(()),
            Truncation::CutTail(max) => {
                if len > max {
                    let cut = ex
                        .audio_spans
                        .iter()
                        .find(|s| s.start < max && max < s.token_range().end)
                        .map_or(max, |s| s.start);
                    ex.input_ids.truncate(cut);
                    ex.labels.truncate(cut);
                    ex.audio_spans.retain(|s| s.token_range().end <= cut);
                }
                Ok(())
            }
        }
    }
}
