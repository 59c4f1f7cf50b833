//! Audio encoders for LLark.
//!
//! - [`AudioEncoder`]: the trait every encoder implements (mono audio → a `[T, D]` device tensor
//!   at a fixed frame rate, described by [`EncoderInfo`]), used by the audio front end of the
//!   `llark` crate; [`Frames`] is the host form, for storage and tests.
//! - [`jukebox::Jukebox`]: the Jukebox-5B path LLark uses — VQ-VAE level-2 codes fed to the top
//!   prior `prior_5b` cut to 36 layers, giving 4800-wide frames at 344.53125 Hz. Weights are read
//!   from safetensors files with the original checkpoint names (`tools/convert_jukebox.py`).
//! - [`lite::LiteEncoder`]: a lightweight CPU encoder (chroma, key evidence, tempogram, log-mel,
//!   MFCC, dynamics at 10.77 frames/s) for demos and small models trained from scratch.
//! - [`parity::check_fixture`]: compares the model with golden outputs of the original code.
//!
//! ```no_run
//! use burn::backend::Flex;
//! use llark_encoder::{jukebox::{Jukebox, JukeboxOptions}, EncoderInfo};
//!
//! let device = Default::default();
//! let model = Jukebox::<Flex>::load_dir("weights/jukebox", JukeboxOptions::default(), &device)?;
//! let samples = vec![0.0f32; 44_100 * 10];
//! let frames = model.encode_frames(&samples, 44_100)?;
//! assert_eq!(frames.width, model.width());
//! # Ok::<(), llark_encoder::EncoderError>(())
//! ```
#![warn(missing_docs)]

mod config_file;
mod encoder;
mod error;
pub mod jukebox;
pub mod lite;
pub mod parity;
pub mod weights;

pub use encoder::{AudioEncoder, EncoderInfo, Frames};
pub use error::EncoderError;
pub use jukebox::{Jukebox, JukeboxConfig, JukeboxOptions};
pub use lite::{LiteConfig, LiteEncoder};
