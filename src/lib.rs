//! # llark
//!
//! LLark, a multimodal music-understanding language model (a music clip and a question in, a text
//! answer out), as a composition of the workspace's library crates:
//!
//! | crate | job |
//! |---|---|
//! | [`llark_audio`] | decoding, mono mixing, resampling, normalisation, windows, synthetic music |
//! | [`llark_encoder`] | audio encoders (the Jukebox-5B path, a lightweight CPU encoder) |
//! | [`llark_projector`] | pooling, projection, splicing audio frames into token embeddings |
//! | [`llark_lm`] | the Llama 2 decoder, KV cache, generation |
//! | [`llark_data`] | records, conversation template, tokenizer, label masking, batches, encoding store |
//! | [`llark_train`] | the trainer |
//! | [`llark_music`] | the music vocabulary: keys, modes, tempo wording, instruments |
//! | [`llark_eval`] (re-exported as [`eval`]) | LLark's answer parsing, metrics and results tables |
//! | [`llark_tensors`] | safetensors files: shards, dtypes, bounded reads, atomic writes |
//!
//! The jobs built on this crate (the quickstart, corpus embedding) live in `llark-jobs`; see
//! `ARCHITECTURE.md` for the whole crate graph.
//!
//! This root crate composes them:
//!
//! | module | job |
//! |---|---|
//! | [`backend`] | the compute backend chosen by cargo features |
//! | [`model`], [`config`] | the [`Llark`] model (projector + Llama) and its `config.json` |
//! | [`frontend`] | the one path from audio to the model's input: decode, resample, normalise, window, encode, pool |
//! | [`pipeline`] | audio or stored encodings in, streamed answers out; multi-turn [`Chat`] on one KV cache |
//! | [`encoders`] | opening encoder directories and stored encoding files |
//! | [`training`] | [`Llark`] as a [`llark_train::TrainModel`]; the `train.json` runner |
//! | [`parity`] | the multimodal parity check against reference outputs |
//!
//! ```no_run
//! use llark::{Llark, Pipeline};
//! use llark::backend::{default_device, DefaultBackend};
//! use llark::data::LlarkTokenizer;
//!
//! let device = default_device();
//! let model = Llark::<DefaultBackend>::from_pretrained("quickstart-out/model", &device)?;
//! let tokenizer = LlarkTokenizer::from_file("quickstart-out/model/tokenizer.json")?;
//! let encoder = llark::encoders::load_encoder::<DefaultBackend>("quickstart-out/model/encoder", &device)?;
//! let pipeline = Pipeline::new(model, tokenizer)?.with_encoder(encoder)?;
//! let audio = pipeline.encode_file("song.wav")?;
//! println!("{}", pipeline.ask(&audio, "What key is this piece in?", None)?);
//! # Ok::<(), llark::LlarkError>(())
//! ```
#![warn(missing_docs)]

pub mod backend;
pub mod config;
pub mod encoders;
pub mod error;
pub mod frontend;
pub mod model;
pub mod parity;
pub mod pipeline;
pub mod track;
pub mod training;

pub use config::LlarkConfig;
pub use error::{LlarkError, Result};
pub use frontend::{AudioFrontEnd, EncodedWindow, WindowPlan};
pub use model::Llark;
pub use pipeline::{Answer, AnswerHooks, BatchHooks, Chat, Pipeline, RowTextSink};
pub use track::{Combination, TrackAnswer, WindowAnswer};

pub use llark_audio as audio;
pub use llark_data as data;
pub use llark_encoder as encoder;
pub use llark_eval as eval;
pub use llark_lm as lm;
pub use llark_midi as midi;
pub use llark_music as music;
pub use llark_projector as projector;
pub use llark_tensors as tensors;
pub use llark_train as train;
