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

    /// The onset frames `lo..hi` of the window centred on `centre`, clipped to `len` frames.
    pub(crate) fn bounds(&self, centre: usize, len: usize) -> (usize, usize) {
        let lo = centre.saturating_sub(self.window / 2);
        (lo.min(len), (lo + self.window).min(len))
    }

    /// The tempogram of the window of onset frames centred on `centre`, written into `out`
    /// (one value per bin): the autocorrelation of the mean-removed envelope divided by its
    /// lag-0 value, each bin taking the largest value over its lag interval. All zeros when the
    /// window's envelope is constant.
    pub(crate) fn compute(&self, onset: &[f32], centre: usize, out: &mut [f32]) {
        let (lo, hi) = self.bounds(centre, onset.len());
        self.compute_range(onset, lo, hi, out);
    }

    /// The tempogram of the onset frames `lo..hi` (at most the window long), as
    /// [`Self::compute`].
    pub(crate) fn compute_range(&self, onset: &[f32], lo: usize, hi: usize, out: &mut [f32]) {
        match self.autocorrelation(onset, lo, hi) {
            Some(ac) => self.read(&ac, out),
            None => out.iter_mut().for_each(|v| *v = 0.0),
        }
    }

    /// The autocorrelation of the mean-removed onset frames `lo..hi` (at most the window long)
    /// at lags `0..=max_lag`, divided by its lag-0 value; `None` when the envelope is constant.
    pub(crate) fn autocorrelation(&self, onset: &[f32], lo: usize, hi: usize) -> Option<Vec<f32>> {
        let hi = hi.min(onset.len()).min(lo + self.window);
        if hi <= lo + 1 {
            return None;
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
        let zero = buffer[0].re;
        if zero <= 1e-12 * size as f32 {
            return None;
        }
        Some(
            buffer[..=self.max_lag]
                .iter()
                .map(|c| c.re / zero)
                .collect(),
        )
    }

    /// The bins of a normalised autocorrelation `ac` (from a tempogram whose lags reach at
    /// least this one's), into `out`: each bin the largest value over its lag interval, in
    /// `[-1, 1]`. Bins beyond the lags of `ac` read 0.
    pub(crate) fn read(&self, ac: &[f32], out: &mut [f32]) {
        out.iter_mut().for_each(|v| *v = 0.0);
        if ac.len() < 2 {
            return;
        }
        let last = ac.len() - 1;
        let at = |lag: f64| {
            let i = (lag.floor() as usize).min(last - 1);
            let frac = ((lag - i as f64) as f32).clamp(0.0, 1.0);
            ac[i] * (1.0 - frac) + ac[i + 1] * frac
        };
        for (o, &(a, b)) in out.iter_mut().zip(&self.spans) {
            if b.ceil() as usize > last {
                continue;
            }
            let inner = (a.ceil() as usize..=b.floor() as usize).map(|i| ac[i]);
            let best = inner.fold(at(a).max(at(b)), f32::max);
            *o = best.clamp(-1.0, 1.0);
        }
    }
}

/// Seconds of the moving average subtracted from each band's onset envelope.
const LOCAL_MEAN_SECONDS: f64 = 0.5;

/// Onset envelopes of `bands` groups of neighbouring mel bands (`log_mel`: one row per onset
/// frame, `db_unit` energies): each the mean positive rise of its bands between onset frames,
/// less its moving average over [`LOCAL_MEAN_SECONDS`], half-wave rectified and divided by its
/// standard deviation over the clip (all zeros when constant). Onsets of one register (a bass
/// line, a legato melody) then count as much as those of the loudest one.
pub(crate) fn band_onsets(log_mel: &[Vec<f32>], bands: usize, onset_rate: f64) -> Vec<Vec<f32>> {
    let n_mels = log_mel.first().map_or(0, Vec::len);
    let frames = log_mel.len();
    let half = ((LOCAL_MEAN_SECONDS * onset_rate / 2.0).round() as usize).max(1);
    (0..bands)
        .map(|b| {
            let (lo, hi) = (
                b * n_mels / bands,
                ((b + 1) * n_mels / bands).max(b * n_mels / bands + 1),
            );
            let hi = hi.min(n_mels);
            let mut rise = vec![0f32; frames];
            for j in 1..frames {
                let (prev, cur) = (&log_mel[j - 1][lo..hi], &log_mel[j][lo..hi]);
                let sum: f32 = cur.iter().zip(prev).map(|(c, p)| (c - p).max(0.0)).sum();
                rise[j] = sum / (hi - lo).max(1) as f32;
            }
            let mut prefix = vec![0f64; frames + 1];
            for (j, &r) in rise.iter().enumerate() {
                prefix[j + 1] = prefix[j] + f64::from(r);
            }
            let mut envelope: Vec<f32> = (0..frames)
                .map(|j| {
                    let (a, z) = (j.saturating_sub(half), (j + half + 1).min(frames));
                    let mean = (prefix[z] - prefix[a]) / (z - a) as f64;
                    (f64::from(rise[j]) - mean).max(0.0) as f32
                })
                .collect();
            let n = frames.max(1) as f64;
            let mean = envelope.iter().map(|&v| f64::from(v)).sum::<f64>() / n;
            let var = envelope
                .iter()
                .map(|&v| (f64::from(v) - mean).powi(2))
                .sum::<f64>()
                / n;
            let scale = if var > 1e-12 {
                (1.0 / var.sqrt()) as f32
            } else {
                0.0
            };
            envelope.iter_mut().for_each(|v| *v *= scale);
            envelope
        })
        .collect()
}

/// A clip-level tempo estimate as a distribution over the tempo bins: the tempograms of several
/// band onset envelopes over a long window, averaged; each tempo scored by its own periodicity
/// plus that of half its tempo (a beat that groups in twos), weighted by a log-normal prior
/// around a typical tapped tempo; then `softmax(sharpness * score / max score)`.
pub(crate) struct TempoSalience {
    /// Tempogram over the bins followed by the same bins at half tempo.
    tempogram: Tempogram,
    bins: usize,
    prior: Vec<f32>,
    sharpness: f32,
}

/// Parameters of [`TempoSalience::new`].
pub(crate) struct SalienceParams<'a> {
    /// Onset frames of the analysis window.
    pub window: usize,
    /// Onset frames per second.
    pub onset_rate: f64,
    /// Tempo bins, BPM (log-spaced).
    pub bpm: &'a [f64],
    /// Ratio between neighbouring bins.
    pub ratio: f64,
    /// Centre of the prior, BPM.
    pub prior_bpm: f64,
    /// Standard deviation of the prior, octaves.
    pub prior_octaves: f64,
    /// Inverse temperature of the output softmax.
    pub sharpness: f64,
}

impl TempoSalience {
    /// A salience estimator with the given parameters.
    pub(crate) fn new(planner: &mut FftPlanner<f32>, p: &SalienceParams<'_>) -> Self {
        let doubled: Vec<f64> = p
            .bpm
            .iter()
            .copied()
            .chain(p.bpm.iter().map(|b| b / 2.0))
            .collect();
        let prior = p
            .bpm
            .iter()
            .map(|&b| {
                let z = (b / p.prior_bpm).log2() / p.prior_octaves;
                (-0.5 * z * z).exp() as f32
            })
            .collect();
        Self {
            tempogram: Tempogram::new(planner, p.window, p.onset_rate, &doubled, p.ratio),
            bins: p.bpm.len(),
            prior,
            sharpness: p.sharpness as f32,
        }
    }

    /// The onset frames `lo..hi` the window centred on `centre` covers in a clip of `len` onset
    /// frames (frames with equal bounds get equal salience).
    pub(crate) fn bounds(&self, centre: usize, len: usize) -> (usize, usize) {
        self.tempogram.bounds(centre, len)
    }

    /// The salience of the window centred on `centre` over the band envelopes `bands`, into
    /// `out` (one value per bin, summing to 1; all zeros without any periodicity).
    pub(crate) fn compute(&self, bands: &[Vec<f32>], centre: usize, out: &mut [f32]) {
        let mut mean = vec![0f32; 2 * self.bins];
        let mut one = vec![0f32; 2 * self.bins];
        for envelope in bands {
            self.tempogram.compute(envelope, centre, &mut one);
            mean.iter_mut().zip(&one).for_each(|(m, v)| *m += v);
        }
        let score: Vec<f32> = (0..self.bins)
            .map(|b| (mean[b].max(0.0) + mean[self.bins + b].max(0.0)) * self.prior[b])
            .collect();
        let best = score.iter().fold(0f32, |m, &v| m.max(v));
        out.iter_mut().for_each(|v| *v = 0.0);
        if best <= 1e-9 {
            return;
        }
        let weights: Vec<f32> = score
            .iter()
            .map(|&s| (self.sharpness * (s / best - 1.0)).exp())
            .collect();
        let total: f32 = weights.iter().sum();
        out.iter_mut()
            .zip(&weights)
            .for_each(|(o, w)| *o = w / total);
    }
}
