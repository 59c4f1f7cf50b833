//! A deterministic generator that writes question/answer pairs from the metadata alone.
//!
//! Each [`QaTemplate`] holds a few phrasings of a question and of its answer, with named
//! placeholders (`{tempo}`, `{key}`, `{instruments}`, ...; see [`ClipFacts`]). For a clip, every
//! template whose facts the clip has is used once, with a question and an answer phrasing drawn
//! from a seeded generator; templates that need a missing fact are skipped, so nothing is ever
//! made up. `{instrument}` templates are used once per instrument (for a few instruments).
//!
//! Answers quote facts in the form LLark's evaluation reads back: a tempo is the first number of
//! its answer followed by `BPM` (`"The tempo is about 128.4 BPM."`), and a key is the first
//! `<tonic> <major|minor>` of its answer (`"This piece is in F# minor."`).
//!
//! The draw for a clip depends only on the seed, the clip id and the family, so the output does
//! not change with the order or the number of the other clips.

use rand::seq::SliceRandom;
use rand::Rng;
use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde_json::Value;

use super::facts::ClipFacts;
use super::metadata::ClipMetadata;
use super::{GenerateError, Generator};
use crate::record::{QaPair, TaskFamily};

/// Phrasings of one question and its answer, with `{fact}` placeholders.
#[derive(Debug, Clone, Copy)]
pub struct QaTemplate {
    /// The family the pair belongs to.
    pub family: TaskFamily,
    /// Question phrasings (one is drawn).
    pub questions: &'static [&'static str],
    /// Answer phrasings (one is drawn); all use the same placeholders.
    pub answers: &'static [&'static str],
}

const fn t(
    family: TaskFamily,
    questions: &'static [&'static str],
    answers: &'static [&'static str],
) -> QaTemplate {
    QaTemplate {
        family,
        questions,
        answers,
    }
}

use TaskFamily::{Captioning as C, Mir as M, Reasoning as R};

/// The built-in templates of all families.
pub const TEMPLATES: &[QaTemplate] = &[
    // ---- music understanding (MIR) ----
    t(
        M,
        &[
            "What is the tempo of this clip in BPM?",
            "How fast is this music, in beats per minute?",
            "What is the approximate tempo of this track?",
            "Estimate the BPM of this recording.",
        ],
        &[
            "The tempo is about {tempo} BPM.",
            "It runs at roughly {tempo} beats per minute (BPM).",
            "About {tempo} BPM.",
            "This clip moves at around {tempo} BPM.",
        ],
    ),
    t(
        M,
        &[
            "Is this a fast or a slow piece?",
            "How would you describe the pace of this track?",
        ],
        &[
            "At about {tempo} BPM, the pace is {pace}.",
            "The tempo sits around {tempo} BPM, which feels {pace}.",
        ],
    ),
    t(
        M,
        &[
            "What key is this piece in?",
            "Which key is the song in?",
            "Name the key of this clip.",
            "What is the tonal center and mode of this music?",
        ],
        &[
            "This piece is in {key}.",
            "The key is {key}.",
            "It is in the key of {key}.",
            "{key}.",
        ],
    ),
    t(
        M,
        &[
            "What is the time signature of this music?",
            "What meter is this clip in?",
            "How many beats are in each bar?",
        ],
        &[
            "The music is in {time_signature} time.",
            "It is in {time_signature}, with {beats_per_bar} beats to the bar.",
        ],
    ),
    t(
        M,
        &[
            "When does the first bar begin?",
            "At what point does the first downbeat fall?",
        ],
        &["The first downbeat falls about {first_downbeat} seconds into the clip."],
    ),
    t(
        M,
        &[
            "What instruments do you hear?",
            "Which instruments are playing in this clip?",
            "List the instruments in this recording.",
        ],
        &[
            "I can hear {instruments}.",
            "The instruments are {instruments}.",
            "This recording features {instruments}.",
        ],
    ),
    t(
        M,
        &[
            "Is there any {instrument} in this clip?",
            "Can you hear {instrument} in this recording?",
            "Does this track include {instrument}?",
        ],
        &[
            "Yes, {instrument} can be heard in this clip.",
            "Yes, the track includes {instrument}.",
        ],
    ),
    t(
        M,
        &[
            "What genre is this?",
            "Which musical style does this clip belong to?",
            "How would you classify this music by genre?",
        ],
        &[
            "The genre is best described as {genre}.",
            "It belongs to {genre}.",
            "This music falls under {genre}.",
        ],
    ),
    t(
        M,
        &[
            "Which words describe the character of this music?",
            "How would you describe the style and mood of this clip in a few words?",
        ],
        &[
            "It can be described as {tags}.",
            "Fitting words for it are {tags}.",
        ],
    ),
    t(
        M,
        &[
            "What chords are played?",
            "Describe the chord progression.",
            "Which chords does the harmony move through?",
        ],
        &[
            "The chords are {chords}.",
            "The harmony moves through {chords}.",
        ],
    ),
    t(
        M,
        &[
            "Which chord opens the clip?",
            "What is the first chord you hear?",
        ],
        &["The clip opens on {first_chord}.", "{first_chord} comes first."],
    ),
    t(
        M,
        &[
            "Which chord is heard the most?",
            "Which chord does the music spend the most time on?",
        ],
        &[
            "{main_chord} is heard the most.",
            "The music spends the most time on {main_chord}.",
        ],
    ),
    // ---- captioning ----
    t(
        C,
        &[
            "Give a detailed description of this audio clip.",
            "Describe what you hear in this recording.",
            "Write a caption for this music.",
            "What does this clip sound like? Describe it thoroughly.",
        ],
        &["{caption}"],
    ),
    t(
        C,
        &[
            "Summarize this clip in one sentence.",
            "Give a short overview of this music.",
        ],
        &["{summary}"],
    ),
    // ---- reasoning ----
    t(
        R,
        &[
            "How long does one bar last in this clip?",
            "If you count along, how much time does each measure take?",
        ],
        &[
            "At about {tempo} BPM in {time_signature} time, each bar holds {beats_per_bar} beats and lasts about {bar_seconds} seconds.",
            "The tempo is about {tempo} BPM and there are {beats_per_bar} beats per bar ({time_signature} time), so one bar lasts roughly {bar_seconds} seconds.",
        ],
    ),
    t(
        R,
        &[
            "How do the chords relate to the key of this piece?",
            "Explain the harmony of this clip.",
        ],
        &[
            "The piece is in {key}, and its harmony moves through {chords}.",
            "The home key is {key}; around it the chords run {chords}.",
        ],
    ),
    t(
        R,
        &[
            "Does the tempo suit the style of this track?",
            "How does the speed of this music relate to its style?",
        ],
        &[
            "At about {tempo} BPM, this {genre} track moves at a {pace} pace.",
            "Its tempo of roughly {tempo} BPM gives this {genre} music a {pace} feel.",
        ],
    ),
    t(
        R,
        &[
            "What would a musician need to know to play along with this clip?",
            "I want to jam along with this track. Which key and tempo should I use?",
        ],
        &[
            "Play in {key} at about {tempo} BPM.",
            "The music is in {key} and runs at roughly {tempo} BPM, so tune your part to {key} and count at that speed.",
        ],
    ),
    t(
        R,
        &[
            "How should I count along with this music?",
            "What pulse and meter would you tap along to here?",
        ],
        &["Count at about {tempo} BPM in {time_signature} time, with {beats_per_bar} beats to every bar."],
    ),
    t(
        R,
        &[
            "Which instruments shape the sound of this track, and what style do they point to?",
            "How does the instrumentation fit the genre of this music?",
        ],
        &[
            "The sound is built on {instruments}, a line-up that fits its style: {genre}.",
            "With {instruments} in the arrangement, the music sits comfortably in {genre}.",
        ],
    ),
    t(
        R,
        &[
            "How many different instruments can you pick out, and what are they?",
            "Count the instruments in this clip and name them.",
        ],
        &["I can pick out {instrument_count}: {instruments}."],
    ),
    t(
        R,
        &[
            "What mood does this music convey, given its style?",
            "How would you characterize the feel of this piece?",
        ],
        &["This {genre} music comes across as {tags}."],
    ),
];

/// Most per-instrument questions asked for one clip.
pub const MAX_INSTRUMENT_QUESTIONS: usize = 3;

/// Names of the `{placeholders}` of a phrasing, in order.
pub fn placeholders(text: &'static str) -> Vec<&'static str> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(open) = rest.find('{') {
        let after = &rest[open + 1..];
        let Some(close) = after.find('}') else { break };
        out.push(&after[..close]);
        rest = &after[close + 1..];
    }
    out
}

fn render(text: &'static str, facts: &ClipFacts, instrument: Option<&str>) -> Option<String> {
    let mut out = text.to_string();
    for name in placeholders(text) {
        let value = match name {
            "instrument" => instrument?,
            _ => facts.get(name)?,
        };
        out = out.replace(&format!("{{{name}}}"), value);
    }
    Some(out)
}

/// A generated pair and the facts it quotes.
#[derive(Debug, Clone, PartialEq)]
pub struct OfflinePair {
    /// The pair.
    pub pair: QaPair,
    /// Names of the facts its question and answer quote (`tempo`, `key`, `instrument`, ...).
    pub facts: Vec<&'static str>,
}

/// Writes question/answer pairs from the metadata alone, deterministically for a seed.
#[derive(Debug, Clone)]
pub struct OfflineGenerator {
    seed: u64,
    templates: Vec<QaTemplate>,
}

impl OfflineGenerator {
    /// A generator with the built-in templates.
    pub fn new(seed: u64) -> Self {
        OfflineGenerator {
            seed,
            templates: TEMPLATES.to_vec(),
        }
    }

    /// A generator with other templates.
    pub fn with_templates(seed: u64, templates: Vec<QaTemplate>) -> Self {
        OfflineGenerator { seed, templates }
    }

    fn rng_for(&self, id: &str, family: TaskFamily) -> ChaCha8Rng {
        let mut h = crc32fast::Hasher::new();
        h.update(id.as_bytes());
        h.update(&[0]);
        h.update(family.as_str().as_bytes());
        let mixed = self.seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ u64::from(h.finalize());
        ChaCha8Rng::seed_from_u64(mixed)
    }

    /// The pairs for a clip and family, with the facts each quotes, in a seeded order.
    pub fn pairs(&self, meta: &ClipMetadata, family: TaskFamily) -> Vec<OfflinePair> {
        let facts = meta.facts();
        let mut rng = self.rng_for(&meta.id, family);
        let mut instruments = facts.instrument_list.clone();
        instruments.shuffle(&mut rng);
        instruments.truncate(MAX_INSTRUMENT_QUESTIONS);
        let mut out = Vec::new();
        for template in self.templates.iter().filter(|t| t.family == family) {
            if template.questions.is_empty() || template.answers.is_empty() {
                continue;
            }
            let q = template.questions[rng.random_range(0..template.questions.len())];
            let a = template.answers[rng.random_range(0..template.answers.len())];
            let mut used = placeholders(q);
            used.extend(placeholders(a));
            used.sort_unstable();
            used.dedup();
            let items: Vec<Option<&str>> = if used.contains(&"instrument") {
                instruments.iter().map(|i| Some(i.as_str())).collect()
            } else {
                vec![None]
            };
            for item in items {
                if let (Some(question), Some(answer)) =
                    (render(q, &facts, item), render(a, &facts, item))
                {
                    out.push(OfflinePair {
                        pair: QaPair { question, answer },
                        facts: used.clone(),
                    });
                }
            }
        }
        out.shuffle(&mut rng);
        out
    }
}

impl Generator for OfflineGenerator {
    fn name(&self) -> &str {
        "offline"
    }

    fn candidates(
        &mut self,
        meta: &ClipMetadata,
        family: TaskFamily,
    ) -> Result<Vec<Value>, GenerateError> {
        Ok(self
            .pairs(meta, family)
            .into_iter()
            .map(|p| serde_json::json!({"question": p.pair.question, "answer": p.pair.answer}))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_found() {
        assert_eq!(
            placeholders("At {tempo} BPM in {key}."),
            vec!["tempo", "key"]
        );
        assert!(placeholders("no holes").is_empty());
    }
}
