//! Harmony: chroma from the spectral peaks of each frame, and key evidence from chroma summed over
//! a window of frames.

use super::config::{KeyProfile, CHROMA_BINS, KEY_COUNT};
use super::spectrum::PowerSpectrum;

/// Krumhansl–Kessler major and minor probe-tone profiles, tonic first.
const KRUMHANSL: [[f64; 12]; 2] = [
    [
        6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88,
    ],
    [
        6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17,
    ],
];

/// Temperley's Kostka–Payne major and minor profiles, tonic first.
const TEMPERLEY: [[f64; 12]; 2] = [
    [
        0.748, 0.060, 0.488, 0.082, 0.670, 0.460, 0.096, 0.715, 0.104, 0.366, 0.057, 0.400,
    ],
    [
        0.712, 0.084, 0.474, 0.618, 0.049, 0.460, 0.105, 0.747, 0.404, 0.067, 0.133, 0.330,
    ],
];

/// Peaks more than 60 dB below a frame's strongest peak are ignored.
const PEAK_FLOOR: f32 = 1e-6;
/// Frames whose strongest peak is below -90 dBFS count as silent (all-zero chroma).
const SILENCE_POWER: f32 = 1e-9;

/// A spectral peak: fractional MIDI pitch and amplitude (square root of its power).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Peak {
    pub midi: f64,
    pub amplitude: f32,
}

/// Share of a peak's amplitude its `h`-th harmonic is assumed to have: `HARMONIC_DECAY^(h-1)`.
const HARMONIC_DECAY: f32 = 0.6;
/// Harmonics (2nd to 5th) that [`suppress_harmonics`] looks for.
const HARMONICS: std::ops::RangeInclusive<u32> = 2..=5;
/// How far, in semitones, a peak may sit from a harmonic of a lower one and count as it.
const HARMONIC_TOLERANCE: f64 = 0.35;

/// Every local maximum of `power` between `fmin` and `fmax`, at least [`PEAK_FLOOR`] of the
/// strongest, located by parabolic interpolation of the log power, in ascending pitch; none for
/// silence.
pub(crate) fn frame_peaks(power: &[f32], bin_hz: f64, fmin: f64, fmax: f64) -> Vec<Peak> {
    let lo = ((fmin / bin_hz).floor() as usize).max(1);
    let hi = ((fmax / bin_hz).ceil() as usize).min(power.len().saturating_sub(2));
    if lo >= hi {
        return Vec::new();
    }
    let strongest = power[lo..=hi].iter().fold(0f32, |m, &p| m.max(p));
    if strongest < SILENCE_POWER {
        return Vec::new();
    }
    let floor = strongest * PEAK_FLOOR;
    let mut peaks = Vec::new();
    for k in lo..=hi {
        let (a, b, c) = (power[k - 1], power[k], power[k + 1]);
        if !(b > a && b >= c && b > floor) {
            continue;
        }
        let (la, lb, lc) = (
            f64::from(a + 1e-20).ln(),
            f64::from(b).ln(),
            f64::from(c + 1e-20).ln(),
        );
        let denom = la - 2.0 * lb + lc;
        let delta = if denom < 0.0 {
            (0.5 * (la - lc) / denom).clamp(-0.5, 0.5)
        } else {
            0.0
        };
        let freq = (k as f64 + delta) * bin_hz;
        if freq < fmin || freq > fmax {
            continue;
        }
        peaks.push(Peak {
            midi: 69.0 + 12.0 * (freq / 440.0).log2(),
            amplitude: b.sqrt(),
        });
    }
    peaks
}

/// Takes from each peak (ascending pitch) what the 2nd to 5th harmonics of the peaks below it
/// explain: a peak within [`HARMONIC_TOLERANCE`] of harmonic `h` of a lower peak of amplitude
/// `a` (after its own suppression) loses `a * HARMONIC_DECAY^(h-1)`, down to zero. A note's
/// upper partials then stop voting for the pitch classes a fifth and a third above it.
pub(crate) fn suppress_harmonics(peaks: &mut [Peak]) {
    for i in 0..peaks.len() {
        let mut explained = 0f32;
        for h in HARMONICS {
            let fundamental = peaks[i].midi - 12.0 * f64::from(h).log2();
            // The lower peak nearest the fundamental (peaks are in ascending pitch).
            let at = peaks[..i].partition_point(|p| p.midi < fundamental);
            let nearest = [at.checked_sub(1), Some(at).filter(|&j| j < i)]
                .into_iter()
                .flatten()
                .min_by(|&a, &b| {
                    let d = |j: usize| (peaks[j].midi - fundamental).abs();
                    d(a).total_cmp(&d(b))
                });
            if let Some(j) =
                nearest.filter(|&j| (peaks[j].midi - fundamental).abs() <= HARMONIC_TOLERANCE)
            {
                explained += peaks[j].amplitude * HARMONIC_DECAY.powi(h as i32 - 1);
            }
        }
        peaks[i].amplitude = (peaks[i].amplitude - explained).max(0.0);
    }
}

/// The tuning of a set of peaks: the amplitude-weighted circular mean of their distance from
/// the nearest equal-tempered pitch (A4 = 440 Hz), in semitones within `[-0.5, 0.5]`; 0 without
/// peaks.
pub(crate) fn estimate_tuning<'a>(peaks: impl IntoIterator<Item = &'a Peak>) -> f64 {
    let (mut x, mut y) = (0f64, 0f64);
    for peak in peaks {
        let angle = std::f64::consts::TAU * peak.midi;
        x += f64::from(peak.amplitude) * angle.cos();
        y += f64::from(peak.amplitude) * angle.sin();
    }
    if x == 0.0 && y == 0.0 {
        return 0.0;
    }
    y.atan2(x) / std::f64::consts::TAU
}

/// Chroma of one frame from its peaks, `tuning` semitones taken off each: every peak's amplitude
/// shared between the two nearest pitch classes, divided by the largest bin (all zeros without
/// peaks).
pub(crate) fn fold_chroma(peaks: &[Peak], tuning: f64) -> [f32; CHROMA_BINS] {
    let mut chroma = [0f32; CHROMA_BINS];
    for peak in peaks {
        let midi = peak.midi - tuning;
        let below = midi.floor();
        let frac = (midi - below) as f32;
        let pc = (below as i64).rem_euclid(12) as usize;
        chroma[pc] += peak.amplitude * (1.0 - frac);
        chroma[(pc + 1) % CHROMA_BINS] += peak.amplitude * frac;
    }
    let max = chroma.iter().fold(0f32, |m, &v| m.max(v));
    if max > 0.0 {
        chroma.iter_mut().for_each(|v| *v /= max);
    }
    chroma
}

/// Chroma of every output frame: one `chroma_fft`-point spectrum centred on each frame's middle,
/// its peaks ([`frame_peaks`]) folded ([`fold_chroma`]); when `refined`, with their harmonics
/// suppressed frame by frame and relative to the tuning of the whole input.
pub(crate) fn chroma_frames(
    samples: &[f32],
    spectrum: &mut PowerSpectrum,
    frames: usize,
    hop: usize,
    bin_hz: f64,
    (fmin, fmax): (f64, f64),
    refined: bool,
) -> Vec<[f32; CHROMA_BINS]> {
    let mut power = vec![0f32; spectrum.bins()];
    let peaks: Vec<Vec<Peak>> = (0..frames)
        .map(|t| {
            spectrum.compute(samples, t * hop + hop / 2, &mut power);
            let mut peaks = frame_peaks(&power, bin_hz, fmin, fmax);
            if refined {
                suppress_harmonics(&mut peaks);
            }
            peaks
        })
        .collect();
    let tuning = if refined {
        estimate_tuning(peaks.iter().flatten())
    } else {
        0.0
    };
    peaks.iter().map(|p| fold_chroma(p, tuning)).collect()
}

/// The 24 key templates (C major .. B major, C minor .. B minor), each rotated to its tonic.
fn key_templates(profile: KeyProfile) -> [[f64; 12]; KEY_COUNT] {
    let base = match profile {
        KeyProfile::Krumhansl => &KRUMHANSL,
        KeyProfile::Temperley => &TEMPERLEY,
    };
    std::array::from_fn(|key| {
        let (mode, tonic) = (key / 12, key % 12);
        std::array::from_fn(|pc| base[mode][(pc + 12 - tonic) % 12])
    })
}

/// Pearson correlation of two 12-vectors (0 when either is constant).
fn pearson(x: &[f64; 12], y: &[f64; 12]) -> f64 {
    let mx = x.iter().sum::<f64>() / 12.0;
    let my = y.iter().sum::<f64>() / 12.0;
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for (a, b) in x.iter().zip(y) {
        let (dx, dy) = (a - mx, b - my);
        sxy += dx * dy;
        sxx += dx * dx;
        syy += dy * dy;
    }
    let denom = (sxx * syy).sqrt();
    if denom > 1e-12 {
        sxy / denom
    } else {
        0.0
    }
}

/// Key profiles fitted on training music for the unrefined chroma (configurations without
/// `chroma_refined`; major, then minor; index 0 is the tonic): a key
/// scores the dot product of its mode's profile with the standardised window chroma rotated to
/// its tonic, and the posterior is the softmax of the 24 scores. Fitted by
/// `tools/reference/fit_key_profiles.py` on the development sets of the quickstart (composed
/// clips and the corpus's training pieces, TimGM6mb, with and without augmentation), never on
/// held-out music: 1,298 clips, cross-validated by piece MIREX 0.904 (exact key 0.856) against
/// 0.713 for the Krumhansl-Kessler profiles on the same chroma (the sets as they were before
/// augmented renders were detuned).
pub const FITTED_KEY_PROFILES: [[f32; 12]; 2] = [
    [
        1.584, -1.557, 1.362, -0.518, 1.7, -0.5863, -1.715, 2.113, -1.019, 0.1634, -1.874, 0.3472,
    ],
    [
        2.512, -2.781, 0.5513, 1.644, -1.142, 0.003705, -0.3253, 1.636, -0.146, -0.9735, -0.7808,
        -0.1992,
    ],
];

/// Key profiles for the refined chroma ([`crate::lite::LiteConfig::chroma_refined`]: harmonics
/// suppressed, folded at the input's own tuning), the default: fitted as
/// [`FITTED_KEY_PROFILES`] are, by `tools/reference/fit_key_profiles.py` on 1,298 development
/// clips (seeds 7, 11 and 13, the last augmented, half its renders detuned by up to 30 cents):
/// cross-validated by piece MIREX 0.902 (exact key 0.857); the Krumhansl-Kessler profiles on
/// the same chroma score 0.768 (0.705 on the unrefined chroma).
pub const REFINED_KEY_PROFILES: [[f32; 12]; 2] = [
    [
        1.661, -1.515, 1.068, -0.4821, 1.616, -0.3784, -1.642, 1.905, -1.163, 0.06869, -1.488,
        0.3512,
    ],
    [
        2.338, -2.439, 0.4469, 1.531, -1.136, 0.1445, -0.5606, 1.338, 0.3222, -1.164, -0.8366,
        0.01523,
    ],
];

/// Key correlations and posterior of one frame, written into `correlation` and `posterior`.
pub(crate) struct KeyEvidence {
    templates: [[f64; 12]; KEY_COUNT],
    sharpness: f64,
    /// Fitted profiles ([`FITTED_KEY_PROFILES`] or [`REFINED_KEY_PROFILES`]) whose posterior
    /// over windows placed inside the clip is used, instead of the softmax of the sharpened
    /// correlations over windows clipped to it.
    fitted: Option<&'static [[f32; 12]; 2]>,
}

impl KeyEvidence {
    /// Key evidence with the given profiles and posterior inverse temperature; `fitted`: the
    /// posterior comes from the fitted profiles of the chroma in use ([`REFINED_KEY_PROFILES`]
    /// for the `refined` chroma, else [`FITTED_KEY_PROFILES`]).
    pub(crate) fn new(profile: KeyProfile, sharpness: f64, fitted: bool, refined: bool) -> Self {
        let profiles = if refined {
            &REFINED_KEY_PROFILES
        } else {
            &FITTED_KEY_PROFILES
        };
        Self {
            templates: key_templates(profile),
            sharpness,
            fitted: fitted.then_some(profiles),
        }
    }

    /// For each frame, the chroma summed over the `window` frames centred on it (clipped to the
    /// clip), correlated with every key template; the posterior is the softmax of the scaled
    /// correlations. A window without any chroma gives zeros for both.
    pub(crate) fn frames(
        &self,
        chroma: &[[f32; CHROMA_BINS]],
        window: usize,
    ) -> Vec<([f32; KEY_COUNT], [f32; KEY_COUNT])> {
        let mut prefix = vec![[0f64; CHROMA_BINS]; chroma.len() + 1];
        for (t, c) in chroma.iter().enumerate() {
            prefix[t + 1] = std::array::from_fn(|i| prefix[t][i] + f64::from(c[i]));
        }
        let half = window / 2;
        (0..chroma.len())
            .map(|t| {
                let (lo, hi) = if self.fitted.is_some() {
                    super::ranker::window_inside(t, chroma.len(), window)
                } else {
                    (
                        t.saturating_sub(half),
                        (t + window - half).min(chroma.len()),
                    )
                };
                let sum: [f64; 12] = std::array::from_fn(|i| prefix[hi][i] - prefix[lo][i]);
                let (correlation, mut posterior) = self.evidence(&sum);
                if let Some(profiles) = self.fitted.filter(|_| sum.iter().any(|&v| v > 0.0)) {
                    posterior = fitted_posterior(&sum, profiles);
                }
                (correlation, posterior)
            })
            .collect()
    }

    /// Correlations and posterior for one summed chroma vector.
    fn evidence(&self, chroma: &[f64; 12]) -> ([f32; KEY_COUNT], [f32; KEY_COUNT]) {
        let mut correlation = [0f32; KEY_COUNT];
        let mut posterior = [0f32; KEY_COUNT];
        if chroma.iter().all(|&v| v <= 0.0) {
            return (correlation, posterior);
        }
        let corr: [f64; KEY_COUNT] = std::array::from_fn(|k| pearson(chroma, &self.templates[k]));
        let max = corr.iter().fold(f64::NEG_INFINITY, |m, &v| m.max(v));
        let weights: [f64; KEY_COUNT] =
            std::array::from_fn(|k| ((corr[k] - max) * self.sharpness).exp());
        let total: f64 = weights.iter().sum();
        for k in 0..KEY_COUNT {
            correlation[k] = corr[k] as f32;
            posterior[k] = (weights[k] / total) as f32;
        }
        (correlation, posterior)
    }
}

/// The posterior of fitted `profiles` for a summed chroma vector (not all zeros).
fn fitted_posterior(chroma: &[f64; 12], profiles: &[[f32; 12]; 2]) -> [f32; KEY_COUNT] {
    let mean = chroma.iter().sum::<f64>() / 12.0;
    let std = (chroma.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / 12.0).sqrt();
    let z: [f64; 12] = std::array::from_fn(|i| {
        if std > 1e-12 {
            (chroma[i] - mean) / std
        } else {
            0.0
        }
    });
    let scores: [f64; KEY_COUNT] = std::array::from_fn(|key| {
        let (mode, tonic) = (key / 12, key % 12);
        (0..12)
            .map(|i| f64::from(profiles[mode][i]) * z[(i + tonic) % 12])
            .sum()
    });
    let best = scores.iter().fold(f64::NEG_INFINITY, |m, &v| m.max(v));
    let weights: [f64; KEY_COUNT] = std::array::from_fn(|k| (scores[k] - best).exp());
    let total: f64 = weights.iter().sum();
    std::array::from_fn(|k| (weights[k] / total) as f32)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peak(midi: f64, amplitude: f32) -> Peak {
        Peak { midi, amplitude }
    }

    #[test]
    fn the_tuning_is_the_peaks_common_offset() {
        let sharp: Vec<Peak> = [57.0, 60.0, 64.0, 69.0]
            .iter()
            .map(|&m| peak(m + 0.3, 1.0))
            .collect();
        assert!((estimate_tuning(&sharp) - 0.3).abs() < 1e-9);
        let flat: Vec<Peak> = [50.0, 62.0, 65.0]
            .iter()
            .map(|&m| peak(m - 0.2, 2.0))
            .collect();
        assert!((estimate_tuning(&flat) + 0.2).abs() < 1e-9);
        assert_eq!(estimate_tuning(&[]), 0.0);
        // Folded relative to its tuning, a sharp chord lands on its own pitch classes.
        let chroma = fold_chroma(&sharp, 0.3);
        for (pc, v) in chroma.iter().enumerate() {
            // Two A's, one C, one E.
            let expected = match pc {
                9 => 1.0,
                0 | 4 => 0.5,
                _ => 0.0,
            };
            assert!((v - expected).abs() < 1e-6, "pitch class {pc}: {v}");
        }
        // Folded at concert pitch, 30 % of each slides into the class above: A# holds 0.6 of
        // A's 1.4.
        assert!((fold_chroma(&sharp, 0.0)[10] - 3.0 / 7.0).abs() < 1e-5);
    }

    #[test]
    fn harmonics_of_lower_peaks_are_taken_off() {
        // A3 with its 2nd to 4th partials (A4, E5, A5), and C#6 near A3's 5th partial.
        let mut peaks = vec![
            peak(57.0, 1.0),
            peak(69.0, 0.7),
            peak(57.0 + 19.02, 0.4),
            peak(81.0, 0.3),
            peak(85.0, 0.5),
        ];
        suppress_harmonics(&mut peaks);
        assert_eq!(peaks[0].amplitude, 1.0);
        // The 2nd partial loses 0.6 of the fundamental: 0.1 left.
        assert!((peaks[1].amplitude - 0.1).abs() < 1e-6, "{:?}", peaks[1]);
        // The 3rd loses 0.36, leaving 0.04.
        assert!((peaks[2].amplitude - 0.04).abs() < 1e-6, "{:?}", peaks[2]);
        // The 4th is the 4th harmonic of A3 (0.216) and the 2nd of A4 (0.6 x 0.1): 0.024 left.
        assert!((peaks[3].amplitude - 0.024).abs() < 1e-6, "{:?}", peaks[3]);
        // C#6 is the 5th harmonic of A3 (57 + 27.86 = 84.86): it loses 0.6^4 = 0.13.
        assert!(
            (peaks[4].amplitude - (0.5 - 0.1296)).abs() < 1e-6,
            "{:?}",
            peaks[4]
        );
    }
}
