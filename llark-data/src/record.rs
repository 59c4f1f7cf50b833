//! Instruction records: LLark's record JSON and the conversation form, as serde types.
//!
//! Two shapes of data circulate in LLark:
//! - [`LlarkRecord`]: one clip and the list of question/answer pairs generated for it
//!   (`{"id", "audio", "audio_encoding", "audio_encoding_shape", "response": [{"question", "answer"}]}`);
//! - [`ConversationRecord`]: one conversation (`{"id", "conversations": [{"from": "human"|"gpt", "value"}]}`),
//!   where the human text holds the `<audio>` placeholder.
//!
//! [`LlarkRecord::to_conversations`] unpacks the first into the second exactly as LLark does
//! (one two-turn conversation per pair, audio placed first or last by a seeded coin).
//! Fields this crate does not know are kept in `extra` and written back unchanged.

use rand::Rng;
use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::template::{prompt_with_audio, AudioPlacement};
use crate::turn::Turn;

/// Task family of a record, used by the trainer to sample tasks
/// (LLark's mix: captioning 0.15, reasoning 0.55, MIR 0.30).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TaskFamily {
    /// Describe the music (captions).
    Captioning,
    /// Open-ended reasoning about the music.
    Reasoning,
    /// Music-information-retrieval questions (key, tempo, instruments, genre, ...).
    Mir,
}

impl TaskFamily {
    /// All families, in LLark's order.
    pub const ALL: [TaskFamily; 3] = [
        TaskFamily::Captioning,
        TaskFamily::Reasoning,
        TaskFamily::Mir,
    ];

    /// The lowercase name used in JSON (`captioning`, `reasoning`, `mir`).
    pub fn as_str(self) -> &'static str {
        match self {
            TaskFamily::Captioning => "captioning",
            TaskFamily::Reasoning => "reasoning",
            TaskFamily::Mir => "mir",
        }
    }

    /// Infers the family from a file or shard name the way LLark's task sampling does: the
    /// name contains the family's key (`captioning`, `reasoning`, `mir`, case-insensitive).
    /// Returns `None` when no key or more than one key occurs.
    pub fn from_name(name: &str) -> Option<TaskFamily> {
        let lower = name.to_ascii_lowercase();
        let mut found = TaskFamily::ALL
            .into_iter()
            .filter(|f| lower.contains(f.as_str()));
        match (found.next(), found.next()) {
            (Some(f), None) => Some(f),
            _ => None,
        }
    }
}

impl std::fmt::Display for TaskFamily {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One generated question/answer pair.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QaPair {
    /// The question (or instruction) about the clip.
    pub question: String,
    /// The answer the model is trained to give.
    pub answer: String,
}

/// Where a record's audio encoding lives, as written in LLark's JSON: a path to a file
/// (e.g. `.npy`), or the values inline as a flat list of numbers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum AudioEncodingRef {
    /// A path (or key) naming the stored encoding.
    Path(String),
    /// The encoding's values, flattened in row-major order.
    Inline(Vec<f32>),
}

/// LLark's record: one clip with its generated question/answer pairs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LlarkRecord {
    /// Clip identifier.
    pub id: String,
    /// Path of the audio file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audio: Option<String>,
    /// The clip's encoding (path or inline values).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audio_encoding: Option<AudioEncodingRef>,
    /// Shape of the encoding: `[frames, D]` (or `[1, frames, D]`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audio_encoding_shape: Option<Vec<usize>>,
    /// The question/answer pairs.
    pub response: Vec<QaPair>,
    /// Task family, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task: Option<TaskFamily>,
    /// Any other fields, kept as they are.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A conversation about one clip (LLark's conversation form).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConversationRecord {
    /// Clip identifier.
    pub id: String,
    /// The turns, in order.
    pub conversations: Vec<Turn>,
    /// Shape of the clip's pooled encoding: `[frames, D]` (or `[1, frames, D]`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audio_encoding_shape: Option<Vec<usize>>,
    /// Task family, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task: Option<TaskFamily>,
    /// Any other fields, kept as they are.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl ConversationRecord {
    /// A conversation with no shape, task or extra fields.
    pub fn new(id: impl Into<String>, conversations: Vec<Turn>) -> Self {
        ConversationRecord {
            id: id.into(),
            conversations,
            audio_encoding_shape: None,
            task: None,
            extra: Map::new(),
        }
    }

    /// The number of audio frames (patch tokens) this record's `<audio>` stands for, read
    /// from `audio_encoding_shape` as LLark does: `shape[1]` for `[1, frames, D]`, else `shape[0]`.
    pub fn audio_frames(&self) -> Option<usize> {
        self.audio_encoding_shape
            .as_deref()
            .and_then(frames_of_shape)
    }
}

/// Frames of an encoding shape: `shape[1]` for `[1, frames, D]`, else `shape[0]`
/// (LLark's `_get_audio_token_len`). `None` for an empty shape.
pub fn frames_of_shape(shape: &[usize]) -> Option<usize> {
    match shape {
        [1, frames, _] => Some(*frames),
        [] => None,
        [frames, ..] => Some(*frames),
    }
}

/// A seeded coin that places the audio first or last with probability 0.5 each, as LLark's
/// `random.uniform(0, 1) > 0.5` does; the same seed gives the same sequence on every platform.
#[derive(Debug, Clone)]
pub struct AudioPlacementSampler {
    rng: ChaCha8Rng,
}

impl AudioPlacementSampler {
    /// A sampler with the given seed.
    pub fn new(seed: u64) -> Self {
        AudioPlacementSampler {
            rng: ChaCha8Rng::seed_from_u64(seed),
        }
    }

    /// Draws the next placement.
    pub fn sample(&mut self) -> AudioPlacement {
        if self.rng.random::<f64>() > 0.5 {
            AudioPlacement::First
        } else {
            AudioPlacement::Last
        }
    }
}

impl LlarkRecord {
    /// Unpacks the record into one two-turn conversation per question/answer pair, each human
    /// turn holding `<audio>` before or after the question as `placement` decides. The shape, task
    /// and extra fields are carried over; `audio` and `audio_encoding` go into `extra` when present.
    pub fn to_conversations(
        &self,
        mut placement: impl FnMut() -> AudioPlacement,
    ) -> Vec<ConversationRecord> {
        let mut extra = self.extra.clone();
        if let Some(audio) = &self.audio {
            extra.insert("audio".into(), Value::String(audio.clone()));
        }
        if let Some(AudioEncodingRef::Path(p)) = &self.audio_encoding {
            extra.insert("audio_encoding".into(), Value::String(p.clone()));
        }
        self.response
            .iter()
            .map(|qa| ConversationRecord {
                id: self.id.clone(),
                conversations: vec![
                    Turn::human(prompt_with_audio(&qa.question, placement())),
                    Turn::gpt(qa.answer.clone()),
                ],
                audio_encoding_shape: self.audio_encoding_shape.clone(),
                task: self.task,
                extra: extra.clone(),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_llark_record_and_keeps_extra_fields() {
        let line = r#"{"id":"a1","audio":"a1.wav","audio_encoding":"a1.npy","audio_encoding_shape":[3,8],"response":[{"question":"Key?","answer":"E minor."}],"task":"mir","source":"fma"}"#;
        let r: LlarkRecord = serde_json::from_str(line).unwrap();
        assert_eq!(r.task, Some(TaskFamily::Mir));
        assert_eq!(r.extra["source"], "fma");
        let back = serde_json::to_value(&r).unwrap();
        assert_eq!(back, serde_json::from_str::<Value>(line).unwrap());
        let convs = r.to_conversations(|| AudioPlacement::First);
        assert_eq!(convs[0].conversations[0].value, "<audio>\nKey?");
        assert_eq!(convs[0].audio_frames(), Some(3));
    }

    #[test]
    fn frames_follow_llark_shape_rule() {
        assert_eq!(frames_of_shape(&[1, 240, 4800]), Some(240));
        assert_eq!(frames_of_shape(&[240, 4800]), Some(240));
        assert_eq!(frames_of_shape(&[]), None);
    }

    #[test]
    fn task_family_from_name() {
        assert_eq!(
            TaskFamily::from_name("shards/musiccaps-captioning-000.tar"),
            Some(TaskFamily::Captioning)
        );
        assert_eq!(
            TaskFamily::from_name("fma-mir-1.jsonl"),
            Some(TaskFamily::Mir)
        );
        assert_eq!(TaskFamily::from_name("plain.jsonl"), None);
    }

    #[test]
    fn placement_sampler_is_seeded_and_balanced() {
        let draw = |seed| {
            let mut s = AudioPlacementSampler::new(seed);
            (0..1000).map(|_| s.sample()).collect::<Vec<_>>()
        };
        assert_eq!(draw(7), draw(7));
        let firsts = draw(7)
            .iter()
            .filter(|p| **p == AudioPlacement::First)
            .count();
        assert!((400..600).contains(&firsts), "{firsts}");
    }
}
