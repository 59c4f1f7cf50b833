//! The audio front end: the one path from a file or samples to the model's input.
//!
//! decode → mono → resample to the encoder's rate → peak-normalise → window → encode → pool.
//! [`crate::Pipeline`], the corpus-embedding job, `evaluate` and the quickstart all go through
//! [`AudioFrontEnd`], so they cannot drift apart. Frames stay on the device from the encoder to
//! the model: the encoder hands back a device tensor and pooling runs there too.
//!
//! Peak normalisation follows LLark (`jukebox/main.py`): the samples are divided by their peak
//! absolute value (when it is above zero), taken over the whole input given, before any window is
//! cut.
//!
//! Long audio: an encoder with a bounded input ([`llark_encoder::EncoderInfo::max_input_samples`], Jukebox's
//! 2^20 samples) looks only at the start of what it is given, as in LLark.
//! [`AudioFrontEnd::encode_windows`] cuts a recording into windows ([`WindowPlan`]) and encodes
//! each, for callers that combine answers over a whole track.

use std::path::Path;

use burn::tensor::{backend::Backend, Tensor};
use llark_audio::{Audio, LLARK_SAMPLE_RATE, LLARK_WINDOW_SAMPLES};
use llark_encoder::AudioEncoder;
use llark_projector::Pooling;

use crate::error::{LlarkError, Result};

/// How a long recording is cut into windows: each `window_seconds` long, starting every
/// `hop_seconds`; the last window may be shorter.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WindowPlan {
    /// Length of one window in seconds.
    pub window_seconds: f64,
    /// Distance between window starts in seconds (equal to the length: no overlap).
    pub hop_seconds: f64,
}

impl WindowPlan {
    /// LLark's window, 2^20 samples at 44.1 kHz (about 23.78 s), without overlap.
    pub fn llark() -> Self {
        let seconds = LLARK_WINDOW_SAMPLES as f64 / f64::from(LLARK_SAMPLE_RATE);
        Self {
            window_seconds: seconds,
            hop_seconds: seconds,
        }
    }

    /// Windows of `window_seconds` every `hop_seconds`; both must be finite and positive.
    pub fn new(window_seconds: f64, hop_seconds: f64) -> Result<Self> {
        for (name, value) in [("window", window_seconds), ("hop", hop_seconds)] {
            if !(value.is_finite() && value > 0.0) {
                return Err(LlarkError::WindowPlan { name, value });
            }
        }
        Ok(Self {
            window_seconds,
            hop_seconds,
        })
    }

    /// The sample ranges of the windows over `len` samples at `sample_rate` (one window for
    /// audio shorter than a window, none for empty audio).
    pub fn ranges(&self, len: usize, sample_rate: u32) -> Vec<std::ops::Range<usize>> {
        let rate = f64::from(sample_rate);
        let window = ((self.window_seconds * rate).round() as usize).max(1);
        let hop = ((self.hop_seconds * rate).round() as usize).max(1);
        let mut ranges = Vec::new();
        let mut start = 0;
        while start < len {
            let end = (start + window).min(len);
            ranges.push(start..end);
            if end == len {
                break;
            }
            start += hop;
        }
        ranges
    }
}

impl Default for WindowPlan {
    fn default() -> Self {
        Self::llark()
    }
}

/// One encoded window of a long recording.
#[derive(Debug, Clone)]
pub struct EncodedWindow<B: Backend> {
    /// Position of the window in the recording, from 0.
    pub index: usize,
    /// Start of the window, in seconds from the start of the recording.
    pub start_seconds: f64,
    /// Length of the window's audio, in seconds.
    pub duration_seconds: f64,
    /// The model's input for this window, `[frames, width]` (pooled when the front end pools).
    pub encodings: Tensor<B, 2>,
}

/// The audio front end: an encoder, the pooling rate the model was trained with, and the device
/// the model runs on.
pub struct AudioFrontEnd<B: Backend> {
    encoder: Box<dyn AudioEncoder<B>>,
    pooling: Option<Pooling>,
    device: B::Device,
}

impl<B: Backend> AudioFrontEnd<B> {
    /// A front end that encodes with `encoder` and pools its frames to `pool_fps` frames per
    /// second (`Some(0)`: one mean frame per clip; `None`: the encoder's frames unpooled), with
    /// tensors on `device`. A pooling rate the encoder's frame rate cannot give is refused here,
    /// before any audio is read.
    pub fn new(
        encoder: Box<dyn AudioEncoder<B>>,
        pool_fps: Option<u32>,
        device: &B::Device,
    ) -> Result<Self> {
        let pooling = match pool_fps {
            Some(fps) => {
                let pooling = Pooling::new(encoder.frame_rate(), fps);
                pooling.window_len()?;
                Some(pooling)
            }
            None => None,
        };
        Ok(Self {
            encoder,
            pooling,
            device: device.clone(),
        })
    }

    /// The same encoder with another pooling rate (see [`Self::new`]).
    pub fn with_pool_fps(self, pool_fps: Option<u32>) -> Result<Self> {
        Self::new(self.encoder, pool_fps, &self.device)
    }

    /// The encoder.
    pub fn encoder(&self) -> &dyn AudioEncoder<B> {
        self.encoder.as_ref()
    }

    /// The pooling rate in frames per second, `None` when frames are not pooled.
    pub fn pool_fps(&self) -> Option<u32> {
        self.pooling.map(|pooling| pooling.fps)
    }

    /// The device the encodings are put on.
    pub fn device(&self) -> &B::Device {
        &self.device
    }

    /// Decodes a file, mixes it to mono, resamples it to the encoder's rate and peak-normalises
    /// it.
    pub fn load(&self, path: impl AsRef<Path>) -> Result<Audio> {
        let audio = llark_audio::load_resampled(path.as_ref(), self.encoder.sample_rate())?;
        self.normalise(audio)
    }

    /// [`Self::load`] of the part of a file from `start_seconds`, `duration_seconds` long
    /// (`None`: to the end); the crop is normalised on its own peak, as a clip cut beforehand.
    pub fn load_crop(
        &self,
        path: impl AsRef<Path>,
        start_seconds: f64,
        duration_seconds: Option<f64>,
    ) -> Result<Audio> {
        let audio = llark_audio::load_resampled(path.as_ref(), self.encoder.sample_rate())?;
        self.normalise(audio.crop(start_seconds, duration_seconds)?)
    }

    /// Brings samples given by the caller to the encoder's input: resampled to its rate and
    /// peak-normalised.
    pub fn prepare(&self, audio: &Audio) -> Result<Audio> {
        self.normalise(audio.resample(self.encoder.sample_rate())?)
    }

    fn normalise(&self, mut audio: Audio) -> Result<Audio> {
        audio.peak_normalise()?;
        Ok(audio)
    }

    /// Encodes audio already at the encoder's rate (from [`Self::load`] or [`Self::prepare`])
    /// and pools the frames: the `[frames, width]` input of the model. An encoder with a
    /// bounded input looks only at its first window.
    pub fn encode(&self, audio: &Audio) -> Result<Tensor<B, 2>> {
        self.encode_samples(audio.samples(), audio.sample_rate())
    }

    fn encode_samples(&self, samples: &[f32], sample_rate: u32) -> Result<Tensor<B, 2>> {
        let expected = self.encoder.sample_rate();
        if sample_rate != expected {
            return Err(llark_encoder::EncoderError::SampleRate {
                actual: sample_rate,
                expected,
            }
            .into());
        }
        let frames = self.encoder.encode(samples, sample_rate, &self.device)?;
        self.pool(frames)
    }

    /// [`Self::load`] then [`Self::encode`].
    pub fn encode_file(&self, path: impl AsRef<Path>) -> Result<Tensor<B, 2>> {
        let path = path.as_ref();
        self.encode(&self.load(path)?)
            .map_err(|source| LlarkError::InFile {
                path: path.to_path_buf(),
                source: Box::new(source),
            })
    }

    /// Cuts audio at the encoder's rate into the windows of `plan` and encodes each; the audio
    /// is normalised once over the whole recording, before the cut, as LLark does.
    pub fn encode_windows(
        &self,
        audio: &Audio,
        plan: &WindowPlan,
    ) -> Result<Vec<EncodedWindow<B>>> {
        self.encode_ranges(audio, plan.ranges(audio.len(), audio.sample_rate()))
    }

    /// Encodes the given sample ranges of audio at the encoder's rate, one window each (ranges
    /// past the end are cut to it).
    pub fn encode_ranges(
        &self,
        audio: &Audio,
        ranges: Vec<std::ops::Range<usize>>,
    ) -> Result<Vec<EncodedWindow<B>>> {
        let rate = audio.sample_rate();
        ranges
            .into_iter()
            .enumerate()
            .map(|(index, range)| {
                let range = range.start.min(audio.len())..range.end.min(audio.len());
                let start_seconds = range.start as f64 / f64::from(rate);
                let duration_seconds = range.len() as f64 / f64::from(rate);
                Ok(EncodedWindow {
                    index,
                    start_seconds,
                    duration_seconds,
                    encodings: self.encode_samples(&audio.samples()[range], rate)?,
                })
            })
            .collect()
    }

    /// Pools encoder frames on the device (unchanged when this front end does not pool).
    pub fn pool(&self, frames: Tensor<B, 2>) -> Result<Tensor<B, 2>> {
        match &self.pooling {
            Some(pooling) => Ok(pooling.apply(frames)?),
            None => Ok(frames),
        }
    }
}
