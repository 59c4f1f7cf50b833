//! The audio projector: encoder width -> language-model width.

use std::collections::HashMap;

use burn::config::Config;
use burn::module::{Module, Param};
use burn::nn::{Linear, LinearConfig};
use burn::tensor::{activation::gelu, backend::Backend, Tensor, TensorData};
use serde::{Deserialize, Serialize};

use crate::ProjectorError;

/// Name prefix of the projector weights in LLark checkpoints.
pub const PROJECTOR_PREFIX: &str = "model.mm_projector";

/// The projector's architecture.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum ProjectorKind {
    /// One `Linear(mm_hidden -> d_model)` with bias: LLark's projector.
    /// Weights `model.mm_projector.{weight,bias}`.
    #[default]
    Linear,
    /// `Linear(mm_hidden -> d_model)`, exact GELU, `Linear(d_model -> d_model)` (LLaVA-1.5's
    /// `mlp2x_gelu`). Weights `model.mm_projector.{0,2}.{weight,bias}`.
    #[serde(rename = "mlp2x_gelu")]
    Mlp2xGelu,
}

/// Sizes and kind of a [`Projector`]: a burn [`Config`] (`ProjectorConfig::new(kind,
/// mm_hidden_size, hidden_size)`, JSON through [`Config::save`] / [`Config::load`]) whose
/// [`init`](Self::init) builds the module.
#[derive(Config, Debug, Copy, PartialEq, Eq)]
pub struct ProjectorConfig {
    /// Architecture.
    pub kind: ProjectorKind,
    /// Width of the encoder frames (4800 for Jukebox, 512 for CLAP).
    pub mm_hidden_size: usize,
    /// Width of the language model's token embeddings (4096 for Llama-2-7b).
    pub hidden_size: usize,
}

impl ProjectorConfig {
    /// A projector with freshly initialised weights (PyTorch's `nn.Linear` initialisation law).
    pub fn init<B: Backend>(&self, device: &B::Device) -> Projector<B> {
        let first = LinearConfig::new(self.mm_hidden_size, self.hidden_size).init(device);
        let second = match self.kind {
            ProjectorKind::Linear => None,
            ProjectorKind::Mlp2xGelu => {
                Some(LinearConfig::new(self.hidden_size, self.hidden_size).init(device))
            }
        };
        Projector { first, second }
    }

    /// The checkpoint names and PyTorch shapes (`[out, in]` weights, `[out]` biases) of every
    /// weight, in order.
    pub fn weight_shapes(&self) -> Vec<(String, Vec<usize>)> {
        self.layer_names()
            .into_iter()
            .zip(self.layer_sizes())
            .flat_map(|(layer, (d_in, d_out))| {
                [
                    (format!("{layer}.weight"), vec![d_out, d_in]),
                    (format!("{layer}.bias"), vec![d_out]),
                ]
            })
            .collect()
    }

    fn layer_names(&self) -> Vec<String> {
        match self.kind {
            ProjectorKind::Linear => vec![PROJECTOR_PREFIX.to_string()],
            ProjectorKind::Mlp2xGelu => {
                vec![
                    format!("{PROJECTOR_PREFIX}.0"),
                    format!("{PROJECTOR_PREFIX}.2"),
                ]
            }
        }
    }

    fn layer_sizes(&self) -> Vec<(usize, usize)> {
        match self.kind {
            ProjectorKind::Linear => vec![(self.mm_hidden_size, self.hidden_size)],
            ProjectorKind::Mlp2xGelu => vec![
                (self.mm_hidden_size, self.hidden_size),
                (self.hidden_size, self.hidden_size),
            ],
        }
    }
}

/// Maps encoder frames `[.., mm_hidden]` to language-model embeddings `[.., d_model]`.
#[derive(Module, Debug)]
pub struct Projector<B: Backend> {
    first: Linear<B>,
    second: Option<Linear<B>>,
}

impl<B: Backend> Projector<B> {
    /// Projects `frames` `[..., mm_hidden]` to `[..., d_model]`.
    pub fn forward<const D: usize>(&self, frames: Tensor<B, D>) -> Tensor<B, D> {
        let hidden = self.first.forward(frames);
        match &self.second {
            None => hidden,
            Some(second) => second.forward(gelu(hidden)),
        }
    }

    /// The kind and sizes of this projector.
    pub fn config(&self) -> ProjectorConfig {
        let [mm_hidden_size, hidden_size] = self.first.weight.dims();
        let kind = match self.second {
            None => ProjectorKind::Linear,
            Some(_) => ProjectorKind::Mlp2xGelu,
        };
        ProjectorConfig::new(kind, mm_hidden_size, hidden_size)
    }

    /// Builds a projector from checkpoint tensors in PyTorch layout, by the names of
    /// [`ProjectorConfig::weight_shapes`]. Any float dtype is converted to `f32`.
    pub fn from_torch_weights(
        config: &ProjectorConfig,
        weights: &HashMap<String, TensorData>,
        device: &B::Device,
    ) -> Result<Self, ProjectorError> {
        let mut tensors = Vec::new();
        for (name, shape) in config.weight_shapes() {
            let data = weights
                .get(&name)
                .ok_or_else(|| ProjectorError::MissingWeight(name.clone()))?;
            if data.shape.as_slice() != shape.as_slice() {
                return Err(ProjectorError::Shape {
                    what: name,
                    expected: format!("{shape:?}"),
                    actual: data.shape.as_slice().to_vec(),
                });
            }
            tensors.push(data.clone().convert::<f32>());
        }
        let mut tensors = tensors.into_iter();
        let mut next_linear = || {
            let weight = Tensor::<B, 2>::from_data(tensors.next()?, device).transpose();
            let bias = Tensor::<B, 1>::from_data(tensors.next()?, device);
            Some(Linear {
                weight: Param::from_tensor(weight),
                bias: Some(Param::from_tensor(bias)),
            })
        };
        let missing = || ProjectorError::MissingWeight(PROJECTOR_PREFIX.to_string());
        let first = next_linear().ok_or_else(missing)?;
        let second = match config.kind {
            ProjectorKind::Linear => None,
            ProjectorKind::Mlp2xGelu => Some(next_linear().ok_or_else(missing)?),
        };
        Ok(Self { first, second })
    }

    /// The weights in PyTorch layout under their checkpoint names, for saving.
    pub fn to_torch_weights(&self) -> Vec<(String, TensorData)> {
        let config = self.config();
        let layers = std::iter::once(&self.first).chain(self.second.as_ref());
        config
            .layer_names()
            .into_iter()
            .zip(layers)
            .flat_map(|(name, layer)| {
                let weight = layer.weight.val().transpose().into_data();
                let bias = layer
                    .bias
                    .as_ref()
                    .map(|b| b.val().into_data())
                    .unwrap_or_else(|| {
                        let [_, d_out] = layer.weight.dims();
                        TensorData::new(vec![0.0f32; d_out], [d_out])
                    });
                [
                    (format!("{name}.weight"), weight),
                    (format!("{name}.bias"), bias),
                ]
            })
            .collect()
    }
}
