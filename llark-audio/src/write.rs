//! Writing mono WAV files (for tools and tests), atomically: a temporary file beside the
//! destination is synced and renamed over it, so a failed write never leaves half a file.

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
    let tmp = llark_tensors::partial_path(path).map_err(|source| AudioError::Io {
        origin: path.display().to_string(),
        source,
    })?;
    let file = std::fs::File::create(&tmp).map_err(|source| AudioError::Io {
        origin: tmp.display().to_string(),
        source,
    })?;
    let result = write_samples(
        WavWriter::new(std::io::BufWriter::new(file), spec),
        audio,
        format,
    )
    .map_err(write_err)
    .and_then(|()| {
        std::fs::File::open(&tmp)
            .and_then(|f| f.sync_all())
            .and_then(|()| std::fs::rename(&tmp, path))
            .map_err(|source| AudioError::Io {
                origin: path.display().to_string(),
                source,
            })
    });
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Writes the samples through a WAV writer and finalises the header.
fn write_samples<W: std::io::Write + std::io::Seek>(
    writer: Result<WavWriter<W>, hound::Error>,
    audio: &Audio,
    format: WavFormat,
) -> std::result::Result<(), hound::Error> {
    let mut writer = writer?;
    match format {
        WavFormat::Float32 => {
            for &s in audio.samples() {
                writer.write_sample(s)?;
            }
        }
        WavFormat::Pcm16 => {
            for &s in audio.samples() {
                let pcm = (s * 32768.0).round().clamp(-32768.0, 32767.0) as i16;
                writer.write_sample(pcm)?;
            }
        }
    }
    writer.finalize()
}
