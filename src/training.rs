//! Training `Llark` with [`llark_train`]: the [`TrainModel`] implementation and a whole run
//! described by one JSON file ([`TrainRun`], the `train.json` of the `train` example).
//!
//! Parameters under the `projector` field form [`ParamGroup::Projector`], everything else (the
//! `lm` field) [`ParamGroup::Lm`], so the policies projector-only, LM + projector (LLark) and
//! LM-only freeze exactly the other part. LoRA adapters (under a `lora` field of a projection)
//! form [`ParamGroup::Adapter`]: with `training.lora` the run adds them to the language model,
//! freezes its base and trains them (with the projector under `lm-and-projector`). `export`
//! writes the Hugging Face-style directory of [`Llark::save`], with the PEFT adapter files when
//! there are adapters.

use std::path::{Path, PathBuf};

use burn::tensor::backend::AutodiffBackend;
use burn::tensor::Tensor;
use llark_data::{Batch, EncodingStore, ExampleEncoder, LlarkTokenizer, MaskingPolicy, Truncation};
use llark_lm::LoraConfig;
use llark_projector::ProjectorKind;
use llark_train::{
    count_params, load_llark_records, train_data_parallel, DataParallel, ModelError, ParamGroup,
    TrainConfig, TrainData, TrainModel, TrainObserver, TrainSummary, Trainer,
};
use serde::Deserialize;

use crate::error::{LlarkError, Result};
use crate::model::Llark;

impl<B: AutodiffBackend> TrainModel<B> for Llark<B> {
    fn train_loss(
        &self,
        batch: &Batch,
        audio: Tensor<B, 2>,
    ) -> std::result::Result<Tensor<B, 1>, ModelError> {
        Ok(self.loss(batch, audio)?)
    }

    fn param_group(path: &[String]) -> ParamGroup {
        match path.first().map(String::as_str) {
            Some("projector") => ParamGroup::Projector,
            _ if path.iter().any(|p| p == "lora") => ParamGroup::Adapter,
            _ => ParamGroup::Lm,
        }
    }

    fn audio_width(&self) -> usize {
        self.config().mm_hidden_size
    }

    fn export(&self, dir: &Path) -> std::result::Result<(), ModelError> {
        Ok(self.save(dir)?)
    }

    fn lora(&self) -> Option<&LoraConfig> {
        self.lm.lora_config()
    }
}

/// A training run: the model to start from, the data, the output directory and the trainer's
/// options (`train.json`; see `llark-train/README.md` for every field).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainRun {
    /// A base Llama directory (Hugging Face layout); a new projector is initialised.
    #[serde(default)]
    pub base_llama: Option<PathBuf>,
    /// An LLark directory to start from instead.
    #[serde(default)]
    pub llark: Option<PathBuf>,
    /// Projector of a model built from a base Llama (`linear`, LLark's, by default).
    #[serde(default)]
    pub mm_projector_type: ProjectorKind,
    /// `tokenizer.json` of the base model (LLark's special tokens are added).
    pub tokenizer: PathBuf,
    /// LLark record files (JSON Lines).
    pub records: Vec<PathBuf>,
    /// The encoding store directory.
    pub encodings: PathBuf,
    /// Output directory: checkpoints, metrics, curve, final model.
    pub output: PathBuf,
    /// `llark-compatible` (default) or `assistant-only`.
    #[serde(default)]
    pub masking: Option<String>,
    /// Longest sequence; longer examples are cut at the tail (LLark: 2048).
    #[serde(default = "default_max_len")]
    pub max_len: usize,
    /// Seed of the audio-first/audio-last coin.
    #[serde(default)]
    pub placement_seed: u64,
    /// Continue from the newest checkpoint in `output` when there is one (default true).
    #[serde(default = "yes")]
    pub resume: bool,
    /// The trainer's options (missing fields take LLark's recipe).
    #[serde(default)]
    pub training: TrainConfig,
    /// With adapters (`training.lora`): also write `<output>/final-merged/`, the model with the
    /// adapters merged into the language model (a plain LLark directory, for inference).
    #[serde(default)]
    pub export_merged: bool,
}

/// Name of the merged export inside the output directory (see [`TrainRun::export_merged`]).
pub const MERGED_DIR: &str = "final-merged";

fn default_max_len() -> usize {
    2048
}

fn yes() -> bool {
    true
}

impl TrainRun {
    /// Reads `train.json`; relative paths are taken from the file's directory.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let text = crate::error::read_text(path)?;
        let mut run: TrainRun = serde_json::from_str(&text).map_err(|source| LlarkError::Json {
            path: path.to_path_buf(),
            source,
        })?;
        let base = path.parent().unwrap_or(Path::new("."));
        let fix = |p: &mut PathBuf| {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        };
        for p in run
            .base_llama
            .iter_mut()
            .chain(run.llark.iter_mut())
            .chain(run.records.iter_mut())
        {
            fix(p);
        }
        fix(&mut run.tokenizer);
        fix(&mut run.encodings);
        fix(&mut run.output);
        run.training.validate()?;
        if run.export_merged && run.training.lora.is_none() {
            return Err(LlarkError::Config {
                path: path.to_path_buf(),
                message: "`export_merged` needs adapters to merge (`training.lora`)".into(),
            });
        }
        if run.max_len == 0 {
            return Err(LlarkError::Config {
                path: path.to_path_buf(),
                message: "`max_len` is 0: every example would be cut to nothing".into(),
            });
        }
        Ok(run)
    }

    /// Loads the model and the data, then trains (or continues training) to the end; `log`
    /// receives one-line status messages and `observer` every step and checkpoint (the `train`
    /// example draws its progress bar from it; pass [`llark_train::Silent`] for none).
    pub fn run<B: AutodiffBackend>(
        &self,
        device: &B::Device,
        mut log: impl FnMut(&str),
        observer: &mut dyn TrainObserver,
    ) -> Result<TrainSummary> {
        let (model, data, tokenizer) = self.load::<B>(device, &mut log)?;
        let mut trainer = if self.resume {
            Trainer::new_or_resume(model, data, self.training.clone(), &self.output)?
        } else {
            Trainer::new(model, data, self.training.clone(), &self.output)?
        };
        let (trained, frozen) = count_params(trainer.model());
        log(&format!(
            "{trained} trained and {frozen} frozen parameters; starting at step {} of {}",
            trainer.step_count(),
            trainer.total_steps()
        ));
        let summary = trainer.run_observed(observer)?;
        tokenizer.save(self.output.join("final").join("tokenizer.json"))?;
        self.export_merged_model(trainer.model(), &tokenizer, &mut log)?;
        Ok(summary)
    }

    /// As [`Self::run`] with one data-parallel worker per device of `layout`
    /// ([`llark_train::train_data_parallel`]): the same trajectory as one worker, the batch split
    /// across the workers and their gradients all-reduced. It always continues from the newest
    /// checkpoint of the output directory when there is one.
    pub fn run_data_parallel<B: AutodiffBackend>(
        &self,
        layout: &DataParallel<B::Device>,
        mut log: impl FnMut(&str),
        observer: &mut dyn TrainObserver,
    ) -> Result<TrainSummary> {
        let device = layout
            .devices
            .first()
            .ok_or_else(|| llark_train::TrainError::Parallel {
                reason: "no devices".into(),
            })?;
        let (model, data, tokenizer) = self.load::<B>(device, &mut log)?;
        let (trained, frozen) = count_params(&model);
        log(&format!(
            "{trained} trained and {frozen} frozen parameters; {} workers on {} node(s)",
            layout.world(),
            layout.nodes
        ));
        let (summary, models) = train_data_parallel(
            model,
            data,
            self.training.clone(),
            &self.output,
            layout,
            None,
            observer,
        )?;
        if layout.node == 0 {
            tokenizer.save(self.output.join("final").join("tokenizer.json"))?;
            if let Some(model) = models.first() {
                self.export_merged_model(model, &tokenizer, &mut log)?;
            }
        }
        Ok(summary)
    }

    /// Writes `<output>/final-merged/` (model and tokenizer) when [`Self::export_merged`] is set
    /// and the model has adapters.
    fn export_merged_model<B: AutodiffBackend>(
        &self,
        model: &Llark<B>,
        tokenizer: &LlarkTokenizer,
        log: &mut impl FnMut(&str),
    ) -> Result<()> {
        if !self.export_merged || model.lm.lora_config().is_none() {
            return Ok(());
        }
        let dir = self.output.join(MERGED_DIR);
        model.clone().merge_lora()?.save(&dir)?;
        tokenizer.save(dir.join("tokenizer.json"))?;
        log(&format!("merged model written to {}", dir.display()));
        Ok(())
    }

    /// The tokenizer, the starting model (policy not yet applied) and the tokenised data.
    fn load<B: AutodiffBackend>(
        &self,
        device: &B::Device,
        log: &mut impl FnMut(&str),
    ) -> Result<(Llark<B>, TrainData<EncodingStore>, LlarkTokenizer)> {
        self.training.validate()?;
        let tokenizer = LlarkTokenizer::from_file(&self.tokenizer)?;
        let store = EncodingStore::open(&self.encodings)?;
        let masking: MaskingPolicy = match &self.masking {
            Some(m) => m.parse()?,
            None => MaskingPolicy::LlarkCompatible,
        };
        let encoder = ExampleEncoder::new(&tokenizer)
            .with_masking(masking)
            .with_truncation(Truncation::CutTail(self.max_len));
        let mut examples = Vec::new();
        for path in &self.records {
            examples.extend(load_llark_records(
                path,
                &encoder,
                self.placement_seed,
                Some(&store),
            )?);
        }
        // A new projector's initial weights come from the backend's generator.
        B::seed(device, self.training.seed);
        let model: Llark<B> = match (&self.base_llama, &self.llark) {
            (Some(base), None) => Llark::from_base_llama(
                base,
                &tokenizer,
                store.dim(),
                self.mm_projector_type,
                device,
            )?,
            (None, Some(dir)) => Llark::from_pretrained(dir, device)?,
            _ => return Err(LlarkError::StartingModel),
        };
        // New adapters draw from the generator after the projector.
        let model = match &self.training.lora {
            Some(lora) => model.with_lora(lora)?,
            None => model,
        };
        log(&format!(
            "{} examples from {} record files; policy {:?}",
            examples.len(),
            self.records.len(),
            self.training.policy
        ));
        let data = TrainData::new(examples, store, tokenizer.special_ids().pad)?;
        Ok((model, data, tokenizer))
    }
}
