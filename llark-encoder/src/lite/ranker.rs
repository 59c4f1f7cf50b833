//! The tempo ranker: a clip-level tempo posterior that scores every tempo bin by the
//! periodicity of the band onset envelopes at that tempo *and* at its metrical relatives (the
//! bar above it, the subdivisions below it, the 2:3 and 3:4 neighbours a hemiola or a dotted
//! rhythm brings), with weights fitted on training music.
//!
//! An autocorrelation alone cannot tell a beat from a pulse 1.5 beats long when the music runs in
//! even eighths: both lags are periodic. What differs is the pattern around them: in 3/4 the beat
//! has its bar three lags up and its eighths two down, a dotted-quarter pulse has neither. A
//! linear score over those periodicities (and a log-tempo prior) learns which patterns make a
//! beat; the weights come from `tools/reference/fit_tempo_ranker.py`, fitted on composed clips
//! and the *training* pieces of the shipped corpus rendered with the training SoundFont (never
//! on held-out music), on features this module computes (`clip_features` example).

use rustfft::FftPlanner;

use super::rhythm::Tempogram;

/// Tempo multiples whose periodicity the ranker reads for each candidate tempo `b`: the
/// periodicity at `b * m` (a lag of `beat / m`). Below 1: slower levels (bars); above: faster
/// pulses (subdivisions).
pub const RANKER_MULTIPLES: [f64; 11] = [
    0.25,
    1.0 / 3.0,
    0.5,
    2.0 / 3.0,
    0.75,
    1.0,
    4.0 / 3.0,
    1.5,
    2.0,
    3.0,
    4.0,
];

/// Number of features per candidate tempo: one periodicity per [`RANKER_MULTIPLES`], then
/// `z = log2(bpm / RANKER_PRIOR_BPM)` and `z²`.
pub const RANKER_FEATURES: usize = RANKER_MULTIPLES.len() + 2;

/// Centre of the ranker's log-tempo features, BPM.
pub const RANKER_PRIOR_BPM: f64 = 100.0;

/// The fitted weights, one per feature, in the order of [`RANKER_FEATURES`]: the score of a
/// candidate tempo is their dot product with its features and the posterior the softmax of the
/// scores. Fitted by `tools/reference/fit_tempo_ranker.py` on 758 development clips (248
/// composed, 510 from the corpus's 85 training pieces, rendered with TimGM6mb: the quickstart's
/// `--development-set` at seeds 7 and 11); cross-validated by piece, ACC2 0.942 and ACC1 0.669.
/// The largest weights sit on the beat itself and on its bars (a quarter, a third and half its
/// tempo); the subdivisions add less, and `z²` keeps answers near `RANKER_PRIOR_BPM`.
pub const RANKER_WEIGHTS: [f32; RANKER_FEATURES] = [
    5.871, 5.669, 8.124, -0.801, -1.116, 7.767, 0.02408, -0.009178, 1.982, 1.571, 1.09, 0.2258,
    -1.594,
];

/// The `window` frames centred on `centre` moved inside a clip of `len` frames, as `lo..hi`;
/// the whole clip when it is no longer than the window.
pub(crate) fn window_inside(centre: usize, len: usize, window: usize) -> (usize, usize) {
    if len <= window {
        return (0, len);
    }
    let lo = centre.saturating_sub(window / 2).min(len - window);
    (lo, lo + window)
}

/// The ranker over a fixed set of tempo bins.
pub(crate) struct TempoRanker {
    /// Tempogram over the bins at every multiple: `RANKER_MULTIPLES.len()` blocks of `bins`.
    tempogram: Tempogram,
    bins: usize,
    /// `log2(bpm / RANKER_PRIOR_BPM)` of each bin.
    log_tempo: Vec<f32>,
    /// Onset frames of the analysis window.
    window: usize,
}

impl TempoRanker {
    /// A ranker over `window` onset frames at `onset_rate` frames per second, for the
    /// log-spaced bins `bpm` (neighbours `ratio` apart).
    pub(crate) fn new(
        planner: &mut FftPlanner<f32>,
        window: usize,
        onset_rate: f64,
        bpm: &[f64],
        ratio: f64,
    ) -> Self {
        let probed: Vec<f64> = RANKER_MULTIPLES
            .iter()
            .flat_map(|&m| bpm.iter().map(move |&b| b * m))
            .collect();
        Self {
            tempogram: Tempogram::new(planner, window, onset_rate, &probed, ratio),
            bins: bpm.len(),
            log_tempo: bpm
                .iter()
                .map(|&b| (b / RANKER_PRIOR_BPM).log2() as f32)
                .collect(),
            window,
        }
    }

    /// The onset frames `lo..hi` analysed for a frame centred on onset frame `centre` of a clip
    /// of `len` onset frames: the whole clip when it is no longer than the window, else the
    /// window centred on `centre` moved inside the clip. Every frame of a clip up to the window
    /// long thus shares one estimate.
    pub(crate) fn bounds(&self, centre: usize, len: usize) -> (usize, usize) {
        window_inside(centre, len, self.window)
    }

    /// The features of every bin for the window centred on `centre` (see [`Self::bounds`]) of
    /// the band envelopes `bands`: `bins` rows of [`RANKER_FEATURES`].
    pub(crate) fn features(
        &self,
        bands: &[Vec<f32>],
        centre: usize,
    ) -> Vec<[f32; RANKER_FEATURES]> {
        let len = bands.first().map_or(0, Vec::len);
        let (lo, hi) = self.bounds(centre, len);
        let mut mean = vec![0f32; RANKER_MULTIPLES.len() * self.bins];
        let mut one = vec![0f32; mean.len()];
        for envelope in bands {
            self.tempogram.compute_range(envelope, lo, hi, &mut one);
            mean.iter_mut().zip(&one).for_each(|(m, v)| *m += v);
        }
        let scale = 1.0 / bands.len().max(1) as f32;
        (0..self.bins)
            .map(|b| {
                let mut row = [0f32; RANKER_FEATURES];
                for (k, slot) in row[..RANKER_MULTIPLES.len()].iter_mut().enumerate() {
                    *slot = mean[k * self.bins + b] * scale;
                }
                let z = self.log_tempo[b];
                row[RANKER_MULTIPLES.len()] = z;
                row[RANKER_MULTIPLES.len() + 1] = z * z;
                row
            })
            .collect()
    }

    /// The posterior over the bins for the window centred on `centre`, into `out` (summing to
    /// 1; all zeros when the envelopes have no periodicity at all).
    pub(crate) fn compute(&self, bands: &[Vec<f32>], centre: usize, out: &mut [f32]) {
        out.iter_mut().for_each(|v| *v = 0.0);
        let features = self.features(bands, centre);
        let periodic = features
            .iter()
            .any(|row| row[..RANKER_MULTIPLES.len()].iter().any(|&v| v != 0.0));
        if !periodic {
            return;
        }
        let scores: Vec<f32> = features
            .iter()
            .map(|row| row.iter().zip(&RANKER_WEIGHTS).map(|(f, w)| f * w).sum())
            .collect();
        let best = scores.iter().fold(f32::NEG_INFINITY, |m, &s| m.max(s));
        let weights: Vec<f32> = scores.iter().map(|&s| (s - best).exp()).collect();
        let total: f32 = weights.iter().sum();
        out.iter_mut()
            .zip(&weights)
            .for_each(|(o, w)| *o = w / total);
    }
}
