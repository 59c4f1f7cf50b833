//! The end-to-end pipeline: audio file -> encoder -> pooling -> `Llark` -> answer text, with
//! multi-turn chats that reuse the KV cache.

use std::path::Path;

use burn::tensor::{backend::Backend, Tensor, TensorData};
use llark_audio::Audio;
use llark_data::template::{cut_at_stop, prompt_with_audio};
use llark_data::{AudioPlacement, ExampleEncoder, LlarkTokenizer, Turn};
use llark_encoder::AudioEncoder;
use llark_lm::{AttentionMask, GenerationConfig, GenerationHooks, KvCache, Prompt, StopReason};
use llark_projector::AudioTokenIds;

use crate::error::{LlarkError, Result};
use crate::frontend::AudioFrontEnd;
use crate::model::Llark;

/// LLark's stop string: generation ends when the decoded continuation contains it.
pub const STOP_STRING: &str = "###";

/// Pooled frames per second LLark feeds the model (`jukebox/main.py`).
pub const DEFAULT_POOL_FPS: u32 = 10;

/// Audio in, answers out: a [`Llark`] model, its tokenizer and (optionally) an audio encoder.
///
/// The prompt is built exactly as LLark's inference does: the conversation template with an
/// empty answer, cut right after `"\n### Assistant:"`; generation stops at `###` or EOS, and the
/// answer is returned without the stop text.
pub struct Pipeline<B: Backend> {
    model: Llark<B>,
    tokenizer: LlarkTokenizer,
    front_end: Option<AudioFrontEnd<B>>,
    pool_fps: u32,
    placement: AudioPlacement,
    generation: GenerationConfig,
}

impl<B: Backend> Pipeline<B> {
    /// A pipeline for `model` and `tokenizer`, whose special token ids must agree with the
    /// model's configuration. Encoder output is pooled to the model's `audio_pool_fps` when its
    /// configuration records one, else to LLark's 10 frames per second. Greedy decoding of at most 256 tokens until it is changed with
    /// [`Self::with_generation`]; audio after the question as LLark's evaluation prompts do
    /// (see [`Self::with_placement`]).
    pub fn new(model: Llark<B>, tokenizer: LlarkTokenizer) -> Result<Self> {
        let ids = tokenizer.special_ids();
        let audio = model.audio_tokens();
        let tokenizer_audio = AudioTokenIds {
            start: ids.audio_start,
            end: ids.audio_end,
            patch: ids.audio_patch,
        };
        if tokenizer_audio != audio {
            return Err(LlarkError::AudioTokenMismatch {
                tokenizer: tokenizer_audio,
                model: audio,
            });
        }
        if tokenizer.vocab_size() > model.lm.vocab_size() {
            return Err(LlarkError::VocabularyTooLarge {
                tokenizer: tokenizer.vocab_size(),
                model: model.lm.vocab_size(),
            });
        }
        let generation = GenerationConfig {
            eos_token_ids: vec![ids.eos],
            pad_token_id: ids.pad,
            ..GenerationConfig::greedy(256)
        };
        let pool_fps = model.config().audio_pool_fps.unwrap_or(DEFAULT_POOL_FPS);
        let pipeline = Self {
            model,
            tokenizer,
            front_end: None,
            pool_fps,
            placement: AudioPlacement::Last,
            generation: GenerationConfig::default(),
        };
        Ok(pipeline.with_generation(generation))
    }

    /// Adds the audio encoder that [`Self::encode_file`] uses, behind an [`AudioFrontEnd`] that
    /// pools to this pipeline's rate (see [`Self::with_pool_fps`]); a rate the encoder cannot
    /// give is refused.
    pub fn with_encoder(self, encoder: Box<dyn AudioEncoder<B>>) -> Result<Self> {
        let front_end = AudioFrontEnd::new(encoder, Some(self.pool_fps), &self.model.device())?;
        Ok(self.with_front_end(front_end))
    }

    /// Uses `front_end` for audio (its own pooling rate is kept).
    pub fn with_front_end(mut self, front_end: AudioFrontEnd<B>) -> Self {
        if let Some(fps) = front_end.pool_fps() {
            self.pool_fps = fps;
        }
        self.front_end = Some(front_end);
        self
    }

    /// Sets the decoding options; `###` is always added to the stop strings and the tokenizer's
    /// EOS to the stop ids.
    pub fn with_generation(mut self, generation: GenerationConfig) -> Self {
        self.generation = self.complete_generation(generation);
        self
    }

    /// The decoding options of [`Self::ask`] and chats.
    pub fn generation(&self) -> &GenerationConfig {
        &self.generation
    }

    /// Where `<audio>` goes in the first question.
    pub fn placement(&self) -> AudioPlacement {
        self.placement
    }

    /// `generation` with the tokenizer's EOS among the stop ids, its pad id, and `###` among the
    /// stop strings.
    fn complete_generation(&self, mut generation: GenerationConfig) -> GenerationConfig {
        let ids = self.tokenizer.special_ids();
        if !generation.eos_token_ids.contains(&ids.eos) {
            generation.eos_token_ids.push(ids.eos);
        }
        generation.pad_token_id = ids.pad;
        if !generation.stop_strings.iter().any(|s| s == STOP_STRING) {
            generation.stop_strings.push(STOP_STRING.to_string());
        }
        generation
    }

    /// Where `<audio>` goes in the first question (before or after it).
    pub fn with_placement(mut self, placement: AudioPlacement) -> Self {
        self.placement = placement;
        self
    }

    /// Pooled frames per second for [`Self::encode_file`] (0: one mean frame per clip); a rate
    /// the encoder cannot give is refused.
    pub fn with_pool_fps(mut self, fps: u32) -> Result<Self> {
        self.pool_fps = fps;
        if let Some(front_end) = self.front_end.take() {
            self.front_end = Some(front_end.with_pool_fps(Some(fps))?);
        }
        Ok(self)
    }

    /// The model.
    pub fn model(&self) -> &Llark<B> {
        &self.model
    }

    /// The tokenizer.
    pub fn tokenizer(&self) -> &LlarkTokenizer {
        &self.tokenizer
    }

    /// The audio front end, when the pipeline has an encoder.
    pub fn front_end(&self) -> Option<&AudioFrontEnd<B>> {
        self.front_end.as_ref()
    }

    fn require_front_end(&self) -> Result<&AudioFrontEnd<B>> {
        self.front_end.as_ref().ok_or(LlarkError::NoEncoder)
    }

    /// Decodes, resamples and peak-normalises an audio file, encodes it and pools the frames:
    /// the `[frames, mm_hidden]` encodings the model takes (see [`AudioFrontEnd`]).
    pub fn encode_file(&self, path: impl AsRef<Path>) -> Result<Tensor<B, 2>> {
        self.require_front_end()?.encode_file(path)
    }

    /// The same for samples in memory (any rate; resampled and peak-normalised first).
    pub fn encode_audio(&self, audio: &Audio) -> Result<Tensor<B, 2>> {
        let front_end = self.require_front_end()?;
        front_end.encode(&front_end.prepare(audio)?)
    }

    /// Turns stored encodings `[frames, width]` (already pooled) into the model's input tensor.
    pub fn encodings(&self, values: Vec<f32>, shape: [usize; 2]) -> Result<Tensor<B, 2>> {
        if values.len() != shape[0] * shape[1] || shape[1] != self.model.config().mm_hidden_size {
            return Err(LlarkError::EncodingShape {
                shape,
                values: values.len(),
                width: self.model.config().mm_hidden_size,
            });
        }
        if let Some(index) = values.iter().position(|v| !v.is_finite()) {
            return Err(LlarkError::NonFiniteEncoding {
                source_name: "<memory>".into(),
                index,
                value: values[index],
            });
        }
        Ok(Tensor::from_data(
            TensorData::new(values, shape),
            &self.model.device(),
        ))
    }

    /// Answers one question about a clip given as pooled encodings `[frames, mm_hidden]`.
    /// `on_text` receives the answer piece by piece as it is generated.
    pub fn ask(
        &self,
        audio: &Tensor<B, 2>,
        question: &str,
        on_text: Option<&mut dyn FnMut(&str)>,
    ) -> Result<String> {
        self.chat(audio.clone()).ask(question, on_text)
    }

    /// Answers the last human turn of `turns` from scratch (no cache reuse); the first turn must
    /// carry the `<audio>` placeholder.
    pub fn answer_turns(&self, audio: &Tensor<B, 2>, turns: &[Turn]) -> Result<String> {
        Ok(self
            .answer(audio, turns, &self.generation, AnswerHooks::default())?
            .text)
    }

    /// Answers the last human turn of `turns` (the first turn carries `<audio>`) with decoding
    /// options of its own (completed as [`Self::with_generation`] does), streaming the text to
    /// `hooks.on_text` and stopping when `hooks.cancel` says so; reports the token counts.
    pub fn answer(
        &self,
        audio: &Tensor<B, 2>,
        turns: &[Turn],
        generation: &GenerationConfig,
        hooks: AnswerHooks<'_>,
    ) -> Result<Answer> {
        let generation = self.complete_generation(generation.clone());
        let prompt = self.prompt_ids(audio, turns)?;
        let capacity = prompt
            .len()
            .saturating_add(generation.max_new_tokens)
            .min(self.model.config().llama.max_position_embeddings)
            + 1;
        let mut cache = self.model.lm.new_cache(1, capacity);
        let step = Step {
            audio,
            prompt: &prompt,
            reuse: 0,
            generation: &generation,
        };
        let (text, tokens, stop_reason) = self.generate(step, &mut cache, hooks)?;
        Ok(Answer {
            text,
            prompt_tokens: prompt.len(),
            completion_tokens: tokens.len(),
            stop_reason,
        })
    }

    /// A chat about one clip: later questions reuse the cached keys and values of everything
    /// already processed, so the audio is neither re-encoded nor re-read by the model.
    pub fn chat(&self, audio: Tensor<B, 2>) -> Chat<'_, B> {
        Chat {
            pipeline: self,
            audio,
            turns: Vec::new(),
            cache: self.model.lm.new_cache(1, 512),
            cached_ids: Vec::new(),
            reused: 0,
        }
    }

    fn prompt_ids(&self, audio: &Tensor<B, 2>, turns: &[Turn]) -> Result<Vec<u32>> {
        let frames = audio.dims()[0];
        let prompt = ExampleEncoder::new(&self.tokenizer).inference_prompt_turns(
            "question",
            turns,
            Some(frames),
        )?;
        Ok(prompt.input_ids)
    }

    /// Answers several conversations at once in one left-padded batch with the same decoding
    /// options (greedy decoding gives each the answer [`Self::answer`] gives it alone; with
    /// sampling, each row draws from the batch's one generator). `hooks.on_text` receives
    /// `(row, text so far)`; `hooks.cancel` stops the whole batch.
    pub fn answer_batch(
        &self,
        requests: &[(Tensor<B, 2>, Vec<Turn>)],
        generation: &GenerationConfig,
        hooks: BatchHooks<'_>,
    ) -> Result<Vec<Answer>> {
        if requests.is_empty() {
            return Ok(Vec::new());
        }
        let generation = self.complete_generation(generation.clone());
        let prompts: Vec<Vec<u32>> = requests
            .iter()
            .map(|(audio, turns)| self.prompt_ids(audio, turns))
            .collect::<Result<_>>()?;
        let longest = prompts.iter().map(Vec::len).max().unwrap_or(0);
        let context = self.model.config().llama.max_position_embeddings;
        if longest > context {
            return Err(llark_lm::LmError::PromptTooLong {
                tokens: longest,
                context,
            }
            .into());
        }
        let (padded, mask) = llark_lm::left_pad(&prompts, self.tokenizer.special_ids().pad)?;
        let clips: Vec<Vec<Tensor<B, 2>>> = requests
            .iter()
            .map(|(audio, _)| vec![audio.clone()])
            .collect();
        let embeds = self.model.embed(&padded, &clips)?;
        let tokenizer = &self.tokenizer;
        let decode = |ids: &[u32]| tokenizer.decode(ids, true).unwrap_or_default();
        let mut generated: Vec<Vec<u32>> = vec![Vec::new(); requests.len()];
        let mut cursors = vec![StreamCursor::default(); requests.len()];
        let mut sink = hooks.on_text;
        let mut on_token = |row: usize, id: u32| {
            generated[row].push(id);
            if let Some(sink) = sink.as_deref_mut() {
                if let Some(piece) = cursors[row].advance(&decode(&generated[row])) {
                    sink(row, piece);
                }
            }
        };
        let capacity = longest
            .saturating_add(generation.max_new_tokens)
            .min(context)
            + 1;
        let mut cache = self.model.lm.new_cache(requests.len(), capacity);
        let out = self.model.lm.generate_in_cache(
            Prompt::Embeds {
                embeds,
                mask,
                history: prompts.clone(),
            },
            &generation,
            &mut cache,
            GenerationHooks {
                decode: Some(&decode),
                on_token: Some(&mut on_token),
                cancel: hooks.cancel,
            },
        )?;
        out.tokens
            .into_iter()
            .zip(out.stop_reasons)
            .zip(&prompts)
            .map(|((tokens, stop_reason), prompt)| {
                let text = self.tokenizer.decode(&tokens, true)?;
                Ok(Answer {
                    text: cut_at_stop(&text).to_string(),
                    prompt_tokens: prompt.len(),
                    completion_tokens: tokens.len(),
                    stop_reason,
                })
            })
            .collect()
    }

    /// Runs the model on `step.prompt[step.reuse..]` after the `reuse` positions in `cache` and
    /// generates the answer; returns it with the generated ids and why generation stopped.
    fn generate(
        &self,
        step: Step<'_, B>,
        cache: &mut KvCache<B>,
        hooks: AnswerHooks<'_>,
    ) -> Result<(String, Vec<u32>, StopReason)> {
        let Step {
            audio,
            prompt,
            reuse,
            generation,
        } = step;
        // Refused before anything is embedded (the LM checks again, with the cache).
        let context = self.model.config().llama.max_position_embeddings;
        if prompt.len() > context {
            return Err(llark_lm::LmError::PromptTooLong {
                tokens: prompt.len(),
                context,
            }
            .into());
        }
        let ids = vec![prompt.to_vec()];
        let embeds = self.model.embed(&ids, &[vec![audio.clone()]])?;
        let [_, len, width] = embeds.dims();
        let embeds = embeds.slice([0..1, reuse..len, 0..width]);
        let tokenizer = &self.tokenizer;
        let decode = |ids: &[u32]| tokenizer.decode(ids, true).unwrap_or_default();
        let mut sink = hooks.on_text;
        let mut cursor = StreamCursor::default();
        let mut generated = Vec::new();
        let mut on_token = |_row: usize, id: u32| {
            generated.push(id);
            if let Some(sink) = sink.as_deref_mut() {
                if let Some(piece) = cursor.advance(&decode(&generated)) {
                    sink(piece);
                }
            }
        };
        let out = self.model.lm.generate_in_cache(
            Prompt::Embeds {
                embeds,
                mask: AttentionMask::ones(1, len - reuse),
                history: ids,
            },
            generation,
            cache,
            GenerationHooks {
                decode: Some(&decode),
                on_token: Some(&mut on_token),
                cancel: hooks.cancel,
            },
        )?;
        let stop_reason = out
            .stop_reasons
            .first()
            .copied()
            .unwrap_or(StopReason::MaxTokens);
        let tokens = out.tokens.into_iter().next().unwrap_or_default();
        let text = self.tokenizer.decode(&tokens, true)?;
        Ok((cut_at_stop(&text).to_string(), tokens, stop_reason))
    }
}

/// Callbacks of one answer.
#[derive(Default)]
pub struct AnswerHooks<'a> {
    /// Receives the answer piece by piece as it is generated (without the stop text).
    pub on_text: Option<&'a mut dyn FnMut(&str)>,
    /// Asked before every generated token; `true` ends the answer early
    /// ([`StopReason::Cancelled`]).
    pub cancel: Option<&'a dyn Fn() -> bool>,
}

/// Receives `(row, new text)` as each answer of a batch is generated.
pub type RowTextSink<'a> = &'a mut dyn FnMut(usize, &str);

/// Callbacks of a batch of answers.
#[derive(Default)]
pub struct BatchHooks<'a> {
    /// Receives `(row, new text)` as each row's answer is generated (without the stop text).
    pub on_text: Option<RowTextSink<'a>>,
    /// Asked before every step; `true` ends every answer of the batch early.
    pub cancel: Option<&'a dyn Fn() -> bool>,
}

/// An answer with its token counts and why it ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// The text, without the stop string.
    pub text: String,
    /// Tokens of the prompt, audio frames included.
    pub prompt_tokens: usize,
    /// Tokens generated.
    pub completion_tokens: usize,
    /// Why generation ended.
    pub stop_reason: StopReason,
}

/// What one generation runs on.
struct Step<'s, B: Backend> {
    audio: &'s Tensor<B, 2>,
    prompt: &'s [u32],
    reuse: usize,
    generation: &'s GenerationConfig,
}

/// A conversation about one clip (see [`Pipeline::chat`]).
pub struct Chat<'p, B: Backend> {
    pipeline: &'p Pipeline<B>,
    audio: Tensor<B, 2>,
    turns: Vec<Turn>,
    cache: KvCache<B>,
    cached_ids: Vec<u32>,
    reused: usize,
}

impl<B: Backend> Chat<'_, B> {
    /// Asks the next question and returns the answer; `on_text` receives it as it is generated.
    ///
    /// The prompt is the whole conversation in LLark's template (earlier answers as the text
    /// returned); only the part after the longest prefix already in the cache is run.
    pub fn ask(&mut self, question: &str, on_text: Option<&mut dyn FnMut(&str)>) -> Result<String> {
        let text = if self.turns.is_empty() {
            prompt_with_audio(question, self.pipeline.placement)
        } else {
            question.to_string()
        };
        let mut turns = self.turns.clone();
        turns.push(Turn::human(text));
        let generation = self.pipeline.generation.clone();
        let hooks = AnswerHooks {
            on_text,
            cancel: None,
        };
        Ok(self.answer(turns, &generation, hooks)?.text)
    }

    /// Answers the conversation `turns` (its last turn the question; the first human turn
    /// carries `<audio>`) with decoding options of its own, reusing the cached keys and values
    /// of the longest prefix of its tokens this chat has already processed (all of it when
    /// `turns` continues the conversation so far). Afterwards the chat holds `turns` and the
    /// answer.
    pub fn answer(
        &mut self,
        turns: Vec<Turn>,
        generation: &GenerationConfig,
        hooks: AnswerHooks<'_>,
    ) -> Result<Answer> {
        let generation = self.pipeline.complete_generation(generation.clone());
        let prompt = self.pipeline.prompt_ids(&self.audio, &turns)?;
        let shared = self
            .cached_ids
            .iter()
            .zip(&prompt)
            .take_while(|(a, b)| a == b)
            .count()
            .min(prompt.len().saturating_sub(1));
        self.cache.truncate(shared);
        self.cached_ids.truncate(shared);
        self.reused = shared;
        let step = Step {
            audio: &self.audio,
            prompt: &prompt,
            reuse: shared,
            generation: &generation,
        };
        let (text, generated, stop_reason) =
            self.pipeline.generate(step, &mut self.cache, hooks)?;
        let answer = Answer {
            text,
            prompt_tokens: prompt.len(),
            completion_tokens: generated.len(),
            stop_reason,
        };
        self.cached_ids = prompt;
        self.cached_ids.extend(&generated);
        self.turns = turns;
        self.turns.push(Turn::gpt(answer.text.clone()));
        Ok(answer)
    }

    /// The conversation so far (the first human turn carries `<audio>`).
    pub fn turns(&self) -> &[Turn] {
        &self.turns
    }

    /// How many prompt positions the last question took from the cache instead of running them.
    pub fn reused_positions(&self) -> usize {
        self.reused
    }

    /// Positions held in the KV cache.
    pub fn cached_positions(&self) -> usize {
        self.cache.len()
    }
}

/// Where a streamed answer stands: the part of the decoded continuation already sent. The
/// visible text is everything before `###`, without the leading space, holding back trailing
/// `#` that may start the stop string.
#[derive(Debug, Clone, Default)]
struct StreamCursor {
    sent: usize,
}

impl StreamCursor {
    /// The new visible text of `decoded` since the last call, if any.
    fn advance<'t>(&mut self, decoded: &'t str) -> Option<&'t str> {
        let visible = decoded.find(STOP_STRING).map_or(decoded, |i| &decoded[..i]);
        let visible = visible.trim_start().trim_end_matches('#');
        if visible.len() > self.sent && visible.is_char_boundary(self.sent) {
            let piece = &visible[self.sent..];
            self.sent = visible.len();
            Some(piece)
        } else {
            None
        }
    }
}
