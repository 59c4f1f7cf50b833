//! Llama decoder for LLark, generic over burn backends.
//!
//! Loads a Hugging Face Llama directory unchanged (`config.json`, single or sharded safetensors in
//! f32/f16/bf16) and computes what transformers computes: forward over token ids or input
//! embeddings with padding masks and a block-structured KV cache, vocabulary resizing with
//! mean-initialised rows, the causal-LM loss, and generation (greedy and sampled, stop ids, stop
//! strings, streaming, left-padded batches, prompts given as embeddings, continuation from a
//! cache). [`parity::check_fixture`] compares a model with reference outputs of transformers.
//!
//! ```no_run
//! use burn::backend::Flex;
//! use llark_lm::{GenerationConfig, GenerationHooks, Llama, Prompt};
//!
//! let device = Default::default();
//! let model = Llama::<Flex>::from_pretrained("path/to/llama-2-7b-chat-hf", &device)?;
//! let config = GenerationConfig {
//!     eos_token_ids: model.config.eos_ids(),
//!     ..GenerationConfig::greedy(64)
//! };
//! let prompt = Prompt::Ids(vec![vec![1, 15043, 29892]]);
//! let out = model.generate(prompt, &config, GenerationHooks::default())?;
//! println!("{:?} ({:?})", out.tokens[0], out.stop_reasons[0]);
//! # Ok::<(), llark_lm::LmError>(())
//! ```
#![warn(missing_docs)]

pub mod cache;
pub mod config;
pub mod error;
pub mod export;
pub mod fused;
pub mod generate;
pub mod layers;
pub mod load;
pub mod lora;
pub mod loss;
pub mod mask;
pub mod model;
pub mod parity;
pub mod quantize;
pub mod rope;
pub mod weights;

pub use cache::KvCache;
pub use config::{
    LlamaConfig, RopeKind, RopeScaling, TokenIds, MAX_HEADS, MAX_HEAD_DIM, MAX_LAYERS,
    MAX_POSITIONS, MAX_VOCAB_SIZE, MAX_WIDTH,
};
pub use error::{LmError, Result};
pub use export::{write_safetensors, SaveDtype};
pub use generate::{
    left_pad, GenerationConfig, GenerationHooks, GenerationOutput, Prompt, StopReason,
};
pub use llark_kernels::{KernelError, PackedDtype, PackedMatrix, WeightDtype};
pub use load::{check_weights, LoadOptions, INITIALIZER_RANGE};
pub use lora::{LoraAdapter, LoraConfig, LoraError, TargetModule};
pub use loss::causal_lm_loss;
pub use mask::AttentionMask;
pub use model::{tensor_specs, Llama, TensorProvider, VectorKind};
pub use parity::{check_fixture, check_model_with_embeddings, ParityReport};
pub use quantize::{quantize_checkpoint, QuantizeReport};
pub use weights::{int8_scale_name, TensorMeta, WeightSource, INT8_SCALE_SUFFIX};
