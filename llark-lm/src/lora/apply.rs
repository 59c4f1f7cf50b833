//! Adding adapters to a [`Llama`], listing them, and merging them into the base weights.

use std::sync::Arc;

use burn::module::Module;
use burn::tensor::{backend::Backend, Tensor, TensorData};
use llark_kernels::PackedMatrix;

use crate::error::{LmError, Result};
use crate::lora::adapter::LoraAdapter;
use crate::lora::config::{LoraConfig, TargetModule};
use crate::lora::error::LoraError;
use crate::model::Llama;

impl<B: Backend> Llama<B> {
    /// The model with new adapters of `config` on its target projections, drawn from the
    /// backend's generator as PEFT initialises them (so `B::seed` makes them reproducible), and
    /// every base weight frozen (`require_grad = false`: on an autodiff backend only the
    /// adapters get gradients).
    pub fn with_lora(self, config: &LoraConfig) -> Result<Self> {
        let device = self.device();
        let (r, scale, dropout) = (config.r, config.scale(), config.lora_dropout);
        let init = config.init_scheme()?;
        self.attach(config, |_, _, shape| {
            Ok(LoraAdapter::init(shape, r, scale, dropout, init, &device))
        })
    }

    /// Freezes the base and puts the adapter `make(layer, target, [out, in])` on every target
    /// projection of every selected layer of `config` (validated against the model first).
    pub(crate) fn attach(
        self,
        config: &LoraConfig,
        mut make: impl FnMut(usize, TargetModule, [usize; 2]) -> Result<LoraAdapter<B>>,
    ) -> Result<Self> {
        if self.lora.is_some() {
            return Err(LoraError::AlreadyAdapted.into());
        }
        config.validate_for(&self.config)?;
        let targets = config.targets()?;
        let mut model = self.no_grad();
        let shapes: Vec<[usize; 2]> = targets.iter().map(|t| t.shape(&model.config)).collect();
        for (i, layer) in model.layers.iter_mut().enumerate() {
            if !config.transforms_layer(i) {
                continue;
            }
            for (&target, &shape) in targets.iter().zip(&shapes) {
                layer.projection_mut(target).lora = Some(make(i, target, shape)?);
            }
        }
        model.lora = Some(config.clone());
        Ok(model)
    }

    /// The configuration of the model's adapters (`None`: it has none).
    pub fn lora_config(&self) -> Option<&LoraConfig> {
        self.lora.as_ref()
    }

    /// Every adapter with its layer and projection, in layer order then decoder-layer order.
    pub fn adapters(&self) -> Vec<(usize, TargetModule, &LoraAdapter<B>)> {
        let mut out = Vec::new();
        for (i, layer) in self.layers.iter().enumerate() {
            for target in TargetModule::ALL {
                if let Some(adapter) = &layer.projection(target).lora {
                    out.push((i, target, adapter));
                }
            }
        }
        out
    }

    /// A plain Llama for inference: each adapter's update `scale * B A` is added to its
    /// projection's weight and the adapter removed (PEFT's `merge_and_unload`). The merged
    /// weights keep the base's `require_grad` (frozen after [`Self::with_lora`]).
    pub fn merge_lora(mut self) -> Result<Self> {
        if self.lora.take().is_none() {
            return Err(LoraError::NoAdapters.into());
        }
        for (layer_index, layer) in self.layers.iter_mut().enumerate() {
            for target in TargetModule::ALL {
                let projection = layer.projection_mut(target);
                if let Some(adapter) = projection.lora.take() {
                    let delta = adapter.weight_delta();
                    if let Some(packed) = projection.packed.take() {
                        // Widened, updated and packed again in the same storage.
                        let widened = TensorData::new(packed.to_f32(), packed.shape());
                        let merged = Tensor::<B, 2>::from_data(widened, &delta.device()) + delta;
                        let values: Vec<f32> = merged
                            .into_data()
                            .convert::<f32>()
                            .into_vec()
                            .map_err(|e| LmError::Input(format!("merged weight: {e:?}")))?;
                        let [rows, cols] = packed.shape();
                        let repacked = PackedMatrix::from_f32(&values, rows, cols, packed.dtype())
                            .map_err(|source| LmError::Packed {
                                name: format!(
                                    "model.layers.{layer_index}.{}.weight",
                                    target.path()
                                ),
                                source,
                            })?;
                        projection.packed = Some(Arc::new(repacked));
                        continue;
                    }
                    let weight = projection.weight.clone();
                    projection.weight = weight.map(|w| {
                        w.map(|w| {
                            let trained = w.is_require_grad();
                            (w + delta).detach().set_require_grad(trained)
                        })
                    });
                }
            }
        }
        Ok(self)
    }
}
