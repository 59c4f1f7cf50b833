//! Tempo: a local autocorrelation tempogram of the onset-strength envelope, sampled on log-spaced
//! BPM bins.

use std::sync::Arc;

use rustfft::num_complex::Complex;
use rustfft::{Fft, FftPlanner};

/// Windowed onset-envelope autocorrelation read out at log-spaced tempi.
pub(crate) struct Tempogram {
    forward: Arc<dyn Fft<f32>>,
    inverse: Arc<dyn Fft<f32>>,
    /// Onset frames in the analysis window.
    window: usize,
    /// For each tempo bin, the lag interval (in onset frames) it covers.
    spans: Vec<(f64, f64)>,
    /// Largest integer lag needed.
    max_lag: usize,
}

impl Tempogram {
    /// A tempogram over `window` onset frames at `onset_rate` frames per second, with bins at
    /// `bpm` (log-spaced, neighbours `ratio` apart).
    pub(crate) fn new(
        planner: &mut FftPlanner<f32>,
        window: usize,
        onset_rate: f64,
        bpm: &[f64],
        ratio: f64,
    ) -> Self {
        let half = ratio.sqrt();
        let lag = |b: f64| 60.0 * onset_rate / b;
        let spans: Vec<(f64, f64)> = bpm
            .iter()
            .map(|&b| (lag(b * half), lag(b / half)))
            .collect();
        let max_lag = spans
            .iter()
            .map(|&(_, hi)| hi.ceil() as usize + 1)
            .max()
            .unwrap_or(1);
        let size = (window + max_lag + 1).next_power_of_two();
        Self {
            forward: planner.plan_fft_forward(size),
            inverse: planner.plan_fft_inverse(size),
            window,
            spans,
            max_lag,
        }
    }

    /// The tempogram of the window of onset frames centred on `centre`, written into `out`
    /// (one value per bin): the autocorrelation of the mean-removed envelope divided by its
    /// lag-0 value, each bin taking the largest value over its lag interval. All zeros when the
    /// window's envelope is constant.
    pub(crate) fn compute(&self, onset: &[f32], centre: usize, out: &mut [f32]) {
        out.iter_mut().for_each(|v| *v = 0.0);
        let lo = centre.saturating_sub(self.window / 2);
        let hi = (lo + self.window).min(onset.len());
        if hi <= lo + 1 {
            return;
        }
        let segment = &onset[lo..hi];
        let mean = segment.iter().sum::<f32>() / segment.len() as f32;
        let size = self.forward.len();
        let mut buffer = vec![Complex::<f32>::default(); size];
        for (slot, &x) in buffer.iter_mut().zip(segment) {
            *slot = Complex::new(x - mean, 0.0);
        }
        self.forward.process(&mut buffer);
        buffer
            .iter_mut()
            .for_each(|c| *c = Complex::new(c.norm_sqr(), 0.0));
        self.inverse.process(&mut buffer);
        let ac: Vec<f32> = buffer[..=self.max_lag].iter().map(|c| c.re).collect();
        if ac[0] <= 1e-12 * size as f32 {
            return;
        }
        let at = |lag: f64| {
            let i = (lag.floor() as usize).min(self.max_lag - 1);
            let frac = (lag - i as f64) as f32;
            ac[i] * (1.0 - frac) + ac[i + 1] * frac
        };
        for (o, &(a, b)) in out.iter_mut().zip(&self.spans) {
            let inner = (a.ceil() as usize..=b.floor() as usize).map(|i| ac[i]);
            let best = inner.fold(at(a).max(at(b)), f32::max);
            *o = (best / ac[0]).clamp(-1.0, 1.0);
        }
    }
}
