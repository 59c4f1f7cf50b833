//! The quickstart's data: rendering and encoding through the front end, instruction pairs and
//! the word-level vocabulary.

use burn::tensor::backend::Backend;
use burn::tensor::Tensor;
use llark::data::instruct::{ClipMetadata, OfflineGenerator};
use llark::data::template::{prompt_with_audio, HEADER};
use llark::data::{train_word_level, AudioPlacementSampler, LlarkTokenizer, TaskFamily, Turn};
use llark::{AudioFrontEnd, LlarkError};

use super::music::Clip;
use crate::error::Result;

/// A clip encoded: its pooled encodings on the device, with what it is.
pub(super) struct Encoded<B: Backend> {
    pub id: String,
    pub meta: ClipMetadata,
    pub truth: super::music::Truth,
    pub encodings: Tensor<B, 2>,
}

/// Runs a rendered clip (peak-normalised already) through the front end, resampling it only
/// when the encoder takes another rate; a clip encoded where it was rendered (by the front
/// end's encoder configuration) is only pooled.
pub(super) fn encode<B: Backend>(front_end: &AudioFrontEnd<B>, clip: Clip) -> Result<Encoded<B>> {
    let encodings = match clip.frames {
        Some(frames) => front_end.pool(frames.into_tensor(front_end.device()))?,
        None if clip.audio.sample_rate() == front_end.encoder().sample_rate() => {
            front_end.encode(&clip.audio)?
        }
        None => front_end.encode(&front_end.prepare(&clip.audio)?)?,
    };
    Ok(Encoded {
        encodings,
        id: clip.id,
        meta: clip.meta,
        truth: clip.truth,
    })
}

/// Facts the evaluation asks about and the caption; the demo trains on the pairs that quote
/// them.
const TRAINED_FACTS: [&str; 8] = [
    "tempo",
    "pace",
    "key",
    "beats_per_bar",
    "instrument",
    "instruments",
    "time_signature",
    "caption",
];

/// Phrasings drawn per clip: each generator seed picks other question and answer wordings.
const PHRASINGS_PER_CLIP: u64 = 2;

/// Question/answer conversations (one pair each) from the offline generator, per clip id: the
/// music-understanding pairs about tempo, key, metre and instruments, and captions.
pub(super) fn instructions(clips: &[&ClipMetadata], seed: u64) -> Result<Vec<(String, Vec<Turn>)>> {
    let mut placement = AudioPlacementSampler::new(seed);
    let mut out = Vec::new();
    for meta in clips {
        let mut seen = std::collections::HashSet::new();
        for phrasing in 0..PHRASINGS_PER_CLIP {
            let generator = OfflineGenerator::new(seed.wrapping_add(phrasing));
            let pairs = [TaskFamily::Mir, TaskFamily::Captioning]
                .into_iter()
                .flat_map(|family| generator.pairs(meta, family));
            for generated in pairs {
                let relevant = generated.facts.iter().all(|f| TRAINED_FACTS.contains(f));
                let pair = generated.pair;
                if relevant && seen.insert((pair.question.clone(), pair.answer.clone())) {
                    let human = prompt_with_audio(&pair.question, placement.sample());
                    out.push((
                        meta.id.clone(),
                        vec![Turn::human(human), Turn::gpt(pair.answer)],
                    ));
                }
            }
        }
    }
    Ok(out)
}

pub(super) fn train_tokenizer(conversations: &[(String, Vec<Turn>)]) -> Result<LlarkTokenizer> {
    let texts = std::iter::once(HEADER.to_string())
        .chain(["### Human:".to_string(), "### Assistant:".to_string()])
        .chain(["The tempo is about BPM.".to_string()])
        .chain(
            conversations
                .iter()
                .flat_map(|(_, turns)| turns.iter().map(|t| t.value.replace("<audio>", ""))),
        )
        .collect::<Vec<_>>();
    Ok(train_word_level(texts.into_iter(), 1, 100_000).map_err(LlarkError::from)?)
}
