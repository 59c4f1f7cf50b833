// Harness of the `audio_decode` fuzz target (included by `fuzz_targets/audio_decode.rs` and by
// `llark-audio/tests/fuzz_corpus.rs`, which replays the corpus on stable).

use std::io::Cursor;

use llark_audio::{
    fit, load_reader, resampled_len, Audio, AudioError, AudioStream, SampleSource,
    LLARK_SAMPLE_RATE,
};

/// Most mono samples the harness decodes from one input (64 MiB of `f32`). A compressed stream
/// legitimately expands a few bytes into a block of up to 65,535 samples per channel, so the
/// decoded length is bounded by the harness, not by the input size.
pub const MAX_DECODED: usize = 1 << 24;
/// Most samples the harness asks the resampler for.
pub const MAX_RESAMPLED: u64 = 1 << 24;
/// Largest reduced input granule `rate / gcd(rate, 44100)` the harness resamples. Rates used
/// for audio (8 kHz to 384 kHz, multiples of 1 kHz or 11.025 kHz) reduce to at most 3,840;
/// odd rates such as 44,101 Hz make FFT blocks of twice that many frames, which cost the
/// resampler time and memory in proportion (see fuzz/README.md).
pub const MAX_RESAMPLE_GRANULE: u32 = 1 << 12;

/// Name hints, picked by the input length: no name (content sniffing only), then each
/// extension the decoders know.
const NAMES: [Option<&str>; 5] = [
    None,
    Some("in.wav"),
    Some("in.mp3"),
    Some("in.flac"),
    Some("in.ogg"),
];

/// Decodes `data` through [`AudioStream::from_reader`] (read in uneven chunks, up to
/// [`MAX_DECODED`] samples) and, when that reads to the end, through [`load_reader`] too: both
/// must agree. Decoded audio is then resampled to 44.1 kHz, peak-normalised and fitted. Every
/// failure must be a typed [`AudioError`].
pub fn run(data: &[u8]) {
    let name = NAMES[data.len() % NAMES.len()];
    let mut stream = match AudioStream::from_reader(Cursor::new(data.to_vec()), name) {
        Ok(stream) => stream,
        Err(e) => return check_error(&e),
    };
    let rate = stream.sample_rate();
    assert!(rate > 0, "a stream has a positive sample rate");
    let _ = (stream.channels(), stream.len_hint(), stream.origin());
    let mut samples = Vec::new();
    let mut chunk = vec![0.0f32; 4099];
    let mut sizes = [1usize, 7, 64, 4099].into_iter().cycle();
    let complete = loop {
        if samples.len() >= MAX_DECODED {
            break false;
        }
        let want = sizes.next().unwrap_or(1);
        match stream.read(&mut chunk[..want]) {
            Ok(0) => break true,
            Ok(n) => {
                assert!(n <= want);
                samples.extend_from_slice(&chunk[..n]);
            }
            Err(e) => {
                check_error(&e);
                break false;
            }
        }
    };
    if complete {
        match load_reader(Cursor::new(data.to_vec())) {
            Ok(audio) if name.is_none() => {
                assert_eq!(audio.sample_rate(), rate);
                assert_eq!(
                    audio.samples(),
                    samples.as_slice(),
                    "both entry points agree"
                );
            }
            Ok(audio) => assert!(audio.sample_rate() > 0),
            Err(e) => {
                check_error(&e);
                assert!(
                    name.is_some() || samples.is_empty(),
                    "load_reader fails where the stream read to the end: {e}"
                );
            }
        }
    }
    if samples.is_empty() {
        return;
    }
    let audio = Audio::new(samples, rate).expect("a positive rate");
    process(&audio);
}

fn process(audio: &Audio) {
    let rate = audio.sample_rate();
    let granule = rate / gcd(rate, LLARK_SAMPLE_RATE);
    let expected = resampled_len(audio.len() as u64, rate, LLARK_SAMPLE_RATE);
    let peak = audio.samples().iter().fold(0.0f32, |m, s| m.max(s.abs()));
    let mut audio = if granule <= MAX_RESAMPLE_GRANULE && expected <= MAX_RESAMPLED {
        match audio.resample(LLARK_SAMPLE_RATE) {
            Ok(resampled) => {
                assert_eq!(resampled.sample_rate(), LLARK_SAMPLE_RATE);
                assert_eq!(resampled.len() as u64, expected);
                resampled
            }
            Err(e) => {
                // Only a decoded NaN or infinity, or a sample too large to filter, stops the
                // resampler.
                let too_large = peak > llark_audio::MAX_RESAMPLE_MAGNITUDE
                    && matches!(e, AudioError::Resample { .. });
                assert!(
                    matches!(e, AudioError::NonFinite { .. }) || too_large,
                    "{e}"
                );
                return;
            }
        }
    } else {
        audio.clone()
    };
    match audio.peak_normalise() {
        Ok(peak) => {
            assert!(peak.is_finite() && peak >= 0.0);
            if peak > 0.0 {
                let max = audio.samples().iter().fold(0.0f32, |m, s| m.max(s.abs()));
                assert!((max - 1.0).abs() < 1e-5, "peak after normalising: {max}");
            }
        }
        Err(e) => {
            assert!(matches!(e, AudioError::NonFinite { .. }), "{e}");
            return;
        }
    }
    let len = audio.len();
    let fitted = fit(audio, 4096);
    assert_eq!(fitted.audio.len(), 4096);
    assert_eq!(fitted.input_len, len);
}

fn gcd(mut a: u32, mut b: u32) -> u32 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

fn check_error(e: &AudioError) {
    assert!(
        matches!(
            e,
            AudioError::Empty { .. }
                | AudioError::Truncated { .. }
                | AudioError::Corrupt { .. }
                | AudioError::Unsupported { .. }
                | AudioError::NonFinite { .. }
                | AudioError::Io { .. }
        ),
        "unexpected error kind: {e}"
    );
    assert!(!e.to_string().is_empty());
}
