//! The [`AudioEncoder`] trait every audio encoder implements, and its output type [`Frames`].

use burn::tensor::{backend::Backend, Tensor, TensorData};

use crate::EncoderError;

/// A sequence of feature frames: a row-major `[frames, width]` matrix of f32.
///
/// Row `t` covers audio time `[t / rate, (t + 1) / rate)` where `rate` is the encoder's
/// [`EncoderInfo::frame_rate`]. Frames are plain host memory, for storage, inspection and tests;
/// [`AudioEncoder::encode`] hands back device tensors instead.
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

    /// Moves the frames onto `device` as a `[frames, width]` tensor.
    pub fn into_tensor<B: Backend>(self, device: &B::Device) -> Tensor<B, 2> {
        Tensor::from_data(
            TensorData::new(self.data, [self.frames, self.width]),
            device,
        )
    }

    /// Reads a `[frames, width]` tensor back into host frames.
    pub fn from_tensor<B: Backend>(tensor: Tensor<B, 2>) -> Result<Self, EncoderError> {
        let [frames, width] = tensor.dims();
        let data = tensor
            .into_data()
            .convert::<f32>()
            .to_vec::<f32>()
            .map_err(|e| EncoderError::Backend(format!("{e:?}")))?;
        Ok(Self {
            data,
            frames,
            width,
        })
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

/// What an encoder takes and gives, independent of the compute backend.
///
/// Implementations decide their own input window: [`EncoderInfo::max_input_samples`] tells a
/// caller how much audio one call looks at, so long recordings can be windowed upstream.
pub trait EncoderInfo {
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
}

/// An audio encoder: mono audio in, a `[T, D]` tensor of feature frames out, on the device the
/// caller names.
///
/// The number of frames returned follows the *real* length of the audio given (no frames for
/// padding). Encoders that compute on a burn backend hand their activations over without a
/// host round trip; host encoders upload their frames once.
pub trait AudioEncoder<B: Backend>: EncoderInfo {
    /// Encodes one clip of mono samples at `sample_rate` Hz into a `[frames, width]` tensor on
    /// `device`.
    fn encode(
        &self,
        samples: &[f32],
        sample_rate: u32,
        device: &B::Device,
    ) -> Result<Tensor<B, 2>, EncoderError>;

    /// Encodes several clips; the default runs [`AudioEncoder::encode`] on each in turn.
    fn encode_batch(
        &self,
        clips: &[&[f32]],
        sample_rate: u32,
        device: &B::Device,
    ) -> Result<Vec<Tensor<B, 2>>, EncoderError> {
        clips
            .iter()
            .map(|clip| self.encode(clip, sample_rate, device))
            .collect()
    }
}
