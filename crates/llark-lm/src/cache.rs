//! `KvCache`: preallocated keys and values of every layer, written in place.
//!
//! Each layer holds `[batch, kv_heads, capacity, head_dim]` buffers; a forward pass writes its new
//! keys/values at `len..len + T` with `slice_assign` and attends to the view `0..len + T`, so a
//! decoding step never recomputes or copies the prefix. The capacity doubles when exceeded.
//! The cache also remembers the padding mask of everything it holds, so that later calls only pass
//! the mask of their new tokens.

use burn::tensor::{backend::Backend, Tensor};

use crate::config::LlamaConfig;
use crate::error::{LmError, Result};
use crate::mask::AttentionMask;

type LayerKv<B> = (Tensor<B, 4>, Tensor<B, 4>);

/// Keys and values of all layers for a batch of sequences.
#[derive(Debug, Clone)]
pub struct KvCache<B: Backend> {
    layers: Vec<Option<LayerKv<B>>>,
    mask: AttentionMask,
    len: usize,
    capacity: usize,
    kv_heads: usize,
    head_dim: usize,
    device: B::Device,
}

impl<B: Backend> KvCache<B> {
    /// An empty cache for `batch` sequences with room for `capacity` positions (it grows if needed).
    pub fn new(config: &LlamaConfig, batch: usize, capacity: usize, device: &B::Device) -> Self {
        Self {
            layers: vec![None; config.num_hidden_layers],
            mask: AttentionMask::empty(batch),
            len: 0,
            capacity: capacity.max(1),
            kv_heads: config.num_kv_heads(),
            head_dim: config.head_dim(),
            device: device.clone(),
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

    /// Positions that fit before the buffers grow.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Padding mask of the positions held.
    pub fn mask(&self) -> &AttentionMask {
        &self.mask
    }

    /// Forgets every position from `len` on (no-op when `len >= self.len()`), so that a
    /// conversation can continue from a shared prefix: the next forward pass writes over them.
    pub fn truncate(&mut self, len: usize) {
        if len < self.len {
            self.mask.truncate(len);
            self.len = len;
        }
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

    /// Writes the new keys/values `[B, kv_heads, T, head_dim]` of `layer` after the held
    /// positions and returns views of all `len + T` positions.
    pub(crate) fn append(
        &mut self,
        layer: usize,
        k: Tensor<B, 4>,
        v: Tensor<B, 4>,
    ) -> (Tensor<B, 4>, Tensor<B, 4>) {
        let [batch, heads, new, dim] = k.dims();
        let end = self.len + new;
        if end > self.capacity {
            self.capacity = end.max(2 * self.capacity);
        }
        let (mut kb, mut vb) = match self.layers[layer].take() {
            Some((kb, vb)) => (kb, vb),
            None => {
                let shape = [batch, self.kv_heads, self.capacity, self.head_dim];
                (
                    Tensor::zeros(shape, &self.device),
                    Tensor::zeros(shape, &self.device),
                )
            }
        };
        let held = kb.dims()[2];
        if held < self.capacity {
            let extra = [batch, heads, self.capacity - held, dim];
            kb = Tensor::cat(vec![kb, Tensor::zeros(extra, &self.device)], 2);
            vb = Tensor::cat(vec![vb, Tensor::zeros(extra, &self.device)], 2);
        }
        let range = [0..batch, 0..heads, self.len..end, 0..dim];
        kb = kb.slice_assign(range.clone(), k);
        vb = vb.slice_assign(range, v);
        let view = [0..batch, 0..heads, 0..end, 0..dim];
        let out = (kb.clone().slice(view.clone()), vb.clone().slice(view));
        self.layers[layer] = Some((kb, vb));
        out
    }

    /// Records that a forward pass added positions with the given padding mask.
    pub(crate) fn commit(&mut self, new_mask: &AttentionMask) -> Result<()> {
        self.mask.extend(new_mask)?;
        self.len = self.mask.len();
        Ok(())
    }
}
