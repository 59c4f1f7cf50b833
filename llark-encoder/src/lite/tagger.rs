//! The instrument tagger: for each of the vocabulary's instruments, the probability that it
//! plays, from timbre statistics of a window of the clip (independent logistic regressions on
//! standardised statistics).
//!
//! The statistics summarise the onset-rate log-mel spectrum over the window: per band its mean,
//! standard deviation, mean absolute change between onset frames (attack and modulation) and
//! the share of frames it sounds in, then the mean and standard deviation of the MFCCs. The
//! shipped weights (`assets/instrument_tagger.json`) were fitted by
//! `tools/reference/fit_instrument_tagger.py` on composed clips and the *training* pieces of the
//! shipped corpus rendered with the training SoundFont, with and without the quickstart's
//! augmentation; never on held-out music or the held-out SoundFont.

use llark_music::Instrument;
use serde::Deserialize;

use crate::EncoderError;

/// The shipped tagger, fitted for the default 32 mel bands and 13 MFCCs.
const SHIPPED: &str = include_str!("../../assets/instrument_tagger.json");

/// A log-mel band counts as sounding in an onset frame above this `db_unit` value (-60 dBFS).
const SOUNDING: f32 = 0.25;

/// Number of timbre statistics for `n_mels` bands and `n_mfcc` MFCCs.
pub fn statistic_count(n_mels: usize, n_mfcc: usize) -> usize {
    4 * n_mels + 2 * n_mfcc
}

/// Number of instruments the tagger scores: the whole vocabulary.
pub fn tagged_instruments() -> usize {
    Instrument::all().count()
}

/// The tagger's file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TaggerFile {
    /// Mel bands the statistics were computed over.
    n_mels: usize,
    /// MFCCs the statistics were computed over.
    n_mfcc: usize,
    /// Instrument names, in the vocabulary's order.
    instruments: Vec<String>,
    /// Mean of each statistic over the fitting clips.
    mean: Vec<f32>,
    /// Standard deviation of each statistic over the fitting clips.
    scale: Vec<f32>,
    /// One weight row per instrument over the standardised statistics.
    weights: Vec<Vec<f32>>,
    /// One bias per instrument.
    bias: Vec<f32>,
    /// How the weights were fitted (free text).
    #[serde(default)]
    #[allow(dead_code)]
    provenance: String,
}

/// Logistic instrument detectors over timbre statistics.
pub(crate) struct InstrumentTagger {
    mean: Vec<f32>,
    scale: Vec<f32>,
    weights: Vec<Vec<f32>>,
    bias: Vec<f32>,
    dct: Vec<Vec<f32>>,
    n_mels: usize,
}

impl InstrumentTagger {
    /// The shipped tagger, for an encoder of `n_mels` bands and `n_mfcc` MFCCs (it was fitted
    /// for one shape: others are a configuration error naming `field`).
    pub(crate) fn shipped(n_mels: usize, n_mfcc: usize) -> Result<Self, EncoderError> {
        Self::from_json(SHIPPED, "assets/instrument_tagger.json", n_mels, n_mfcc)
    }

    /// A tagger from its JSON text; `origin` names it in errors.
    pub(crate) fn from_json(
        text: &str,
        origin: &str,
        n_mels: usize,
        n_mfcc: usize,
    ) -> Result<Self, EncoderError> {
        let fail = |field: &str, message: String| EncoderError::Config {
            origin: origin.to_string(),
            field: field.to_string(),
            message,
        };
        let file: TaggerFile =
            serde_json::from_str(text).map_err(|e| fail("<json>", e.to_string()))?;
        if (file.n_mels, file.n_mfcc) != (n_mels, n_mfcc) {
            return Err(fail(
                "instrument_tagger",
                format!(
                    "the tagger was fitted for n_mels {} and n_mfcc {}, the encoder has {n_mels} and {n_mfcc}",
                    file.n_mels, file.n_mfcc
                ),
            ));
        }
        let names: Vec<&str> = Instrument::all().map(Instrument::name).collect();
        if file.instruments != names {
            return Err(fail(
                "instruments",
                format!("expected the vocabulary's {} names in order", names.len()),
            ));
        }
        let width = statistic_count(n_mels, n_mfcc);
        let rows_ok =
            file.weights.len() == names.len() && file.weights.iter().all(|row| row.len() == width);
        if file.mean.len() != width || file.scale.len() != width || !rows_ok {
            return Err(fail(
                "weights",
                format!(
                    "expected {width} statistics and {} weight rows",
                    names.len()
                ),
            ));
        }
        if file.bias.len() != names.len() {
            return Err(fail("bias", format!("expected {} biases", names.len())));
        }
        let finite = file
            .weights
            .iter()
            .flatten()
            .chain(&file.mean)
            .chain(&file.bias)
            .all(|v| v.is_finite());
        if !finite || file.scale.iter().any(|&s| !(s.is_finite() && s > 0.0)) {
            return Err(fail(
                "weights",
                "non-finite values or non-positive scales".to_string(),
            ));
        }
        Ok(Self {
            mean: file.mean,
            scale: file.scale,
            weights: file.weights,
            bias: file.bias,
            dct: super::timbre::dct_matrix(n_mfcc, n_mels),
            n_mels,
        })
    }

    /// The timbre statistics of the onset frames `lo..hi` of `log_mel` (one row of `db_unit`
    /// energies per onset frame): [`statistic_count`] values, zeros for an empty range.
    pub(crate) fn statistics(&self, log_mel: &[Vec<f32>], lo: usize, hi: usize) -> Vec<f32> {
        let (n_mels, n_mfcc) = (self.n_mels, self.dct.len());
        let mut out = vec![0f32; statistic_count(n_mels, n_mfcc)];
        let hi = hi.min(log_mel.len());
        if hi <= lo {
            return out;
        }
        let n = (hi - lo) as f64;
        let mut sum = vec![0f64; n_mels];
        let mut square = vec![0f64; n_mels];
        let mut change = vec![0f64; n_mels];
        let mut sounding = vec![0f64; n_mels];
        let mut mfcc_sum = vec![0f64; n_mfcc];
        let mut mfcc_square = vec![0f64; n_mfcc];
        for j in lo..hi {
            let row = &log_mel[j];
            for b in 0..n_mels {
                let v = f64::from(row[b]);
                sum[b] += v;
                square[b] += v * v;
                sounding[b] += f64::from(u8::from(row[b] > SOUNDING));
                if j > lo {
                    change[b] += (v - f64::from(log_mel[j - 1][b])).abs();
                }
            }
            for (m, basis) in self.dct.iter().enumerate() {
                let c: f64 = basis.iter().zip(row).map(|(w, v)| f64::from(w * v)).sum();
                mfcc_sum[m] += c;
                mfcc_square[m] += c * c;
            }
        }
        let std = |s: f64, q: f64| ((q / n - (s / n).powi(2)).max(0.0)).sqrt();
        let changes = (n - 1.0).max(1.0);
        for b in 0..n_mels {
            out[b] = (sum[b] / n) as f32;
            out[n_mels + b] = std(sum[b], square[b]) as f32;
            out[2 * n_mels + b] = (change[b] / changes) as f32;
            out[3 * n_mels + b] = (sounding[b] / n) as f32;
        }
        for m in 0..n_mfcc {
            out[4 * n_mels + m] = (mfcc_sum[m] / n) as f32;
            out[4 * n_mels + n_mfcc + m] = std(mfcc_sum[m], mfcc_square[m]) as f32;
        }
        out
    }

    /// Each instrument's probability given the statistics, into `out` (vocabulary order); all
    /// zeros when no band sounds in any frame of the window (silence: nothing plays).
    pub(crate) fn probabilities(&self, statistics: &[f32], out: &mut [f32]) {
        let sounding = &statistics[3 * self.n_mels..4 * self.n_mels];
        if sounding.iter().all(|&share| share == 0.0) {
            out.iter_mut().for_each(|o| *o = 0.0);
            return;
        }
        for ((o, row), bias) in out.iter_mut().zip(&self.weights).zip(&self.bias) {
            let z: f32 = row
                .iter()
                .zip(statistics.iter().zip(self.mean.iter().zip(&self.scale)))
                .map(|(w, (x, (m, s)))| w * (x - m) / s)
                .sum::<f32>()
                + bias;
            *o = 1.0 / (1.0 + (-z).exp());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A tagger file of the right shape, as JSON, with `edit` applied.
    fn file_with(edit: impl FnOnce(&mut serde_json::Value)) -> String {
        let mut value: serde_json::Value = serde_json::from_str(SHIPPED).unwrap();
        edit(&mut value);
        value.to_string()
    }

    fn field_of(text: &str) -> String {
        match InstrumentTagger::from_json(text, "test", 32, 13) {
            Err(EncoderError::Config { field, .. }) => field,
            Ok(_) => panic!("accepted a broken tagger file"),
            Err(other) => panic!("unexpected error {other}"),
        }
    }

    #[test]
    fn the_shipped_tagger_loads_and_broken_files_name_the_field() {
        assert!(InstrumentTagger::shipped(32, 13).is_ok());
        assert!(matches!(
            InstrumentTagger::shipped(24, 13),
            Err(EncoderError::Config { field, .. }) if field == "instrument_tagger"
        ));
        assert_eq!(field_of("{not json"), "<json>");
        assert_eq!(
            field_of(&file_with(|v| v["instruments"][0] = "lute".into())),
            "instruments"
        );
        assert_eq!(
            field_of(&file_with(|v| {
                v["weights"][3].as_array_mut().unwrap().pop();
            })),
            "weights"
        );
        assert_eq!(
            field_of(&file_with(|v| {
                v["mean"].as_array_mut().unwrap().push(0.0.into());
            })),
            "weights"
        );
        assert_eq!(
            field_of(&file_with(|v| v["scale"][5] = 0.0.into())),
            "weights"
        );
        assert_eq!(
            field_of(&file_with(|v| {
                v["bias"].as_array_mut().unwrap().pop();
            })),
            "bias"
        );
        // JSON has no NaN: a huge number overflows f32 to infinity, which is refused.
        assert_eq!(
            field_of(&file_with(|v| v["weights"][0][0] = 1e300.into())),
            "weights"
        );
    }

    #[test]
    fn statistics_summarise_the_window_and_probabilities_are_logistic() {
        let tagger = InstrumentTagger::shipped(32, 13).unwrap();
        // Two alternating rows: band means, spreads, changes and sounding shares are known.
        let quiet = vec![0.0f32; 32];
        let loud = vec![0.5f32; 32];
        let log_mel: Vec<Vec<f32>> = (0..10)
            .map(|j| {
                if j % 2 == 0 {
                    loud.clone()
                } else {
                    quiet.clone()
                }
            })
            .collect();
        let s = tagger.statistics(&log_mel, 0, 10);
        assert_eq!(s.len(), statistic_count(32, 13));
        for b in 0..32 {
            assert!((s[b] - 0.25).abs() < 1e-6, "mean");
            assert!((s[32 + b] - 0.25).abs() < 1e-6, "std");
            assert!((s[64 + b] - 0.5).abs() < 1e-6, "change");
            assert!((s[96 + b] - 0.5).abs() < 1e-6, "sounding share");
        }
        // MFCC 0 of a flat row is sqrt(32) times its value; higher ones vanish.
        assert!((s[128] - 0.25 * 32f32.sqrt()).abs() < 1e-4);
        assert!(s[129..141].iter().all(|v| v.abs() < 1e-4));
        let empty = tagger.statistics(&log_mel, 4, 4);
        assert!(empty.iter().all(|&v| v == 0.0));
        let mut silent = vec![1f32; tagged_instruments()];
        tagger.probabilities(&empty, &mut silent);
        assert!(silent.iter().all(|&v| v == 0.0), "silence: nothing plays");
        let mut p = vec![0f32; tagged_instruments()];
        tagger.probabilities(&s, &mut p);
        for (j, &pj) in p.iter().enumerate() {
            let z: f32 = tagger.weights[j]
                .iter()
                .enumerate()
                .map(|(k, w)| w * (s[k] - tagger.mean[k]) / tagger.scale[k])
                .sum::<f32>()
                + tagger.bias[j];
            assert!((pj - 1.0 / (1.0 + (-z).exp())).abs() < 1e-6);
        }
    }
}
