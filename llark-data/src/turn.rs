//! One turn of a conversation: who speaks ([`Speaker`]) and what ([`Turn`]). The conversation
//! records hold turns, the template renders them and the masking policies label them; this
//! module depends on none of them.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Who speaks a turn. JSON names: `"human"` and `"gpt"` (matched case-insensitively, as LLark does).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Speaker {
    /// The user (`"human"`), rendered `### Human: `.
    Human,
    /// The model (`"gpt"`), rendered `### Assistant: `.
    Gpt,
}

impl Speaker {
    /// The JSON name (`human` or `gpt`).
    pub fn as_str(self) -> &'static str {
        match self {
            Speaker::Human => "human",
            Speaker::Gpt => "gpt",
        }
    }
}

impl Serialize for Speaker {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Speaker {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        match s.to_ascii_lowercase().as_str() {
            "human" => Ok(Speaker::Human),
            "gpt" => Ok(Speaker::Gpt),
            _ => Err(serde::de::Error::custom(format!(
                "unknown speaker `{s}` (expected \"human\" or \"gpt\")"
            ))),
        }
    }
}

/// One turn of a conversation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Turn {
    /// Who speaks.
    pub from: Speaker,
    /// What is said; the human text may hold the `<audio>` placeholder.
    pub value: String,
}

impl Turn {
    /// A human turn.
    pub fn human(value: impl Into<String>) -> Self {
        Turn {
            from: Speaker::Human,
            value: value.into(),
        }
    }

    /// An assistant turn.
    pub fn gpt(value: impl Into<String>) -> Self {
        Turn {
            from: Speaker::Gpt,
            value: value.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn speaker_names_are_case_insensitive_and_strict() {
        let t: Turn = serde_json::from_str(r#"{"from":"GPT","value":"x"}"#).unwrap();
        assert_eq!(t.from, Speaker::Gpt);
        assert!(serde_json::from_str::<Turn>(r#"{"from":"bot","value":"x"}"#).is_err());
    }
}
