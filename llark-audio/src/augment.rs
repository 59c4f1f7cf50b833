//! Augmentations for training data: a spectral tilt (a crude equaliser) and added noise.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::audio::Audio;
use crate::error::{AudioError, Result};

/// The crossover of [`tilt`], Hz.
pub const TILT_CROSSOVER_HZ: f64 = 800.0;

fn check(name: &'static str, value: f64, limit: f64) -> Result<()> {
    if value.is_finite() && value.abs() <= limit {
        Ok(())
    } else {
        Err(AudioError::InvalidArgument {
            name,
            detail: format!("{value} dB is not within ±{limit} dB"),
        })
    }
}

/// Tilts the spectrum by `db` around [`TILT_CROSSOVER_HZ`]: content above it is raised by
/// `db / 2`, content below lowered by as much (a negative `db` darkens), with a one-pole split.
/// `|db|` is at most 24.
pub fn tilt(audio: &Audio, db: f64) -> Result<Audio> {
    check("db", db, 24.0)?;
    let rate = f64::from(audio.sample_rate());
    let a = (-std::f64::consts::TAU * TILT_CROSSOVER_HZ / rate).exp();
    let (low_gain, high_gain) = (10f64.powf(-db / 40.0), 10f64.powf(db / 40.0));
    let mut low = 0.0f64;
    let samples = audio
        .samples()
        .iter()
        .map(|&x| {
            let x = f64::from(x);
            low = (1.0 - a) * x + a * low;
            (low * low_gain + (x - low) * high_gain) as f32
        })
        .collect();
    Audio::new(samples, audio.sample_rate())
}

/// Adds white noise `snr_db` below the signal's RMS (at least 0 dB, at most 120), drawn from
/// `seed`.
pub fn add_noise(audio: &Audio, snr_db: f64, seed: u64) -> Result<Audio> {
    if !(snr_db.is_finite() && (0.0..=120.0).contains(&snr_db)) {
        return Err(AudioError::InvalidArgument {
            name: "snr_db",
            detail: format!("{snr_db} dB is not within [0, 120] dB"),
        });
    }
    let samples = audio.samples();
    let power =
        samples.iter().map(|&s| f64::from(s).powi(2)).sum::<f64>() / samples.len().max(1) as f64;
    // Uniform noise in [-w, w] has power w^2 / 3.
    let width = (3.0 * power / 10f64.powf(snr_db / 10.0)).sqrt();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let noisy = samples
        .iter()
        .map(|&s| s + (width * rng.random_range(-1.0..=1.0)) as f32)
        .collect();
    Audio::new(noisy, audio.sample_rate())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synth::sine;

    fn rms(audio: &Audio) -> f64 {
        let s = audio.samples();
        (s.iter().map(|&x| f64::from(x).powi(2)).sum::<f64>() / s.len() as f64).sqrt()
    }

    #[test]
    fn tilt_raises_highs_and_lowers_lows() {
        let low = sine(100.0, 0.5, 16_000, 16_000).unwrap();
        let high = sine(6000.0, 0.5, 16_000, 16_000).unwrap();
        let bright = 12.0;
        let ratio = |a: &Audio| 20.0 * (rms(&tilt(a, bright).unwrap()) / rms(a)).log10();
        assert!((ratio(&low) + 5.5).abs() < 1.0, "{}", ratio(&low));
        assert!((ratio(&high) - 5.0).abs() < 1.5, "{}", ratio(&high));
        assert!(tilt(&low, 30.0).is_err());
        assert!(tilt(&low, f64::NAN).is_err());
    }

    #[test]
    fn noise_sits_at_the_asked_level() {
        let tone = sine(440.0, 0.5, 16_000, 32_000).unwrap();
        let noisy = add_noise(&tone, 20.0, 1).unwrap();
        let noise: Vec<f32> = noisy
            .samples()
            .iter()
            .zip(tone.samples())
            .map(|(a, b)| a - b)
            .collect();
        let noise = Audio::new(noise, 16_000).unwrap();
        let snr = 20.0 * (rms(&tone) / rms(&noise)).log10();
        assert!((snr - 20.0).abs() < 0.5, "{snr}");
        assert_eq!(noisy, add_noise(&tone, 20.0, 1).unwrap());
        assert!(add_noise(&tone, -1.0, 1).is_err());
    }
}
