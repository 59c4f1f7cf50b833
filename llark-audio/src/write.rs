//! Writing mono WAV files (for tools and tests).

use std::path::Path;

use hound::{SampleFormat, WavSpec, WavWriter};

use crate::audio::Audio;
use crate::error::{AudioError, Result};

/// Sample encoding of a written WAV file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WavFormat {
    /// 32-bit IEEE float, lossless for `f32` audio.
    #[default]
    Float32,
    /// 16-bit integer PCM: `round(x * 32768)` clamped to the `i16` range, so that reading back
    /// (`/ 32768`) is within half a step of the original for `x` in `[-1, 1)`.
    Pcm16,
}

/// Writes `audio` as a mono WAV file at its sample rate. NaN or infinite samples are an error.
pub fn write_wav(path: impl AsRef<Path>, audio: &Audio, format: WavFormat) -> Result<()> {
    let path = path.as_ref();
    let write_err = |e: hound::Error| AudioError::Write {
        path: path.to_path_buf(),
        detail: e.to_string(),
    };
    if let Some((index, value)) = audio.first_non_finite() {
        return Err(AudioError::NonFinite {
            origin: path.display().to_string(),
            index,
            value,
        });
    }
    let spec = WavSpec {
        channels: 1,
        sample_rate: audio.sample_rate(),
        bits_per_sample: match format {
            WavFormat::Float32 => 32,
            WavFormat::Pcm16 => 16,
        },
        sample_format: match format {
            WavFormat::Float32 => SampleFormat::Float,
            WavFormat::Pcm16 => SampleFormat::Int,
        },
    };
    let mut writer = WavWriter::create(path, spec).map_err(write_err)?;
    match format {
        WavFormat::Float32 => {
            for &s in audio.samples() {
                writer.write_sample(s).map_err(write_err)?;
            }
        }
        WavFormat::Pcm16 => {
            for &s in audio.samples() {
                let pcm = (s * 32768.0).round().clamp(-32768.0, 32767.0) as i16;
                writer.write_sample(pcm).map_err(write_err)?;
            }
        }
    }
    writer.finalize().map_err(write_err)
}
