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

/// Steps of the fine tempo grid per tempo bin: the best bin's tempo is refined to the
/// strongest periodicity within half a bin of it on this grid (0.3 % apart by default), so the
/// digits block spells a whole BPM the bins alone (2.6 % apart) cannot.
const FINE_STEPS: usize = 8;

/// The ranker over a fixed set of tempo bins.
pub(crate) struct TempoRanker {
    /// Tempogram over the bins at every multiple: `RANKER_MULTIPLES.len()` blocks of `bins`.
    tempogram: Tempogram,
    /// Tempogram over the fine grid (periodicity at the tempo itself).
    fine: Tempogram,
    /// Tempi of the fine grid, BPM: `FINE_STEPS` per bin from the first bin to the last.
    fine_bpm: Vec<f64>,
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
        let fine_ratio = ratio.powf(1.0 / FINE_STEPS as f64);
        let first = bpm.first().copied().unwrap_or(1.0);
        let fine_bpm: Vec<f64> = (0..=(bpm.len().saturating_sub(1) * FINE_STEPS))
            .map(|k| first * fine_ratio.powi(k as i32))
            .collect();
        Self {
            tempogram: Tempogram::new(planner, window, onset_rate, &probed, ratio),
            fine: Tempogram::new(planner, window, onset_rate, &fine_bpm, fine_ratio),
            fine_bpm,
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
        self.analyse(bands, centre).0
    }

    /// The features of every bin and the band-mean periodicity on the fine grid.
    fn analyse(
        &self,
        bands: &[Vec<f32>],
        centre: usize,
    ) -> (Vec<[f32; RANKER_FEATURES]>, Vec<f32>) {
        let len = bands.first().map_or(0, Vec::len);
        let (lo, hi) = self.bounds(centre, len);
        let mut mean = vec![0f32; RANKER_MULTIPLES.len() * self.bins];
        let mut one = vec![0f32; mean.len()];
        let mut fine = vec![0f32; self.fine_bpm.len()];
        let mut fine_one = vec![0f32; fine.len()];
        for envelope in bands {
            let Some(ac) = self.tempogram.autocorrelation(envelope, lo, hi) else {
                continue;
            };
            self.tempogram.read(&ac, &mut one);
            self.fine.read(&ac, &mut fine_one);
            mean.iter_mut().zip(&one).for_each(|(m, v)| *m += v);
            fine.iter_mut().zip(&fine_one).for_each(|(m, v)| *m += v);
        }
        let scale = 1.0 / bands.len().max(1) as f32;
        let rows = (0..self.bins)
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
            .collect();
        (rows, fine)
    }

    /// The posterior over the bins for the window centred on `centre`, into `out` (summing to
    /// 1; all zeros when the envelopes have no periodicity at all). Returns the most probable
    /// bin's tempo refined on the fine grid (`None` without periodicity).
    pub(crate) fn compute(
        &self,
        bands: &[Vec<f32>],
        centre: usize,
        out: &mut [f32],
    ) -> Option<f64> {
        out.iter_mut().for_each(|v| *v = 0.0);
        let (features, fine) = self.analyse(bands, centre);
        let periodic = features
            .iter()
            .any(|row| row[..RANKER_MULTIPLES.len()].iter().any(|&v| v != 0.0));
        if !periodic {
            return None;
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
        let peak = (0..weights.len()).max_by(|&a, &b| weights[a].total_cmp(&weights[b]))?;
        Some(self.refine(peak, &fine))
    }

    /// The tempo of the strongest fine-grid periodicity within half a bin of bin `best`.
    fn refine(&self, best: usize, fine: &[f32]) -> f64 {
        let centre = best * FINE_STEPS;
        let lo = centre.saturating_sub(FINE_STEPS / 2);
        let hi = (centre + FINE_STEPS / 2).min(fine.len().saturating_sub(1));
        let peak = (lo..=hi)
            .max_by(|&a, &b| {
                fine[a]
                    .total_cmp(&fine[b])
                    // Ties go to the grid point nearest the bin centre.
                    .then_with(|| b.abs_diff(centre).cmp(&a.abs_diff(centre)))
            })
            .unwrap_or(centre);
        self.fine_bpm[peak.min(self.fine_bpm.len() - 1)]
    }
}
