//! `KvCache`: the keys and values of every layer, kept as a short list of blocks.
//!
//! A forward pass appends its keys/values `[batch, kv_heads, T, head_dim]` as a new block;
//! whenever the newest block is at least as long as the one before it the two are concatenated,
//! like a binary counter. Block lengths therefore strictly decrease, a layer never holds more than
//! `log2(len) + 1` blocks, and each position is copied `O(log len)` times over its lifetime instead
//! of the whole cache being rewritten every step. Attention reads the blocks where they are (one
//! score product per block), so a decoding step never recomputes the prefix and never copies the
//! whole cache. (A preallocated buffer written with `slice_assign` would not achieve this on the
//! CPU backend, whose `slice_assign` copies the entire destination buffer.)
//! The cache also remembers the padding mask of everything it holds, so that later calls only pass
//! the mask of their new tokens.

use burn::tensor::{backend::Backend, Tensor};

use crate::config::LlamaConfig;
use crate::error::{LmError, Result};
use crate::mask::AttentionMask;

/// Keys and values `[batch, kv_heads, positions, head_dim]` of consecutive positions.
pub(crate) type KvBlock<B> = (Tensor<B, 4>, Tensor<B, 4>);

/// Keys and values of all layers for a batch of sequences.
#[derive(Debug, Clone)]
pub struct KvCache<B: Backend> {
    layers: Vec<Vec<KvBlock<B>>>,
    mask: AttentionMask,
    len: usize,
}

fn block_len<B: Backend>(block: &KvBlock<B>) -> usize {
    block.0.dims()[2]
}

impl<B: Backend> KvCache<B> {
    /// An empty cache for `batch` sequences; `capacity` (the expected number of positions) sizes
    /// the block lists.
    pub fn new(config: &LlamaConfig, batch: usize, capacity: usize, _device: &B::Device) -> Self {
        let blocks = (usize::BITS - capacity.max(1).leading_zeros()) as usize + 1;
        Self {
            layers: vec![Vec::with_capacity(blocks); config.num_hidden_layers],
            mask: AttentionMask::empty(batch),
            len: 0,
        }
    }

    /// Number of positions held.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the cache holds no positions.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Number of sequences.
    pub fn batch(&self) -> usize {
        self.mask.batch()
    }

    /// Padding mask of the positions held.
    pub fn mask(&self) -> &AttentionMask {
        &self.mask
    }

    /// Number of blocks a layer's positions are stored in (at most `log2(len) + 1`).
    pub fn blocks(&self) -> usize {
        self.layers.first().map_or(0, Vec::len)
    }

    /// Forgets every position from `len` on (no-op when `len >= self.len()`), so that a
    /// conversation can continue from a shared prefix.
    pub fn truncate(&mut self, len: usize) {
        if len >= self.len {
            return;
        }
        for blocks in &mut self.layers {
            let mut start = 0;
            let mut kept = Vec::with_capacity(blocks.len());
            for (k, v) in blocks.drain(..) {
                let n = k.dims()[2];
                if start + n <= len {
                    kept.push((k, v));
                } else if start < len {
                    let [b, h, _, d] = k.dims();
                    let range = [0..b, 0..h, 0..len - start, 0..d];
                    kept.push((k.slice(range.clone()), v.slice(range)));
                }
                start += n;
            }
            *blocks = kept;
        }
        self.mask.truncate(len);
        self.len = len;
    }

    /// Checks the batch and the layer count before a forward pass of `new` positions.
    pub(crate) fn check(&self, batch: usize, layers: usize) -> Result<()> {
        if batch != self.batch() {
            return Err(LmError::Input(format!(
                "cache holds {} sequences, input has {batch}",
                self.batch()
            )));
        }
        if layers != self.layers.len() {
            return Err(LmError::Input(format!(
                "cache has {} layers, model has {layers}",
                self.layers.len()
            )));
        }
        Ok(())
    }

    /// Appends the new keys/values `[B, kv_heads, T, head_dim]` of `layer` and returns the blocks
    /// of all `len + T` positions, in order.
    pub(crate) fn append(
        &mut self,
        layer: usize,
        k: Tensor<B, 4>,
        v: Tensor<B, 4>,
    ) -> Vec<KvBlock<B>> {
        let blocks = &mut self.layers[layer];
        blocks.push((k, v));
        while blocks.len() >= 2
            && block_len(&blocks[blocks.len() - 1]) >= block_len(&blocks[blocks.len() - 2])
        {
            let (k2, v2) = blocks.pop().expect("two blocks");
            let (k1, v1) = blocks.pop().expect("two blocks");
            blocks.push((Tensor::cat(vec![k1, k2], 2), Tensor::cat(vec![v1, v2], 2)));
        }
        blocks.clone()
    }

    /// Records that a forward pass added positions with the given padding mask.
    pub(crate) fn commit(&mut self, new_mask: &AttentionMask) -> Result<()> {
        self.mask.extend(new_mask)?;
        self.len = self.mask.len();
        Ok(())
    }
}
