//! LLark's conversation template (LLaVA's single-separator `###` style).
//!
//! ```text
//! SYSTEM + "\n\n"
//! + "### Human: " + prompt + "\n"
//! + "### Assistant: " + answer + "\n"
//! ... (more turns)
//! + "### "
//! ```
//! The human prompt holds `<audio>` before (`"<audio>\n" + question`) or after
//! (`question + "\n<audio>"`) the question; `<audio>` becomes `<audio_start>`, then N times
//! `<audio_patch>`, then `<audio_end>`, N being the clip's pooled frame count.
//! [`render_conversation`] builds the text and remembers the byte range of every part, which the
//! masking policies use.

use std::ops::Range;

use crate::tokenizer::{AUDIO_END_TOKEN, AUDIO_PATCH_TOKEN, AUDIO_START_TOKEN};
use crate::turn::{Speaker, Turn};

/// LLark's system prompt (LLaVA's `conv_v1_2` system message).
pub const SYSTEM: &str = "A chat between a curious human and an artificial intelligence assistant. The assistant gives helpful, detailed, and polite answers to the human's questions.";
/// The conversation header: the system prompt and a blank line.
pub const HEADER: &str = "A chat between a curious human and an artificial intelligence assistant. The assistant gives helpful, detailed, and polite answers to the human's questions.\n\n";
/// Opens every turn, and ends the conversation.
pub const BEGIN_SIGNAL: &str = "### ";
/// Closes every turn.
pub const END_SIGNAL: &str = "\n";
/// Role name of the human turns.
pub const HUMAN_ROLE: &str = "Human";
/// Role name of the assistant turns.
pub const ASSISTANT_ROLE: &str = "Assistant";
/// The placeholder for the clip in a prompt.
pub const AUDIO_PLACEHOLDER: &str = "<audio>";
/// The text an inference prompt ends with.
pub const PROMPT_END: &str = "\n### Assistant:";
/// Generation stops when this appears in the decoded continuation.
pub const STOP_STRING: &str = "###";
/// The answer placeholder LLark renders when building an inference prompt.
pub const EMPTY_ANSWER: &str = "<empty>";

/// Where the audio goes in the human prompt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AudioPlacement {
    /// `"<audio>\n" + question`.
    First,
    /// `question + "\n<audio>"`.
    Last,
}

/// The human prompt: the question with `<audio>` before or after it, joined by `\n`.
pub fn prompt_with_audio(question: &str, placement: AudioPlacement) -> String {
    match placement {
        AudioPlacement::First => format!("{AUDIO_PLACEHOLDER}\n{question}"),
        AudioPlacement::Last => format!("{question}\n{AUDIO_PLACEHOLDER}"),
    }
}

/// `<audio_start>` + `frames` x `<audio_patch>` + `<audio_end>`.
pub fn audio_token_string(frames: usize) -> String {
    let mut s = String::with_capacity(
        AUDIO_START_TOKEN.len() + frames * AUDIO_PATCH_TOKEN.len() + AUDIO_END_TOKEN.len(),
    );
    s.push_str(AUDIO_START_TOKEN);
    for _ in 0..frames {
        s.push_str(AUDIO_PATCH_TOKEN);
    }
    s.push_str(AUDIO_END_TOKEN);
    s
}

/// Replaces every `<audio>` in `text` by the audio token string of `frames` frames.
pub fn expand_audio(text: &str, frames: usize) -> String {
    if text.contains(AUDIO_PLACEHOLDER) {
        text.replace(AUDIO_PLACEHOLDER, &audio_token_string(frames))
    } else {
        text.to_string()
    }
}

/// The role name rendered for a speaker.
pub fn role_name(speaker: Speaker) -> &'static str {
    match speaker {
        Speaker::Human => HUMAN_ROLE,
        Speaker::Gpt => ASSISTANT_ROLE,
    }
}

/// One turn as rendered: `"### " + role + ": " + value + "\n"`.
pub fn format_turn(speaker: Speaker, value: &str) -> String {
    format!("{BEGIN_SIGNAL}{}: {value}{END_SIGNAL}", role_name(speaker))
}

/// Where one rendered turn lies in the conversation text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderedTurn {
    /// Who speaks.
    pub speaker: Speaker,
    /// The whole turn, `"### Role: value\n"`.
    pub range: Range<usize>,
    /// The value alone (after audio expansion).
    pub value: Range<usize>,
}

/// A conversation rendered to text, with the byte range of each part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderedConversation {
    /// The full text.
    pub text: String,
    /// The header.
    pub header: Range<usize>,
    /// The turns, in order.
    pub turns: Vec<RenderedTurn>,
    /// The final `"### "`.
    pub tail: Range<usize>,
    /// How many `<audio>` placeholders were expanded.
    pub audio_placeholders: usize,
    /// The byte range of each expanded placeholder (its audio token string), in order: the only
    /// places where special tokens are recognised when the text is tokenized.
    pub audio: Vec<Range<usize>>,
}

impl RenderedConversation {
    /// The text of one rendered turn (`"### Role: value\n"`); empty for a turn of another
    /// conversation that does not fit this text.
    pub fn turn_text(&self, turn: &RenderedTurn) -> &str {
        self.text.get(turn.range.clone()).unwrap_or_default()
    }

    /// The header text.
    pub fn header_text(&self) -> &str {
        self.text.get(self.header.clone()).unwrap_or_default()
    }

    /// The audio ranges inside `range` of the text, relative to `range.start` (for tokenizing a
    /// part of the text with [`crate::LlarkTokenizer::encode_template`]).
    pub fn audio_within(&self, range: &Range<usize>) -> Vec<Range<usize>> {
        self.audio
            .iter()
            .filter(|a| a.start >= range.start && a.end <= range.end)
            .map(|a| a.start - range.start..a.end - range.start)
            .collect()
    }
}

/// Renders `header` and `turns` into LLark's template, expanding `<audio>` to `frames` frames
/// (`frames` is only read when a placeholder occurs).
pub fn render_conversation(header: &str, turns: &[Turn], frames: usize) -> RenderedConversation {
    let mut text = String::with_capacity(
        header.len() + turns.iter().map(|t| t.value.len() + 16).sum::<usize>() + 8,
    );
    text.push_str(header);
    let header_range = 0..text.len();
    let mut rendered = Vec::with_capacity(turns.len());
    let mut audio_placeholders = 0;
    let mut audio = Vec::new();
    for turn in turns {
        let start = text.len();
        text.push_str(BEGIN_SIGNAL);
        text.push_str(role_name(turn.from));
        text.push_str(": ");
        let value_start = text.len();
        let mut pieces = turn.value.split(AUDIO_PLACEHOLDER);
        text.push_str(pieces.next().unwrap_or_default());
        for piece in pieces {
            let audio_start = text.len();
            text.push_str(&audio_token_string(frames));
            audio.push(audio_start..text.len());
            audio_placeholders += 1;
            text.push_str(piece);
        }
        let value_end = text.len();
        text.push_str(END_SIGNAL);
        rendered.push(RenderedTurn {
            speaker: turn.from,
            range: start..text.len(),
            value: value_start..value_end,
        });
    }
    let tail_start = text.len();
    text.push_str(BEGIN_SIGNAL);
    RenderedConversation {
        tail: tail_start..text.len(),
        text,
        header: header_range,
        turns: rendered,
        audio_placeholders,
        audio,
    }
}

/// The part of a generated continuation before the stop string `###` (all of it if absent),
/// with surrounding whitespace trimmed.
pub fn cut_at_stop(continuation: &str) -> &str {
    continuation
        .find(STOP_STRING)
        .map_or(continuation, |i| &continuation[..i])
        .trim()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_is_system_plus_blank_line() {
        assert_eq!(HEADER, format!("{SYSTEM}\n\n"));
    }

    #[test]
    fn renders_llark_template_with_ranges() {
        let turns = [
            Turn::human(prompt_with_audio("Key?", AudioPlacement::Last)),
            Turn::gpt("E minor."),
        ];
        let r = render_conversation("H\n\n", &turns, 2);
        assert_eq!(
            r.text,
            "H\n\n### Human: Key?\n<audio_start><audio_patch><audio_patch><audio_end>\n### Assistant: E minor.\n### "
        );
        assert_eq!(&r.text[r.turns[1].value.clone()], "E minor.");
        assert_eq!(r.turn_text(&r.turns[1]), "### Assistant: E minor.\n");
        assert_eq!(&r.text[r.tail.clone()], "### ");
        assert_eq!(r.audio_placeholders, 1);
    }

    #[test]
    fn stop_cut() {
        assert_eq!(cut_at_stop(" E minor.\n### Human"), "E minor.");
        assert_eq!(cut_at_stop("no stop"), "no stop");
    }
}
