//! What the trainer needs from a model, and freezing parameters by policy.

use std::path::Path;

use burn::module::{AutodiffModule, ModuleMapper, Param};
use burn::tensor::backend::AutodiffBackend;
use burn::tensor::Tensor;
use llark_data::Batch;

use crate::config::{ParamGroup, TrainConfig, TrainPolicy};
use crate::error::ModelError;

/// A model the trainer can train: a burn module on an autodiff backend with a differentiable
/// loss over collated batches. The root crate implements it for `Llark`.
pub trait TrainModel<B: AutodiffBackend>: AutodiffModule<B> + Clone {
    /// Mean next-token loss over the labelled positions of `batch`; `audio` holds the raw
    /// encodings of the batch's audio spans stacked in splice order, `[total frames, width]`.
    fn train_loss(&self, batch: &Batch, audio: Tensor<B, 2>) -> Result<Tensor<B, 1>, ModelError>;

    /// The group of the parameter under the module path `path` (field names from the root,
    /// e.g. `["projector", "linear", "weight"]`).
    fn param_group(path: &[String]) -> ParamGroup;

    /// Width of the audio encodings the model takes.
    fn audio_width(&self) -> usize;

    /// Writes the model in its own exchange format (e.g. a Hugging Face directory) to `dir`.
    fn export(&self, dir: &Path) -> Result<(), ModelError>;

    /// The configuration of the LoRA adapters the model carries (`None`, the default: none). A
    /// run's [`TrainConfig::lora`] must equal it.
    fn lora(&self) -> Option<&llark_lm::LoraConfig> {
        None
    }
}

/// Sets `require_grad` on every float parameter from `policy`: trained groups require gradients,
/// frozen groups do not (so burn computes no gradient for them and the optimizer never touches
/// them).
pub fn apply_policy<B: AutodiffBackend, M: TrainModel<B>>(model: M, policy: TrainPolicy) -> M {
    freeze(model, |group| policy.trains(group))
}

/// As [`apply_policy`] for a whole configuration: its policy, and with
/// [`TrainConfig::lora`] the language model's base frozen ([`TrainConfig::trains`]).
pub fn apply_config<B: AutodiffBackend, M: TrainModel<B>>(model: M, config: &TrainConfig) -> M {
    freeze(model, |group| config.trains(group))
}

fn freeze<B: AutodiffBackend, M: TrainModel<B>>(
    model: M,
    trains: impl Fn(ParamGroup) -> bool,
) -> M {
    let mut mapper = PolicyMapper::<M, _> {
        path: Vec::new(),
        trains,
        model: std::marker::PhantomData,
    };
    model.map(&mut mapper)
}

struct PolicyMapper<M, F> {
    path: Vec<String>,
    trains: F,
    model: std::marker::PhantomData<M>,
}

impl<B: AutodiffBackend, M: TrainModel<B>, F: Fn(ParamGroup) -> bool> ModuleMapper<B>
    for PolicyMapper<M, F>
{
    fn enter_module(&mut self, name: &str, _container_type: &str) {
        self.path.push(name.to_string());
    }

    fn exit_module(&mut self, _name: &str, _container_type: &str) {
        self.path.pop();
    }

    fn map_float<const D: usize>(&mut self, param: Param<Tensor<B, D>>) -> Param<Tensor<B, D>> {
        let trained = (self.trains)(M::param_group(&self.path));
        let (id, tensor, mapper) = param.consume();
        let tensor = tensor.detach().set_require_grad(trained);
        Param::from_mapped_value(id, tensor, mapper)
    }
}

/// Numbers of trained and frozen scalar parameters of a model.
pub fn count_params<B: AutodiffBackend, M: AutodiffModule<B>>(model: &M) -> (usize, usize) {
    struct Counter(usize, usize);
    impl<B: AutodiffBackend> burn::module::ModuleVisitor<B> for Counter {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
            let n = param.shape().num_elements();
            if param.is_require_grad() {
                self.0 += n;
            } else {
                self.1 += n;
            }
        }
    }
    let mut c = Counter(0, 0);
    model.visit(&mut c);
    (c.0, c.1)
}
