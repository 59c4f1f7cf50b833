//! Short-time power spectra: Hann-windowed frames centred on a sample, zero-padded beyond the clip.

use std::sync::Arc;

use rustfft::num_complex::Complex;
use rustfft::{Fft, FftPlanner};

/// A planned real-input power spectrum of one frame size (cloned per call for its buffers).
#[derive(Clone)]
pub(crate) struct PowerSpectrum {
    fft: Arc<dyn Fft<f32>>,
    window: Vec<f32>,
    /// `1 / (sum(window) / 2)^2`: a full-scale sine then peaks at ≈ 1 (0 dBFS).
    scale: f32,
    buffer: Vec<Complex<f32>>,
    scratch: Vec<Complex<f32>>,
}

impl PowerSpectrum {
    /// A periodic-Hann power spectrum of `n_fft` points.
    pub(crate) fn new(planner: &mut FftPlanner<f32>, n_fft: usize) -> Self {
        let fft = planner.plan_fft_forward(n_fft);
        let window: Vec<f32> = (0..n_fft)
            .map(|i| {
                let phase = std::f64::consts::TAU * i as f64 / n_fft as f64;
                (0.5 - 0.5 * phase.cos()) as f32
            })
            .collect();
        let half_sum = window.iter().map(|&w| f64::from(w)).sum::<f64>() / 2.0;
        let scratch = vec![Complex::default(); fft.get_inplace_scratch_len()];
        Self {
            fft,
            window,
            scale: (1.0 / (half_sum * half_sum)) as f32,
            buffer: vec![Complex::default(); n_fft],
            scratch,
        }
    }

    /// Number of spectrum bins, `n_fft / 2 + 1`.
    pub(crate) fn bins(&self) -> usize {
        self.window.len() / 2 + 1
    }

    /// Power spectrum of the frame centred on sample `center` into `out` (`bins()` values).
    pub(crate) fn compute(&mut self, samples: &[f32], center: usize, out: &mut [f32]) {
        let n = self.window.len();
        let start = center as isize - (n / 2) as isize;
        for (i, (slot, &w)) in self.buffer.iter_mut().zip(&self.window).enumerate() {
            let idx = start + i as isize;
            let x = if idx >= 0 {
                samples.get(idx as usize).copied().unwrap_or(0.0)
            } else {
                0.0
            };
            *slot = Complex::new(x * w, 0.0);
        }
        self.fft
            .process_with_scratch(&mut self.buffer, &mut self.scratch);
        for (o, c) in out.iter_mut().zip(&self.buffer) {
            *o = c.norm_sqr() * self.scale;
        }
    }
}

/// Maps a power to `dB / 80 + 1` clipped at 0: 0 dBFS → 1, -80 dBFS or less → 0.
pub(crate) fn db_unit(power: f32) -> f32 {
    (10.0 * (power + 1e-12).log10() / 80.0 + 1.0).max(0.0)
}
