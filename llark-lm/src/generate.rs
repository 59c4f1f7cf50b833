//! Text generation: greedy decoding and sampling (temperature, top-k, top-p, repetition penalty)
//! with a seeded generator, stop ids, stop strings, per-token streaming, left-padded batches,
//! prompts given as ids or as input embeddings, and continuation of an existing [`KvCache`].
//!
//! Logits processing follows transformers' `generate` (4.44): repetition penalty, then
//! temperature, top-k and top-p, then sampling from the softmax (or arg-max when greedy).

use burn::tensor::{backend::Backend, Tensor};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::cache::KvCache;
use crate::error::{LmError, Result};
use crate::mask::AttentionMask;
use crate::model::Llama;

/// Decoding settings.
#[derive(Debug, Clone, PartialEq)]
pub struct GenerationConfig {
    /// Maximum number of tokens generated per sequence.
    pub max_new_tokens: usize,
    /// Sample from the distribution (`false`: greedy arg-max).
    pub do_sample: bool,
    /// Softmax temperature when sampling.
    pub temperature: f32,
    /// Keep only the `k` most likely tokens when sampling.
    pub top_k: Option<usize>,
    /// Keep the smallest set of tokens whose probability reaches `p` when sampling.
    pub top_p: Option<f32>,
    /// Penalty on tokens already in the sequence (1.0: none), as in transformers.
    pub repetition_penalty: f32,
    /// Seed of the sampling generator.
    pub seed: u64,
    /// A sequence stops after producing one of these ids (the id is kept in the output).
    pub eos_token_ids: Vec<u32>,
    /// A sequence stops when its decoded continuation contains one of these strings.
    pub stop_strings: Vec<String>,
    /// Id used to pad ragged prompts and finished sequences.
    pub pad_token_id: u32,
}

impl Default for GenerationConfig {
    fn default() -> Self {
        Self {
            max_new_tokens: 128,
            do_sample: false,
            temperature: 1.0,
            top_k: None,
            top_p: None,
            repetition_penalty: 1.0,
            seed: 0,
            eos_token_ids: Vec::new(),
            stop_strings: Vec::new(),
            pad_token_id: 0,
        }
    }
}

impl GenerationConfig {
    /// Greedy decoding of at most `max_new_tokens` tokens.
    pub fn greedy(max_new_tokens: usize) -> Self {
        Self {
            max_new_tokens,
            ..Self::default()
        }
    }

    fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(LmError::Input(m));
        if self.do_sample && !(self.temperature > 0.0 && self.temperature.is_finite()) {
            return bad(format!("temperature {} must be positive", self.temperature));
        }
        if let Some(p) = self.top_p {
            if !(p > 0.0 && p <= 1.0) {
                return bad(format!("top_p {p} must be in (0, 1]"));
            }
        }
        if self.top_k == Some(0) {
            return bad("top_k must be positive".into());
        }
        if !(self.repetition_penalty > 0.0 && self.repetition_penalty.is_finite()) {
            return bad(format!(
                "repetition_penalty {} must be positive",
                self.repetition_penalty
            ));
        }
        Ok(())
    }
}

/// What generation starts from.
#[derive(Debug, Clone)]
pub enum Prompt<B: Backend> {
    /// Token ids per sequence; rows of different lengths are left-padded with `pad_token_id`.
    Ids(Vec<Vec<u32>>),
    /// Input embeddings `[B, T, hidden]` (e.g. text with spliced audio frames), left-padded as
    /// described by `mask`. `history` holds the ids the repetition penalty should see (may be
    /// empty rows, as in transformers when only embeddings are given).
    Embeds {
        /// `[B, T, hidden]` embeddings.
        embeds: Tensor<B, 3>,
        /// Padding mask; the last position of every row must be real.
        mask: AttentionMask,
        /// Ids seen by the repetition penalty, per row.
        history: Vec<Vec<u32>>,
    },
}

/// Why a sequence stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopReason {
    /// It produced an end-of-sequence id.
    Eos,
    /// Its decoded continuation contains a stop string.
    StopString,
    /// It reached `max_new_tokens`, or the model's context (`max_position_embeddings`) is full.
    MaxTokens,
    /// The caller's cancel hook asked to stop.
    Cancelled,
}

/// The generated continuation of each sequence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GenerationOutput {
    /// New tokens per sequence, including the EOS id or the tokens of the stop string that ended it.
    pub tokens: Vec<Vec<u32>>,
    /// Why each sequence stopped.
    pub stop_reasons: Vec<StopReason>,
}

/// Turns generated ids into text (the tokenizer's decode), used to find stop strings.
pub type DecodeFn<'a> = &'a dyn Fn(&[u32]) -> String;

/// Optional callbacks of a generation.
#[derive(Default)]
pub struct GenerationHooks<'a> {
    /// Decodes a continuation to text; required when `stop_strings` is not empty.
    pub decode: Option<DecodeFn<'a>>,
    /// Called with `(sequence index, token)` for every new token as soon as it is chosen.
    pub on_token: Option<&'a mut dyn FnMut(usize, u32)>,
    /// Asked before every step; `true` stops every sequence ([`StopReason::Cancelled`]), e.g.
    /// when the client of a server has gone.
    pub cancel: Option<&'a dyn Fn() -> bool>,
}

/// Host-side logits processing and token choice, one sequence at a time.
struct Sampler {
    rng: ChaCha8Rng,
}

impl Sampler {
    fn choose(&mut self, logits: &mut [f32], history: &[u32], cfg: &GenerationConfig) -> u32 {
        if cfg.repetition_penalty != 1.0 {
            let mut seen = history.to_vec();
            seen.sort_unstable();
            seen.dedup();
            for &id in &seen {
                if let Some(x) = logits.get_mut(id as usize) {
                    *x = if *x < 0.0 {
                        *x * cfg.repetition_penalty
                    } else {
                        *x / cfg.repetition_penalty
                    };
                }
            }
        }
        if !cfg.do_sample {
            return argmax(logits);
        }
        for x in logits.iter_mut() {
            *x /= cfg.temperature;
        }
        if let Some(k) = cfg.top_k {
            if k < logits.len() {
                let mut sorted = logits.to_vec();
                sorted.sort_unstable_by(|a, b| b.total_cmp(a));
                let kth = sorted[k - 1];
                for x in logits.iter_mut() {
                    if *x < kth {
                        *x = f32::NEG_INFINITY;
                    }
                }
            }
        }
        let mut probs = softmax(logits);
        if let Some(p) = cfg.top_p {
            // Drop the least likely tokens whose cumulative probability stays below 1 - p,
            // always keeping the most likely one.
            let mut order: Vec<usize> = (0..probs.len()).collect();
            order.sort_by(|&a, &b| probs[a].total_cmp(&probs[b]));
            let mut cum = 0.0f32;
            for (rank, &i) in order.iter().enumerate() {
                cum += probs[i];
                if cum <= 1.0 - p && rank + 1 < order.len() {
                    probs[i] = 0.0;
                } else {
                    break;
                }
            }
            let total: f32 = probs.iter().sum();
            probs.iter_mut().for_each(|q| *q /= total);
        }
        let u: f32 = self.rng.random::<f32>();
        let mut cum = 0.0f32;
        let mut last_positive = 0;
        for (i, &q) in probs.iter().enumerate() {
            if q > 0.0 {
                last_positive = i;
                cum += q;
                if u < cum {
                    return i as u32;
                }
            }
        }
        last_positive as u32
    }
}

fn argmax(values: &[f32]) -> u32 {
    let mut best = 0;
    for (i, &v) in values.iter().enumerate() {
        if v > values[best] {
            best = i;
        }
    }
    best as u32
}

fn softmax(logits: &[f32]) -> Vec<f32> {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let exps: Vec<f32> = logits.iter().map(|&x| (x - max).exp()).collect();
    let total: f32 = exps.iter().sum();
    exps.into_iter().map(|e| e / total).collect()
}

/// Left-pads ragged token rows with `pad` to the longest; returns the padded rows and their
/// mask (the layout [`Prompt::Embeds`] takes). An empty batch or row is an error.
pub fn left_pad(rows: &[Vec<u32>], pad: u32) -> Result<(Vec<Vec<u32>>, AttentionMask)> {
    let len = rows.iter().map(Vec::len).max().unwrap_or(0);
    if rows.is_empty() || rows.iter().any(Vec::is_empty) {
        return Err(LmError::Input(
            "every prompt needs at least one token".into(),
        ));
    }
    let lengths: Vec<usize> = rows.iter().map(Vec::len).collect();
    let padded = rows
        .iter()
        .map(|r| {
            let mut row = vec![pad; len - r.len()];
            row.extend_from_slice(r);
            row
        })
        .collect();
    Ok((padded, AttentionMask::left_padded(&lengths, len)?))
}

impl<B: Backend> Llama<B> {
    /// Generates continuations with a fresh cache.
    pub fn generate(
        &self,
        prompt: Prompt<B>,
        config: &GenerationConfig,
        hooks: GenerationHooks<'_>,
    ) -> Result<GenerationOutput> {
        let (batch, len) = match &prompt {
            Prompt::Ids(rows) => (rows.len(), rows.iter().map(Vec::len).max().unwrap_or(0)),
            Prompt::Embeds { mask, .. } => (mask.batch(), mask.len()),
        };
        let context = self.config.max_position_embeddings;
        if len > context {
            return Err(LmError::PromptTooLong {
                tokens: len,
                context,
            });
        }
        let capacity = len.saturating_add(config.max_new_tokens).min(context) + 1;
        let mut cache = self.new_cache(batch, capacity);
        self.run_generation(prompt, config, &mut cache, hooks, false)
    }

    /// Generates continuations after the positions already in `cache` (multi-turn chat). On
    /// return the cache holds the prompt and every generated token, so the next turn only passes
    /// its new tokens; positions after a sequence stopped are recorded as padding. The
    /// repetition penalty sees this turn's prompt ids (or `history`) and the new tokens.
    pub fn generate_in_cache(
        &self,
        prompt: Prompt<B>,
        config: &GenerationConfig,
        cache: &mut KvCache<B>,
        hooks: GenerationHooks<'_>,
    ) -> Result<GenerationOutput> {
        self.run_generation(prompt, config, cache, hooks, true)
    }

    /// Logits `[B, vocab]` of the last position for the given embeddings, on the host.
    fn last_logits(
        &self,
        embeds: Tensor<B, 3>,
        mask: &AttentionMask,
        cache: &mut KvCache<B>,
        step: usize,
    ) -> Result<Vec<Vec<f32>>> {
        let hidden = self.hidden_states(embeds, Some(mask), Some(cache))?;
        let [b, t, d] = hidden.dims();
        let logits = self.logits(hidden.slice([0..b, t - 1..t, 0..d]));
        let values: Vec<f32> = logits
            .into_data()
            .convert::<f32>()
            .into_vec()
            .map_err(|e| LmError::Input(format!("logits: {e:?}")))?;
        if values.iter().any(|v| !v.is_finite()) {
            return Err(LmError::NonFiniteLogits { step });
        }
        Ok(values
            .chunks(self.config.vocab_size)
            .map(<[f32]>::to_vec)
            .collect())
    }

    fn run_generation(
        &self,
        prompt: Prompt<B>,
        config: &GenerationConfig,
        cache: &mut KvCache<B>,
        mut hooks: GenerationHooks<'_>,
        keep_all_in_cache: bool,
    ) -> Result<GenerationOutput> {
        config.validate()?;
        if !config.stop_strings.is_empty() && hooks.decode.is_none() {
            return Err(LmError::Input("stop strings need a decode callback".into()));
        }
        let (embeds, mask, mut history) = match prompt {
            Prompt::Ids(rows) => {
                let (padded, mask) = left_pad(&rows, config.pad_token_id)?;
                (self.embed_ids(&padded)?, mask, rows)
            }
            Prompt::Embeds {
                embeds,
                mask,
                history,
            } => {
                if mask.rows().iter().any(|r| r.last() != Some(&true)) {
                    return Err(LmError::Input(
                        "prompt embeddings must be left-padded (last position real)".into(),
                    ));
                }
                let history = if history.is_empty() {
                    vec![Vec::new(); mask.batch()]
                } else {
                    history
                };
                (embeds, mask, history)
            }
        };
        let batch = mask.batch();
        if history.len() != batch {
            return Err(LmError::Input(format!(
                "{} history rows for a batch of {batch}",
                history.len()
            )));
        }
        let mut tokens: Vec<Vec<u32>> = vec![Vec::new(); batch];
        let mut reasons: Vec<Option<StopReason>> = vec![None; batch];
        let mut sampler = Sampler {
            rng: ChaCha8Rng::seed_from_u64(config.seed),
        };
        // The prompt must fit the context; generation stops (as at `max_new_tokens`) when the
        // context is full. A token that is not kept in the cache needs no position.
        let context = self.config.max_position_embeddings;
        let used = cache.len().saturating_add(mask.len());
        let room = (context + usize::from(!keep_all_in_cache)).saturating_sub(used);
        if used > context || (room == 0 && config.max_new_tokens > 0) {
            return Err(LmError::PromptTooLong {
                tokens: used,
                context,
            });
        }
        let max_new_tokens = config.max_new_tokens.min(room);
        if max_new_tokens == 0 {
            if keep_all_in_cache {
                self.hidden_states(embeds, Some(&mask), Some(cache))?;
            }
            return Ok(GenerationOutput {
                tokens,
                stop_reasons: vec![StopReason::MaxTokens; batch],
            });
        }
        let mut logits = self.last_logits(embeds, &mask, cache, 0)?;
        for step in 0..max_new_tokens {
            if hooks.cancel.is_some_and(|cancel| cancel()) {
                for reason in reasons.iter_mut().filter(|r| r.is_none()) {
                    *reason = Some(StopReason::Cancelled);
                }
                break;
            }
            let mut next = vec![config.pad_token_id; batch];
            let mut real = vec![false; batch];
            for row in 0..batch {
                if reasons[row].is_some() {
                    continue;
                }
                let id = sampler.choose(&mut logits[row], &history[row], config);
                next[row] = id;
                real[row] = true;
                tokens[row].push(id);
                history[row].push(id);
                if let Some(cb) = hooks.on_token.as_deref_mut() {
                    cb(row, id);
                }
                if config.eos_token_ids.contains(&id) {
                    reasons[row] = Some(StopReason::Eos);
                } else if let Some(decode) = hooks.decode {
                    if !config.stop_strings.is_empty() {
                        let text = decode(&tokens[row]);
                        if config
                            .stop_strings
                            .iter()
                            .any(|s| text.contains(s.as_str()))
                        {
                            reasons[row] = Some(StopReason::StopString);
                        }
                    }
                }
            }
            let done = reasons.iter().all(Option::is_some) || step + 1 == max_new_tokens;
            if done && !keep_all_in_cache {
                break;
            }
            let step_ids: Vec<Vec<u32>> = next.iter().map(|&id| vec![id]).collect();
            let step_mask = AttentionMask::from_rows(real.iter().map(|&r| vec![r]).collect())?;
            let embeds = self.embed_ids(&step_ids)?;
            if done {
                self.hidden_states(embeds, Some(&step_mask), Some(cache))?;
                break;
            }
            logits = self.last_logits(embeds, &step_mask, cache, step + 1)?;
        }
        Ok(GenerationOutput {
            tokens,
            stop_reasons: reasons
                .into_iter()
                .map(|r| r.unwrap_or(StopReason::MaxTokens))
                .collect(),
        })
    }
}
