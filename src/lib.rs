//! # llark
//!
//! LLark, a multimodal music-understanding language model (a music clip and a question in, a text
//! answer out), as a composition of the workspace's library crates:
//!
//! | crate | job |
//! |---|---|
//! | [`llark_audio`] | decoding, mono mixing, resampling, normalisation, windows |
//! | [`llark_encoder`] | audio encoders (Jukebox-5B path) |
//! | [`llark_projector`] | pooling, projection, splicing audio frames into token embeddings |
//! | [`llark_lm`] | the Llama 2 decoder, KV cache, generation |
//! | [`llark_data`] | records, conversation template, tokenizer, label masking, batches, encoding store |
//! | [`llark_train`] | the trainer |
//!
//! This root crate selects the compute backend ([`backend`]) and re-exports the member crates.
#![warn(missing_docs)]

pub mod backend;
pub mod config;
pub mod embedding;
pub mod encoders;
pub mod error;
pub mod eval;
pub mod model;
pub mod parity;
pub mod pipeline;
pub mod quickstart;
pub mod training;

pub use config::LlarkConfig;
pub use error::{LlarkError, Result};
pub use model::Llark;
pub use pipeline::{Chat, Pipeline};

pub use llark_audio as audio;
pub use llark_data as data;
pub use llark_encoder as encoder;
pub use llark_lm as lm;
pub use llark_projector as projector;
pub use llark_train as train;
