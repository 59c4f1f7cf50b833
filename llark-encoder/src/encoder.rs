//! The [`AudioEncoder`] trait every audio encoder implements, and its output type [`Frames`].

use crate::EncoderError;

/// A sequence of feature frames: a row-major `[frames, width]` matrix of f32.
///
/// Row `t` covers audio time `[t / rate, (t + 1) / rate)` where `rate` is the encoder's
/// [`AudioEncoder::frame_rate`]. Frames are plain host memory so they can be stored, pooled and
/// projected without tying the caller to a backend.
#[derive(Debug, Clone, PartialEq)]
pub struct Frames {
    /// Row-major values, `frames * width` of them.
    pub data: Vec<f32>,
    /// Number of frames (rows).
    pub frames: usize,
    /// Feature width (columns).
    pub width: usize,
}

impl Frames {
    /// Builds frames from row-major data; `None` if `data.len() != frames * width`.
    pub fn new(data: Vec<f32>, frames: usize, width: usize) -> Option<Self> {
        (frames.checked_mul(width)? == data.len()).then_some(Self {
            data,
            frames,
            width,
        })
    }

    /// An empty `[0, width]` sequence.
    pub fn empty(width: usize) -> Self {
        Self {
            data: Vec::new(),
            frames: 0,
            width,
        }
    }

    /// Row `t` (panics if `t >= frames`).
    pub fn row(&self, t: usize) -> &[f32] {
        &self.data[t * self.width..(t + 1) * self.width]
    }

    /// The shape `[frames, width]`.
    pub fn shape(&self) -> [usize; 2] {
        [self.frames, self.width]
    }
}

/// Checks that `samples` come at the `expected` rate and are all finite.
pub(crate) fn check_input(samples: &[f32], rate: u32, expected: u32) -> Result<(), EncoderError> {
    if rate != expected {
        return Err(EncoderError::SampleRate {
            actual: rate,
            expected,
        });
    }
    match samples.iter().enumerate().find(|(_, v)| !v.is_finite()) {
        Some((index, &value)) => Err(EncoderError::NonFiniteSample { index, value }),
        None => Ok(()),
    }
}

/// An audio encoder: mono audio in, a `[T, D]` sequence of feature frames out.
///
/// Implementations decide their own input window: [`AudioEncoder::max_input_samples`] tells a caller
/// how much audio one call looks at, so long recordings can be windowed upstream. The number of frames
/// returned follows the *real* length of the audio given (no frames for padding).
pub trait AudioEncoder {
    /// A short name for logs and stored encodings (for example `"jukebox"`).
    fn name(&self) -> &str;

    /// Frames per second of audio in the output.
    fn frame_rate(&self) -> f64;

    /// Width `D` of each frame.
    fn width(&self) -> usize;

    /// The sample rate the encoder takes; other rates are rejected with
    /// [`EncoderError::SampleRate`].
    fn sample_rate(&self) -> u32;

    /// The most samples one call looks at (audio beyond it is ignored), or `None` if unbounded.
    fn max_input_samples(&self) -> Option<usize>;

    /// Encodes one clip of mono samples at `sample_rate` Hz into frames.
    fn encode(&self, samples: &[f32], sample_rate: u32) -> Result<Frames, EncoderError>;

    /// Encodes several clips; the default runs [`AudioEncoder::encode`] on each in turn.
    fn encode_batch(
        &self,
        clips: &[&[f32]],
        sample_rate: u32,
    ) -> Result<Vec<Frames>, EncoderError> {
        clips
            .iter()
            .map(|clip| self.encode(clip, sample_rate))
            .collect()
    }
}
