//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::PathBuf;

use llark_audio::{load, Audio};

/// Path of a committed fixture.
pub fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("fixtures")
        .join(name)
}

/// Loads a committed fixture.
pub fn load_fixture(name: &str) -> Audio {
    load(fixture(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// Signal-to-noise ratio in dB of `ours` against `reference` over `range`.
pub fn snr_db(reference: &[f32], ours: &[f32], range: std::ops::Range<usize>) -> f64 {
    let (mut signal, mut noise) = (0.0f64, 0.0f64);
    for i in range {
        let r = f64::from(reference[i]);
        let d = f64::from(ours[i]) - r;
        signal += r * r;
        noise += d * d;
    }
    10.0 * (signal / noise.max(1e-300)).log10()
}

/// Largest absolute difference.
pub fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len(), "length mismatch");
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}
