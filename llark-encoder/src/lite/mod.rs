//! A lightweight CPU encoder: hand-designed features that make key, tempo and instrumentation easy
//! to read off, for demos and small models trained from scratch. It sits beside Jukebox (it is not
//! a replacement for its learned representation) and runs several hundred times faster than real
//! time on one CPU core.
//!
//! Input: mono audio at 44.1 kHz (configurable). Output: one frame per `hop_length` samples
//! (4,096: 10.7666 Hz), `floor(n / hop_length)` frames, each [`LiteLayout::width`] wide (503 with
//! the default configuration):
//!
//! | block | default range | what |
//! |---|---|---|
//! | chroma | 0..12 | spectral-peak chroma of a 8,192-point frame, max-normalised; by default with harmonics of lower peaks suppressed and folded at the input's own tuning (`chroma_refined`) |
//! | key correlation | 12..36 | Pearson correlation of the chroma summed over `key_window_seconds` with the 24 key profiles |
//! | key posterior | 36..60 | softmax of the 24 keys' scores under the fitted key profiles ([`REFINED_KEY_PROFILES`]; [`FITTED_KEY_PROFILES`] without `chroma_refined`) over the standardised chroma of the clip's 30 s window (the whole clip when shorter; configurations without `key_fitted`: `softmax(key_sharpness * correlation)` over windows clipped to the clip) |
//! | tempo | 60..132 | local tempogram: onset-envelope autocorrelation over `tempo_window_seconds`, 72 log-spaced bins 40–240 BPM |
//! | tempo salience | 132..204 | clip-level tempo posterior on the same bins: onset envelopes of 6 groups of 96 mel bands over 24 s (the whole clip when shorter), each tempo scored by the [tempo ranker](RANKER_WEIGHTS) from its periodicity and that of its metrical relatives, softmax (configurations without `tempo_ranker`: scored at the beat and at half tempo, times a prior around 100 BPM; absent without `tempo_salience`) |
//! | tempo digits | 204..234 | the salience's best tempo in whole BPM as one-hot hundreds, tens and units (absent without `tempo_digits`) |
//! | log-mel | 234..266 | 32 mel band energies, `dB / 80 + 1` clipped at 0 |
//! | MFCC | 266..279 | DCT-II of the log-mel block |
//! | scalars | 279..286 | loudness, onset mean, onset peak, percussiveness, centroid, flatness, zero-crossing rate |
//! | instruments | 286..323 | the instrument tagger's probability for each of the vocabulary's 37 instruments (`llark_music::Instrument::all` order), logistic detectors over timbre statistics of the clip's 24 s window (absent without `instrument_tagger`) |
//! | tempo relative digits | 323..503 | the digits block's tempo at half, twice, a third, three times, two thirds and three halves, each spelt the same way ([`TEMPO_RELATIVES`]; absent without `tempo_relative_digits`) |
//!
//! ```
//! use llark_encoder::lite::{LiteConfig, LiteEncoder};
//! use llark_encoder::EncoderInfo;
//!
//! let encoder = LiteEncoder::new(LiteConfig::default())?;
//! let samples = vec![0.0f32; 44_100 * 2];
//! let frames = encoder.encode_frames(&samples, 44_100)?;
//! assert_eq!(frames.shape(), [21, encoder.width()]);
//! # Ok::<(), llark_encoder::EncoderError>(())
//! ```

mod chroma;
mod config;
mod ranker;
mod rhythm;
mod spectrum;
mod tagger;
mod timbre;

use std::path::Path;

use rustfft::FftPlanner;

pub use chroma::{FITTED_KEY_PROFILES, REFINED_KEY_PROFILES};
pub use config::{
    KeyProfile, LiteConfig, LiteLayout, CHROMA_BINS, KEY_COUNT, LITE_ENCODER_NAME, SCALAR_COUNT,
    TEMPO_DIGIT_WIDTH, TEMPO_RELATIVES,
};
pub use ranker::{RANKER_FEATURES, RANKER_MULTIPLES, RANKER_PRIOR_BPM, RANKER_WEIGHTS};
pub use tagger::statistic_count;

use crate::encoder::check_input;
use burn::tensor::{backend::Backend, Tensor};

use crate::{AudioEncoder, EncoderError, EncoderInfo, Frames};
use chroma::KeyEvidence;
use ranker::{window_inside, TempoRanker};
use rhythm::{band_onsets, SalienceParams, TempoSalience, Tempogram};
use spectrum::{db_unit, PowerSpectrum};
use tagger::InstrumentTagger;
use timbre::MelBank;

/// The name of the configuration file of an encoder directory.
pub const CONFIG_FILE: &str = "config.json";

/// The lightweight CPU encoder (see the [module documentation](self) for the feature layout).
pub struct LiteEncoder {
    config: LiteConfig,
    layout: LiteLayout,
    chroma_spectrum: PowerSpectrum,
    onset_spectrum: PowerSpectrum,
    mel: MelBank,
    dct: Vec<Vec<f32>>,
    key: KeyEvidence,
    tempogram: Tempogram,
    salience: Option<ClipTempo>,
    /// Mel bands of the tempo salience's onset envelopes, when they differ from `mel`.
    onset_mel: Option<MelBank>,
    /// The instrument tagger (with `instrument_tagger`).
    tagger: Option<InstrumentTagger>,
    /// Onset frames of the clip-level window (tempo salience and instruments).
    clip_window: usize,
    /// Centres of the tempo bins, BPM.
    tempo_bpm: Vec<f64>,
}

/// Centres of the tempo-salience window are rounded to this grid (seconds): frames of a long
/// clip share the estimate of their stretch, so it is computed a few times per clip, not per frame.
const SALIENCE_STEP_SECONDS: f64 = 2.0;

impl std::fmt::Debug for LiteEncoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiteEncoder")
            .field("config", &self.config)
            .field("width", &self.layout.width)
            .finish()
    }
}

/// The clip-level tempo estimate that fills the tempo-salience block.
enum ClipTempo {
    /// Beat + half-tempo periodicity times a prior (configurations without `tempo_ranker`).
    Salience(TempoSalience),
    /// The fitted tempo ranker.
    Ranker(TempoRanker),
}

impl ClipTempo {
    /// The onset frames the estimate for a frame centred on `centre` reads.
    fn bounds(&self, centre: usize, len: usize) -> (usize, usize) {
        match self {
            Self::Salience(s) => s.bounds(centre, len),
            Self::Ranker(r) => r.bounds(centre, len),
        }
    }

    /// The estimate for a frame centred on onset frame `centre` (bins at `bpm`), into `out`;
    /// returns the tempo the digits block spells: the ranker's refined best tempo, or the
    /// older salience's best bin.
    fn compute(
        &self,
        bands: &[Vec<f32>],
        centre: usize,
        bpm: &[f64],
        out: &mut [f32],
    ) -> Option<f64> {
        match self {
            Self::Salience(s) => {
                s.compute(bands, centre, out);
                let best = (0..out.len()).max_by(|&a, &b| out[a].total_cmp(&out[b]));
                best.filter(|&b| out[b] > 0.0).map(|b| bpm[b])
            }
            Self::Ranker(r) => r.compute(bands, centre, out),
        }
    }
}

/// The last clip-level estimate computed and the window of onset frames it was computed for:
/// frames reading the same window reuse it.
#[derive(Default)]
struct WindowCache {
    bounds: Option<(usize, usize)>,
    values: Vec<f32>,
    tempo: Option<f64>,
}

impl WindowCache {
    /// The estimate for the window `bounds`, computed by `compute` unless it is the cached one.
    fn get(
        &mut self,
        bounds: (usize, usize),
        compute: impl FnOnce() -> (Vec<f32>, Option<f64>),
    ) -> (&[f32], Option<f64>) {
        if self.bounds != Some(bounds) {
            (self.values, self.tempo) = compute();
            self.bounds = Some(bounds);
        }
        (&self.values, self.tempo)
    }
}

/// What the tempo ranker reads for one clip (see [`LiteEncoder::tempo_features`]).
#[derive(Debug, Clone, PartialEq)]
pub struct TempoFeatures {
    /// Centre of each tempo bin, BPM.
    pub bpm: Vec<f64>,
    /// For each bin, its [`RANKER_FEATURES`] features: the periodicity at each of
    /// [`RANKER_MULTIPLES`] times its tempo, then `z = log2(bpm / RANKER_PRIOR_BPM)` and `z²`.
    pub features: Vec<[f32; RANKER_FEATURES]>,
}

/// Intermediate results of the onset-rate analysis of one clip.
struct OnsetAnalysis {
    /// Mean power spectrum of each output frame.
    frame_power: Vec<Vec<f32>>,
    /// Mean linear mel energies of each output frame.
    frame_mel: Vec<Vec<f32>>,
    /// Onset strength of every onset frame of the clip.
    flux: Vec<f32>,
    /// Percussiveness of every onset frame of the clip.
    percussive: Vec<f32>,
    /// Band onset envelopes of the tempo salience (empty without it).
    bands: Vec<Vec<f32>>,
    /// `db_unit` log-mel energies of every onset frame (empty without the instrument tagger).
    log_mel: Vec<Vec<f32>>,
}

impl LiteEncoder {
    /// Builds the encoder after validating `config`.
    pub fn new(config: LiteConfig) -> Result<Self, EncoderError> {
        config.validate("LiteConfig")?;
        let mut planner = FftPlanner::new();
        let chroma_spectrum = PowerSpectrum::new(&mut planner, config.chroma_fft);
        let onset_spectrum = PowerSpectrum::new(&mut planner, config.onset_fft);
        let onset_bin_hz = f64::from(config.sample_rate) / config.onset_fft as f64;
        let mel = MelBank::new(
            config.n_mels,
            config.mel_fmin,
            config.mel_fmax,
            onset_spectrum.bins(),
            onset_bin_hz,
        );
        let dct = timbre::dct_matrix(config.n_mfcc, config.n_mels);
        let key = KeyEvidence::new(
            config.key_profile,
            config.key_sharpness,
            config.key_fitted,
            config.chroma_refined,
        );
        let tempo_window = (config.tempo_window_seconds * config.onset_rate()).round() as usize;
        let tempogram = Tempogram::new(
            &mut planner,
            tempo_window.max(2),
            config.onset_rate(),
            &config.tempo_bin_bpm(),
            config.tempo_ratio(),
        );
        let tempo_bpm = config.tempo_bin_bpm();
        let salience_window =
            ((config.tempo_salience_window_seconds * config.onset_rate()).round() as usize).max(2);
        let salience = config.tempo_salience.then(|| {
            if config.tempo_ranker {
                return ClipTempo::Ranker(TempoRanker::new(
                    &mut planner,
                    salience_window,
                    config.onset_rate(),
                    &tempo_bpm,
                    config.tempo_ratio(),
                ));
            }
            ClipTempo::Salience(TempoSalience::new(
                &mut planner,
                &SalienceParams {
                    window: salience_window,
                    onset_rate: config.onset_rate(),
                    bpm: &tempo_bpm,
                    ratio: config.tempo_ratio(),
                    prior_bpm: config.tempo_prior_bpm,
                    prior_octaves: config.tempo_prior_octaves,
                    sharpness: config.tempo_salience_sharpness,
                },
            ))
        });
        let tagger = match config.instrument_tagger {
            true => Some(InstrumentTagger::shipped(config.n_mels, config.n_mfcc)?),
            false => None,
        };
        let onset_mel = config
            .tempo_onset_mels
            .filter(|&m| m != config.n_mels)
            .map(|m| {
                MelBank::new(
                    m,
                    config.mel_fmin,
                    config.mel_fmax,
                    onset_spectrum.bins(),
                    onset_bin_hz,
                )
            });
        Ok(Self {
            layout: config.layout(),
            config,
            chroma_spectrum,
            onset_spectrum,
            mel,
            dct,
            key,
            tempogram,
            salience,
            onset_mel,
            tagger,
            clip_window: salience_window,
            tempo_bpm,
        })
    }

    /// Opens an encoder directory (its `config.json`, which must say `"encoder": "lite"`).
    pub fn from_dir(dir: impl AsRef<Path>) -> Result<Self, EncoderError> {
        Self::new(LiteConfig::from_json_file(dir.as_ref().join(CONFIG_FILE))?)
    }

    /// Writes `config.json` into `dir` (created if missing), so [`LiteEncoder::from_dir`] reopens
    /// the same encoder.
    pub fn save_dir(&self, dir: impl AsRef<Path>) -> Result<(), EncoderError> {
        let dir = dir.as_ref();
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| EncoderError::Io { path, source }
        };
        std::fs::create_dir_all(dir).map_err(io(dir))?;
        let path = dir.join(CONFIG_FILE);
        llark_tensors::write_bytes_atomic(&path, self.config.to_json_string().as_bytes()).map_err(
            |e| match e {
                llark_tensors::TensorError::Io { path, source } => {
                    EncoderError::Io { path, source }
                }
                other => EncoderError::Io {
                    path: path.clone(),
                    source: std::io::Error::other(other.to_string()),
                },
            },
        )
    }

    /// The configuration.
    pub fn config(&self) -> &LiteConfig {
        &self.config
    }

    /// Where each feature block sits in a frame.
    pub fn layout(&self) -> &LiteLayout {
        &self.layout
    }

    /// Spectra, mel energies and onset envelope at the onset rate, for a clip of `frames` frames.
    fn onset_analysis(&self, samples: &[f32], frames: usize) -> OnsetAnalysis {
        let c = &self.config;
        let per_frame = c.onset_per_frame();
        let onset_frames = samples.len().div_ceil(c.onset_hop);
        let mut spectrum = self.onset_spectrum.clone();
        let bins = spectrum.bins();
        let mut power = vec![0f32; bins];
        let mut frame_power = vec![vec![0f32; bins]; frames];
        let mut frame_mel = vec![vec![0f32; c.n_mels]; frames];
        let mut log_mel = Vec::with_capacity(onset_frames);
        let mut mel = vec![0f32; c.n_mels];
        let mut onset_log_mel = Vec::new();
        let mut onset_mel = vec![0f32; c.tempo_onset_mels()];
        let scale = 1.0 / per_frame as f32;
        for j in 0..onset_frames {
            spectrum.compute(samples, j * c.onset_hop + c.onset_hop / 2, &mut power);
            self.mel.apply(&power, &mut mel);
            if let Some(t) = Some(j / per_frame).filter(|&t| t < frames) {
                add_scaled(&mut frame_power[t], &power, scale);
                add_scaled(&mut frame_mel[t], &mel, scale);
            }
            log_mel.push(mel.iter().map(|&p| db_unit(p)).collect::<Vec<f32>>());
            if let Some(bank) = self.onset_mel.as_ref().filter(|_| self.salience.is_some()) {
                bank.apply(&power, &mut onset_mel);
                onset_log_mel.push(onset_mel.iter().map(|&p| db_unit(p)).collect::<Vec<f32>>());
            }
        }
        let (flux, percussive) = timbre::onset_strength(&log_mel);
        let band_source = if self.onset_mel.is_some() {
            &onset_log_mel
        } else {
            &log_mel
        };
        let bands = match self.salience {
            Some(_) => band_onsets(band_source, c.tempo_onset_bands, c.onset_rate()),
            None => Vec::new(),
        };
        if self.tagger.is_none() {
            log_mel = Vec::new();
        }
        OnsetAnalysis {
            frame_power,
            frame_mel,
            flux,
            percussive,
            bands,
            log_mel,
        }
    }

    /// What the tempo ranker reads for the window at the middle of a clip (the whole clip when
    /// it is no longer than `tempo_salience_window_seconds`): the features its weights are
    /// fitted on (`tools/reference/fit_tempo_ranker.py`). Needs a configuration with
    /// `tempo_ranker`.
    pub fn tempo_features(
        &self,
        samples: &[f32],
        sample_rate: u32,
    ) -> Result<TempoFeatures, EncoderError> {
        check_input(samples, sample_rate, self.config.sample_rate)?;
        let ranker = self.ranker("tempo features")?;
        let frames = samples.len() / self.config.hop_length;
        let onset = self.onset_analysis(samples, frames);
        let centre = onset.flux.len() / 2;
        Ok(TempoFeatures {
            bpm: self.tempo_bpm.clone(),
            features: ranker.features(&onset.bands, centre),
        })
    }

    /// The tempo ranker, or the error saying that `what` needs it.
    fn ranker(&self, what: &str) -> Result<&TempoRanker, EncoderError> {
        match &self.salience {
            Some(ClipTempo::Ranker(ranker)) => Ok(ranker),
            _ => Err(EncoderError::Config {
                origin: "LiteEncoder".to_string(),
                field: "tempo_ranker".to_string(),
                message: format!("{what} need a configuration with the tempo ranker"),
            }),
        }
    }

    /// The band onset envelopes the tempo ranker reads for the window at the middle of a clip
    /// (the whole clip when it is no longer than `tempo_salience_window_seconds`): one row per
    /// band, [`LiteConfig::onset_rate`] frames per second. For designing tempo estimators on
    /// the encoder's own onset analysis. Needs a configuration with `tempo_ranker`.
    pub fn tempo_envelopes(
        &self,
        samples: &[f32],
        sample_rate: u32,
    ) -> Result<Vec<Vec<f32>>, EncoderError> {
        check_input(samples, sample_rate, self.config.sample_rate)?;
        let ranker = self.ranker("tempo envelopes")?;
        let frames = samples.len() / self.config.hop_length;
        let onset = self.onset_analysis(samples, frames);
        let len = onset.flux.len();
        let (lo, hi) = ranker.bounds(len / 2, len);
        Ok(onset
            .bands
            .iter()
            .map(|band| band[lo.min(band.len())..hi.min(band.len())].to_vec())
            .collect())
    }

    /// The instrument tagger's timbre statistics ([`statistic_count`] values) for the window at
    /// the middle of a clip (the whole clip when it is no longer than
    /// `tempo_salience_window_seconds`): what its weights are fitted on
    /// (`tools/reference/fit_instrument_tagger.py`). Needs a configuration with
    /// `instrument_tagger`.
    pub fn timbre_statistics(
        &self,
        samples: &[f32],
        sample_rate: u32,
    ) -> Result<Vec<f32>, EncoderError> {
        check_input(samples, sample_rate, self.config.sample_rate)?;
        let Some(tagger) = &self.tagger else {
            return Err(EncoderError::Config {
                origin: "LiteEncoder".to_string(),
                field: "instrument_tagger".to_string(),
                message: "timbre statistics need a configuration with the instrument tagger"
                    .to_string(),
            });
        };
        let frames = samples.len() / self.config.hop_length;
        let onset = self.onset_analysis(samples, frames);
        let len = onset.log_mel.len();
        let (lo, hi) = window_inside(len / 2, len, self.clip_window);
        Ok(tagger.statistics(&onset.log_mel, lo, hi))
    }

    /// Writes the timbre blocks (log-mel, MFCC, scalars) of frame `t` into `row`.
    fn timbre_row(&self, samples: &[f32], onset: &OnsetAnalysis, t: usize, row: &mut [f32]) {
        let (c, l) = (&self.config, &self.layout);
        let log_mel: Vec<f32> = onset.frame_mel[t].iter().map(|&p| db_unit(p)).collect();
        row[l.log_mel.clone()].copy_from_slice(&log_mel);
        for (o, basis) in row[l.mfcc.clone()].iter_mut().zip(&self.dct) {
            *o = basis.iter().zip(&log_mel).map(|(b, v)| b * v).sum();
        }
        let per_frame = c.onset_per_frame();
        let subs = t * per_frame..(t + 1) * per_frame;
        let flux = &onset.flux[subs.clone()];
        let onset_mean = flux.iter().sum::<f32>() / per_frame as f32;
        let onset_peak = flux.iter().fold(0f32, |m, &v| m.max(v));
        let percussive = onset.percussive[subs].iter().sum::<f32>() / per_frame as f32;
        let bin_hz = f64::from(c.sample_rate) / c.onset_fft as f64;
        let (centroid, flatness) = timbre::centroid_flatness(&onset.frame_power[t], bin_hz);
        let block = &samples[t * c.hop_length..(t + 1) * c.hop_length];
        let (loudness, zcr) = timbre::loudness_zcr(block);
        row[l.scalars.clone()].copy_from_slice(&[
            loudness, onset_mean, onset_peak, percussive, centroid, flatness, zcr,
        ]);
    }
}

/// Writes `tempo`, rounded to a whole BPM, into `out` as one-hot hundreds, tens and units
/// ([`TEMPO_DIGIT_WIDTH`] slots); zeros without a tempo.
fn spell_tempo(tempo: Option<f64>, out: &mut [f32]) {
    out.iter_mut().for_each(|v| *v = 0.0);
    let Some(tempo) = tempo else {
        return;
    };
    let tempo = (tempo.round().max(0.0) as usize).min(999);
    for (group, digit) in [tempo / 100, tempo / 10 % 10, tempo % 10]
        .into_iter()
        .enumerate()
    {
        out[group * 10 + digit] = 1.0;
    }
}

/// `acc += scale * x`, element-wise.
fn add_scaled(acc: &mut [f32], x: &[f32], scale: f32) {
    acc.iter_mut().zip(x).for_each(|(a, v)| *a += v * scale);
}

impl EncoderInfo for LiteEncoder {
    fn name(&self) -> &str {
        LITE_ENCODER_NAME
    }

    fn frame_rate(&self) -> f64 {
        self.config.frame_rate()
    }

    fn width(&self) -> usize {
        self.layout.width
    }

    fn sample_rate(&self) -> u32 {
        self.config.sample_rate
    }

    fn max_input_samples(&self) -> Option<usize> {
        None
    }
}

impl LiteEncoder {
    /// Encodes a clip into `floor(n / hop_length)` host frames (none for clips shorter than one
    /// hop); [`AudioEncoder::encode`] gives the same frames as a device tensor.
    pub fn encode_frames(&self, samples: &[f32], sample_rate: u32) -> Result<Frames, EncoderError> {
        check_input(samples, sample_rate, self.config.sample_rate)?;
        let (c, l) = (&self.config, &self.layout);
        let frames = samples.len() / c.hop_length;
        if frames == 0 {
            return Ok(Frames::empty(l.width));
        }
        let onset = self.onset_analysis(samples, frames);
        let chroma_bin_hz = f64::from(c.sample_rate) / c.chroma_fft as f64;
        let chroma = chroma::chroma_frames(
            samples,
            &mut self.chroma_spectrum.clone(),
            frames,
            c.hop_length,
            chroma_bin_hz,
            (c.chroma_fmin, c.chroma_fmax),
            c.chroma_refined,
        );
        let key_window = (c.key_window_seconds * c.frame_rate()).round().max(1.0) as usize;
        let keys = self.key.frames(&chroma, key_window);
        let per_frame = c.onset_per_frame();
        let step = ((SALIENCE_STEP_SECONDS * c.onset_rate()).round() as usize).max(1);
        let mut salience_cache = WindowCache::default();
        let mut tagger_cache = WindowCache::default();
        let mut data = vec![0f32; frames * l.width];
        for (t, row) in data.chunks_exact_mut(l.width).enumerate() {
            row[l.chroma.clone()].copy_from_slice(&chroma[t]);
            row[l.key_correlation.clone()].copy_from_slice(&keys[t].0);
            row[l.key_posterior.clone()].copy_from_slice(&keys[t].1);
            self.tempogram.compute(
                &onset.flux,
                t * per_frame + per_frame / 2,
                &mut row[l.tempo.clone()],
            );
            // Clip-level blocks are computed on a grid of window centres, once per window.
            let centre = (t * per_frame + per_frame / 2) / step * step + step / 2;
            if let Some(salience) = &self.salience {
                let bounds = salience.bounds(centre, onset.flux.len());
                let (values, tempo) = salience_cache.get(bounds, || {
                    let mut values = vec![0f32; l.tempo_salience.len()];
                    let tempo =
                        salience.compute(&onset.bands, centre, &self.tempo_bpm, &mut values);
                    (values, tempo)
                });
                row[l.tempo_salience.clone()].copy_from_slice(values);
                if !l.tempo_digits.is_empty() {
                    spell_tempo(tempo, &mut row[l.tempo_digits.clone()]);
                }
                let relatives =
                    row[l.tempo_relative_digits.clone()].chunks_exact_mut(TEMPO_DIGIT_WIDTH);
                for (slots, multiple) in relatives.zip(TEMPO_RELATIVES) {
                    spell_tempo(tempo.map(|t| t * multiple), slots);
                }
            }
            if let Some(tagger) = &self.tagger {
                let bounds = window_inside(centre, onset.log_mel.len(), self.clip_window);
                let (values, _) = tagger_cache.get(bounds, || {
                    let mut values = vec![0f32; l.instruments.len()];
                    let statistics = tagger.statistics(&onset.log_mel, bounds.0, bounds.1);
                    tagger.probabilities(&statistics, &mut values);
                    (values, None)
                });
                row[l.instruments.clone()].copy_from_slice(values);
            }
            self.timbre_row(samples, &onset, t, row);
        }
        Frames::new(data, frames, l.width).ok_or_else(|| EncoderError::Config {
            origin: "LiteEncoder".to_string(),
            field: "width".to_string(),
            message: "frame buffer does not match the layout".to_string(),
        })
    }
}

impl<B: Backend> AudioEncoder<B> for LiteEncoder {
    fn encode(
        &self,
        samples: &[f32],
        sample_rate: u32,
        device: &B::Device,
    ) -> Result<Tensor<B, 2>, EncoderError> {
        Ok(self
            .encode_frames(samples, sample_rate)?
            .into_tensor(device))
    }
}
