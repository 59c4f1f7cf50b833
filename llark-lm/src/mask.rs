//! `AttentionMask`: which token positions of a batch are real (1) and which are padding (0),
//! kept on the host because positions and the additive attention bias are derived from it.

use burn::tensor::{backend::Backend, Int, Tensor, TensorData};

use crate::error::{LmError, Result};

/// Value added to the attention scores of masked keys. Finite with room to spare in f16/bf16
/// (a score plus this value never overflows to -inf), so that fully masked rows (queries at left
/// padding) give a uniform distribution rather than NaN, and `exp` of it is exactly 0.
pub(crate) const MASKED: f32 = -30000.0;

/// A `[batch, len]` padding mask, `true` for real tokens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttentionMask {
    rows: Vec<Vec<bool>>,
}

impl AttentionMask {
    /// A mask from rows of booleans; all rows must have the same length.
    pub fn from_rows(rows: Vec<Vec<bool>>) -> Result<Self> {
        let len = rows.first().map_or(0, Vec::len);
        if let Some((i, r)) = rows.iter().enumerate().find(|(_, r)| r.len() != len) {
            return Err(LmError::Input(format!(
                "attention mask row {i} has length {}, row 0 has {len}",
                r.len()
            )));
        }
        Ok(Self { rows })
    }

    /// A mask from a flat row-major array of 0/1 values (as collated by a data loader).
    pub fn from_flat(values: &[i64], batch: usize, len: usize) -> Result<Self> {
        if values.len() != batch * len {
            return Err(LmError::Input(format!(
                "attention mask has {} values, expected {batch} x {len}",
                values.len()
            )));
        }
        if len == 0 {
            return Ok(Self::empty(batch));
        }
        Ok(Self {
            rows: values
                .chunks(len)
                .map(|r| r.iter().map(|&v| v != 0).collect())
                .collect(),
        })
    }

    /// Reads a `[batch, len]` integer tensor (0 = padding).
    pub fn from_tensor<B: Backend>(mask: &Tensor<B, 2, Int>) -> Result<Self> {
        let [batch, len] = mask.dims();
        let values: Vec<i64> = mask
            .to_data()
            .convert::<i64>()
            .into_vec()
            .map_err(|e| LmError::Input(format!("attention mask: {e:?}")))?;
        Self::from_flat(&values, batch, len)
    }

    /// All tokens real.
    pub fn ones(batch: usize, len: usize) -> Self {
        Self {
            rows: vec![vec![true; len]; batch],
        }
    }

    /// Left padding: row `i` has `lengths[i]` real tokens at its end.
    pub fn left_padded(lengths: &[usize], len: usize) -> Result<Self> {
        Self::padded(lengths, len, true)
    }

    /// Right padding: row `i` has `lengths[i]` real tokens at its start.
    pub fn right_padded(lengths: &[usize], len: usize) -> Result<Self> {
        Self::padded(lengths, len, false)
    }

    fn padded(lengths: &[usize], len: usize, left: bool) -> Result<Self> {
        let mut rows = Vec::with_capacity(lengths.len());
        for (i, &l) in lengths.iter().enumerate() {
            if l > len {
                return Err(LmError::Input(format!(
                    "row {i} has {l} tokens, more than the padded length {len}"
                )));
            }
            let pad = len - l;
            rows.push(
                (0..len)
                    .map(|t| if left { t >= pad } else { t < l })
                    .collect(),
            );
        }
        Ok(Self { rows })
    }

    /// Number of rows.
    pub fn batch(&self) -> usize {
        self.rows.len()
    }

    /// Number of positions per row.
    pub fn len(&self) -> usize {
        self.rows.first().map_or(0, Vec::len)
    }

    /// Whether the mask has no positions.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The rows.
    pub fn rows(&self) -> &[Vec<bool>] {
        &self.rows
    }

    /// Whether every position is real.
    pub fn is_all_ones(&self) -> bool {
        self.rows.iter().all(|r| r.iter().all(|&v| v))
    }

    /// Appends the positions of `other` (same batch) to each row.
    pub fn extend(&mut self, other: &AttentionMask) -> Result<()> {
        if other.batch() != self.batch() {
            return Err(LmError::Input(format!(
                "attention mask batch {} does not match {}",
                other.batch(),
                self.batch()
            )));
        }
        for (row, new) in self.rows.iter_mut().zip(&other.rows) {
            row.extend_from_slice(new);
        }
        Ok(())
    }

    /// Keeps the first `len` positions of each row.
    pub fn truncate(&mut self, len: usize) {
        for row in &mut self.rows {
            row.truncate(len);
        }
    }

    /// A mask with `batch` rows and no positions.
    pub fn empty(batch: usize) -> Self {
        Self {
            rows: vec![Vec::new(); batch],
        }
    }

    /// Position ids of the last `new` positions, as transformers' `generate` computes them:
    /// `cumsum(mask) - 1`, with 1 at padded positions.
    pub fn positions_of_last(&self, new: usize) -> Vec<Vec<i64>> {
        self.rows
            .iter()
            .map(|row| {
                let mut count = 0i64;
                let all: Vec<i64> = row
                    .iter()
                    .map(|&v| {
                        count += v as i64;
                        if v {
                            count - 1
                        } else {
                            1
                        }
                    })
                    .collect();
                all[all.len().saturating_sub(new)..].to_vec()
            })
            .collect()
    }

    /// Additive attention bias `[B, 1, 1, new, len]` for the last `new` positions as queries
    /// against all positions as keys: 0 where a query may attend (key real and not in the
    /// future), [`MASKED`] elsewhere. Without padding the bias is the same for every row and has
    /// batch size 1 (broadcast). `None` when nothing is masked.
    pub(crate) fn causal_bias<B: Backend>(
        &self,
        new: usize,
        device: &B::Device,
    ) -> Option<Tensor<B, 5>> {
        let total = self.len();
        let past = total - new;
        let unpadded = self.is_all_ones();
        if new == 1 && unpadded {
            return None;
        }
        let rows = if unpadded {
            &self.rows[..1]
        } else {
            &self.rows[..]
        };
        let mut bias = Vec::with_capacity(rows.len() * new * total);
        for row in rows {
            for q in 0..new {
                for (k, &real) in row.iter().enumerate() {
                    let allowed = real && k <= past + q;
                    bias.push(if allowed { 0.0 } else { MASKED });
                }
            }
        }
        Some(Tensor::from_data(
            TensorData::new(bias, [rows.len(), 1, 1, new, total]),
            device,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_follow_generate_for_left_padding() {
        // transformers: position_ids = cumsum(mask) - 1, filled with 1 where mask == 0.
        let mask = AttentionMask::left_padded(&[4, 2], 4).unwrap();
        assert_eq!(
            mask.positions_of_last(4),
            vec![vec![0, 1, 2, 3], vec![1, 1, 0, 1]]
        );
        assert_eq!(mask.positions_of_last(1), vec![vec![3], vec![1]]);
        let right = AttentionMask::right_padded(&[3], 5).unwrap();
        assert_eq!(right.rows(), &[vec![true, true, true, false, false]]);
        assert_eq!(right.positions_of_last(3), vec![vec![2, 1, 1]]);
    }

    #[test]
    fn shape_errors_are_reported() {
        assert!(AttentionMask::from_rows(vec![vec![true], vec![true, false]]).is_err());
        assert!(AttentionMask::from_flat(&[1, 1, 1], 2, 2).is_err());
        assert!(AttentionMask::left_padded(&[5], 4).is_err());
        let mut a = AttentionMask::ones(2, 1);
        assert!(a.extend(&AttentionMask::ones(1, 1)).is_err());
        assert_eq!(AttentionMask::from_flat(&[], 3, 0).unwrap().batch(), 3);
    }
}
