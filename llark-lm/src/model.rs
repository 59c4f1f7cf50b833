//! `Llama`: the decoder-only language model (embedding, decoder layers, final norm, LM head).

use std::sync::Arc;

use burn::module::{Module, Param};
use burn::tensor::{backend::Backend, Int, Tensor, TensorData};
use llark_kernels::PackedMatrix;

use crate::cache::KvCache;
use crate::config::LlamaConfig;
use crate::error::{LmError, Result};
use crate::layers::{Attention, DecoderLayer, Mlp, PassContext, Projection, RmsNorm};
use crate::mask::AttentionMask;
use crate::rope;

/// A Llama causal language model with Hugging Face parameter names and layouts.
#[derive(Module, Debug)]
pub struct Llama<B: Backend> {
    /// `[vocab, hidden]` input embedding (`model.embed_tokens.weight`).
    pub embed_tokens: Param<Tensor<B, 2>>,
    /// Decoder layers (`model.layers.{i}`).
    pub layers: Vec<DecoderLayer<B>>,
    /// Final norm (`model.norm`).
    pub norm: RmsNorm<B>,
    /// `[vocab, hidden]` output projection (`lm_head.weight`); `None` when tied to the embedding
    /// or packed.
    pub lm_head: Option<Param<Tensor<B, 2>>>,
    /// The output projection in packed storage (bf16, f16 or int8; a tied head packs the
    /// embedding's values), used instead of `lm_head` and the embedding when set.
    #[module(skip)]
    pub packed_head: Option<Arc<PackedMatrix>>,
    /// The configuration the model was built from.
    #[module(skip)]
    pub config: LlamaConfig,
    /// The configuration of the LoRA adapters the projections carry (`None`: no adapters); see
    /// [`crate::lora`].
    #[module(skip)]
    pub(crate) lora: Option<crate::lora::LoraConfig>,
    #[module(skip)]
    inv_freq: Vec<f32>,
}

/// What a vector parameter is, so that initialisers can tell norms (ones) from biases (zeros).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VectorKind {
    /// RMS-norm scale.
    Norm,
    /// Projection bias.
    Bias,
}

/// Supplies parameters by Hugging Face name while a model is built.
pub trait TensorProvider<B: Backend> {
    /// A `[rows, cols]` matrix.
    fn matrix(&mut self, name: &str, shape: [usize; 2]) -> Result<Tensor<B, 2>>;
    /// A vector of `len` values.
    fn vector(&mut self, name: &str, len: usize, kind: VectorKind) -> Result<Tensor<B, 1>>;
    /// A projection weight (or the output projection) in packed storage, or `None` to take it
    /// as a backend tensor from [`Self::matrix`] (the default).
    fn packed(&mut self, _name: &str, _shape: [usize; 2]) -> Result<Option<PackedMatrix>> {
        Ok(None)
    }
}

/// Every parameter a configuration needs, with its shape, in Hugging Face naming.
pub fn tensor_specs(config: &LlamaConfig) -> Vec<(String, Vec<usize>)> {
    let (d, f, v) = (
        config.hidden_size,
        config.intermediate_size,
        config.vocab_size,
    );
    let q_out = config.num_attention_heads * config.head_dim();
    let kv_out = config.num_kv_heads() * config.head_dim();
    let mut specs = vec![("model.embed_tokens.weight".to_string(), vec![v, d])];
    for i in 0..config.num_hidden_layers {
        let p = format!("model.layers.{i}");
        let mut push = |name: String, shape: Vec<usize>| specs.push((name, shape));
        push(format!("{p}.input_layernorm.weight"), vec![d]);
        push(format!("{p}.post_attention_layernorm.weight"), vec![d]);
        for (proj, out, inp, bias) in [
            ("self_attn.q_proj", q_out, d, config.attention_bias),
            ("self_attn.k_proj", kv_out, d, config.attention_bias),
            ("self_attn.v_proj", kv_out, d, config.attention_bias),
            ("self_attn.o_proj", d, q_out, config.attention_bias),
            ("mlp.gate_proj", f, d, config.mlp_bias),
            ("mlp.up_proj", f, d, config.mlp_bias),
            ("mlp.down_proj", d, f, config.mlp_bias),
        ] {
            push(format!("{p}.{proj}.weight"), vec![out, inp]);
            if bias {
                push(format!("{p}.{proj}.bias"), vec![out]);
            }
        }
    }
    specs.push(("model.norm.weight".to_string(), vec![d]));
    if !config.tie_word_embeddings {
        specs.push(("lm_head.weight".to_string(), vec![v, d]));
    }
    specs
}

fn projection<B: Backend>(
    src: &mut dyn TensorProvider<B>,
    name: &str,
    out: usize,
    inp: usize,
    bias: bool,
) -> Result<Projection<B>> {
    let weight_name = format!("{name}.weight");
    let packed = src.packed(&weight_name, [out, inp])?;
    let dense = match packed {
        Some(_) => None,
        None => Some(src.matrix(&weight_name, [out, inp])?),
    };
    let bias = if bias {
        Some(src.vector(&format!("{name}.bias"), out, VectorKind::Bias)?)
    } else {
        None
    };
    Ok(Projection {
        weight: dense.map(Param::from_tensor),
        bias: bias.map(Param::from_tensor),
        lora: None,
        packed: packed.map(Arc::new),
    })
}

impl<B: Backend> Llama<B> {
    /// Builds the model, asking `src` for every parameter (in checkpoint order of `tensor_specs`).
    pub fn build(config: LlamaConfig, src: &mut dyn TensorProvider<B>) -> Result<Self> {
        config.validate()?;
        let (d, f, v) = (
            config.hidden_size,
            config.intermediate_size,
            config.vocab_size,
        );
        let (h, kvh, dh) = (
            config.num_attention_heads,
            config.num_kv_heads(),
            config.head_dim(),
        );
        let eps = config.rms_norm_eps;
        let embed_tokens = Param::from_tensor(src.matrix("model.embed_tokens.weight", [v, d])?);
        let mut layers = Vec::with_capacity(config.num_hidden_layers);
        for i in 0..config.num_hidden_layers {
            let p = format!("model.layers.{i}");
            let norm = |src: &mut dyn TensorProvider<B>, n: &str| -> Result<RmsNorm<B>> {
                Ok(RmsNorm::new(
                    src.vector(&format!("{p}.{n}.weight"), d, VectorKind::Norm)?,
                    eps,
                ))
            };
            let input_layernorm = norm(src, "input_layernorm")?;
            let post_attention_layernorm = norm(src, "post_attention_layernorm")?;
            let ab = config.attention_bias;
            let self_attn = Attention {
                q_proj: projection(src, &format!("{p}.self_attn.q_proj"), h * dh, d, ab)?,
                k_proj: projection(src, &format!("{p}.self_attn.k_proj"), kvh * dh, d, ab)?,
                v_proj: projection(src, &format!("{p}.self_attn.v_proj"), kvh * dh, d, ab)?,
                o_proj: projection(src, &format!("{p}.self_attn.o_proj"), d, h * dh, ab)?,
                heads: h,
                kv_heads: kvh,
                head_dim: dh,
            };
            let mb = config.mlp_bias;
            let mlp = Mlp {
                gate_proj: projection(src, &format!("{p}.mlp.gate_proj"), f, d, mb)?,
                up_proj: projection(src, &format!("{p}.mlp.up_proj"), f, d, mb)?,
                down_proj: projection(src, &format!("{p}.mlp.down_proj"), d, f, mb)?,
            };
            layers.push(DecoderLayer {
                input_layernorm,
                self_attn,
                post_attention_layernorm,
                mlp,
            });
        }
        let norm = RmsNorm::new(src.vector("model.norm.weight", d, VectorKind::Norm)?, eps);
        let head_name = if config.tie_word_embeddings {
            "model.embed_tokens.weight"
        } else {
            "lm_head.weight"
        };
        let packed_head = src.packed(head_name, [v, d])?.map(Arc::new);
        let lm_head = if config.tie_word_embeddings || packed_head.is_some() {
            None
        } else {
            Some(Param::from_tensor(src.matrix("lm_head.weight", [v, d])?))
        };
        let inv_freq = rope::inverse_frequencies(&config);
        Ok(Self {
            embed_tokens,
            layers,
            norm,
            lm_head,
            packed_head,
            config,
            lora: None,
            inv_freq,
        })
    }

    /// The device of the parameters.
    pub fn device(&self) -> B::Device {
        self.embed_tokens.device()
    }

    /// Vocabulary size (rows of the embedding).
    pub fn vocab_size(&self) -> usize {
        self.config.vocab_size
    }

    /// Looks token ids `[B, T]` up in the input embedding: `[B, T, hidden]`.
    ///
    /// Fails when an id is outside the vocabulary.
    pub fn embed_tokens(&self, ids: Tensor<B, 2, Int>) -> Result<Tensor<B, 3>> {
        let [b, t] = ids.dims();
        let vocab = self.config.vocab_size as i64;
        let host: Vec<i64> = ids
            .to_data()
            .convert::<i64>()
            .into_vec()
            .map_err(|e| LmError::Input(format!("token ids: {e:?}")))?;
        if let Some(bad) = host.iter().find(|&&id| id < 0 || id >= vocab) {
            return Err(LmError::Input(format!(
                "token id {bad} is outside the vocabulary of {vocab}"
            )));
        }
        Ok(self.embed_unchecked(ids.reshape([b * t]), b, t))
    }

    /// Looks host token ids up (rows of equal length).
    pub fn embed_ids(&self, ids: &[Vec<u32>]) -> Result<Tensor<B, 3>> {
        let b = ids.len();
        let t = ids.first().map_or(0, Vec::len);
        let mut flat = Vec::with_capacity(b * t);
        for (i, row) in ids.iter().enumerate() {
            if row.len() != t {
                return Err(LmError::Input(format!(
                    "token row {i} has length {}, row 0 has {t}",
                    row.len()
                )));
            }
            for &id in row {
                if id as usize >= self.config.vocab_size {
                    return Err(LmError::Input(format!(
                        "token id {id} is outside the vocabulary of {}",
                        self.config.vocab_size
                    )));
                }
                flat.push(id as i64);
            }
        }
        let ids = Tensor::<B, 1, Int>::from_data(TensorData::new(flat, [b * t]), &self.device());
        Ok(self.embed_unchecked(ids, b, t))
    }

    fn embed_unchecked(&self, flat_ids: Tensor<B, 1, Int>, b: usize, t: usize) -> Tensor<B, 3> {
        self.embed_tokens
            .val()
            .select(0, flat_ids)
            .reshape([b, t, self.config.hidden_size])
    }

    /// Final hidden states `[B, T, hidden]` (after the last norm) for input embeddings.
    ///
    /// `mask` marks the real tokens of the new positions (`None`: all real); positions are
    /// `cumsum(mask) - 1` over the cached and new positions, as transformers' `generate`
    /// computes them, which for unpadded and right-padded input equals `0..T`. With a `cache`,
    /// the new positions attend to the cached ones and are appended to it.
    pub fn hidden_states(
        &self,
        embeds: Tensor<B, 3>,
        mask: Option<&AttentionMask>,
        mut cache: Option<&mut KvCache<B>>,
    ) -> Result<Tensor<B, 3>> {
        let [b, t, d] = embeds.dims();
        if d != self.config.hidden_size {
            return Err(LmError::Input(format!(
                "embeddings have width {d}, the model has hidden_size {}",
                self.config.hidden_size
            )));
        }
        if t == 0 || b == 0 {
            return Err(LmError::Input(format!("input is empty ({b} x {t})")));
        }
        let new_mask = match mask {
            Some(m) if m.batch() != b || m.len() != t => {
                return Err(LmError::Input(format!(
                    "attention mask is {} x {}, input is {b} x {t}",
                    m.batch(),
                    m.len()
                )))
            }
            Some(m) => m.clone(),
            None => AttentionMask::ones(b, t),
        };
        let full = match cache.as_deref() {
            Some(c) => {
                c.check(b, self.layers.len())?;
                let mut full = c.mask().clone();
                full.extend(&new_mask)?;
                full
            }
            None => new_mask.clone(),
        };
        let device = embeds.device();
        let (cos, sin) = rope::cos_sin::<B>(&self.inv_freq, &full.positions_of_last(t), &device);
        let ctx = PassContext {
            cos,
            sin,
            bias: full.causal_bias::<B>(t, &device),
        };
        let mut x = embeds;
        for (i, layer) in self.layers.iter().enumerate() {
            x = layer.forward(x, &ctx, cache.as_deref_mut().map(|c| (c, i)));
        }
        if let Some(c) = cache {
            c.commit(&new_mask)?;
        }
        Ok(self.norm.forward(x))
    }

    /// Projects hidden states `[B, T, hidden]` to logits `[B, T, vocab]`.
    pub fn logits(&self, hidden: Tensor<B, 3>) -> Tensor<B, 3> {
        let [b, t, d] = hidden.dims();
        let hidden = hidden.reshape([b * t, d]);
        let logits = match (&self.packed_head, &self.lm_head) {
            (Some(p), _) => crate::layers::packed_product(hidden, p),
            (None, Some(w)) => hidden.matmul(w.val().transpose()),
            (None, None) => hidden.matmul(self.embed_tokens.val().transpose()),
        };
        logits.reshape([b, t, self.config.vocab_size])
    }

    /// Logits `[B, T, vocab]` for input embeddings (the multimodal path). See [`Self::hidden_states`].
    pub fn forward_embeds(
        &self,
        embeds: Tensor<B, 3>,
        mask: Option<&AttentionMask>,
        cache: Option<&mut KvCache<B>>,
    ) -> Result<Tensor<B, 3>> {
        Ok(self.logits(self.hidden_states(embeds, mask, cache)?))
    }

    /// Logits `[B, T, vocab]` for token ids `[B, T]`. See [`Self::hidden_states`].
    pub fn forward(
        &self,
        ids: Tensor<B, 2, Int>,
        mask: Option<&AttentionMask>,
        cache: Option<&mut KvCache<B>>,
    ) -> Result<Tensor<B, 3>> {
        let embeds = self.embed_tokens(ids)?;
        self.forward_embeds(embeds, mask, cache)
    }

    /// An empty cache for `batch` sequences sized for `capacity` positions.
    pub fn new_cache(&self, batch: usize, capacity: usize) -> KvCache<B> {
        KvCache::new(&self.config, batch, capacity, &self.device())
    }

    /// Resizes the vocabulary to `new_vocab` rows. New rows of the input embedding and of the
    /// output projection are set to the mean of the existing rows (as LLark does when it adds
    /// `[PAD]` and its audio tokens); shrinking drops the last rows.
    pub fn resize_token_embeddings(mut self, new_vocab: usize) -> Result<Self> {
        let old = self.config.vocab_size;
        if new_vocab == 0 {
            return Err(LmError::Input("new vocabulary size is 0".into()));
        }
        let resize = |w: Tensor<B, 2>| -> Tensor<B, 2> {
            let [rows, d] = w.dims();
            if new_vocab <= rows {
                return w.slice([0..new_vocab, 0..d]);
            }
            let mean = w.clone().mean_dim(0).repeat_dim(0, new_vocab - rows);
            Tensor::cat(vec![w, mean], 0)
        };
        if new_vocab != old {
            if let Some(head) = self.packed_head.take() {
                let device = self.device();
                let [rows, d] = head.shape();
                let widened =
                    Tensor::<B, 2>::from_data(TensorData::new(head.to_f32(), [rows, d]), &device);
                let values: Vec<f32> = resize(widened)
                    .into_data()
                    .convert::<f32>()
                    .into_vec()
                    .map_err(|e| LmError::Input(format!("resized output projection: {e:?}")))?;
                let repacked = PackedMatrix::from_f32(&values, new_vocab, d, head.dtype())
                    .map_err(|source| LmError::packed("lm_head.weight", source))?;
                self.packed_head = Some(Arc::new(repacked));
            }
            self.embed_tokens = self.embed_tokens.map(resize);
            self.lm_head = self.lm_head.map(|p| p.map(resize));
            self.config.vocab_size = new_vocab;
        }
        Ok(self)
    }
}
