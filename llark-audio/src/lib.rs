//! Audio input for LLark: decoding, mono mixing, resampling, peak normalisation, fixed windows
//! and long-audio windowing, with LLark's exact conventions.
//!
//! LLark's input is `librosa.load(path, sr=44100)` (channel mean, then resampling), divided by
//! its peak (when above zero), then cut or zero-padded at the end to 1,048,576 samples with the
//! real length kept. [`load_llark`] does all of that; the pieces are public for other uses:
//!
//! ```no_run
//! use llark_audio::{fit, load, LLARK_SAMPLE_RATE, LLARK_WINDOW_SAMPLES};
//!
//! # fn main() -> Result<(), llark_audio::AudioError> {
//! let mut audio = load("song.mp3")?.resample(LLARK_SAMPLE_RATE)?;
//! audio.peak_normalise()?;
//! let input = fit(audio, LLARK_WINDOW_SAMPLES);
//! println!("{} real samples of {}", input.valid_len(), input.audio.len());
//! # Ok(())
//! # }
//! ```
//!
//! Long files are windowed while they are decoded, without loading them whole:
//!
//! ```no_run
//! use llark_audio::{AudioStream, Resampled, Windows, LLARK_SAMPLE_RATE, LLARK_WINDOW_SAMPLES};
//!
//! # fn main() -> Result<(), llark_audio::AudioError> {
//! let stream = Resampled::new(AudioStream::open("concert.flac")?, LLARK_SAMPLE_RATE)?;
//! for window in Windows::new(stream, LLARK_WINDOW_SAMPLES, LLARK_WINDOW_SAMPLES / 2)? {
//!     let mut window = window?;
//!     window.audio.peak_normalise()?;
//!     println!("window {} at {:.2} s", window.index, window.start_seconds());
//! }
//! # Ok(())
//! # }
//! ```
//!
//! Formats: WAV (PCM 8/16/24/32-bit, 32-bit float, any channel count) always; MP3, FLAC and
//! OGG/Vorbis with the default `compressed` feature.
//!
//! [`synth`] generates seeded synthetic pieces with exact ground truth (key, tempo, chords,
//! instruments, genre) in the shape of LLark's per-clip metadata, for demos and end-to-end runs.
#![warn(missing_docs)]

mod audio;
pub mod augment;
mod decode;
mod error;
mod llark;
mod resample;
mod source;
pub mod synth;
mod window;
mod write;

pub use audio::{fit, Audio, AudioSource, Fitted};
pub use decode::{load, load_reader, load_resampled, AudioStream, MediaReader};
pub use error::{AudioError, Result};
pub use llark::{load_llark, LLARK_SAMPLE_RATE, LLARK_WINDOW_SAMPLES};
pub use resample::{output_len as resampled_len, Resampled, MAX_RESAMPLE_MAGNITUDE};
pub use source::{Cropped, SampleSource};
pub use window::{window_count, Window, Windows};
pub use write::{write_wav, WavFormat};
