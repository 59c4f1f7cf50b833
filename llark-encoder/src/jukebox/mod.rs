//! The Jukebox-5B encoder path used by LLark: audio → VQ-VAE level-2 codes → top prior (`prior_5b`
//! cut to its first layers, `only_encode`) → activations `[T, width]` at 344.53125 Hz.

pub mod config;
pub mod labels;
pub mod prior;
pub mod synthetic;
pub mod vqvae;

mod attention;

use std::path::Path;

use burn::tensor::{backend::Backend, Int, Tensor, TensorData};

pub use config::{AttnPattern, JukeboxConfig, PriorConfig, VqvaeConfig};
pub use labels::{time_bins, Conditioning, LabelConditioner, TimeBins};
pub use prior::{
    Affine, AffineConfig, LayerNorm, LayerNormConfig, Prior, PriorBlock, PriorBlockConfig,
};
pub use vqvae::{
    DownStep, LevelBlock, LevelBlockConfig, ResBlock, ResBlockConfig, VqvaeEncoder,
    VqvaeEncoderConfig,
};

use crate::weights::WeightFile;
use crate::{AudioEncoder, EncoderError, EncoderInfo, Frames};

/// How the Jukebox weights are held in memory.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct JukeboxOptions {
    /// Keep the transformer layers in the memory-mapped weight file and convert each to f32 only
    /// while it runs (peak: one f32 layer instead of all of them; see the crate README).
    pub stream_layers: bool,
}

/// Audio prepared for the VQ-VAE: one window, truncated or end-padded to
/// `window_samples`, with the number of frames that carry real audio.
#[derive(Debug, Clone, PartialEq)]
pub struct PreparedInput {
    /// The samples fed to the VQ-VAE (`window_samples` of them).
    pub samples: Vec<f32>,
    /// `floor(n / hop)` for the `n` samples given: the number of frames that carry real audio
    /// (may exceed `n_ctx`; the output keeps `min(latent_len, n_ctx)` frames).
    pub latent_len: usize,
}

/// Every intermediate of one encoding, in host memory (used by [`crate::parity`]).
#[derive(Debug, Clone)]
pub struct JukeboxTrace {
    /// The prepared window.
    pub window: PreparedInput,
    /// Output of each level block of the VQ-VAE encoder, `[emb_width, len]` row-major.
    pub level_outputs: Vec<Frames>,
    /// Codes `[n_ctx]`.
    pub codes: Vec<i64>,
    /// The label conditioning used.
    pub conditioning: Conditioning,
    /// Transformer input `[n_ctx, width]`.
    pub h0: Frames,
    /// Output of every kept layer `[n_ctx, width]`.
    pub layers: Vec<Frames>,
    /// Activations over the whole context `[n_ctx, width]` (= last layer).
    pub acts: Frames,
    /// Activations cropped to `min(latent_len, n_ctx)` rows.
    pub acts_truncated: Frames,
}

/// The Jukebox encoder: VQ-VAE `encoders[level]` + codebook, label conditioning and the top prior.
pub struct Jukebox<B: Backend> {
    config: JukeboxConfig,
    vqvae: VqvaeEncoder<B>,
    prior: Prior<B>,
    conditioning: Conditioning,
    y_cond: Tensor<B, 2>,
    x_cond: Tensor<B, 2>,
    device: B::Device,
}

impl<B: Backend> std::fmt::Debug for Jukebox<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Jukebox")
            .field("config", &self.config)
            .finish()
    }
}

pub(crate) fn to_host<B: Backend, const D: usize>(
    tensor: Tensor<B, D>,
) -> Result<Vec<f32>, EncoderError> {
    tensor
        .into_data()
        .convert::<f32>()
        .to_vec::<f32>()
        .map_err(|e| EncoderError::Backend(format!("{e:?}")))
}

impl<B: Backend> Jukebox<B> {
    /// Loads the model from a VQ-VAE and a prior safetensors file with the original checkpoint key
    /// names (see `tools/convert_jukebox.py`); tensors the path does not use are skipped.
    pub fn load(
        config: JukeboxConfig,
        vqvae_path: impl AsRef<Path>,
        prior_path: impl AsRef<Path>,
        options: JukeboxOptions,
        device: &B::Device,
    ) -> Result<Self, EncoderError> {
        config.validate("JukeboxConfig")?;
        let vqvae_file = WeightFile::open(vqvae_path)?;
        let vqvae = VqvaeEncoder::load(&vqvae_file, &config.vqvae, config.prior.level, device)?;
        drop(vqvae_file);
        let prior_file = WeightFile::open(prior_path)?;
        let conditioning =
            LabelConditioner::load(&prior_file, &config.prior)?.condition(&config.labels)?;
        let prior = Prior::load(prior_file, &config.prior, options.stream_layers, device)?;
        let w = config.prior.width;
        let y_cond =
            Tensor::from_data(TensorData::new(conditioning.y_cond.clone(), [1, w]), device);
        let x_cond = Tensor::from_data(
            TensorData::new(conditioning.x_cond.clone(), [config.prior.n_ctx, w]),
            device,
        );
        Ok(Self {
            config,
            vqvae,
            prior,
            conditioning,
            y_cond,
            x_cond,
            device: device.clone(),
        })
    }

    /// Loads `config.json`, `vqvae.safetensors` and `prior.safetensors` from one directory.
    pub fn load_dir(
        dir: impl AsRef<Path>,
        options: JukeboxOptions,
        device: &B::Device,
    ) -> Result<Self, EncoderError> {
        let dir = dir.as_ref();
        let config = JukeboxConfig::from_json_file(dir.join("config.json"))?;
        Self::load(
            config,
            dir.join("vqvae.safetensors"),
            dir.join("prior.safetensors"),
            options,
            device,
        )
    }

    /// The configuration.
    pub fn config(&self) -> &JukeboxConfig {
        &self.config
    }

    /// The label conditioning computed from the configuration's label vector.
    pub fn conditioning(&self) -> &Conditioning {
        &self.conditioning
    }

    /// Brings audio to the model's input: checks the rate and that every sample is finite, then
    /// truncates or zero-pads at the end to one window. The samples are taken as given: LLark's
    /// peak normalisation is the audio front end's job (`llark::AudioFrontEnd`), done once.
    pub fn prepare(
        &self,
        samples: &[f32],
        sample_rate: u32,
    ) -> Result<PreparedInput, EncoderError> {
        crate::encoder::check_input(samples, sample_rate, self.config.sample_rate)?;
        let window = self.config.window_samples();
        let mut out: Vec<f32> = samples.iter().take(window).copied().collect();
        out.resize(window, 0.0);
        Ok(PreparedInput {
            samples: out,
            latent_len: samples.len() / self.config.hop_length(),
        })
    }

    /// Level-block outputs and codes `[N, n_ctx]` of a batch of prepared windows.
    fn codes(&self, windows: &[&PreparedInput]) -> (Vec<Tensor<B, 3>>, Tensor<B, 2, Int>) {
        let s = self.config.window_samples();
        let data: Vec<f32> = windows
            .iter()
            .flat_map(|w| w.samples.iter().copied())
            .collect();
        let audio = Tensor::from_data(TensorData::new(data, [windows.len(), 1, s]), &self.device);
        let levels = self.vqvae.encode_levels(audio);
        let e = levels[levels.len() - 1].clone();
        let codes = self.vqvae.quantise(e);
        (levels, codes)
    }

    /// The VQ-VAE codes `[n_ctx]` of one prepared window.
    pub fn window_codes(&self, window: &PreparedInput) -> Vec<i64> {
        let (_, codes) = self.codes(&[window]);
        codes.into_data().iter::<i64>().collect()
    }

    /// Tokens the transformer must run for `latent_len` real frames: the smallest multiple of
    /// `block_ctx` covering them (every operation is causal, so later tokens cannot change them).
    fn tokens_needed(&self, latent_len: usize) -> usize {
        let bc = self.config.prior.block_ctx();
        (latent_len.div_ceil(bc) * bc).clamp(bc, self.config.prior.n_ctx)
    }

    /// Encodes prepared windows into activations on the model's device, each cropped to its
    /// window's real length: `[min(latent_len, n_ctx), width]`.
    pub fn encode_windows(
        &self,
        windows: &[&PreparedInput],
    ) -> Result<Vec<Tensor<B, 2>>, EncoderError> {
        let w = self.config.prior.width;
        let n_ctx = self.config.prior.n_ctx;
        let keep: Vec<usize> = windows
            .iter()
            .map(|win| win.latent_len.min(n_ctx))
            .collect();
        let max_keep = keep.iter().copied().max().unwrap_or(0);
        if max_keep == 0 {
            return Ok(keep
                .iter()
                .map(|_| Tensor::zeros([0, w], &self.device))
                .collect());
        }
        let t = self.tokens_needed(max_keep);
        let (_, codes) = self.codes(windows);
        let n = windows.len();
        let codes = codes.slice([0..n, 0..t]);
        let h0 = self
            .prior
            .embed(codes, self.y_cond.clone(), self.x_cond.clone());
        let acts = self.prior.transform(h0, |_, _| {})?;
        Ok(keep
            .iter()
            .enumerate()
            .map(|(i, &k)| acts.clone().slice([i..i + 1, 0..k, 0..w]).reshape([k, w]))
            .collect())
    }

    /// LLark's Jukebox features of one clip as host frames (see [`AudioEncoder::encode`]).
    pub fn encode_frames(&self, samples: &[f32], sample_rate: u32) -> Result<Frames, EncoderError> {
        let mut frames = self.encode_frames_batch(&[samples], sample_rate)?;
        Ok(frames.remove(0))
    }

    /// Several clips as one batch, as host frames (see [`AudioEncoder::encode_batch`]).
    pub fn encode_frames_batch(
        &self,
        clips: &[&[f32]],
        sample_rate: u32,
    ) -> Result<Vec<Frames>, EncoderError> {
        self.encode_batch(clips, sample_rate, &self.device)?
            .into_iter()
            .map(Frames::from_tensor)
            .collect()
    }

    /// Runs one clip over the whole context and records every intermediate tensor.
    pub fn trace(&self, samples: &[f32], sample_rate: u32) -> Result<JukeboxTrace, EncoderError> {
        let window = self.prepare(samples, sample_rate)?;
        let (levels, codes) = self.codes(&[&window]);
        let level_outputs = levels
            .into_iter()
            .map(|x| {
                let [_, c, len] = x.dims();
                Ok(Frames {
                    data: to_host(x)?,
                    frames: c,
                    width: len,
                })
            })
            .collect::<Result<Vec<_>, EncoderError>>()?;
        let code_list: Vec<i64> = codes.clone().into_data().iter::<i64>().collect();
        let w = self.config.prior.width;
        let n_ctx = self.config.prior.n_ctx;
        let frames = |data: Vec<f32>| Frames {
            frames: data.len() / w,
            data,
            width: w,
        };
        let h0 = self
            .prior
            .embed(codes, self.y_cond.clone(), self.x_cond.clone());
        let h0_host = frames(to_host(h0.clone())?);
        let mut layers = Vec::new();
        let mut failure = None;
        let acts = self.prior.transform(h0, |_, h| match to_host(h.clone()) {
            Ok(v) => layers.push(frames(v)),
            Err(e) => failure = Some(e),
        })?;
        if let Some(e) = failure {
            return Err(e);
        }
        let acts = frames(to_host(acts)?);
        let keep = window.latent_len.min(n_ctx);
        let acts_truncated = frames(acts.data[..keep * w].to_vec());
        Ok(JukeboxTrace {
            window,
            level_outputs,
            codes: code_list,
            conditioning: self.conditioning.clone(),
            h0: h0_host,
            layers,
            acts,
            acts_truncated,
        })
    }
}

impl<B: Backend> EncoderInfo for Jukebox<B> {
    fn name(&self) -> &str {
        "jukebox"
    }

    fn frame_rate(&self) -> f64 {
        self.config.frame_rate()
    }

    fn width(&self) -> usize {
        self.config.prior.width
    }

    fn sample_rate(&self) -> u32 {
        self.config.sample_rate
    }

    fn max_input_samples(&self) -> Option<usize> {
        Some(self.config.window_samples())
    }
}

impl<B: Backend> AudioEncoder<B> for Jukebox<B> {
    /// LLark's Jukebox features of one clip: `min(floor(n / 128), n_ctx)` frames of the prior's
    /// residual stream (audio past one window, 23.78 s for the real model, is ignored as in LLark).
    fn encode(
        &self,
        samples: &[f32],
        sample_rate: u32,
        device: &B::Device,
    ) -> Result<Tensor<B, 2>, EncoderError> {
        let mut frames = self.encode_batch(&[samples], sample_rate, device)?;
        Ok(frames.remove(0))
    }

    /// Encodes the clips as one batch `[N, n_ctx, width]` (memory grows linearly with `N`).
    fn encode_batch(
        &self,
        clips: &[&[f32]],
        sample_rate: u32,
        device: &B::Device,
    ) -> Result<Vec<Tensor<B, 2>>, EncoderError> {
        let windows = clips
            .iter()
            .map(|clip| self.prepare(clip, sample_rate))
            .collect::<Result<Vec<_>, _>>()?;
        let refs: Vec<&PreparedInput> = windows.iter().collect();
        Ok(self
            .encode_windows(&refs)?
            .into_iter()
            .map(|t| t.to_device(device))
            .collect())
    }
}
