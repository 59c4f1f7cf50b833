//! What the example CLIs share: the model-directory arguments and the exit-code mapping.
// Each example uses the part it needs.
#![allow(dead_code)]

use std::fmt::Display;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use burn::tensor::Device;
use llark::backend::DefaultBackend;
use llark::data::LlarkTokenizer;
use llark::lm::{GenerationConfig, WeightDtype};
use llark::{Llark, LlarkError, Pipeline};

/// The LLark model directory, the audio encoder that goes with it and the pooling rate.
#[derive(clap::Args, Debug)]
pub struct ModelArgs {
    /// LLark model directory (config.json, model.safetensors, tokenizer.json).
    #[arg(long = "model")]
    pub dir: PathBuf,
    /// Audio encoder directory (default: MODEL/encoder).
    #[arg(long)]
    pub encoder: Option<PathBuf>,
    /// Pooled frames per second of the encoder output (default: the model's `audio_pool_fps`,
    /// else LLark's 10).
    #[arg(long)]
    pub pool_fps: Option<u32>,
    /// How the language model's weight matrices are kept in memory: f32 backend tensors, or
    /// bf16 / f16 / int8 read directly by the CPU kernels (half or a quarter of the memory and
    /// of the bytes each generated token reads; an int8 checkpoint from `quantize` loads as
    /// stored).
    #[arg(long, default_value = "f32", value_parser = parse_dtype)]
    pub dtype: WeightDtype,
}

/// `--dtype` values: f32, bf16, f16, int8.
fn parse_dtype(s: &str) -> Result<WeightDtype, String> {
    s.parse().map_err(|e: llark::lm::KernelError| e.to_string())
}

impl ModelArgs {
    /// `--encoder`, else the `encoder/` folder of the model directory.
    pub fn encoder_dir(&self) -> PathBuf {
        self.encoder
            .clone()
            .unwrap_or_else(|| self.dir.join("encoder"))
    }

    /// Loads the model with the tokenizer at `tokenizer` into a pipeline that generates with
    /// `generation` and pools at `--pool-fps` when given.
    pub fn pipeline(
        &self,
        tokenizer: &Path,
        generation: GenerationConfig,
        device: &Device<DefaultBackend>,
    ) -> Result<Pipeline<DefaultBackend>, LlarkError> {
        let tokenizer = LlarkTokenizer::from_file(tokenizer)?;
        let model =
            Llark::<DefaultBackend>::from_pretrained_with_dtype(&self.dir, self.dtype, device)?;
        let pipeline = Pipeline::new(model, tokenizer)?.with_generation(generation);
        match self.pool_fps {
            Some(fps) => pipeline.with_pool_fps(fps),
            None => Ok(pipeline),
        }
    }
}

/// Reports a failed run on standard error; the process then exits with failure.
pub fn fail(error: impl Display) -> ExitCode {
    eprintln!("error: {error}");
    ExitCode::FAILURE
}
