//! The quickstart's data: synthesis, encoding through the front end, instruction pairs and the
//! word-level vocabulary.

use std::path::Path;

use burn::tensor::backend::Backend;
use burn::tensor::Tensor;
use llark::audio::synth::{self, PieceMetadata, SynthConfig};
use llark::data::instruct::{ClipMetadata, OfflineGenerator};
use llark::data::template::{prompt_with_audio, HEADER};
use llark::data::{train_word_level, AudioPlacementSampler, LlarkTokenizer, TaskFamily, Turn};
use llark::{AudioFrontEnd, LlarkError};

use crate::error::Result;
use crate::progress::bar;

pub(super) fn synthesise(
    dir: &Path,
    count: usize,
    seed: u64,
    config: &SynthConfig,
    progress: bool,
) -> Result<Vec<PieceMetadata>> {
    let bar = bar(count, progress, "synthesis");
    let meta = synth::write_dataset(dir, count, seed, config, |done, _, _| {
        bar.set_position(done as u64)
    })
    .map_err(LlarkError::from)?;
    bar.finish_and_clear();
    Ok(meta)
}

/// Runs every clip through the front end: its pooled encodings on the device, in order.
pub(super) fn encode_all<B: Backend>(
    front_end: &AudioFrontEnd<B>,
    dir: &Path,
    clips: &[PieceMetadata],
    progress: bool,
) -> Result<Vec<Tensor<B, 2>>> {
    let bar = bar(clips.len(), progress, "encoding");
    let mut out = Vec::with_capacity(clips.len());
    for meta in clips {
        out.push(front_end.encode_file(dir.join(&meta.audio))?);
        bar.inc(1);
    }
    bar.finish_and_clear();
    Ok(out)
}

/// Facts the evaluation asks about; the demo trains on the MIR pairs that quote them.
const TRAINED_FACTS: [&str; 4] = ["tempo", "key", "instrument", "instruments"];

/// Phrasings drawn per clip: each generator seed picks other question and answer wordings.
const PHRASINGS_PER_CLIP: u64 = 2;

/// Question/answer conversations (one pair each) from the offline generator, per clip id: the
/// music-understanding pairs about tempo, key and instruments.
pub(super) fn instructions(clips: &[PieceMetadata], seed: u64) -> Result<Vec<(String, Vec<Turn>)>> {
    let mut placement = AudioPlacementSampler::new(seed);
    let mut out = Vec::new();
    for piece in clips {
        let meta = clip_metadata(piece);
        let mut seen = std::collections::HashSet::new();
        for phrasing in 0..PHRASINGS_PER_CLIP {
            let generator = OfflineGenerator::new(seed.wrapping_add(phrasing));
            for generated in generator.pairs(&meta, TaskFamily::Mir) {
                let relevant = generated.facts.iter().any(|f| TRAINED_FACTS.contains(f));
                let pair = generated.pair;
                if relevant && seen.insert((pair.question.clone(), pair.answer.clone())) {
                    let human = prompt_with_audio(&pair.question, placement.sample());
                    out.push((
                        piece.id.clone(),
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

/// The instruction generator's view of a synthesised piece: the same facts, field by field
/// (the chords and beats are one type on both sides); the synthesiser's own fields (sample
/// rate, seed, tonic, mode, progression) are kept as extra fields.
fn clip_metadata(piece: &PieceMetadata) -> ClipMetadata {
    let mut meta = ClipMetadata::new(piece.id.clone());
    meta.audio = Some(piece.audio.clone());
    meta.duration = Some(piece.duration);
    meta.tempo = Some(piece.tempo_bpm);
    meta.key = Some(piece.key.clone());
    meta.time_signature = Some(piece.time_signature.clone());
    meta.downbeats = piece.downbeats.clone();
    meta.chords = piece.chords.clone();
    meta.instruments = piece
        .instruments
        .iter()
        .map(|t| t.name().to_owned())
        .collect();
    meta.genres = piece.genre.iter().map(|g| g.name().to_owned()).collect();
    meta.tags = piece.tags.clone();
    meta.caption = Some(piece.caption.clone());
    let extra: [(&str, serde_json::Value); 5] = [
        ("sample_rate", piece.sample_rate.into()),
        ("seed", piece.seed.into()),
        ("tonic", piece.tonic.clone().into()),
        ("mode", piece.mode.as_str().into()),
        ("progression", piece.progression.clone().into()),
    ];
    for (name, value) in extra {
        meta.extra.insert(name.to_owned(), value);
    }
    meta
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clip_metadata_reads_the_piece_as_its_json_would() {
        let config = SynthConfig {
            duration: 3.0,
            ..SynthConfig::default()
        };
        for seed in 0..8 {
            let piece = synth::describe(seed, &config).unwrap();
            let json = serde_json::to_string(&piece).unwrap();
            let from_json: ClipMetadata = serde_json::from_str(&json).unwrap();
            assert_eq!(clip_metadata(&piece), from_json, "seed {seed}");
        }
    }
}
