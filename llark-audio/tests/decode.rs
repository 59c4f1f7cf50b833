//! Decoding: every WAV sample format, mono mixing, and MP3/FLAC/OGG against libsndfile
//! (through `librosa.load(sr=None)`; fixtures from `tools/reference/audio_resample.py`).

mod common;

use std::io::Cursor;

use common::{fixture, load_fixture, max_abs_diff};
use llark_audio::{load, load_reader, write_wav, Audio, AudioStream, SampleSource, WavFormat};

/// Writes `frames` (one inner slice per frame) as a WAV with hound and returns the bytes.
fn wav_bytes<S: hound::Sample + Copy>(
    frames: &[Vec<S>],
    bits: u16,
    format: hound::SampleFormat,
    rate: u32,
) -> Vec<u8> {
    let spec = hound::WavSpec {
        channels: frames[0].len() as u16,
        sample_rate: rate,
        bits_per_sample: bits,
        sample_format: format,
    };
    let mut cursor = Cursor::new(Vec::new());
    let mut writer = hound::WavWriter::new(&mut cursor, spec).unwrap();
    for frame in frames {
        for &s in frame {
            writer.write_sample(s).unwrap();
        }
    }
    writer.finalize().unwrap();
    cursor.into_inner()
}

/// Integer PCM of every width round-trips to `value / 2^(bits-1)` (libsndfile's scaling).
#[test]
fn integer_pcm_round_trips_at_every_width() {
    for bits in [8u16, 16, 24, 32] {
        let full = 1i64 << (bits - 1);
        let values: Vec<i32> = [-full, -full / 2, -1, 0, 1, full / 3, full - 1]
            .iter()
            .map(|&v| v as i32)
            .collect();
        let frames: Vec<Vec<i32>> = values.iter().map(|&v| vec![v]).collect();
        let bytes = wav_bytes(&frames, bits, hound::SampleFormat::Int, 8000);
        let audio = load_reader(Cursor::new(bytes)).unwrap();
        assert_eq!(audio.sample_rate(), 8000);
        let expected: Vec<f32> = values
            .iter()
            .map(|&v| (f64::from(v) / full as f64) as f32)
            .collect();
        assert_eq!(audio.samples(), &expected[..], "{bits}-bit PCM");
    }
}

#[test]
fn float_wav_round_trips_exactly() {
    let values = [-1.0f32, -0.123_456_79, 0.0, 1e-7, 0.5, 0.999_999_9, 1.5];
    let frames: Vec<Vec<f32>> = values.iter().map(|&v| vec![v]).collect();
    let bytes = wav_bytes(&frames, 32, hound::SampleFormat::Float, 44_100);
    let audio = load_reader(Cursor::new(bytes)).unwrap();
    assert_eq!(audio.samples(), &values[..]);
}

/// WAV files written by libsndfile in each format decode as `librosa.load(sr=None)` does
/// (3 channels, mono by the channel mean).
#[test]
fn libsndfile_wavs_match_librosa() {
    for subtype in ["pcm_u8", "pcm_16", "pcm_24", "pcm_32", "float"] {
        let ours = load_fixture(&format!("wav_{subtype}.wav"));
        let reference = load_fixture(&format!("wav_{subtype}.ref.wav"));
        assert_eq!(ours.sample_rate(), reference.sample_rate());
        let err = max_abs_diff(ours.samples(), reference.samples());
        assert!(err <= 1e-7, "{subtype}: max abs error {err}");
    }
}

#[test]
fn opposite_stereo_channels_mix_to_silence() {
    let frames: Vec<Vec<i16>> = (0..1000)
        .map(|i| {
            let v = ((i as f32 * 0.05).sin() * 30_000.0) as i16;
            vec![v, -v]
        })
        .collect();
    let bytes = wav_bytes(&frames, 16, hound::SampleFormat::Int, 22_050);
    let audio = load_reader(Cursor::new(bytes)).unwrap();
    assert_eq!(audio.len(), 1000);
    assert!(audio.samples().iter().all(|&s| s == 0.0));
}

#[test]
fn many_channels_mix_by_mean() {
    let frames: Vec<Vec<f32>> = (0..10)
        .map(|i| vec![0.1 * i as f32, 0.5, -0.2, 0.0, 1.0, 0.3])
        .collect();
    let bytes = wav_bytes(&frames, 32, hound::SampleFormat::Float, 16_000);
    let stream = AudioStream::from_reader(Cursor::new(bytes.clone()), Some("six.wav")).unwrap();
    assert_eq!(stream.channels(), 6);
    assert_eq!(stream.len_hint(), Some(10));
    let audio = load_reader(Cursor::new(bytes)).unwrap();
    for (i, frame) in frames.iter().enumerate() {
        let mean = frame.iter().sum::<f32>() / 6.0;
        assert_eq!(audio.samples()[i], mean);
    }
}

#[test]
fn write_wav_float32_is_lossless_and_pcm16_is_within_half_a_step() {
    let dir = tempfile::tempdir().unwrap();
    let audio = Audio::new(
        (0..500).map(|i| ((i as f32) * 0.031).sin() * 0.9).collect(),
        48_000,
    )
    .unwrap();
    let f32_path = dir.path().join("f.wav");
    write_wav(&f32_path, &audio, WavFormat::Float32).unwrap();
    assert_eq!(load(&f32_path).unwrap(), audio);

    let pcm_path = dir.path().join("p.wav");
    write_wav(&pcm_path, &audio, WavFormat::Pcm16).unwrap();
    let back = load(&pcm_path).unwrap();
    assert_eq!(back.sample_rate(), 48_000);
    let reader = hound::WavReader::open(&pcm_path).unwrap();
    assert_eq!(reader.spec().bits_per_sample, 16);
    let err = max_abs_diff(back.samples(), audio.samples());
    assert!(err <= 0.5 / 32768.0 + 1e-9, "max abs error {err}");
}

/// The compressed fixtures decode like libsndfile (FLAC bit-exact; Vorbis and MP3 decoders
/// agree to float rounding, with encoder delay and padding removed as libsndfile does).
#[cfg(feature = "compressed")]
#[test]
fn compressed_formats_match_librosa() {
    for (ext, tolerance) in [("flac", 0.0f32), ("ogg", 1e-5), ("mp3", 1e-5)] {
        let ours = load_fixture(&format!("tone.{ext}"));
        let reference = load_fixture(&format!("tone.{ext}.ref.wav"));
        assert_eq!(ours.sample_rate(), 44_100, "{ext}");
        assert_eq!(ours.len(), reference.len(), "{ext}: length");
        let err = max_abs_diff(ours.samples(), reference.samples());
        assert!(err <= tolerance, "{ext}: max abs error {err}");
    }
}

/// Format detection looks at the content, not the name.
#[cfg(feature = "compressed")]
#[test]
fn readers_are_decoded_by_content() {
    for ext in ["flac", "ogg", "mp3", "wav"] {
        let name = if ext == "wav" {
            "wav_pcm_16.wav".to_owned()
        } else {
            format!("tone.{ext}")
        };
        let bytes = std::fs::read(fixture(&name)).unwrap();
        let from_reader = load_reader(Cursor::new(bytes)).unwrap();
        assert_eq!(from_reader, load_fixture(&name), "{name}");
    }
}

/// A 64-bit float WAV, which `hound` does not read, is decoded by `symphonia` instead.
#[cfg(feature = "compressed")]
#[test]
fn float64_wav_falls_back_to_symphonia() {
    let values = [0.25f64, -0.5, 0.125, 1.0 / 3.0];
    let mut bytes = Vec::new();
    let data = (values.len() * 8) as u32;
    bytes.extend_from_slice(b"RIFF");
    bytes.extend_from_slice(&(36 + data).to_le_bytes());
    bytes.extend_from_slice(b"WAVEfmt ");
    bytes.extend_from_slice(&16u32.to_le_bytes());
    bytes.extend_from_slice(&3u16.to_le_bytes()); // IEEE float
    bytes.extend_from_slice(&1u16.to_le_bytes()); // mono
    bytes.extend_from_slice(&16_000u32.to_le_bytes());
    bytes.extend_from_slice(&(16_000u32 * 8).to_le_bytes());
    bytes.extend_from_slice(&8u16.to_le_bytes());
    bytes.extend_from_slice(&64u16.to_le_bytes());
    bytes.extend_from_slice(b"data");
    bytes.extend_from_slice(&data.to_le_bytes());
    for v in values {
        bytes.extend_from_slice(&v.to_le_bytes());
    }
    let audio = load_reader(Cursor::new(bytes)).unwrap();
    let expected: Vec<f32> = values.iter().map(|&v| v as f32).collect();
    assert_eq!(audio.sample_rate(), 16_000);
    assert_eq!(audio.samples(), &expected[..]);
}

#[test]
fn stream_reads_in_small_pieces_like_a_whole_load() {
    let whole = load_fixture("wav_pcm_24.wav");
    let mut stream = AudioStream::open(fixture("wav_pcm_24.wav")).unwrap();
    let mut pieces = Vec::new();
    let mut buf = [0.0f32; 7];
    loop {
        let n = stream.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        pieces.extend_from_slice(&buf[..n]);
    }
    assert_eq!(pieces, whole.samples());
}
