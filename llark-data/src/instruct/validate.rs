//! Checking what a generator returns: the shape of the response and each question/answer pair.
//!
//! Two levels, both counted in a [`ValidationReport`]:
//! - the whole response: [`parse_response`] reads a model's text as a JSON list of objects
//!   (a list wrapped in a Markdown code fence, in words, or in an object with a single list
//!   field is accepted); text that is not JSON is [`ResponseError::MalformedJson`], JSON of
//!   another shape is [`ResponseError::WrongShape`];
//! - each item: [`Validator::check`] keeps objects with non-empty string `question` and
//!   `answer` and rejects the rest with a [`RejectReason`]: not an object, missing or empty
//!   fields, a repeated question, an off-topic answer (one that talks about the data behind it
//!   or refuses, e.g. "as an AI", "I cannot", "metadata", "JSON", "the annotations") or a
//!   question about things the audio cannot tell (artist, title, album, composer, duration).

use std::collections::BTreeMap;
use std::fmt;

use serde_json::Value;

use crate::record::QaPair;

/// Why a whole response was unusable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResponseError {
    /// The text is not JSON (after removing a code fence).
    #[error("response is not valid JSON: {0}")]
    MalformedJson(String),
    /// The JSON is not a list of question/answer objects.
    #[error("response JSON has the wrong shape: expected a list of {{\"question\", \"answer\"}} objects, found {0}")]
    WrongShape(String),
}

impl ResponseError {
    /// A short name for counting (`malformed-json`, `wrong-shape`).
    pub fn kind(&self) -> &'static str {
        match self {
            ResponseError::MalformedJson(_) => "malformed-json",
            ResponseError::WrongShape(_) => "wrong-shape",
        }
    }
}

fn describe(v: &Value) -> String {
    let kind = match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    };
    let text = v.to_string();
    let cut: String = text.chars().take(80).collect();
    if cut.len() < text.len() {
        format!("{kind} ({cut}...)")
    } else {
        format!("{kind} ({cut})")
    }
}

/// Removes a surrounding Markdown code fence (```` ```json ... ``` ````), if any.
fn strip_fence(text: &str) -> &str {
    let t = text.trim();
    let Some(rest) = t.strip_prefix("```") else {
        return t;
    };
    let body = rest.split_once('\n').map_or("", |(_, b)| b);
    body.trim_end().strip_suffix("```").unwrap_or(body).trim()
}

/// Reads a model's response text as a list of candidate items (not yet checked one by one).
///
/// The text is read as JSON after removing a surrounding code fence; when that fails and the
/// text has words around a list (`"Here are the pairs: [...] Enjoy!"`), the span from its first
/// `[` to its last `]` is read instead. The error reported is the one of the whole text.
pub fn parse_response(text: &str) -> Result<Vec<Value>, ResponseError> {
    let body = strip_fence(text);
    match serde_json::from_str::<Value>(body) {
        Ok(value) => items_of(value),
        Err(e) => {
            let inner = match (body.find('['), body.rfind(']')) {
                (Some(a), Some(b)) if a < b => serde_json::from_str::<Value>(&body[a..=b]).ok(),
                _ => None,
            };
            match inner {
                Some(value @ Value::Array(_)) => items_of(value),
                _ => Err(ResponseError::MalformedJson(e.to_string())),
            }
        }
    }
}

/// The candidate items of an already-parsed response: a list, or an object whose only
/// list-valued field holds them.
pub fn items_of(value: Value) -> Result<Vec<Value>, ResponseError> {
    match value {
        Value::Array(items) => Ok(items),
        Value::Object(map) => {
            let shown = describe(&Value::Object(map.clone()));
            let mut lists = map.into_iter().filter_map(|(_, v)| match v {
                Value::Array(items) => Some(items),
                _ => None,
            });
            match (lists.next(), lists.next()) {
                (Some(items), None) => Ok(items),
                _ => Err(ResponseError::WrongShape(shown)),
            }
        }
        other => Err(ResponseError::WrongShape(describe(&other))),
    }
}

/// Why one candidate item was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RejectReason {
    /// The item is not a JSON object.
    NotAnObject,
    /// No `question` string.
    MissingQuestion,
    /// No `answer` string.
    MissingAnswer,
    /// The question is blank.
    EmptyQuestion,
    /// The answer is blank.
    EmptyAnswer,
    /// The same question (ignoring case and surrounding blanks) came earlier in the response.
    DuplicateQuestion,
    /// The question asks what the audio cannot tell (artist, title, duration, ...).
    DisallowedQuestion,
    /// The answer refuses or talks about the data behind it instead of the music.
    OffTopicAnswer,
}

impl RejectReason {
    /// All reasons, in report order.
    pub const ALL: [RejectReason; 8] = [
        RejectReason::NotAnObject,
        RejectReason::MissingQuestion,
        RejectReason::MissingAnswer,
        RejectReason::EmptyQuestion,
        RejectReason::EmptyAnswer,
        RejectReason::DuplicateQuestion,
        RejectReason::DisallowedQuestion,
        RejectReason::OffTopicAnswer,
    ];

    /// A short name (`not-an-object`, `missing-question`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            RejectReason::NotAnObject => "not-an-object",
            RejectReason::MissingQuestion => "missing-question",
            RejectReason::MissingAnswer => "missing-answer",
            RejectReason::EmptyQuestion => "empty-question",
            RejectReason::EmptyAnswer => "empty-answer",
            RejectReason::DuplicateQuestion => "duplicate-question",
            RejectReason::DisallowedQuestion => "disallowed-question",
            RejectReason::OffTopicAnswer => "off-topic-answer",
        }
    }
}

impl fmt::Display for RejectReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Counts of everything generation produced, accepted and rejected.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ValidationReport {
    /// Generation requests made (one per clip and task family).
    pub requests: u64,
    /// Requests that failed as a whole, by kind (`http`, `malformed-json`, `wrong-shape`, ...).
    pub failed_requests: BTreeMap<&'static str, u64>,
    /// Candidate items seen.
    pub candidates: u64,
    /// Items accepted.
    pub accepted: u64,
    /// Items rejected, by reason.
    pub rejected: BTreeMap<RejectReason, u64>,
}

impl ValidationReport {
    /// Items rejected for `reason`.
    pub fn rejected_for(&self, reason: RejectReason) -> u64 {
        self.rejected.get(&reason).copied().unwrap_or(0)
    }

    /// Requests that failed with error kind `kind`.
    pub fn failed_for(&self, kind: &str) -> u64 {
        self.failed_requests.get(kind).copied().unwrap_or(0)
    }

    /// Total rejected items.
    pub fn total_rejected(&self) -> u64 {
        self.rejected.values().sum()
    }

    /// Counts one failed request of kind `kind`.
    pub fn count_failure(&mut self, kind: &'static str) {
        *self.failed_requests.entry(kind).or_insert(0) += 1;
    }

    /// Adds another report's counts to this one.
    pub fn merge(&mut self, other: &ValidationReport) {
        self.requests += other.requests;
        self.candidates += other.candidates;
        self.accepted += other.accepted;
        for (k, v) in &other.failed_requests {
            *self.failed_requests.entry(k).or_insert(0) += v;
        }
        for (k, v) in &other.rejected {
            *self.rejected.entry(*k).or_insert(0) += v;
        }
    }
}

impl fmt::Display for ValidationReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let failed: u64 = self.failed_requests.values().sum();
        writeln!(f, "requests: {} ({} failed)", self.requests, failed)?;
        for (kind, n) in &self.failed_requests {
            writeln!(f, "  failed, {kind}: {n}")?;
        }
        writeln!(
            f,
            "question/answer pairs: {} seen, {} accepted, {} rejected",
            self.candidates,
            self.accepted,
            self.total_rejected()
        )?;
        for (reason, n) in &self.rejected {
            writeln!(f, "  rejected, {reason}: {n}")?;
        }
        Ok(())
    }
}

/// Answer phrases that mark an answer as off-topic (matched case-insensitively as substrings).
pub const OFF_TOPIC_ANSWER_PHRASES: &[&str] = &[
    "as an ai",
    "as a language model",
    "i'm an ai",
    "i am an ai",
    "i cannot",
    "i can't",
    "i can not",
    "i am unable",
    "i'm unable",
    "i am not able",
    "i'm sorry",
    "metadata",
    "json",
    "annotation",
    "the provided information",
    "the provided data",
    "the information provided",
    "the data provided",
    "is not provided",
    "was not provided",
    "not mentioned",
    "no information",
    "not specified",
    "cannot be determined",
    "impossible to determine",
    "not possible to determine",
    "difficult to determine",
    "hard to tell",
    "the given caption",
    "the caption says",
    "according to the caption",
    "according to the description",
    "the listed tags",
];

/// Question phrases that mark a question as one the audio cannot answer.
pub const DISALLOWED_QUESTION_PHRASES: &[&str] = &[
    "metadata",
    "json",
    "annotation",
    "composer",
    "who wrote",
    "who composed",
    "who is the artist",
    "which artist",
    "what artist",
    "name of the artist",
    "artist's name",
    "who performed",
    "who is singing",
    "who sings",
    "name of the band",
    "band name",
    "album",
    "what is the title",
    "title of the",
    "song title",
    "what is the name",
    "record label",
    "release date",
    "when was this released",
    "when was it released",
    "year of release",
    "duration",
    "how long is",
    "file name",
    "filename",
    "movement number",
];

/// Per-item checks with configurable phrase lists.
#[derive(Debug, Clone)]
pub struct Validator {
    off_topic: Vec<String>,
    disallowed_questions: Vec<String>,
}

impl Default for Validator {
    fn default() -> Self {
        Validator::new(OFF_TOPIC_ANSWER_PHRASES, DISALLOWED_QUESTION_PHRASES)
    }
}

impl Validator {
    /// A validator with the given phrase lists (matched case-insensitively as substrings).
    pub fn new<A, Q>(off_topic_answer_phrases: A, disallowed_question_phrases: Q) -> Self
    where
        A: IntoIterator,
        A::Item: AsRef<str>,
        Q: IntoIterator,
        Q::Item: AsRef<str>,
    {
        Validator {
            off_topic: off_topic_answer_phrases
                .into_iter()
                .map(|s| s.as_ref().to_lowercase())
                .collect(),
            disallowed_questions: disallowed_question_phrases
                .into_iter()
                .map(|s| s.as_ref().to_lowercase())
                .collect(),
        }
    }

    /// Adds an off-topic answer phrase.
    pub fn with_off_topic_phrase(mut self, phrase: &str) -> Self {
        self.off_topic.push(phrase.to_lowercase());
        self
    }

    /// Adds a disallowed question phrase.
    pub fn with_disallowed_question_phrase(mut self, phrase: &str) -> Self {
        self.disallowed_questions.push(phrase.to_lowercase());
        self
    }

    /// Checks one pair's text; `Err` names the reason it is rejected.
    pub fn check_pair(&self, question: &str, answer: &str) -> Result<(), RejectReason> {
        if question.trim().is_empty() {
            return Err(RejectReason::EmptyQuestion);
        }
        if answer.trim().is_empty() {
            return Err(RejectReason::EmptyAnswer);
        }
        let q = question.to_lowercase();
        if self.disallowed_questions.iter().any(|p| q.contains(p)) {
            return Err(RejectReason::DisallowedQuestion);
        }
        let a = answer.to_lowercase();
        if self.off_topic.iter().any(|p| a.contains(p)) {
            return Err(RejectReason::OffTopicAnswer);
        }
        Ok(())
    }

    /// Checks candidate items, counts them in `report`, and returns the accepted pairs
    /// (trimmed, in their original order).
    pub fn check(&self, items: Vec<Value>, report: &mut ValidationReport) -> Vec<QaPair> {
        let mut kept: Vec<QaPair> = Vec::new();
        let mut seen: Vec<String> = Vec::new();
        for item in items {
            report.candidates += 1;
            match self.check_item(item, &seen) {
                Ok(pair) => {
                    seen.push(pair.question.to_lowercase());
                    report.accepted += 1;
                    kept.push(pair);
                }
                Err(reason) => *report.rejected.entry(reason).or_insert(0) += 1,
            }
        }
        kept
    }

    fn check_item(&self, item: Value, seen: &[String]) -> Result<QaPair, RejectReason> {
        let Value::Object(map) = item else {
            return Err(RejectReason::NotAnObject);
        };
        let field = |name: &str| map.get(name).and_then(Value::as_str).map(str::trim);
        let question = field("question").ok_or(RejectReason::MissingQuestion)?;
        let answer = field("answer").ok_or(RejectReason::MissingAnswer)?;
        self.check_pair(question, answer)?;
        if seen.contains(&question.to_lowercase()) {
            return Err(RejectReason::DuplicateQuestion);
        }
        Ok(QaPair {
            question: question.to_string(),
            answer: answer.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fenced_and_wrapped_lists_are_read() {
        let fenced = "```json\n[{\"question\":\"q\",\"answer\":\"a\"}]\n```";
        assert_eq!(parse_response(fenced).unwrap().len(), 1);
        let chatty =
            "Here you go:\n```json\n[{\"question\":\"q\",\"answer\":\"a [x]\"}]\n```\nEnjoy!";
        assert_eq!(parse_response(chatty).unwrap().len(), 1);
        assert_eq!(
            parse_response("Sure [not json] here").unwrap_err().kind(),
            "malformed-json"
        );
        let wrapped = r#"{"pairs":[{"question":"q","answer":"a"}]}"#;
        assert_eq!(parse_response(wrapped).unwrap().len(), 1);
        assert_eq!(parse_response("[1,").unwrap_err().kind(), "malformed-json");
        assert_eq!(
            parse_response(r#"{"question":"q","answer":"a"}"#)
                .unwrap_err()
                .kind(),
            "wrong-shape"
        );
    }
}
