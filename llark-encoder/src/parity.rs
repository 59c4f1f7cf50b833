//! Parity against golden outputs of the original Jukebox code (fixture format:
//! `tests/fixtures/JUKEBOX-FIXTURES.md`): codes and bins exact, every float tensor within
//! `max|ours - ref| <= 1e-4 * RMS(ref)`.

use std::fmt;
use std::path::{Path, PathBuf};

use burn::tensor::backend::Backend;

use crate::jukebox::{Jukebox, JukeboxOptions};
use crate::weights::WeightFile;
use crate::EncoderError;

/// The float tolerance: max-abs error relative to the RMS of the reference tensor.
pub const TOLERANCE: f64 = 1e-4;

/// Comparison of one float tensor.
#[derive(Debug, Clone, PartialEq)]
pub struct TensorReport {
    /// Fixture tensor name (`encode` is the fast [`Jukebox::encode_frames`](crate::Jukebox::encode_frames) path vs `acts_truncated`).
    pub name: String,
    /// Shape of the reference.
    pub shape: Vec<usize>,
    /// `max |ours - ref|`.
    pub max_abs: f64,
    /// `sqrt(mean(ref^2))`.
    pub rms_ref: f64,
    /// `max_abs / rms_ref`.
    pub rel_err: f64,
    /// `max_abs <= TOLERANCE * rms_ref`.
    pub passed: bool,
}

/// Comparison of one integer tensor (must match exactly).
#[derive(Debug, Clone, PartialEq)]
pub struct ExactReport {
    /// Fixture tensor name.
    pub name: String,
    /// Number of values compared.
    pub total: usize,
    /// Number of values that differ.
    pub mismatched: usize,
}

/// The result of [`check_fixture`].
#[derive(Debug, Clone, PartialEq)]
pub struct ParityReport {
    /// The reference file compared against.
    pub fixture: PathBuf,
    /// Integer comparisons (codes, bins, lengths).
    pub exact: Vec<ExactReport>,
    /// Float comparisons.
    pub tensors: Vec<TensorReport>,
    /// Largest `rel_err` over all float tensors.
    pub max_rel_err: f64,
    /// Whether every comparison passed.
    pub passed: bool,
}

impl fmt::Display for ParityReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "fixture {}", self.fixture.display())?;
        for e in &self.exact {
            let verdict = if e.mismatched == 0 { "ok" } else { "FAIL" };
            writeln!(
                f,
                "  {:<16} exact   {}/{} mismatched  {verdict}",
                e.name, e.mismatched, e.total
            )?;
        }
        for t in &self.tensors {
            let verdict = if t.passed { "ok" } else { "FAIL" };
            writeln!(
                f,
                "  {:<16} {:?}  max_abs {:.3e}  rms {:.3e}  rel {:.3e}  {verdict}",
                t.name, t.shape, t.max_abs, t.rms_ref, t.rel_err
            )?;
        }
        write!(
            f,
            "max_rel_err {:.3e} (tolerance {TOLERANCE:.0e}): {}",
            self.max_rel_err,
            if self.passed { "PASS" } else { "FAIL" }
        )
    }
}

/// Compares float values against a reference.
pub fn compare(name: &str, shape: &[usize], ours: &[f32], reference: &[f32]) -> TensorReport {
    let mut max_abs = 0f64;
    let mut sq = 0f64;
    for (&a, &r) in ours.iter().zip(reference) {
        max_abs = max_abs.max((f64::from(a) - f64::from(r)).abs());
        sq += f64::from(r) * f64::from(r);
    }
    if ours.len() != reference.len() {
        max_abs = f64::INFINITY;
    }
    let rms_ref = (sq / reference.len().max(1) as f64).sqrt();
    let rel_err = if max_abs == 0.0 {
        0.0
    } else {
        max_abs / rms_ref
    };
    TensorReport {
        name: name.to_string(),
        shape: shape.to_vec(),
        max_abs,
        rms_ref,
        rel_err,
        passed: max_abs <= TOLERANCE * rms_ref,
    }
}

fn exact(name: &str, ours: &[i64], reference: &[i64]) -> ExactReport {
    let differing = ours.iter().zip(reference).filter(|(a, b)| a != b).count();
    ExactReport {
        name: name.to_string(),
        total: reference.len(),
        mismatched: differing + ours.len().abs_diff(reference.len()),
    }
}

struct Reference {
    file: WeightFile,
}

impl Reference {
    fn shape(&self, name: &str) -> Result<Vec<usize>, EncoderError> {
        self.file.shape(name).map(<[usize]>::to_vec).ok_or_else(|| {
            EncoderError::Tensors(llark_tensors::TensorError::NotFound {
                name: name.to_string(),
                files: self.file.path().display().to_string(),
            })
        })
    }

    fn floats(&self, name: &str) -> Result<(Vec<usize>, Vec<f32>), EncoderError> {
        let shape = self.shape(name)?;
        let values = self.file.read_f32(name, &shape)?;
        Ok((shape, values))
    }

    fn ints(&self, name: &str) -> Result<Vec<i64>, EncoderError> {
        let shape = self.shape(name)?;
        self.file.read_i64(name, &shape)
    }
}

/// Loads the fixture in `dir` (`config.json`, `vqvae.safetensors`, `prior.safetensors`,
/// `reference.safetensors`), runs the model on `audio_raw` and compares every tensor the model
/// produces: `audio`, the VQ-VAE level-block outputs, `e`, `codes`, the label bins, `y_cond`,
/// `x_cond`, `h0`, each `layer_i`, `acts`, `acts_truncated`, and the output of the fast
/// [`Jukebox::encode_frames`](crate::Jukebox::encode_frames) path (`encode`, against `acts_truncated`).
pub fn check_fixture<B: Backend>(
    dir: impl AsRef<Path>,
    device: &B::Device,
) -> Result<ParityReport, EncoderError> {
    let dir = dir.as_ref();
    let model = Jukebox::<B>::load_dir(dir, JukeboxOptions::default(), device)?;
    check_model(&model, dir.join("reference.safetensors"))
}

/// Runs an already loaded model on the `audio_raw` of a `reference.safetensors` file and compares
/// it as [`check_fixture`] does (for weights converted separately, or streamed layers).
pub fn check_model<B: Backend>(
    model: &Jukebox<B>,
    reference_path: impl AsRef<Path>,
) -> Result<ParityReport, EncoderError> {
    let reference_path = reference_path.as_ref();
    let reference = Reference {
        file: WeightFile::open(reference_path)?,
    };
    let (_, audio_raw) = reference.floats("audio_raw")?;
    // LLark divides the clip by its peak before the encoder (`jukebox/main.py`); in the
    // workspace that is the audio front end's job (`llark::AudioFrontEnd`), so it is done here.
    let audio_raw = peak_normalised(audio_raw);
    let rate = model.config().sample_rate;
    let trace = model.trace(&audio_raw, rate)?;
    let mut tensors = Vec::new();
    let mut exacts = Vec::new();

    let window = model.config().window_samples();
    let (shape, audio) = reference.floats("audio")?;
    let end = audio.len().min(window);
    tensors.push(compare(
        "audio",
        &shape,
        &trace.window.samples[..end],
        &audio[..end],
    ));
    exacts.push(exact(
        "latent_len",
        &[trace.window.latent_len as i64],
        &reference.ints("latent_len")?,
    ));

    let level = model.config().prior.level;
    let n_levels = trace.level_outputs.len();
    for (l, out) in trace.level_outputs.iter().enumerate() {
        let name = if l + 1 == n_levels {
            "e".to_string()
        } else {
            format!("enc{level}_lb{l}")
        };
        if reference.file.contains(&name) || name == "e" {
            let (shape, values) = reference.floats(&name)?;
            tensors.push(compare(&name, &shape, &out.data, &values));
        }
    }
    exacts.push(exact("codes", &trace.codes, &reference.ints("codes")?));
    let cond = &trace.conditioning;
    for (name, ours) in [
        ("tl_bin", vec![cond.tl_bin]),
        ("abs_bins", cond.abs_bins.clone()),
        ("rel_bins", cond.rel_bins.clone()),
    ] {
        if reference.file.contains(name) {
            exacts.push(exact(name, &ours, &reference.ints(name)?));
        }
    }
    let mut push = |name: &str, ours: &[f32]| -> Result<(), EncoderError> {
        let (shape, values) = reference.floats(name)?;
        tensors.push(compare(name, &shape, ours, &values));
        Ok(())
    };
    push("y_cond", &cond.y_cond)?;
    push("x_cond", &cond.x_cond)?;
    push("h0", &trace.h0.data)?;
    for (i, layer) in trace.layers.iter().enumerate() {
        push(&format!("layer_{i}"), &layer.data)?;
    }
    push("acts", &trace.acts.data)?;
    push("acts_truncated", &trace.acts_truncated.data)?;
    let fast = model.encode_frames(&audio_raw, rate)?;
    push_named(
        &mut tensors,
        &reference,
        "encode",
        "acts_truncated",
        &fast.data,
    )?;

    let max_rel_err = tensors.iter().map(|t| t.rel_err).fold(0.0, f64::max);
    let passed = tensors.iter().all(|t| t.passed) && exacts.iter().all(|e| e.mismatched == 0);
    Ok(ParityReport {
        fixture: reference_path.to_path_buf(),
        exact: exacts,
        tensors,
        max_rel_err,
        passed,
    })
}

/// `samples` divided by their peak absolute value, unchanged when the peak is 0.
fn peak_normalised(mut samples: Vec<f32>) -> Vec<f32> {
    let peak = samples.iter().fold(0f32, |m, v| m.max(v.abs()));
    if peak > 0.0 {
        samples.iter_mut().for_each(|v| *v /= peak);
    }
    samples
}

fn push_named(
    tensors: &mut Vec<TensorReport>,
    reference: &Reference,
    name: &str,
    reference_name: &str,
    ours: &[f32],
) -> Result<(), EncoderError> {
    let (shape, values) = reference.floats(reference_name)?;
    tensors.push(compare(name, &shape, ours, &values));
    Ok(())
}
