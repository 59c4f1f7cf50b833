//! LLark's audio input: constants and the whole preprocessing in one call.

use std::path::Path;

use crate::audio::{fit, Fitted};
use crate::error::Result;

/// Sample rate of LLark's (Jukebox's) input, in Hz.
pub const LLARK_SAMPLE_RATE: u32 = 44_100;

/// Length of LLark's input window in samples (2^20, about 23.78 s at 44.1 kHz).
pub const LLARK_WINDOW_SAMPLES: usize = 1 << 20;

/// LLark's preprocessing of one file: decode, mix to mono (channel mean), resample to
/// 44.1 kHz, peak-normalise (only if the peak is above zero), then cut or zero-pad at the end to
/// [`LLARK_WINDOW_SAMPLES`], keeping the real length in [`Fitted::input_len`].
///
/// This is `librosa.load(path, sr=44100)` followed by LLark's normalisation and padding
/// (`jukebox/main.py`). Note that the peak is taken over the whole file, before the cut.
pub fn load_llark(path: impl AsRef<Path>) -> Result<Fitted> {
    let mut audio = crate::load_resampled(path, LLARK_SAMPLE_RATE)?;
    audio.peak_normalise()?;
    Ok(fit(audio, LLARK_WINDOW_SAMPLES))
}
