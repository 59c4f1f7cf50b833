//! Resampling: frequency and amplitude preservation, exact output lengths, streaming.

mod common;

use llark_audio::{resampled_len, synth, Audio, Resampled, SampleSource, LLARK_SAMPLE_RATE};
use proptest::prelude::*;

/// Frequency from the interpolated upward zero crossings of the middle of the signal.
fn frequency(samples: &[f32], rate: u32) -> f64 {
    let skip = samples.len() / 10;
    let mid = &samples[skip..samples.len() - skip];
    let crossings: Vec<f64> = mid
        .windows(2)
        .enumerate()
        .filter(|(_, w)| w[0] < 0.0 && w[1] >= 0.0)
        .map(|(i, w)| i as f64 + f64::from(w[0] / (w[0] - w[1])))
        .collect();
    let periods = (crossings.len() - 1) as f64;
    periods / (crossings[crossings.len() - 1] - crossings[0]) * f64::from(rate)
}

/// Peak amplitude from the RMS of the middle of the signal.
fn amplitude(samples: &[f32]) -> f64 {
    let skip = samples.len() / 10;
    let mid = &samples[skip..samples.len() - skip];
    let power = mid.iter().map(|&s| f64::from(s).powi(2)).sum::<f64>() / mid.len() as f64;
    (2.0 * power).sqrt()
}

#[test]
fn sines_keep_frequency_and_amplitude() {
    for (rate, freq) in [
        (48_000u32, 1000.0),
        (22_050, 1000.0),
        (8000, 440.0),
        (48_000, 15_000.0),
    ] {
        let input = synth::sine(freq, 0.5, rate, rate as usize / 2).unwrap();
        let out = input.resample(LLARK_SAMPLE_RATE).unwrap();
        assert_eq!(out.sample_rate(), LLARK_SAMPLE_RATE);
        let f = frequency(out.samples(), LLARK_SAMPLE_RATE);
        let a = amplitude(out.samples());
        assert!(
            (f / freq - 1.0).abs() < 1e-3,
            "{rate} Hz: {freq} Hz came out at {f} Hz"
        );
        assert!(
            (a / 0.5 - 1.0).abs() < 1e-3,
            "{rate} Hz: amplitude 0.5 came out as {a}"
        );
    }
}

#[test]
fn output_length_is_librosa_ceil() {
    // librosa 0.11: n_samples = ceil(n * target / orig); e.g. 1001 samples at 8 kHz give 5519.
    assert_eq!(resampled_len(1001, 8000, 44_100), 5519);
    assert_eq!(resampled_len(1001, 48_000, 44_100), 920);
    for (n, from) in [
        (0usize, 48_000u32),
        (1, 48_000),
        (1001, 8000),
        (4799, 48_000),
        (12_345, 22_050),
        (7, 96_000),
    ] {
        let audio = Audio::new(vec![0.25; n], from).unwrap();
        let out = audio.resample(LLARK_SAMPLE_RATE).unwrap();
        let expected = (n as u64 * 44_100).div_ceil(u64::from(from)) as usize;
        assert_eq!(out.len(), expected, "{n} samples at {from} Hz");
    }
}

/// Output lengths of the librosa fixtures (`meta.json`).
#[test]
fn lengths_match_librosa_fixtures() {
    for rate in [48_000u32, 22_050] {
        let input = common::load_fixture(&format!("music_{rate}.wav"));
        let reference = common::load_fixture(&format!("music_{rate}_to_44100_soxr_hq.wav"));
        assert_eq!(
            resampled_len(input.len() as u64, rate, 44_100),
            reference.len() as u64
        );
    }
}

#[test]
fn same_rate_is_untouched() {
    let audio = synth::music(44_100, 0.2, 3).unwrap();
    assert_eq!(audio.resample(44_100).unwrap(), audio);
}

#[test]
fn streaming_in_odd_pieces_equals_whole_resampling() {
    let audio = synth::music(48_000, 0.3, 5).unwrap();
    let whole = audio.resample(LLARK_SAMPLE_RATE).unwrap();
    let mut stream = Resampled::new(audio.source(), LLARK_SAMPLE_RATE).unwrap();
    let mut pieces = Vec::new();
    let mut buf = [0.0f32; 333];
    loop {
        let n = stream.read(&mut buf[..(pieces.len() % 300) + 1]).unwrap();
        if n == 0 {
            break;
        }
        pieces.extend_from_slice(&buf[..n]);
    }
    assert_eq!(pieces, whole.samples());
}

#[test]
fn non_finite_input_and_zero_rates_are_errors() {
    let bad = Audio::new(vec![0.0, f32::NAN, 0.0], 48_000).unwrap();
    assert!(matches!(
        bad.resample(44_100),
        Err(llark_audio::AudioError::NonFinite { index: 1, .. })
    ));
    let ok = Audio::new(vec![0.0; 10], 48_000).unwrap();
    assert!(matches!(
        ok.resample(0),
        Err(llark_audio::AudioError::InvalidSampleRate { rate: 0, .. })
    ));
    assert!(Audio::new(vec![0.0], 0).is_err());
    // Absurd ratios and sizes are errors, not aborts.
    let one_hz = Audio::new(Vec::new(), 1).unwrap();
    assert!(matches!(
        one_hz.resample(u32::MAX),
        Err(llark_audio::AudioError::InvalidSampleRate { .. })
    ));
    let long = Audio::new(vec![0.0; 1 << 20], 1).unwrap();
    assert!(matches!(
        long.resample(1 << 30),
        Err(llark_audio::AudioError::Resample { .. })
    ));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]
    #[test]
    fn any_rate_pair_gives_the_exact_length(n in 0usize..3000, from in prop::sample::select(vec![8000u32, 11_025, 16_000, 22_050, 32_000, 44_100, 48_000, 96_000]), to in prop::sample::select(vec![16_000u32, 22_050, 44_100, 48_000])) {
        let audio = Audio::new(vec![0.1; n], from).unwrap();
        let out = audio.resample(to).unwrap();
        prop_assert_eq!(out.len() as u64, resampled_len(n as u64, from, to));
    }
}
