//! Windowed mean pooling of encoder frames, as LLark pools Jukebox activations.

use burn::tensor::{backend::Backend, Tensor};

use crate::ProjectorError;

/// LLark's pooling: non-overlapping windows of `floor(frame_rate / fps)` encoder frames, each
/// replaced by its mean; an incomplete window at the end is dropped (PyTorch's `AvgPool1d` with
/// `ceil_mode=False`). With `fps = 0` the whole clip becomes one frame, its mean over time.
///
/// For Jukebox (`frame_rate = 344.53125` Hz) at LLark's default 10 fps a window is 34 frames,
/// 98.68 ms of audio.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Pooling {
    /// Encoder frames per second.
    pub frame_rate: f64,
    /// Pooled frames per second; 0 means one mean over the whole clip.
    pub fps: u32,
}

impl Pooling {
    /// Pooling of frames at `frame_rate` Hz down to `fps` frames per second (0: global mean).
    pub fn new(frame_rate: f64, fps: u32) -> Self {
        Self { frame_rate, fps }
    }

    /// Encoder frames per window: `floor(frame_rate / fps)`, or `None` for the global mean
    /// (`fps = 0`).
    pub fn window_len(&self) -> Result<Option<usize>, ProjectorError> {
        let invalid = ProjectorError::InvalidPooling {
            frame_rate: self.frame_rate,
            fps: self.fps,
        };
        if !(self.frame_rate.is_finite() && self.frame_rate > 0.0) {
            return Err(invalid);
        }
        if self.fps == 0 {
            return Ok(None);
        }
        let len = (self.frame_rate / f64::from(self.fps)).floor();
        if len < 1.0 {
            return Err(invalid);
        }
        Ok(Some(len as usize))
    }

    /// How many pooled frames a clip of `frames` encoder frames gives (0 when it is shorter than
    /// one window; 1 for the global mean of a non-empty clip).
    pub fn output_len(&self, frames: usize) -> Result<usize, ProjectorError> {
        Ok(match self.window_len()? {
            None => usize::from(frames > 0),
            Some(window) => frames / window,
        })
    }

    /// Pools row-major host frames `data` `[frames, width]` into row-major
    /// `[output_len(frames), width]`, with the same windows and errors as [`Pooling::apply`]
    /// (each mean is accumulated in f64), for tools that hold frames in memory without a backend.
    pub fn apply_host(
        &self,
        data: &[f32],
        frames: usize,
        width: usize,
    ) -> Result<Vec<f32>, ProjectorError> {
        if frames.checked_mul(width) != Some(data.len()) {
            return Err(ProjectorError::Shape {
                what: "host frames".into(),
                expected: format!(
                    "{frames} x {width} = {} values",
                    frames.saturating_mul(width)
                ),
                actual: vec![data.len()],
            });
        }
        let window = self.window_len()?.unwrap_or(frames);
        let windows = frames.checked_div(window).unwrap_or(0);
        if windows == 0 {
            return Err(ProjectorError::ClipTooShort {
                frames,
                window_len: window,
            });
        }
        let mut out = Vec::with_capacity(windows * width);
        let mut sums = vec![0f64; width];
        for rows in data.chunks_exact(window * width).take(windows) {
            sums.fill(0.0);
            for row in rows.chunks_exact(width) {
                for (sum, &v) in sums.iter_mut().zip(row) {
                    *sum += f64::from(v);
                }
            }
            out.extend(sums.iter().map(|&s| (s / window as f64) as f32));
        }
        Ok(out)
    }

    /// Pools `frames` `[T, D]` into `[output_len(T), D]`.
    ///
    /// A clip with fewer frames than one window is an error ([`ProjectorError::ClipTooShort`]):
    /// it would give no frame for the model to attend to.
    pub fn apply<B: Backend>(&self, frames: Tensor<B, 2>) -> Result<Tensor<B, 2>, ProjectorError> {
        let [len, width] = frames.dims();
        let window = self.window_len()?.unwrap_or(len);
        let windows = len.checked_div(window).unwrap_or(0);
        if windows == 0 {
            return Err(ProjectorError::ClipTooShort {
                frames: len,
                window_len: window,
            });
        }
        let kept = frames.slice([0..windows * window, 0..width]);
        Ok(kept
            .reshape([windows, window, width])
            .mean_dim(1)
            .reshape([windows, width]))
    }
}
