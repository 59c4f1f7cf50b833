//! LoRA adapters on the Llama decoder, in Hugging Face PEFT's format.
//!
//! A [`LoraConfig`] (PEFT's `adapter_config.json`: `r`, `lora_alpha`, `lora_dropout`,
//! `target_modules` among `q_proj`, `k_proj`, `v_proj`, `o_proj`, `gate_proj`, `up_proj`,
//! `down_proj`, `layers_to_transform`, `init_lora_weights`) puts a [`LoraAdapter`] beside each
//! target projection: `y = W x + b + (lora_alpha / r) * B (A dropout(x))`, `A` `[r, in]`
//! kaiming-uniform and `B` `[out, r]` zeros when new, with every base weight frozen.
//!
//! - [`Llama::with_lora`](crate::Llama::with_lora) adds new adapters; [`Llama::load_adapter`](crate::Llama::load_adapter)
//!   reads a PEFT adapter directory, [`Llama::save_adapter`](crate::Llama::save_adapter) writes one that
//!   `peft.PeftModel.from_pretrained` loads (keys `base_model.model.model.layers.{i}.self_attn.q_proj.lora_A.weight`,
//!   ..., [`peft_key`]);
//! - [`Llama::merge_lora`](crate::Llama::merge_lora) folds `scale * B A` into the weights: a plain Llama for
//!   inference (PEFT's `merge_and_unload`).
//!
//! ```no_run
//! use burn::backend::Flex;
//! use llark_lm::{Llama, LoraConfig, TargetModule};
//!
//! let device = Default::default();
//! let base = Llama::<Flex>::from_pretrained("llama-2-7b-hf", &device)?;
//! // A PEFT adapter trained elsewhere, merged for inference:
//! let merged = base.clone().load_adapter("my-adapter")?.merge_lora()?;
//! // New adapters to train (the base is frozen):
//! let config = LoraConfig::new(8, 16.0, &[TargetModule::QProj, TargetModule::VProj]).with_dropout(0.05);
//! let adapted = base.with_lora(&config)?;
//! adapted.save_adapter("out/adapter")?;
//! # Ok::<(), llark_lm::LmError>(())
//! ```

mod adapter;
mod apply;
mod config;
mod error;
mod file;

pub use adapter::LoraAdapter;
pub use config::{
    InitLoraWeights, LayerSelection, LoraConfig, LoraInit, TargetModule, TargetModules,
    ADAPTER_CONFIG_FILE, ADAPTER_WEIGHTS_FILE,
};
pub use error::LoraError;
pub use file::{adapter_specs, peft_key, LoraMatrix};
