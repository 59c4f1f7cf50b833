#![doc = include_str!("../README.md")]
#![warn(missing_docs)]

mod error;
mod pooling;
mod projector;
mod splice;

pub use error::ProjectorError;
pub use pooling::Pooling;
pub use projector::{Projector, ProjectorConfig, ProjectorKind, PROJECTOR_PREFIX};
pub use splice::{splice_audio, AudioTokenIds};
