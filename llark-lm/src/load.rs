//! Building a [`Llama`] from a Hugging Face directory or [`WeightSource`], or from random values.

use std::collections::HashSet;
use std::path::Path;

use burn::tensor::{backend::Backend, Distribution, Tensor, TensorData};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::config::LlamaConfig;
use crate::error::{LmError, Result};
use crate::model::{tensor_specs, Llama, TensorProvider, VectorKind};
use crate::weights::{WeightSource, INT8_SCALE_SUFFIX};
use llark_kernels::{PackedMatrix, WeightDtype};

/// How strictly the tensors of a checkpoint must match the model, and how its weight matrices
/// are kept in memory.
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// Name prefixes of tensors that may be present besides the language model's own (for example
    /// `model.mm_projector.` in an LLark checkpoint); they are left for the caller to read.
    pub allowed_extra_prefixes: Vec<String>,
    /// Storage of the projection matrices and the output projection: f32 backend tensors (the
    /// default; trainable) or packed bf16/f16/int8 (inference only, host CPU kernels). The
    /// embedding, norms and biases stay backend tensors in f32 either way.
    pub dtype: WeightDtype,
}

impl LoadOptions {
    /// Strict loading: every tensor must be used and match.
    pub fn strict() -> Self {
        Self::default()
    }

    /// Also accepts tensors whose names start with one of `prefixes`.
    pub fn allowing_prefixes<S: Into<String>>(prefixes: impl IntoIterator<Item = S>) -> Self {
        Self {
            allowed_extra_prefixes: prefixes.into_iter().map(Into::into).collect(),
            ..Self::default()
        }
    }

    /// The same options with the weight matrices kept as `dtype`.
    pub fn with_dtype(mut self, dtype: WeightDtype) -> Self {
        self.dtype = dtype;
        self
    }
}

/// Buffers that old transformers versions saved with the weights and that are recomputed here.
fn is_ignorable(name: &str) -> bool {
    name.ends_with(".rotary_emb.inv_freq")
}

/// Compares the tensors of `source` with what `config` needs; all problems in one error.
pub fn check_weights(
    config: &LlamaConfig,
    source: &WeightSource,
    options: &LoadOptions,
) -> Result<()> {
    let specs = tensor_specs(config);
    let matrices: HashSet<&str> = specs
        .iter()
        .filter(|(_, shape)| shape.len() == 2)
        .map(|(n, _)| n.as_str())
        .collect();
    compare_tensors(&specs, source, |n| {
        is_ignorable(n)
            // The scales of an int8 weight (see `WeightSource::packed_matrix`).
            || n
                .strip_suffix(INT8_SCALE_SUFFIX)
                .is_some_and(|w| matrices.contains(w) && source.is_int8(w))
            // A tied checkpoint may still carry the (identical) output projection.
            || (config.tie_word_embeddings && n == "lm_head.weight")
            || options
                .allowed_extra_prefixes
                .iter()
                .any(|p| n.starts_with(p.as_str()))
    })
}

/// Compares the tensors of `source` with `specs` (names and shapes); tensors not in `specs` are
/// unexpected unless `allowed(name)`. All problems in one [`LmError::WeightMismatch`].
pub(crate) fn compare_tensors(
    specs: &[(String, Vec<usize>)],
    source: &WeightSource,
    allowed: impl Fn(&str) -> bool,
) -> Result<()> {
    let expected: HashSet<&str> = specs.iter().map(|(n, _)| n.as_str()).collect();
    let mut missing = Vec::new();
    let mut mis_shaped = Vec::new();
    for (name, shape) in specs {
        match source.meta(name) {
            None => missing.push(name.clone()),
            Some(meta) if &meta.shape != shape => mis_shaped.push(format!(
                "{name}: found {:?}, expected {shape:?}",
                meta.shape
            )),
            Some(_) => {}
        }
    }
    let unexpected: Vec<String> = source
        .names()
        .into_iter()
        .filter(|n| !expected.contains(n.as_str()) && !allowed(n))
        .collect();
    if missing.is_empty() && unexpected.is_empty() && mis_shaped.is_empty() {
        return Ok(());
    }
    Err(LmError::WeightMismatch {
        source_desc: source.description().to_string(),
        missing,
        unexpected,
        mis_shaped,
    })
}

struct SourceProvider<'a, B: Backend> {
    source: &'a WeightSource,
    dtype: WeightDtype,
    device: &'a B::Device,
}

impl<B: Backend> TensorProvider<B> for SourceProvider<'_, B> {
    fn matrix(&mut self, name: &str, shape: [usize; 2]) -> Result<Tensor<B, 2>> {
        let values = self.source.matrix_f32(name, shape)?;
        Ok(Tensor::from_data(
            TensorData::new(values, shape),
            self.device,
        ))
    }
    fn vector(&mut self, name: &str, len: usize, _kind: VectorKind) -> Result<Tensor<B, 1>> {
        self.source.tensor_shaped(name, [len], self.device)
    }
    fn packed(&mut self, name: &str, shape: [usize; 2]) -> Result<Option<PackedMatrix>> {
        match self.dtype.packed() {
            None => Ok(None),
            Some(dtype) => self
                .source
                .packed_matrix(name, shape, dtype.fitted(shape[1]))
                .map(Some),
        }
    }
}

/// Parameters drawn from a seeded normal distribution (norm scales 1, biases 0).
struct RandomProvider<'a, B: Backend> {
    rng: ChaCha8Rng,
    std: f64,
    dtype: WeightDtype,
    device: &'a B::Device,
}

impl<B: Backend> RandomProvider<'_, B> {
    fn normal(&mut self, n: usize) -> Vec<f32> {
        // Box-Muller transform on the seeded stream.
        let mut out = Vec::with_capacity(n + 1);
        while out.len() < n {
            let u1: f64 = self.rng.random::<f64>().max(f64::MIN_POSITIVE);
            let u2: f64 = self.rng.random::<f64>();
            let r = (-2.0 * u1.ln()).sqrt() * self.std;
            let theta = 2.0 * std::f64::consts::PI * u2;
            out.push((r * theta.cos()) as f32);
            out.push((r * theta.sin()) as f32);
        }
        out.truncate(n);
        out
    }
}

impl<B: Backend> TensorProvider<B> for RandomProvider<'_, B> {
    fn matrix(&mut self, _name: &str, shape: [usize; 2]) -> Result<Tensor<B, 2>> {
        let values = self.normal(shape[0] * shape[1]);
        Ok(Tensor::from_data(
            TensorData::new(values, shape),
            self.device,
        ))
    }
    fn vector(&mut self, _name: &str, len: usize, kind: VectorKind) -> Result<Tensor<B, 1>> {
        Ok(match kind {
            VectorKind::Norm => Tensor::ones([len], self.device),
            VectorKind::Bias => Tensor::zeros([len], self.device),
        })
    }
    fn packed(&mut self, name: &str, shape: [usize; 2]) -> Result<Option<PackedMatrix>> {
        let Some(dtype) = self.dtype.packed() else {
            return Ok(None);
        };
        let values = self.normal(shape[0] * shape[1]);
        PackedMatrix::from_f32(&values, shape[0], shape[1], dtype.fitted(shape[1]))
            .map(Some)
            .map_err(|source| LmError::packed(name, source))
    }
}

/// Standard deviation of transformers' `_init_weights` for Llama (`initializer_range`, 0.02).
pub const INITIALIZER_RANGE: f64 = 0.02;

/// Weights from the backend's generator (seeded with `B::seed`), as burn's module configs
/// initialise: `N(0, std)` matrices, unit norms, zero biases.
struct BackendRandomProvider<'a, B: Backend> {
    std: f64,
    device: &'a B::Device,
}

impl<B: Backend> TensorProvider<B> for BackendRandomProvider<'_, B> {
    fn matrix(&mut self, _name: &str, shape: [usize; 2]) -> Result<Tensor<B, 2>> {
        Ok(Tensor::random(
            shape,
            Distribution::Normal(0.0, self.std),
            self.device,
        ))
    }
    fn vector(&mut self, _name: &str, len: usize, kind: VectorKind) -> Result<Tensor<B, 1>> {
        Ok(match kind {
            VectorKind::Norm => Tensor::ones([len], self.device),
            VectorKind::Bias => Tensor::zeros([len], self.device),
        })
    }
}

impl LlamaConfig {
    /// A freshly initialised model of this configuration (burn's `Config::init` idiom): weights
    /// drawn as transformers' `LlamaPreTrainedModel._init_weights` does (`N(0, 0.02)` linear and
    /// embedding matrices, unit RMSNorm weights, zero biases) from the backend's generator, so
    /// `B::seed` makes it reproducible. For a generator of its own use [`Llama::random`]; for
    /// trained weights [`Llama::from_pretrained`].
    pub fn init<B: Backend>(&self, device: &B::Device) -> Result<Llama<B>> {
        self.validate()?;
        Llama::build(
            self.clone(),
            &mut BackendRandomProvider {
                std: INITIALIZER_RANGE,
                device,
            },
        )
    }
}

impl<B: Backend> Llama<B> {
    /// Loads a Hugging Face model directory (`config.json` + safetensors), strictly, in f32.
    pub fn from_pretrained(dir: impl AsRef<Path>, device: &B::Device) -> Result<Self> {
        Self::from_pretrained_with(dir, &LoadOptions::strict(), device)
    }

    /// Loads a Hugging Face model directory with `options` (for example packed weights:
    /// `LoadOptions::strict().with_dtype(WeightDtype::Int8)`).
    pub fn from_pretrained_with(
        dir: impl AsRef<Path>,
        options: &LoadOptions,
        device: &B::Device,
    ) -> Result<Self> {
        let dir = dir.as_ref();
        let config = LlamaConfig::from_file(dir.join("config.json"))?;
        let source = WeightSource::open_dir(dir)?;
        Self::from_source(config, &source, options, device)
    }

    /// Loads the language model from an open [`WeightSource`] after checking the tensor names and
    /// shapes (one error listing every missing, unexpected and mis-shaped tensor). Tensors are
    /// read from the memory map one at a time.
    pub fn from_source(
        config: LlamaConfig,
        source: &WeightSource,
        options: &LoadOptions,
        device: &B::Device,
    ) -> Result<Self> {
        config.validate()?;
        check_weights(&config, source, options)?;
        if options.dtype != WeightDtype::F32 && B::ad_enabled(device) {
            return Err(LmError::Input(format!(
                "{} weights are for inference: the packed kernels pass no gradient, so load \
                 with dtype f32 to train (or train LoRA adapters on an f32 base)",
                options.dtype
            )));
        }
        Self::build(
            config,
            &mut SourceProvider {
                source,
                dtype: options.dtype,
                device,
            },
        )
    }

    /// A model with weights drawn from `N(0, std)` with a seeded generator (benchmarks, tests).
    pub fn random(config: LlamaConfig, std: f64, seed: u64, device: &B::Device) -> Result<Self> {
        Self::random_with(config, std, seed, WeightDtype::F32, device)
    }

    /// [`Self::random`] with the weight matrices kept as `dtype` (the same draws, then rounded
    /// or quantised).
    pub fn random_with(
        config: LlamaConfig,
        std: f64,
        seed: u64,
        dtype: WeightDtype,
        device: &B::Device,
    ) -> Result<Self> {
        Self::build(
            config,
            &mut RandomProvider {
                rng: ChaCha8Rng::seed_from_u64(seed),
                std,
                dtype,
                device,
            },
        )
    }
}
