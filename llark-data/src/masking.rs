//! Label masking: which tokens the loss sees.
//!
//! Two named policies, never mixed:
//! - [`MaskingPolicy::LlarkCompatible`] (`llark-compatible`): LLark's recipe, bit for bit. The
//!   header and every turn are tokenised separately (each with its own `<s>`) to get lengths; the
//!   header's length is masked, then each human turn's `[cur + 2, cur + len)`. Since each separate
//!   length counts a `<s>` that the full sequence lacks, the spans are shifted and a few tokens at the
//!   end of each human turn stay unmasked (the `###` pieces before `Assistant:`).
//! - [`MaskingPolicy::AssistantOnly`] (`assistant-only`): every token is masked except those of the
//!   assistant answers and their end signal, the `"\n###"` after each answer that generation stops
//!   on. A token is kept when its text overlaps an answer or an end signal; audio-span tokens are
//!   always masked (their embeddings are replaced by audio frames).

use std::ops::Range;
use std::str::FromStr;

use crate::template::{RenderedConversation, END_SIGNAL, STOP_STRING};
use crate::tokenizer::{LlarkTokenizer, TokenizerError};
use crate::turn::Speaker;

/// The label of a position the loss ignores: -100, PyTorch's default `ignore_index` and
/// transformers' convention. The one definition of the value: `llark_lm::causal_lm_loss` takes it
/// from its caller.
pub const IGNORE_INDEX: i64 = -100;

/// How labels are masked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum MaskingPolicy {
    /// LLark's recipe, quirk included (`llark-compatible`).
    #[default]
    LlarkCompatible,
    /// Only assistant answers and their end signal are trained (`assistant-only`).
    AssistantOnly,
}

impl MaskingPolicy {
    /// The policy's name (`llark-compatible` or `assistant-only`).
    pub fn as_str(self) -> &'static str {
        match self {
            MaskingPolicy::LlarkCompatible => "llark-compatible",
            MaskingPolicy::AssistantOnly => "assistant-only",
        }
    }
}

impl std::fmt::Display for MaskingPolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An unknown masking policy name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown masking policy `{0}` (expected `llark-compatible` or `assistant-only`)")]
pub struct UnknownPolicy(pub String);

impl FromStr for MaskingPolicy {
    type Err = UnknownPolicy;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "llark-compatible" => Ok(MaskingPolicy::LlarkCompatible),
            "assistant-only" => Ok(MaskingPolicy::AssistantOnly),
            other => Err(UnknownPolicy(other.to_string())),
        }
    }
}

/// The length LLark's `_tokenize_fn` gives a text: its ids with `<s>`, not counting `[PAD]`.
pub fn llark_token_count(tokenizer: &LlarkTokenizer, text: &str) -> Result<usize, TokenizerError> {
    let pad = tokenizer.special_ids().pad;
    Ok(tokenizer
        .encode(text, true)?
        .iter()
        .filter(|&&id| id != pad)
        .count())
}

/// LLark's labels for `ids` (the tokenised `rendered.text` with `<s>`); `header_len` is
/// [`llark_token_count`] of the header (computed here when `None`).
pub fn llark_compatible_labels(
    tokenizer: &LlarkTokenizer,
    rendered: &RenderedConversation,
    ids: &[u32],
    header_len: Option<usize>,
) -> Result<Vec<i64>, TokenizerError> {
    let pad = tokenizer.special_ids().pad;
    let mut labels: Vec<i64> = ids.iter().map(|&id| i64::from(id)).collect();
    let n = labels.len();
    let mut mask = |range: Range<usize>| {
        let (start, end) = (range.start.min(n), range.end.min(n));
        if start < end {
            labels[start..end].fill(IGNORE_INDEX);
        }
    };
    let mut cur = match header_len {
        Some(n) => n,
        None => llark_token_count(tokenizer, rendered.header_text())?,
    };
    mask(0..cur);
    for turn in &rendered.turns {
        let text = rendered.turn_text(turn);
        let audio = rendered.audio_within(&turn.range);
        let len = tokenizer
            .encode_template(text, &audio, true)?
            .ids
            .iter()
            .filter(|&&id| id != pad)
            .count();
        if turn.speaker == Speaker::Human {
            mask(cur + 2..cur + len);
        }
        cur += len;
    }
    Ok(labels)
}

/// The byte ranges of `rendered.text` the assistant-only policy trains on: each answer and the
/// `"\n###"` after it.
pub fn assistant_ranges(rendered: &RenderedConversation) -> Vec<Range<usize>> {
    let signal = END_SIGNAL.len() + STOP_STRING.len();
    rendered
        .turns
        .iter()
        .filter(|t| t.speaker == Speaker::Gpt)
        .map(|t| t.value.start..(t.value.end + signal).min(rendered.text.len()))
        .collect()
}

/// Assistant-only labels from token ids and their byte offsets in `rendered.text`.
/// `audio` lists the token-index ranges of audio spans, which stay masked.
pub fn assistant_only_labels(
    rendered: &RenderedConversation,
    ids: &[u32],
    offsets: &[(usize, usize)],
    audio: &[Range<usize>],
) -> Vec<i64> {
    let keep = assistant_ranges(rendered);
    let mut in_audio = vec![false; ids.len()];
    for span in audio {
        in_audio[span.start.min(ids.len())..span.end.min(ids.len())].fill(true);
    }
    ids.iter()
        .zip(offsets)
        .zip(in_audio)
        .map(|((&id, &(start, end)), audio)| {
            let kept = !audio && end > start && keep.iter().any(|r| start < r.end && end > r.start);
            if kept {
                i64::from(id)
            } else {
                IGNORE_INDEX
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_names_round_trip() {
        for p in [MaskingPolicy::LlarkCompatible, MaskingPolicy::AssistantOnly] {
            assert_eq!(p.as_str().parse::<MaskingPolicy>().unwrap(), p);
        }
        assert!("llava".parse::<MaskingPolicy>().is_err());
    }
}
