//! [`LiteConfig`]: the parameters of the lightweight encoder, stored as `config.json`, and the
//! [`LiteLayout`] of its frames.

use std::ops::Range;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::EncoderError;

/// The value of the `"encoder"` field that marks a lightweight-encoder `config.json`.
pub const LITE_ENCODER_NAME: &str = "lite";

/// Number of pitch classes in a chroma vector.
pub const CHROMA_BINS: usize = 12;

/// Number of keys: C major .. B major, then C minor .. B minor.
pub const KEY_COUNT: usize = 24;

/// Number of scalar descriptors at the end of each frame (see [`LiteLayout::scalars`]).
pub const SCALAR_COUNT: usize = 7;

/// Width of the tempo-digits block: hundreds, tens and units, ten one-hot slots each.
pub const TEMPO_DIGIT_WIDTH: usize = 30;

/// The metrical relatives of the best tempo that [`LiteLayout::tempo_relative_digits`] spells,
/// as multiples of it: half, twice, a third, three times, two thirds and three halves. With them
/// a language model can answer the beat a listener taps when the estimate sits an octave, a
/// triple or a 2:3 step (a dotted pulse, a 6/8 heard as 3/4) away from it by copying a block,
/// rather than by doing arithmetic on digits.
pub const TEMPO_RELATIVES: [f64; 6] = [0.5, 2.0, 1.0 / 3.0, 3.0, 2.0 / 3.0, 1.5];

/// Key profiles the key-evidence block correlates the chroma with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyProfile {
    /// Krumhansl–Kessler probe-tone profiles (the Krumhansl–Schmuckler key finder).
    Krumhansl,
    /// Temperley's Kostka–Payne corpus profiles.
    Temperley,
}

/// Parameters of [`crate::lite::LiteEncoder`].
///
/// Serialised as the `config.json` of an encoder directory, with `"encoder": "lite"`. Missing
/// fields take their [`Default`] values, so `{"encoder": "lite"}` is a complete configuration;
/// the switches of blocks added since the first files (`tempo_salience`, `tempo_digits`) are
/// `false` when missing, so a directory saved before them keeps its frame width.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LiteConfig {
    /// Always `"lite"`; identifies the encoder kind of a directory.
    pub encoder: String,
    /// Input sample rate in Hz (44,100, LLark's rate).
    pub sample_rate: u32,
    /// Samples per output frame (4,096: 10.7666 frames/s at 44.1 kHz).
    pub hop_length: usize,
    /// FFT size of the chroma analysis (8,192: 5.4 Hz bins), one window per frame.
    pub chroma_fft: usize,
    /// Lowest spectral peak mapped to chroma, Hz.
    pub chroma_fmin: f64,
    /// Highest spectral peak mapped to chroma, Hz.
    pub chroma_fmax: f64,
    /// Refines the chroma before folding: the harmonics of lower peaks taken off each spectral
    /// peak (so a note's partials stop voting for its fifth and third), and the peaks folded
    /// relative to the input's own tuning (estimated from all its peaks), so a band tuned a
    /// little sharp or flat gives the chroma it would at A4 = 440 Hz. The fitted key profiles
    /// used then are those fitted on this chroma. Absent from configurations written before it
    /// (`false`), on by default.
    #[serde(default)]
    pub chroma_refined: bool,
    /// FFT size of the onset / mel analysis (2,048).
    pub onset_fft: usize,
    /// Hop of the onset / mel analysis in samples (256: 172.3 Hz); must divide `hop_length`.
    pub onset_hop: usize,
    /// Number of mel bands (32).
    pub n_mels: usize,
    /// Lowest mel-band edge, Hz.
    pub mel_fmin: f64,
    /// Highest mel-band edge, Hz (at most half the sample rate).
    pub mel_fmax: f64,
    /// Number of MFCCs kept (13; at most `n_mels`).
    pub n_mfcc: usize,
    /// Key profiles of the key-evidence block.
    pub key_profile: KeyProfile,
    /// Chroma is summed over a window of this many seconds centred on each frame before it is
    /// correlated with the key profiles (30 s: the whole clip for LLark-length clips).
    pub key_window_seconds: f64,
    /// Inverse temperature of the key posterior `softmax(key_sharpness * correlations)`
    /// (configurations without `key_fitted`).
    pub key_sharpness: f64,
    /// The key posterior comes from the fitted key profiles
    /// ([`crate::lite::REFINED_KEY_PROFILES`] with `chroma_refined`, else
    /// [`crate::lite::FITTED_KEY_PROFILES`]) over the standardised chroma of a window placed
    /// inside the clip, so every frame of a clip up to `key_window_seconds` long shares one
    /// posterior. `false` (configurations written before it): the softmax of the sharpened
    /// correlations with `key_profile`.
    #[serde(default)]
    pub key_fitted: bool,
    /// Slowest tempo of the tempogram, BPM.
    pub tempo_min_bpm: f64,
    /// Fastest tempo of the tempogram, BPM.
    pub tempo_max_bpm: f64,
    /// Number of log-spaced tempo bins from `tempo_min_bpm` to `tempo_max_bpm` inclusive.
    pub tempo_bins: usize,
    /// Length of the onset-envelope window each frame's tempogram is computed over, seconds.
    pub tempo_window_seconds: f64,
    /// Adds the tempo-salience block ([`LiteLayout::tempo_salience`]): a clip-level tempo
    /// estimate over the tempo bins. Configurations written before the block existed lack the
    /// field and keep their width (`false`); the default configuration has it.
    #[serde(default)]
    pub tempo_salience: bool,
    /// Mel-band groups whose onset envelopes the salience averages.
    pub tempo_onset_bands: usize,
    /// Mel bands of the spectrum the tempo salience's band onset envelopes are taken from
    /// (`None`: the `n_mels` bands of the timbre blocks, as configurations written before the
    /// field have it; 96 by default: finer bands catch the note changes of legato parts).
    #[serde(default)]
    pub tempo_onset_mels: Option<usize>,
    /// Fills the tempo-salience block with the tempo ranker's posterior
    /// ([`crate::lite::RANKER_WEIGHTS`]): each tempo scored by the periodicity at it and at its
    /// metrical relatives, with fitted weights, over a window placed inside the clip (so every
    /// frame of a clip up to the window long shares one estimate). `false` (configurations
    /// written before it): the beat + half-tempo score with its prior.
    #[serde(default)]
    pub tempo_ranker: bool,
    /// Onset-envelope window of the salience, seconds (24 s: a whole LLark window).
    pub tempo_salience_window_seconds: f64,
    /// Centre of the salience's log-normal tempo prior, BPM.
    pub tempo_prior_bpm: f64,
    /// Standard deviation of the salience's tempo prior, octaves.
    pub tempo_prior_octaves: f64,
    /// Inverse temperature of the salience softmax over scores divided by the best score.
    pub tempo_salience_sharpness: f64,
    /// Adds the tempo-digits block ([`LiteLayout::tempo_digits`]): the salience's best tempo
    /// spelt as decimal digits. Needs `tempo_salience`; absent from configurations written
    /// before it (`false`), present by default.
    #[serde(default)]
    pub tempo_digits: bool,
    /// Adds the relative-digits block ([`LiteLayout::tempo_relative_digits`]): the digits
    /// block's tempo times each of [`TEMPO_RELATIVES`], spelt the same way. Needs
    /// `tempo_digits`; absent from configurations written before it (`false`), present by
    /// default.
    #[serde(default)]
    pub tempo_relative_digits: bool,
    /// Adds the instrument block ([`LiteLayout::instruments`]): the shipped instrument
    /// tagger's probability for each of the vocabulary's instruments, from timbre statistics
    /// over `tempo_salience_window_seconds` (the whole clip when shorter). Needs the default
    /// `n_mels` (32) and `n_mfcc` (13), which it was fitted for. Absent from configurations
    /// written before it (`false`), present by default.
    #[serde(default)]
    pub instrument_tagger: bool,
}

impl Default for LiteConfig {
    fn default() -> Self {
        Self {
            encoder: LITE_ENCODER_NAME.to_string(),
            sample_rate: 44_100,
            hop_length: 4096,
            chroma_fft: 8192,
            chroma_fmin: 55.0,
            chroma_fmax: 5000.0,
            chroma_refined: true,
            onset_fft: 2048,
            onset_hop: 256,
            n_mels: 32,
            mel_fmin: 30.0,
            mel_fmax: 16_000.0,
            n_mfcc: 13,
            key_profile: KeyProfile::Krumhansl,
            key_window_seconds: 30.0,
            key_sharpness: 20.0,
            key_fitted: true,
            tempo_min_bpm: 40.0,
            tempo_max_bpm: 240.0,
            tempo_bins: 72,
            tempo_window_seconds: 8.0,
            tempo_salience: true,
            tempo_onset_bands: 6,
            tempo_onset_mels: Some(96),
            tempo_ranker: true,
            tempo_salience_window_seconds: 24.0,
            tempo_prior_bpm: 100.0,
            tempo_prior_octaves: 1.0,
            tempo_salience_sharpness: 10.0,
            tempo_digits: true,
            tempo_relative_digits: true,
            instrument_tagger: true,
        }
    }
}

/// Where each feature block sits in a frame of width [`LiteLayout::width`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiteLayout {
    /// Chroma, C .. B, divided by the frame's largest bin (0 for silence).
    pub chroma: Range<usize>,
    /// Pearson correlations of the windowed chroma with the 24 key profiles (C major .. B major,
    /// C minor .. B minor), in `[-1, 1]`.
    pub key_correlation: Range<usize>,
    /// Posterior over the 24 keys, same order: from the fitted key profiles with
    /// [`LiteConfig::key_fitted`], else `softmax(key_sharpness * key_correlation)`.
    pub key_posterior: Range<usize>,
    /// Local tempogram on log-spaced BPM bins ([`LiteConfig::tempo_bin_bpm`]): onset-envelope
    /// autocorrelation divided by its lag-0 value, in `[-1, 1]`.
    pub tempo: Range<usize>,
    /// Clip-level tempo estimate on the same bins, summing to 1 (empty unless
    /// [`LiteConfig::tempo_salience`]): band onset envelopes over
    /// `tempo_salience_window_seconds`, each tempo scored by the periodicity at its beat and at
    /// half its tempo, times a log-normal prior around `tempo_prior_bpm`, then
    /// `softmax(tempo_salience_sharpness * score / best score)`.
    pub tempo_salience: Range<usize>,
    /// The salience's best tempo rounded to a whole BPM, as three one-hot groups of 10: hundreds,
    /// tens and units (all zeros when the salience is); averaged over pooled frames it becomes
    /// the share of each digit. Empty unless [`LiteConfig::tempo_digits`]. A language model
    /// trained from scratch quotes a number far more precisely from its digits than from a
    /// distribution over 72 bins.
    pub tempo_digits: Range<usize>,
    /// Log-mel band energies, `dB / 80 + 1` clipped at 0 (0 = -80 dBFS or quieter).
    pub log_mel: Range<usize>,
    /// Orthonormal DCT-II of the log-mel block, first `n_mfcc` coefficients.
    pub mfcc: Range<usize>,
    /// Scalars: loudness (RMS, `dB / 80 + 1` clipped at 0), mean onset strength, peak onset
    /// strength, percussiveness (share of mel bands rising by more than 8 dB between onset
    /// frames, averaged), spectral centroid (`log2(c / 20 Hz) / 10`), spectral flatness,
    /// zero-crossing rate.
    pub scalars: Range<usize>,
    /// Probability that each instrument of the vocabulary plays (`llark_music::Instrument::all`
    /// order: piano, electric piano, ...), from the instrument tagger's logistic detectors over
    /// timbre statistics of the clip's window. Empty unless [`LiteConfig::instrument_tagger`].
    pub instruments: Range<usize>,
    /// The digits block's tempo times each of [`TEMPO_RELATIVES`] (half, twice, a third, three
    /// times, two thirds, three halves), rounded to a whole BPM, each spelt as
    /// [`Self::tempo_digits`] is. Empty unless [`LiteConfig::tempo_relative_digits`].
    pub tempo_relative_digits: Range<usize>,
    /// The frame width: the end of the last block.
    pub width: usize,
}

impl LiteConfig {
    /// Reads and validates a `config.json`.
    pub fn from_json_file(path: impl AsRef<Path>) -> Result<Self, EncoderError> {
        let (text, origin) = crate::config_file::read(path.as_ref())?;
        Self::from_json_str(&text, &origin)
    }

    /// Parses and validates JSON text; `origin` names the source in errors.
    pub fn from_json_str(text: &str, origin: &str) -> Result<Self, EncoderError> {
        let config: Self = crate::config_file::parse(text, origin)?;
        config.validate(origin)?;
        Ok(config)
    }

    /// Pretty JSON text of the configuration.
    pub fn to_json_string(&self) -> String {
        // Serialising plain numbers, strings and enums cannot fail.
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    /// Output frames per second: `sample_rate / hop_length` (10.7666 Hz by default).
    pub fn frame_rate(&self) -> f64 {
        f64::from(self.sample_rate) / self.hop_length as f64
    }

    /// Onset-envelope frames per output frame (`hop_length / onset_hop`, 16 by default).
    pub fn onset_per_frame(&self) -> usize {
        self.hop_length / self.onset_hop.max(1)
    }

    /// Onset-envelope frames per second (`sample_rate / onset_hop`).
    pub fn onset_rate(&self) -> f64 {
        f64::from(self.sample_rate) / self.onset_hop as f64
    }

    /// Mel bands the tempo salience's onset envelopes are taken from: `tempo_onset_mels`, or
    /// `n_mels` when unset.
    pub fn tempo_onset_mels(&self) -> usize {
        self.tempo_onset_mels.unwrap_or(self.n_mels)
    }

    /// Ratio between neighbouring tempo bins (≈ 1.0256 by default, 2.56 % spacing).
    pub fn tempo_ratio(&self) -> f64 {
        (self.tempo_max_bpm / self.tempo_min_bpm).powf(1.0 / (self.tempo_bins.max(2) - 1) as f64)
    }

    /// Centre of each tempo bin in BPM, from `tempo_min_bpm` to `tempo_max_bpm`.
    pub fn tempo_bin_bpm(&self) -> Vec<f64> {
        let ratio = self.tempo_ratio();
        (0..self.tempo_bins)
            .map(|k| self.tempo_min_bpm * ratio.powi(k as i32))
            .collect()
    }

    /// The feature layout of a frame.
    pub fn layout(&self) -> LiteLayout {
        let mut end = 0;
        let mut block = |n: usize| {
            let r = end..end + n;
            end += n;
            r
        };
        let chroma = block(CHROMA_BINS);
        let key_correlation = block(KEY_COUNT);
        let key_posterior = block(KEY_COUNT);
        let tempo = block(self.tempo_bins);
        let tempo_salience = block(if self.tempo_salience {
            self.tempo_bins
        } else {
            0
        });
        let tempo_digits = block(if self.tempo_digits {
            TEMPO_DIGIT_WIDTH
        } else {
            0
        });
        let log_mel = block(self.n_mels);
        let mfcc = block(self.n_mfcc);
        let scalars = block(SCALAR_COUNT);
        let instruments = block(if self.instrument_tagger {
            super::tagger::tagged_instruments()
        } else {
            0
        });
        let tempo_relative_digits = block(if self.tempo_relative_digits {
            TEMPO_RELATIVES.len() * TEMPO_DIGIT_WIDTH
        } else {
            0
        });
        LiteLayout {
            chroma,
            key_correlation,
            key_posterior,
            tempo,
            tempo_salience,
            tempo_digits,
            log_mel,
            mfcc,
            scalars,
            instruments,
            tempo_relative_digits,
            width: end,
        }
    }

    /// Checks every parameter; errors name the field at fault and `origin`.
    pub fn validate(&self, origin: &str) -> Result<(), EncoderError> {
        let fail = |field: &str, message: String| {
            Err(EncoderError::Config {
                origin: origin.to_string(),
                field: field.to_string(),
                message,
            })
        };
        let nyquist = f64::from(self.sample_rate) / 2.0;
        if self.encoder != LITE_ENCODER_NAME {
            return fail(
                "encoder",
                format!("is {:?}, expected {LITE_ENCODER_NAME:?}", self.encoder),
            );
        }
        if self.sample_rate < 8000 {
            return fail(
                "sample_rate",
                format!("{} Hz is below 8000 Hz", self.sample_rate),
            );
        }
        for (field, value) in [
            ("hop_length", self.hop_length),
            ("chroma_fft", self.chroma_fft),
            ("onset_fft", self.onset_fft),
            ("onset_hop", self.onset_hop),
            ("n_mels", self.n_mels),
        ] {
            if !(2..=1 << 20).contains(&value) {
                return fail(field, format!("{value} is outside 2..=1048576"));
            }
        }
        if !self.hop_length.is_multiple_of(self.onset_hop) {
            return fail(
                "onset_hop",
                format!(
                    "{} does not divide hop_length {}",
                    self.onset_hop, self.hop_length
                ),
            );
        }
        if self.n_mfcc > self.n_mels {
            return fail(
                "n_mfcc",
                format!("{} exceeds n_mels {}", self.n_mfcc, self.n_mels),
            );
        }
        for (field, lo, hi) in [
            ("chroma_fmin", self.chroma_fmin, self.chroma_fmax),
            ("mel_fmin", self.mel_fmin, self.mel_fmax),
        ] {
            if !(lo.is_finite() && hi.is_finite() && 0.0 < lo && lo < hi && hi <= nyquist) {
                return fail(
                    field,
                    format!("range {lo}..{hi} Hz must satisfy 0 < min < max <= {nyquist}"),
                );
            }
        }
        let (lo, hi) = (self.tempo_min_bpm, self.tempo_max_bpm);
        if !(lo.is_finite() && hi.is_finite() && 0.0 < lo && lo < hi) {
            return fail("tempo_min_bpm", format!("range {lo}..{hi} BPM is empty"));
        }
        if self.tempo_bins < 2 {
            return fail("tempo_bins", format!("{} is below 2", self.tempo_bins));
        }
        if self.tempo_digits && !self.tempo_salience {
            return fail(
                "tempo_digits",
                "needs tempo_salience, whose best tempo it spells".to_string(),
            );
        }
        if self.tempo_relative_digits && !self.tempo_digits {
            return fail(
                "tempo_relative_digits",
                "needs tempo_digits, whose tempo's relatives it spells".to_string(),
            );
        }
        if self.tempo_ranker && !self.tempo_salience {
            return fail(
                "tempo_ranker",
                "needs tempo_salience, whose block it fills".to_string(),
            );
        }
        if let Some(mels) = self.tempo_onset_mels {
            if !(1..=1024).contains(&mels) {
                return fail("tempo_onset_mels", format!("{mels} is outside 1..=1024"));
            }
        }
        let onset_mels = self.tempo_onset_mels();
        if !(1..=onset_mels).contains(&self.tempo_onset_bands) {
            return fail(
                "tempo_onset_bands",
                format!("{} is outside 1..={onset_mels}", self.tempo_onset_bands),
            );
        }
        for (field, value) in [
            ("key_window_seconds", self.key_window_seconds),
            ("key_sharpness", self.key_sharpness),
            ("tempo_window_seconds", self.tempo_window_seconds),
            (
                "tempo_salience_window_seconds",
                self.tempo_salience_window_seconds,
            ),
            ("tempo_prior_bpm", self.tempo_prior_bpm),
            ("tempo_prior_octaves", self.tempo_prior_octaves),
            ("tempo_salience_sharpness", self.tempo_salience_sharpness),
        ] {
            if !(value.is_finite() && value > 0.0) {
                return fail(field, format!("{value} must be a positive number"));
            }
        }
        // The tempo window must hold at least the longest lag of the slowest bin.
        let longest_lag = 60.0 / lo;
        if self.tempo_window_seconds < longest_lag {
            return fail(
                "tempo_window_seconds",
                format!(
                    "{} s is shorter than one beat at {lo} BPM ({longest_lag} s)",
                    self.tempo_window_seconds
                ),
            );
        }
        // The salience also reads the periodicity at half the slowest tempo.
        if self.tempo_salience_window_seconds < 2.0 * longest_lag {
            return fail(
                "tempo_salience_window_seconds",
                format!(
                    "{} s is shorter than one beat at {} BPM ({} s)",
                    self.tempo_salience_window_seconds,
                    lo / 2.0,
                    2.0 * longest_lag
                ),
            );
        }
        Ok(())
    }
}
