//! # llark-jobs
//!
//! Whole jobs built from the `llark` crates, kept out of the model API so that whoever depends on
//! [`llark::Llark`] compiles none of them:
//!
//! | module | job |
//! |---|---|
//! | [`evaluate`] | a labelled set → answers → LLark's metrics table, past bad clips |
//! | [`embed`] | a corpus of audio files → per-clip encodings (resumable, sharded) → an encoding store |
//! | [`quickstart`] | the out-of-the-box demo: synthetic music → lite encoder → instruction data → a small LLark trained from scratch → LLark's metrics |
//!
//! Both read audio through [`llark::AudioFrontEnd`], the same path as [`llark::Pipeline`]. The
//! quickstart prints its stages and draws progress bars (this crate is the only place that
//! does); the embedding job reports progress through a callback.
#![warn(missing_docs)]

pub mod embed;
mod error;
pub mod evaluate;
mod progress;
pub mod quickstart;

pub use error::{JobError, Result};
