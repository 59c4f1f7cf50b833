//! Training data: tokenised examples, their audio, and the seeded sampler (shuffled epochs or a
//! task mix) whose position is part of every checkpoint.

use std::collections::HashMap;
use std::path::Path;

use llark_data::{
    collate, AudioPlacementSampler, Batch, EncodingStore, ExampleEncoder, JsonlReader, LlarkRecord,
    OnError, TaskFamily, TokenizedExample,
};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::config::TaskMix;
use crate::error::{Result, TrainError};

/// Stored audio encodings of the records' clips: what gives a batch its audio rows. (Not an
/// audio decoder: `llark_audio::AudioSource` reads sound; this reads encoder output saved for
/// training.)
pub trait EncodingSource {
    /// Width of the encodings.
    fn width(&self) -> usize;
    /// The audio rows of `batch` in splice order, `[total frames, width]` (see
    /// [`EncodingStore::gather_batch`]).
    fn gather(&self, batch: &Batch) -> Result<(Vec<f32>, [usize; 2])>;
}

impl EncodingSource for EncodingStore {
    fn width(&self) -> usize {
        self.dim()
    }

    fn gather(&self, batch: &Batch) -> Result<(Vec<f32>, [usize; 2])> {
        Ok(self.gather_batch(batch)?)
    }
}

/// Encodings held in memory, by clip id (tests, small data sets).
#[derive(Debug, Clone, Default)]
pub struct InMemoryAudio {
    width: usize,
    clips: HashMap<String, (Vec<f32>, usize)>,
}

impl InMemoryAudio {
    /// An empty set of encodings of width `width`.
    pub fn new(width: usize) -> Self {
        InMemoryAudio {
            width,
            clips: HashMap::new(),
        }
    }

    /// Adds a clip of `values.len() / width` frames.
    pub fn insert(&mut self, clip: impl Into<String>, values: Vec<f32>) -> Result<()> {
        let clip = clip.into();
        if self.width == 0 || !values.len().is_multiple_of(self.width) {
            return Err(TrainError::RaggedEncoding {
                clip,
                values: values.len(),
                width: self.width,
            });
        }
        let frames = values.len() / self.width;
        self.clips.insert(clip, (values, frames));
        Ok(())
    }
}

impl EncodingSource for InMemoryAudio {
    fn width(&self) -> usize {
        self.width
    }

    fn gather(&self, batch: &Batch) -> Result<(Vec<f32>, [usize; 2])> {
        let mut out = Vec::new();
        let mut total = 0;
        for (clip, spans) in batch.ids.iter().zip(&batch.audio_spans) {
            for span in spans {
                let (values, frames) = self
                    .clips
                    .get(clip)
                    .ok_or_else(|| TrainError::MissingEncoding { clip: clip.clone() })?;
                if *frames != span.frames {
                    return Err(TrainError::FrameMismatch {
                        clip: clip.clone(),
                        span: span.frames,
                        encoding: *frames,
                    });
                }
                out.extend_from_slice(values);
                total += frames;
            }
        }
        Ok((out, [total, self.width]))
    }
}

/// Tokenised examples with their stored audio encodings.
pub struct TrainData<A> {
    /// The examples.
    pub examples: Vec<TokenizedExample>,
    /// Their audio encodings.
    pub audio: A,
    /// Padding id for collation.
    pub pad_id: u32,
}

impl<A: EncodingSource> TrainData<A> {
    /// Bundles examples and audio.
    pub fn new(examples: Vec<TokenizedExample>, audio: A, pad_id: u32) -> Result<Self> {
        if examples.is_empty() {
            return Err(TrainError::NoExamples);
        }
        Ok(TrainData {
            examples,
            audio,
            pad_id,
        })
    }

    /// The examples at `indices`, in order.
    pub fn examples_at(&self, indices: &[usize]) -> Result<Vec<&TokenizedExample>> {
        indices
            .iter()
            .map(|&i| {
                self.examples.get(i).ok_or_else(|| {
                    TrainError::Data(format!(
                        "example index {i} is outside the {} examples",
                        self.examples.len()
                    ))
                })
            })
            .collect()
    }

    /// Collates the examples at `indices` (padding to a multiple of `pad_to_multiple_of`) and
    /// gathers their audio.
    pub fn batch(
        &self,
        indices: &[usize],
        pad_to_multiple_of: usize,
    ) -> Result<(Batch, Vec<f32>, [usize; 2])> {
        let examples: Vec<TokenizedExample> =
            self.examples_at(indices)?.into_iter().cloned().collect();
        let batch = collate(&examples, self.pad_id, pad_to_multiple_of)?;
        let (audio, shape) = self.audio.gather(&batch)?;
        Ok((batch, audio, shape))
    }
}

/// Shared encodings: the workers of a data-parallel run read one source.
impl<A: EncodingSource + ?Sized> EncodingSource for std::sync::Arc<A> {
    fn width(&self) -> usize {
        (**self).width()
    }

    fn gather(&self, batch: &Batch) -> Result<(Vec<f32>, [usize; 2])> {
        (**self).gather(batch)
    }
}

/// Reads LLark records (JSON Lines, one clip with its question/answer pairs per line) and
/// tokenises every pair as LLark does: one two-turn conversation per pair, the audio placed
/// before or after the question by a seeded coin ([`AudioPlacementSampler`]). A record without a
/// `task` takes the family named by its file name ([`TaskFamily::from_name`]). The frame count
/// comes from `audio_encoding_shape`, or from `store` when the record has none.
pub fn load_llark_records(
    path: &Path,
    encoder: &ExampleEncoder<'_>,
    placement_seed: u64,
    store: Option<&EncodingStore>,
) -> Result<Vec<TokenizedExample>> {
    let records_err = |source| TrainError::Records {
        path: path.to_path_buf(),
        source,
    };
    let reader = JsonlReader::<LlarkRecord, _>::open(path, OnError::Stop).map_err(records_err)?;
    let file_family = path
        .file_name()
        .and_then(|n| n.to_str())
        .and_then(TaskFamily::from_name);
    let mut coin = AudioPlacementSampler::new(placement_seed);
    let mut out = Vec::new();
    for item in reader {
        let numbered = item.map_err(records_err)?;
        let mut record = numbered.value;
        record.task = record.task.or(file_family);
        if record.audio_encoding_shape.is_none() {
            if let Some(store) = store {
                let shape =
                    store
                        .shape(&record.id)
                        .map_err(|source| TrainError::RecordEncoding {
                            path: path.to_path_buf(),
                            line: numbered.line,
                            source,
                        })?;
                record.audio_encoding_shape = Some(shape.to_vec());
            }
        }
        for conversation in record.to_conversations(|| coin.sample()) {
            let example =
                encoder
                    .encode(&conversation)
                    .map_err(|source| TrainError::RecordExample {
                        path: path.to_path_buf(),
                        line: numbered.line,
                        source,
                    })?;
            out.push(example);
        }
    }
    Ok(out)
}

/// Position of the sampler, saved in checkpoints.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SamplerState {
    /// Word position of the family-draw generator (decimal, a `u128`).
    pub draw_position: String,
    /// Per group: the pass over its examples and the position in it.
    pub cursors: Vec<(u64, usize)>,
    /// Examples drawn so far.
    pub drawn: u64,
}

/// The seeded example stream. Without a task mix there is one group (all examples), shuffled
/// afresh for every pass; with a task mix, each draw picks a family with the mix's
/// probabilities and takes that family's next example (each family shuffled afresh for every
/// pass over it). Each pass's order depends only on the seed, the group and the pass number, so a
/// position ([`SamplerState`]) restores the stream exactly.
#[derive(Debug, Clone)]
pub struct Sampler {
    seed: u64,
    groups: Vec<Vec<usize>>,
    weights: Vec<f64>,
    draws: ChaCha8Rng,
    cursors: Vec<(u64, usize)>,
    orders: Vec<Vec<usize>>,
    drawn: u64,
}

const DRAW_STREAM: u64 = u64::MAX;

impl Sampler {
    /// A sampler over `examples` (their task families are read for a mix).
    pub fn new(examples: &[TokenizedExample], seed: u64, mix: Option<&TaskMix>) -> Result<Self> {
        if examples.is_empty() {
            return Err(TrainError::NoExamples);
        }
        let (groups, weights) = match mix {
            None => (vec![(0..examples.len()).collect::<Vec<_>>()], vec![1.0]),
            Some(mix) => {
                let mut groups = Vec::new();
                let mut weights = Vec::new();
                for family in TaskFamily::ALL {
                    let members: Vec<usize> = examples
                        .iter()
                        .enumerate()
                        .filter(|(_, e)| e.task == Some(family))
                        .map(|(i, _)| i)
                        .collect();
                    let w = mix.weight(family);
                    if w > 0.0 && members.is_empty() {
                        return Err(TrainError::Data(format!(
                            "the task mix gives {family} weight {w} but no example is {family}"
                        )));
                    }
                    if w > 0.0 {
                        groups.push(members);
                        weights.push(w);
                    }
                }
                if let Some(e) = examples.iter().find(|e| e.task.is_none()) {
                    return Err(TrainError::Data(format!(
                        "example {} has no task family; a task mix needs one for every example",
                        e.id
                    )));
                }
                (groups, weights)
            }
        };
        let mut draws = ChaCha8Rng::seed_from_u64(seed);
        draws.set_stream(DRAW_STREAM);
        let cursors = vec![(0, 0); groups.len()];
        let orders = (0..groups.len())
            .map(|g| Self::order(seed, &groups[g], g, 0))
            .collect();
        Ok(Sampler {
            seed,
            groups,
            weights,
            draws,
            cursors,
            orders,
            drawn: 0,
        })
    }

    fn order(seed: u64, members: &[usize], group: usize, pass: u64) -> Vec<usize> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        rng.set_stream(((group as u64) << 48) ^ pass);
        let mut order = members.to_vec();
        order.shuffle(&mut rng);
        order
    }

    /// The next example index.
    pub fn next_index(&mut self) -> usize {
        let g = if self.groups.len() == 1 {
            0
        } else {
            let total: f64 = self.weights.iter().sum();
            let mut u = self.draws.random::<f64>() * total;
            let mut chosen = self.groups.len() - 1;
            for (i, w) in self.weights.iter().enumerate() {
                if u < *w {
                    chosen = i;
                    break;
                }
                u -= w;
            }
            chosen
        };
        let (pass, pos) = self.cursors[g];
        let index = self.orders[g][pos];
        if pos + 1 == self.orders[g].len() {
            self.cursors[g] = (pass + 1, 0);
            self.orders[g] = Self::order(self.seed, &self.groups[g], g, pass + 1);
        } else {
            self.cursors[g] = (pass, pos + 1);
        }
        self.drawn += 1;
        index
    }

    /// The next `n` example indices.
    pub fn take(&mut self, n: usize) -> Vec<usize> {
        (0..n).map(|_| self.next_index()).collect()
    }

    /// Examples drawn so far.
    pub fn drawn(&self) -> u64 {
        self.drawn
    }

    /// The current position.
    pub fn state(&self) -> SamplerState {
        SamplerState {
            draw_position: self.draws.get_word_pos().to_string(),
            cursors: self.cursors.clone(),
            drawn: self.drawn,
        }
    }

    /// Moves to a saved position.
    pub fn restore(&mut self, state: &SamplerState) -> Result<()> {
        let bad = |reason: String| TrainError::Data(format!("sampler state: {reason}"));
        if state.cursors.len() != self.groups.len() {
            return Err(bad(format!(
                "{} groups saved, the data has {}",
                state.cursors.len(),
                self.groups.len()
            )));
        }
        for (g, &(pass, pos)) in state.cursors.iter().enumerate() {
            if pos >= self.groups[g].len() {
                return Err(bad(format!(
                    "position {pos} in group {g} of {} examples",
                    self.groups[g].len()
                )));
            }
            self.orders[g] = Self::order(self.seed, &self.groups[g], g, pass);
        }
        let word: u128 = state
            .draw_position
            .parse()
            .map_err(|e| bad(format!("draw position `{}`: {e}", state.draw_position)))?;
        self.draws.set_word_pos(word);
        self.cursors = state.cursors.clone();
        self.drawn = state.drawn;
        Ok(())
    }
}
