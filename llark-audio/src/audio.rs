//! [`Audio`]: mono `f32` samples with their rate, and the operations LLark applies to them.

use crate::error::{AudioError, Result};
use crate::resample::Resampled;
use crate::source::{crop_range, SampleSource};

/// Mono audio: `f32` samples (nominally in `[-1, 1]`) and a sample rate in Hz.
///
/// Decoders mix every channel down to mono by the channel mean, as `librosa.load(mono=True)`.
#[derive(Debug, Clone, PartialEq)]
pub struct Audio {
    samples: Vec<f32>,
    sample_rate: u32,
}

impl Audio {
    /// Wraps samples at `sample_rate` Hz; fails if the rate is zero.
    pub fn new(samples: Vec<f32>, sample_rate: u32) -> Result<Self> {
        if sample_rate == 0 {
            return Err(AudioError::InvalidSampleRate {
                rate: 0,
                detail: "the sample rate must be positive".into(),
            });
        }
        Ok(Self {
            samples,
            sample_rate,
        })
    }

    /// Reads a whole [`SampleSource`] into memory.
    pub fn from_source<S: SampleSource>(source: S) -> Result<Self> {
        Self::from_source_with_capacity(source, 0)
    }

    /// Reads a whole source, reserving `capacity` samples up front (an expected length avoids
    /// the over-allocation of a growing buffer).
    pub(crate) fn from_source_with_capacity<S: SampleSource>(
        mut source: S,
        capacity: usize,
    ) -> Result<Self> {
        let mut samples = Vec::with_capacity(capacity);
        let mut chunk = vec![0.0f32; 1 << 14];
        loop {
            let n = source.read(&mut chunk)?;
            if n == 0 {
                break;
            }
            samples.extend_from_slice(&chunk[..n]);
        }
        samples.shrink_to_fit();
        Self::new(samples, source.sample_rate())
    }

    /// The samples.
    pub fn samples(&self) -> &[f32] {
        &self.samples
    }

    /// Gives the samples back.
    pub fn into_samples(self) -> Vec<f32> {
        self.samples
    }

    /// The sample rate in Hz.
    pub fn sample_rate(&self) -> u32 {
        self.sample_rate
    }

    /// Number of samples.
    pub fn len(&self) -> usize {
        self.samples.len()
    }

    /// True when there are no samples.
    pub fn is_empty(&self) -> bool {
        self.samples.is_empty()
    }

    /// Duration in seconds.
    pub fn duration_seconds(&self) -> f64 {
        self.samples.len() as f64 / f64::from(self.sample_rate)
    }

    /// Streams these samples as a [`SampleSource`].
    pub fn source(&self) -> AudioSource<'_> {
        AudioSource::new(self)
    }

    /// Index of the first NaN or infinite sample, with its value.
    pub fn first_non_finite(&self) -> Option<(usize, f32)> {
        self.samples
            .iter()
            .enumerate()
            .find(|(_, s)| !s.is_finite())
            .map(|(i, s)| (i, *s))
    }

    /// Resamples to `sample_rate` Hz with a band-limited (windowed-sinc) filter; returns a copy
    /// when the rate already matches.
    ///
    /// The output has `ceil(len * sample_rate / self.sample_rate)` samples, as `librosa.resample`.
    /// Processing is chunked: besides input and output, memory is a few thousand samples.
    /// Non-finite samples are an error.
    pub fn resample(&self, sample_rate: u32) -> Result<Audio> {
        if let Some((index, value)) = self.first_non_finite() {
            return Err(AudioError::NonFinite {
                origin: "audio to resample".into(),
                index,
                value,
            });
        }
        let expected =
            crate::resample::output_len(self.len() as u64, self.sample_rate, sample_rate);
        let too_large = || AudioError::Resample {
            from: self.sample_rate,
            to: sample_rate,
            detail: format!("an output of {expected} samples does not fit in memory"),
        };
        let expected = usize::try_from(expected).map_err(|_| too_large())?;
        let mut samples = Vec::new();
        samples
            .try_reserve_exact(expected)
            .map_err(|_| too_large())?;
        samples.resize(expected, 0.0f32);
        let mut resampled = Resampled::new(self.source(), sample_rate)?;
        let n = resampled.read_full(&mut samples)?;
        samples.truncate(n);
        Audio::new(samples, sample_rate)
    }

    /// Divides by the peak absolute value, as LLark (`audio /= max|audio|`), only when the peak
    /// is above zero. Returns the peak found. NaN or infinite samples are an error and leave the
    /// audio unchanged.
    pub fn peak_normalise(&mut self) -> Result<f32> {
        let mut peak = 0.0f32;
        for (index, &s) in self.samples.iter().enumerate() {
            if !s.is_finite() {
                return Err(AudioError::NonFinite {
                    origin: "audio to normalise".into(),
                    index,
                    value: s,
                });
            }
            peak = peak.max(s.abs());
        }
        if peak > 0.0 {
            for s in &mut self.samples {
                *s /= peak;
            }
        }
        Ok(peak)
    }

    /// The samples in `[start, start + duration)` seconds (rounded to the nearest sample),
    /// clipped to the audio; `None` for the duration means "to the end".
    pub fn crop(&self, start_seconds: f64, duration_seconds: Option<f64>) -> Result<Audio> {
        let (start, len) = crop_range(start_seconds, duration_seconds, self.sample_rate)?;
        let begin = usize::try_from(start).unwrap_or(usize::MAX).min(self.len());
        let end = match len {
            Some(len) => begin.saturating_add(usize::try_from(len).unwrap_or(usize::MAX)),
            None => self.len(),
        }
        .min(self.len());
        Audio::new(self.samples[begin..end].to_vec(), self.sample_rate)
    }

    /// Cuts or zero-pads at the end to exactly `len` samples, keeping the original length
    /// (LLark's fixed input window; see [`fit`]).
    pub fn fit(self, len: usize) -> Fitted {
        fit(self, len)
    }
}

/// A [`SampleSource`] over audio already in memory (see [`Audio::source`]).
#[derive(Debug, Clone)]
pub struct AudioSource<'a> {
    samples: &'a [f32],
    sample_rate: u32,
    position: usize,
}

impl<'a> AudioSource<'a> {
    /// Streams `audio` from its first sample.
    pub fn new(audio: &'a Audio) -> Self {
        Self {
            samples: audio.samples(),
            sample_rate: audio.sample_rate(),
            position: 0,
        }
    }
}

impl SampleSource for AudioSource<'_> {
    fn sample_rate(&self) -> u32 {
        self.sample_rate
    }

    fn read(&mut self, buf: &mut [f32]) -> Result<usize> {
        let rest = &self.samples[self.position..];
        let n = rest.len().min(buf.len());
        buf[..n].copy_from_slice(&rest[..n]);
        self.position += n;
        Ok(n)
    }

    fn skip(&mut self, count: u64) -> Result<u64> {
        let rest = (self.samples.len() - self.position) as u64;
        let n = rest.min(count);
        self.position += n as usize;
        Ok(n)
    }
}

/// Audio cut or zero-padded to a fixed length, with the length it had before.
#[derive(Debug, Clone, PartialEq)]
pub struct Fitted {
    /// Exactly the requested number of samples.
    pub audio: Audio,
    /// Length before fitting (LLark's `input_audio_len`); may exceed the fitted length.
    pub input_len: usize,
}

impl Fitted {
    /// Number of real (not padded) samples in [`Fitted::audio`]: `min(input_len, len)`.
    pub fn valid_len(&self) -> usize {
        self.input_len.min(self.audio.len())
    }
}

/// Cuts `audio` to its first `len` samples, or zero-pads it at the end to `len`, as LLark does
/// before the Jukebox encoder (`len` = [`crate::LLARK_WINDOW_SAMPLES`]). The original length is
/// kept in [`Fitted::input_len`].
pub fn fit(audio: Audio, len: usize) -> Fitted {
    let input_len = audio.len();
    let sample_rate = audio.sample_rate;
    let mut samples = audio.samples;
    samples.resize(len, 0.0);
    Fitted {
        audio: Audio {
            samples,
            sample_rate,
        },
        input_len,
    }
}
