//! Collation of tokenised examples into a [`Batch`] of plain row-major arrays.
//!
//! As LLark's collator: right padding of the ids with the pad id, labels padded with `-100`, and an
//! attention mask. The mask comes from each example's length (LLark compares ids with the pad id,
//! which is the same unless the text itself holds `[PAD]`). Audio spans are kept per example.

use crate::example::{AudioSpan, TokenizedExample};
use crate::masking::IGNORE_INDEX;
use crate::record::TaskFamily;

/// Errors of collation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CollateError {
    /// No examples were given.
    #[error("cannot collate an empty batch")]
    Empty,
    /// An example's labels and ids differ in length.
    #[error("example {id}: {ids} input ids but {labels} labels")]
    LengthMismatch {
        /// The example's id.
        id: String,
        /// Number of ids.
        ids: usize,
        /// Number of labels.
        labels: usize,
    },
}

/// A padded batch, every array row-major `[batch_size, seq_len]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Batch {
    /// Number of examples.
    pub batch_size: usize,
    /// Padded length (the longest example, rounded up to the requested multiple).
    pub seq_len: usize,
    /// Token ids, padded with the pad id.
    pub input_ids: Vec<u32>,
    /// Labels, padded with `-100`.
    pub labels: Vec<i64>,
    /// `true` on real tokens, `false` on padding.
    pub attention_mask: Vec<bool>,
    /// Unpadded length of each example.
    pub lengths: Vec<usize>,
    /// Audio spans of each example.
    pub audio_spans: Vec<Vec<AudioSpan>>,
    /// Record id of each example.
    pub ids: Vec<String>,
    /// Task family of each example.
    pub tasks: Vec<Option<TaskFamily>>,
}

/// Collates examples, padding to the longest one rounded up to a multiple of `pad_to_multiple_of`
/// (1 or 0 for no rounding).
pub fn collate(
    examples: &[TokenizedExample],
    pad_id: u32,
    pad_to_multiple_of: usize,
) -> Result<Batch, CollateError> {
    if examples.is_empty() {
        return Err(CollateError::Empty);
    }
    for ex in examples {
        if ex.input_ids.len() != ex.labels.len() {
            return Err(CollateError::LengthMismatch {
                id: ex.id.clone(),
                ids: ex.input_ids.len(),
                labels: ex.labels.len(),
            });
        }
    }
    let longest = examples
        .iter()
        .map(|e| e.input_ids.len())
        .max()
        .unwrap_or(0);
    let multiple = pad_to_multiple_of.max(1);
    let seq_len = longest.div_ceil(multiple) * multiple;
    let n = examples.len() * seq_len;
    let mut batch = Batch {
        batch_size: examples.len(),
        seq_len,
        input_ids: Vec::with_capacity(n),
        labels: Vec::with_capacity(n),
        attention_mask: Vec::with_capacity(n),
        lengths: Vec::with_capacity(examples.len()),
        audio_spans: Vec::with_capacity(examples.len()),
        ids: Vec::with_capacity(examples.len()),
        tasks: Vec::with_capacity(examples.len()),
    };
    for ex in examples {
        let len = ex.input_ids.len();
        let pad = seq_len - len;
        batch.input_ids.extend_from_slice(&ex.input_ids);
        batch.input_ids.extend(std::iter::repeat_n(pad_id, pad));
        batch.labels.extend_from_slice(&ex.labels);
        batch.labels.extend(std::iter::repeat_n(IGNORE_INDEX, pad));
        batch.attention_mask.extend(std::iter::repeat_n(true, len));
        batch.attention_mask.extend(std::iter::repeat_n(false, pad));
        batch.lengths.push(len);
        batch.audio_spans.push(ex.audio_spans.clone());
        batch.ids.push(ex.id.clone());
        batch.tasks.push(ex.task);
    }
    Ok(batch)
}

impl Batch {
    /// Row `i` of the ids, padding included.
    pub fn row_input_ids(&self, i: usize) -> &[u32] {
        &self.input_ids[i * self.seq_len..(i + 1) * self.seq_len]
    }

    /// Row `i` of the labels, padding included.
    pub fn row_labels(&self, i: usize) -> &[i64] {
        &self.labels[i * self.seq_len..(i + 1) * self.seq_len]
    }

    /// The ids widened to `i64` (the integer type most tensor libraries take).
    pub fn input_ids_i64(&self) -> Vec<i64> {
        self.input_ids.iter().map(|&id| i64::from(id)).collect()
    }

    /// Total audio frames in the batch (rows of projected audio the model will splice in).
    pub fn total_audio_frames(&self) -> usize {
        self.audio_spans.iter().flatten().map(|s| s.frames).sum()
    }

    /// Number of label positions the loss sees (not `-100`).
    pub fn trained_tokens(&self) -> usize {
        self.labels.iter().filter(|&&l| l != IGNORE_INDEX).count()
    }

    /// Undoes [`collate`]: the examples, padding removed.
    pub fn split(&self) -> Vec<TokenizedExample> {
        (0..self.batch_size)
            .map(|i| {
                let len = self.lengths[i];
                TokenizedExample {
                    id: self.ids[i].clone(),
                    input_ids: self.row_input_ids(i)[..len].to_vec(),
                    labels: self.row_labels(i)[..len].to_vec(),
                    audio_spans: self.audio_spans[i].clone(),
                    task: self.tasks[i],
                }
            })
            .collect()
    }
}
