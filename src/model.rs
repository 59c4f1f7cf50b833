//! The `Llark` model: LLark's projector and a Llama decoder, with audio spliced into the tokens.

use std::collections::HashMap;
use std::path::Path;

use burn::module::Module;
use burn::tensor::{backend::Backend, Int, Tensor, TensorData};
use llark_data::{Batch, LlarkTokenizer};
use llark_lm::lora::{ADAPTER_CONFIG_FILE, ADAPTER_WEIGHTS_FILE};
use llark_lm::{
    causal_lm_loss, write_safetensors, AttentionMask, Llama, LlamaConfig, LoadOptions, LoraConfig,
    SaveDtype, WeightDtype, WeightSource,
};
use llark_projector::{splice_audio, AudioTokenIds, Projector, ProjectorKind, PROJECTOR_PREFIX};

use crate::config::LlarkConfig;
use crate::error::{LlarkError, Result};

/// LLark: audio encodings `[frames, mm_hidden]` are projected to the language model's width and
/// take the places of the `<audio_patch>` tokens after each `<audio_start>`; the Llama decoder
/// reads the result.
///
/// Saved and loaded as a Hugging Face-style directory (`config.json` + `model.safetensors`) in the
/// naming of LLark checkpoints: `model.*` and `lm_head.*` for the language model,
/// `model.mm_projector.*` for the projector. A model with LoRA adapters on its language model
/// also has PEFT's `adapter_config.json` and `adapter_model.safetensors` in its directory (the
/// base weights stay in `model.safetensors`); [`Self::merge_lora`] folds them in.
#[derive(Module, Debug)]
pub struct Llark<B: Backend> {
    /// Encoder width -> language-model width.
    pub projector: Projector<B>,
    /// The language model.
    pub lm: Llama<B>,
    #[module(skip)]
    config: LlarkConfig,
}

impl<B: Backend> Llark<B> {
    /// Assembles a model, checking that the parts agree with `config`.
    pub fn new(config: LlarkConfig, projector: Projector<B>, lm: Llama<B>) -> Result<Self> {
        config.validate()?;
        if projector.config() != config.projector() {
            return Err(LlarkError::ProjectorMismatch {
                projector: projector.config(),
                config: config.projector(),
            });
        }
        if lm.config != config.llama {
            return Err(LlarkError::LmConfigMismatch);
        }
        Ok(Self {
            projector,
            lm,
            config,
        })
    }

    /// Loads an LLark directory: `config.json` and `model.safetensors` (or shards with
    /// `model.safetensors.index.json`). Strict: every tensor must be used and have its shape.
    /// When the directory also holds a PEFT adapter (`adapter_config.json` and
    /// `adapter_model.safetensors`), the adapters are loaded onto the language model, unmerged.
    pub fn from_pretrained(dir: impl AsRef<Path>, device: &B::Device) -> Result<Self> {
        Self::from_pretrained_with_dtype(dir, WeightDtype::F32, device)
    }

    /// [`Self::from_pretrained`] with the language model's weight matrices kept as `dtype`:
    /// f32 backend tensors, or bf16/f16/int8 read directly by the host CPU kernels (inference
    /// only; see [`llark_lm::LoadOptions::dtype`]). The projector stays in f32.
    pub fn from_pretrained_with_dtype(
        dir: impl AsRef<Path>,
        dtype: WeightDtype,
        device: &B::Device,
    ) -> Result<Self> {
        let dir = dir.as_ref();
        let config = LlarkConfig::from_file(dir.join("config.json"))?;
        let source = WeightSource::open_dir(dir)?;
        let lm = Llama::from_source(
            config.llama.clone(),
            &source,
            &LoadOptions::allowing_prefixes([format!("{PROJECTOR_PREFIX}.")]).with_dtype(dtype),
            device,
        )?;
        let projector_config = config.projector();
        let expected = projector_config.weight_shapes();
        let extra: Vec<String> = source
            .names()
            .into_iter()
            .filter(|n| n.starts_with(PROJECTOR_PREFIX))
            .filter(|n| !expected.iter().any(|(e, _)| e == n))
            .collect();
        if !extra.is_empty() {
            return Err(LlarkError::UnexpectedProjectorTensors {
                checkpoint: source.description().to_string(),
                kind: config.mm_projector_type,
                names: extra,
            });
        }
        let mut weights = HashMap::new();
        for (name, _) in &expected {
            if source.contains(name) {
                let (values, shape) = source.read_finite_f32(name)?;
                weights.insert(name.clone(), TensorData::new(values, shape));
            }
        }
        let projector = Projector::from_torch_weights(&projector_config, &weights, device)?;
        let lm = if dir.join(ADAPTER_CONFIG_FILE).exists() {
            lm.load_adapter(dir)?
        } else {
            lm
        };
        Self::new(config, projector, lm)
    }

    /// The model with new LoRA adapters of `config` on its language model, whose base weights
    /// are frozen ([`Llama::with_lora`]; the adapters are drawn from the backend's generator).
    pub fn with_lora(mut self, config: &LoraConfig) -> Result<Self> {
        self.lm = self.lm.with_lora(config)?;
        Ok(self)
    }

    /// The model with the language model's adapters merged into its weights
    /// ([`Llama::merge_lora`]): a plain LLark for inference.
    pub fn merge_lora(mut self) -> Result<Self> {
        self.lm = self.lm.merge_lora()?;
        Ok(self)
    }

    /// Builds a fresh LLark from a base Llama directory, as LLark's training starts: the tokenizer
    /// already knows `[PAD]` and the audio tokens (see [`LlarkTokenizer`]); the embedding and the
    /// output projection grow to its vocabulary with new rows set to the mean of the existing
    /// rows, and a new projector of `kind` is initialised.
    ///
    /// LLark resizes twice (after `[PAD]`, then after the audio tokens); because a row equal to
    /// the mean does not move the mean, one resize gives the same rows.
    pub fn from_base_llama(
        dir: impl AsRef<Path>,
        tokenizer: &LlarkTokenizer,
        mm_hidden_size: usize,
        kind: ProjectorKind,
        device: &B::Device,
    ) -> Result<Self> {
        let lm = Llama::<B>::from_pretrained(dir, device)?;
        Self::from_llama(lm, tokenizer, mm_hidden_size, kind)
    }

    /// As [`Self::from_base_llama`], from a language model already in memory.
    pub fn from_llama(
        lm: Llama<B>,
        tokenizer: &LlarkTokenizer,
        mm_hidden_size: usize,
        kind: ProjectorKind,
    ) -> Result<Self> {
        let ids = tokenizer.special_ids();
        let vocab = tokenizer.vocab_size();
        let mut lm = if vocab > lm.vocab_size() {
            lm.resize_token_embeddings(vocab)?
        } else {
            lm
        };
        lm.config.pad_token_id = Some(ids.pad);
        let config = LlarkConfig {
            llama: lm.config.clone(),
            mm_hidden_size,
            mm_projector_type: kind,
            audio_start_token_id: ids.audio_start,
            audio_end_token_id: ids.audio_end,
            audio_patch_token_id: ids.audio_patch,
            audio_pool_fps: None,
            max_audio_seconds: None,
            extra: serde_json::Map::from_iter([
                ("model_type".to_string(), "llama".into()),
                (
                    "architectures".to_string(),
                    serde_json::json!(["LlarkForCausalLM"]),
                ),
            ]),
        };
        let projector = config.projector().init(&lm.device());
        Self::new(config, projector, lm)
    }

    /// Writes `config.json` and `model.safetensors` (f32) into `dir` (created if needed), and
    /// the PEFT adapter files when the language model has adapters.
    pub fn save(&self, dir: impl AsRef<Path>) -> Result<()> {
        self.save_as(dir, SaveDtype::F32)
    }

    /// As [`Self::save`], storing the weights as `dtype`.
    pub fn save_as(&self, dir: impl AsRef<Path>, dtype: SaveDtype) -> Result<()> {
        let dir = dir.as_ref();
        std::fs::create_dir_all(dir).map_err(|source| LlarkError::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        let mut tensors = self.lm.to_hf_tensors();
        tensors.extend(self.projector.to_torch_weights());
        write_safetensors(dir.join("model.safetensors"), &tensors, dtype)?;
        if self.lm.lora_config().is_some() {
            self.lm.save_adapter(dir)?;
        } else {
            // Adapter files of an earlier save would be loaded with these weights.
            for name in [ADAPTER_CONFIG_FILE, ADAPTER_WEIGHTS_FILE] {
                let path = dir.join(name);
                match std::fs::remove_file(&path) {
                    Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                        return Err(LlarkError::Io { path, source: e })
                    }
                    _ => {}
                }
            }
        }
        self.config.write(dir.join("config.json"))
    }

    /// The configuration.
    pub fn config(&self) -> &LlarkConfig {
        &self.config
    }

    /// Records the pooled frames per second the model is trained on (saved in `config.json`).
    pub fn set_audio_pool_fps(&mut self, fps: Option<u32>) {
        self.config.audio_pool_fps = fps;
    }

    /// Records the longest audio the model was trained on, in seconds (saved with the model;
    /// longer audio is answered window by window). A value that is not positive and finite is
    /// refused.
    pub fn set_max_audio_seconds(
        &mut self,
        seconds: Option<f64>,
    ) -> std::result::Result<(), crate::error::ConfigError> {
        crate::config::check_max_audio_seconds(seconds)?;
        self.config.max_audio_seconds = seconds;
        Ok(())
    }

    /// The language model's configuration.
    pub fn llama_config(&self) -> &LlamaConfig {
        &self.config.llama
    }

    /// The audio token ids.
    pub fn audio_tokens(&self) -> AudioTokenIds {
        self.config.audio_tokens()
    }

    /// The device of the parameters.
    pub fn device(&self) -> B::Device {
        self.lm.device()
    }

    /// Input embeddings `[B, T, d_model]` for token rows of equal length, with the projected
    /// `clips[b]` (raw encodings `[frames, mm_hidden]`, in the order of the `<audio_start>`
    /// tokens of row `b`) spliced in.
    pub fn embed(&self, ids: &[Vec<u32>], clips: &[Vec<Tensor<B, 2>>]) -> Result<Tensor<B, 3>> {
        let embeds = self.lm.embed_ids(ids)?;
        let projected: Vec<Vec<Tensor<B, 2>>> = clips
            .iter()
            .map(|row| row.iter().map(|c| self.project(c.clone())).collect())
            .collect::<Result<_>>()?;
        Ok(splice_audio(embeds, ids, &projected, self.audio_tokens())?)
    }

    /// Projects raw encodings `[frames, mm_hidden]` to `[frames, d_model]`.
    pub fn project(&self, encodings: Tensor<B, 2>) -> Result<Tensor<B, 2>> {
        let [frames, width] = encodings.dims();
        if width != self.config.mm_hidden_size {
            return Err(LlarkError::EncodingWidth {
                frames,
                width,
                expected: self.config.mm_hidden_size,
            });
        }
        Ok(self.projector.forward(encodings))
    }

    /// Logits `[B, T, vocab]` for token rows with their clips (see [`Self::embed`]); `mask`
    /// marks real tokens (`None`: all real).
    pub fn forward(
        &self,
        ids: &[Vec<u32>],
        clips: &[Vec<Tensor<B, 2>>],
        mask: Option<&AttentionMask>,
    ) -> Result<Tensor<B, 3>> {
        let embeds = self.embed(ids, clips)?;
        Ok(self.lm.forward_embeds(embeds, mask, None)?)
    }

    /// Logits for a collated batch; `audio` holds the raw encodings of all its spans stacked in
    /// splice order, `[total frames, mm_hidden]` (what the encoding store's `gather_batch` reads).
    pub fn forward_batch(&self, batch: &Batch, audio: Tensor<B, 2>) -> Result<Tensor<B, 3>> {
        let (ids, clips) = self.split_batch(batch, audio)?;
        if batch.seq_len == 0 || batch.batch_size == 0 {
            return Err(llark_lm::LmError::Input(format!(
                "an empty batch ({} rows of {} tokens)",
                batch.batch_size, batch.seq_len
            ))
            .into());
        }
        let mask = AttentionMask::from_rows(
            batch
                .attention_mask
                .chunks(batch.seq_len)
                .map(<[bool]>::to_vec)
                .collect(),
        )?;
        let embeds = self.lm.embed_ids(&ids)?;
        let spliced = splice_audio(embeds, &ids, &clips, self.audio_tokens())?;
        Ok(self.lm.forward_embeds(spliced, Some(&mask), None)?)
    }

    /// The causal-LM loss of a collated batch (labels [`llark_data::IGNORE_INDEX`] ignored),
    /// differentiable.
    pub fn loss(&self, batch: &Batch, audio: Tensor<B, 2>) -> Result<Tensor<B, 1>> {
        let logits = self.forward_batch(batch, audio)?;
        let labels = Tensor::<B, 2, Int>::from_data(
            TensorData::new(batch.labels.clone(), [batch.batch_size, batch.seq_len]),
            &self.device(),
        );
        Ok(causal_lm_loss(logits, labels, llark_data::IGNORE_INDEX)?)
    }

    /// Token rows and projected clips of a batch.
    #[allow(clippy::type_complexity)]
    fn split_batch(
        &self,
        batch: &Batch,
        audio: Tensor<B, 2>,
    ) -> Result<(Vec<Vec<u32>>, Vec<Vec<Tensor<B, 2>>>)> {
        let ids: Vec<Vec<u32>> = batch
            .input_ids
            .chunks(batch.seq_len.max(1))
            .map(<[u32]>::to_vec)
            .collect();
        let spans: Vec<usize> = batch
            .audio_spans
            .iter()
            .flatten()
            .map(|s| s.frames)
            .collect();
        let total: usize = spans.iter().sum();
        let rows = audio.dims()[0];
        if rows != total || spans.contains(&0) {
            return Err(LlarkError::AudioSpanMismatch { spans, rows });
        }
        let mut clips = Vec::with_capacity(batch.batch_size);
        if total == 0 {
            clips.resize_with(batch.batch_size, Vec::new);
            return Ok((ids, clips));
        }
        let projected = self.project(audio)?;
        let width = self.config.llama.hidden_size;
        let mut offset = 0;
        for example_spans in &batch.audio_spans {
            let mut row = Vec::with_capacity(example_spans.len());
            for span in example_spans {
                row.push(
                    projected
                        .clone()
                        .slice([offset..offset + span.frames, 0..width]),
                );
                offset += span.frames;
            }
            clips.push(row);
        }
        Ok((ids, clips))
    }
}
