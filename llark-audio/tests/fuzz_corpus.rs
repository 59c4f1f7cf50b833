//! Replays the corpus of the `audio_decode` fuzz target (`fuzz/`) on stable: the harness is the
//! fuzz target's own body, `fuzz/harness/audio_decode.rs`. `write_seeds` (ignored) writes the
//! target's seed inputs.

mod harness {
    include!("../../fuzz/harness/audio_decode.rs");
}
mod replay {
    include!("../../fuzz/harness/replay.rs");
}

use llark_audio::{write_wav, Audio, WavFormat};

#[test]
fn audio_decode_corpus_replays() {
    let n = replay::replay("audio_decode", harness::run);
    assert!(n > 0);
}

fn wav(samples: Vec<f32>, rate: u32, format: WavFormat) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("seed.wav");
    write_wav(&path, &Audio::new(samples, rate).unwrap(), format).unwrap();
    std::fs::read(path).unwrap()
}

fn stereo_wav(bits: u16, format: hound::SampleFormat, rate: u32) -> Vec<u8> {
    let spec = hound::WavSpec {
        channels: 2,
        sample_rate: rate,
        bits_per_sample: bits,
        sample_format: format,
    };
    let mut cursor = std::io::Cursor::new(Vec::new());
    let mut writer = hound::WavWriter::new(&mut cursor, spec).unwrap();
    for i in 0..48 {
        match format {
            hound::SampleFormat::Float => writer.write_sample((i as f32 / 48.0) - 0.5).unwrap(),
            hound::SampleFormat::Int => {
                let v = (i - 24) << (bits - 6);
                writer.write_sample(v).unwrap()
            }
        }
    }
    writer.finalize().unwrap();
    cursor.into_inner()
}

#[test]
#[ignore = "writes fuzz/seeds/audio_decode; run by hand"]
fn write_seeds() {
    let tone =
        |n: usize, f: f32| -> Vec<f32> { (0..n).map(|i| (i as f32 * f).sin() * 0.5).collect() };
    let fixture = |name: &str| {
        std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/").to_string() + name)
            .unwrap()
    };
    replay::write_seeds(
        "audio_decode",
        &[
            (
                "f32-44100.wav",
                wav(tone(64, 0.1), 44_100, WavFormat::Float32),
            ),
            (
                "pcm16-22050.wav",
                wav(tone(64, 0.3), 22_050, WavFormat::Pcm16),
            ),
            (
                "pcm16-48000.wav",
                wav(tone(96, 0.2), 48_000, WavFormat::Pcm16),
            ),
            (
                "f32-8000.wav",
                wav(tone(16, 0.5), 8_000, WavFormat::Float32),
            ),
            (
                "stereo-pcm24-16000.wav",
                stereo_wav(24, hound::SampleFormat::Int, 16_000),
            ),
            (
                "stereo-pcm8-11025.wav",
                stereo_wav(8, hound::SampleFormat::Int, 11_025),
            ),
            (
                "stereo-f32-32000.wav",
                stereo_wav(32, hound::SampleFormat::Float, 32_000),
            ),
            ("u8.wav", fixture("wav_pcm_u8.wav")),
            ("pcm32.wav", fixture("wav_pcm_32.wav")),
            ("tone.flac", fixture("tone.flac")),
            ("tone.mp3", fixture("tone.mp3")),
            ("tone.ogg", fixture("tone.ogg")),
        ],
    );
}
