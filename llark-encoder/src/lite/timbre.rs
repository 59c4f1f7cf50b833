//! Timbre and dynamics: mel filterbank, log-mel energies, MFCCs and per-frame scalar descriptors.

use super::spectrum::db_unit;

/// Power below which a frame counts as silent for centroid and flatness (-100 dBFS).
const SILENT_POWER: f64 = 1e-10;
/// Rise of a band's `db_unit` energy between onset frames that counts as a percussive onset
/// (0.1 = 8 dB).
const PERCUSSIVE_RISE: f32 = 0.1;

/// Triangular mel filters (HTK mel scale, peak weight 1) over the bins of a power spectrum.
pub(crate) struct MelBank {
    /// For each band: first bin and the weights of consecutive bins.
    filters: Vec<(usize, Vec<f32>)>,
}

fn hz_to_mel(hz: f64) -> f64 {
    2595.0 * (1.0 + hz / 700.0).log10()
}

fn mel_to_hz(mel: f64) -> f64 {
    700.0 * (10f64.powf(mel / 2595.0) - 1.0)
}

impl MelBank {
    /// `n_mels` bands with edges equally spaced in mel between `fmin` and `fmax`, for spectra of
    /// `bins` bins spaced `bin_hz` apart. A band narrower than a bin takes the bin nearest its
    /// centre.
    pub(crate) fn new(n_mels: usize, fmin: f64, fmax: f64, bins: usize, bin_hz: f64) -> Self {
        let (lo, hi) = (hz_to_mel(fmin), hz_to_mel(fmax));
        let edges: Vec<f64> = (0..n_mels + 2)
            .map(|i| mel_to_hz(lo + (hi - lo) * i as f64 / (n_mels + 1) as f64))
            .collect();
        let filters = (0..n_mels)
            .map(|b| {
                let (left, centre, right) = (edges[b], edges[b + 1], edges[b + 2]);
                let first = ((left / bin_hz).ceil() as usize).min(bins - 1);
                let last = ((right / bin_hz).floor() as usize).min(bins - 1);
                let weights: Vec<f32> = (first..=last)
                    .map(|k| {
                        let f = k as f64 * bin_hz;
                        let w = if f <= centre {
                            (f - left) / (centre - left)
                        } else {
                            (right - f) / (right - centre)
                        };
                        w.max(0.0) as f32
                    })
                    .collect();
                if weights.iter().any(|&w| w > 0.0) {
                    (first, weights)
                } else {
                    (
                        ((centre / bin_hz).round() as usize).min(bins - 1),
                        vec![1.0],
                    )
                }
            })
            .collect();
        Self { filters }
    }

    /// Band energies of one power spectrum into `out`.
    pub(crate) fn apply(&self, power: &[f32], out: &mut [f32]) {
        for (o, (first, weights)) in out.iter_mut().zip(&self.filters) {
            *o = weights
                .iter()
                .zip(&power[*first..])
                .map(|(w, p)| w * p)
                .sum();
        }
    }
}

/// Orthonormal DCT-II rows `0..n_mfcc` over `n_mels` inputs.
pub(crate) fn dct_matrix(n_mfcc: usize, n_mels: usize) -> Vec<Vec<f32>> {
    let n = n_mels as f64;
    (0..n_mfcc)
        .map(|m| {
            let scale = if m == 0 {
                (1.0 / n).sqrt()
            } else {
                (2.0 / n).sqrt()
            };
            (0..n_mels)
                .map(|b| {
                    let angle = std::f64::consts::PI * m as f64 * (b as f64 + 0.5) / n;
                    (scale * angle.cos()) as f32
                })
                .collect()
        })
        .collect()
}

/// Spectral centroid (`log2(c / 20 Hz) / 10`, clipped to `[0, 1]`) and flatness (geometric over
/// arithmetic mean power) of a mean power spectrum; both 0 for silence.
pub(crate) fn centroid_flatness(power: &[f32], bin_hz: f64) -> (f32, f32) {
    let bins = &power[1..];
    let total: f64 = bins.iter().map(|&p| f64::from(p)).sum();
    let mean = total / bins.len().max(1) as f64;
    if mean < SILENT_POWER {
        return (0.0, 0.0);
    }
    let weighted: f64 = bins
        .iter()
        .enumerate()
        .map(|(i, &p)| (i + 1) as f64 * bin_hz * f64::from(p))
        .sum();
    let centroid = ((weighted / total / 20.0).log2() / 10.0).clamp(0.0, 1.0);
    let log_mean = bins
        .iter()
        .map(|&p| (f64::from(p) + SILENT_POWER).ln())
        .sum::<f64>()
        / bins.len() as f64;
    let flatness = (log_mean.exp() / (mean + SILENT_POWER)).clamp(0.0, 1.0);
    (centroid as f32, flatness as f32)
}

/// Loudness (`db_unit` of the mean square) and zero-crossing rate of a block of samples.
pub(crate) fn loudness_zcr(block: &[f32]) -> (f32, f32) {
    if block.is_empty() {
        return (0.0, 0.0);
    }
    let energy = block
        .iter()
        .map(|&x| f64::from(x) * f64::from(x))
        .sum::<f64>();
    let crossings = block
        .windows(2)
        .filter(|w| (w[0] >= 0.0) != (w[1] >= 0.0))
        .count();
    (
        db_unit((energy / block.len() as f64) as f32),
        crossings as f32 / block.len() as f32,
    )
}

/// Onset strength and percussiveness of each onset frame from its log-mel bands (`db_unit`):
/// the mean positive rise over bands, and the share of bands rising by more than 8 dB. The first
/// frame has no predecessor and scores 0.
pub(crate) fn onset_strength(log_mel: &[Vec<f32>]) -> (Vec<f32>, Vec<f32>) {
    let mut flux = vec![0f32; log_mel.len()];
    let mut percussive = vec![0f32; log_mel.len()];
    for j in 1..log_mel.len() {
        let (prev, cur) = (&log_mel[j - 1], &log_mel[j]);
        let bands = cur.len().max(1) as f32;
        let rises = cur.iter().zip(prev).map(|(c, p)| (c - p).max(0.0));
        let (sum, count) = rises.fold((0f32, 0usize), |(s, n), r| {
            (s + r, n + usize::from(r > PERCUSSIVE_RISE))
        });
        flux[j] = sum / bands;
        percussive[j] = count as f32 / bands;
    }
    (flux, percussive)
}
