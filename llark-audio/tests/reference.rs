//! Our resampler against librosa (`librosa.load(path, sr=44100)`), on a music-like signal.
//! Fixtures: `tools/reference/audio_resample.py`.

mod common;

use common::{load_fixture, snr_db};
use llark_audio::LLARK_SAMPLE_RATE;

/// Minimum SNR (dB) of our 44.1 kHz output against librosa's.
const MIN_SNR_DB: f64 = 60.0;

fn check(rate: u32, res_type: &str) -> f64 {
    let input = load_fixture(&format!("music_{rate}.wav"));
    assert_eq!(input.sample_rate(), rate);
    let reference = load_fixture(&format!("music_{rate}_to_44100_{res_type}.wav"));
    let ours = input.resample(LLARK_SAMPLE_RATE).unwrap();
    assert_eq!(
        ours.len(),
        reference.len(),
        "output length differs from librosa"
    );
    let snr = snr_db(reference.samples(), ours.samples(), 0..ours.len());
    println!("{rate} Hz -> 44100 Hz vs librosa {res_type}: SNR {snr:.1} dB");
    snr
}

#[test]
fn matches_librosa_soxr_hq_from_48k() {
    assert!(check(48_000, "soxr_hq") >= MIN_SNR_DB);
}

#[test]
fn matches_librosa_soxr_hq_from_22k() {
    assert!(check(22_050, "soxr_hq") >= MIN_SNR_DB);
}

#[test]
fn matches_librosa_kaiser_best_from_48k() {
    assert!(check(48_000, "kaiser_best") >= MIN_SNR_DB);
}

#[test]
fn matches_librosa_kaiser_best_from_22k() {
    assert!(check(22_050, "kaiser_best") >= MIN_SNR_DB);
}
