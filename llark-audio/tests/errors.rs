//! Broken, truncated, empty and unsupported inputs give typed errors that name the file.

mod common;

use std::io::Cursor;

use common::fixture;
use llark_audio::{load, load_reader, Audio, AudioError};

fn write_temp(dir: &tempfile::TempDir, name: &str, bytes: &[u8]) -> std::path::PathBuf {
    let path = dir.path().join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

fn fixture_bytes(name: &str) -> Vec<u8> {
    std::fs::read(fixture(name)).unwrap()
}

/// Offset of the data chunk's payload in a canonical WAV file.
fn data_offset(bytes: &[u8]) -> usize {
    bytes.windows(4).position(|w| w == b"data").unwrap() + 8
}

#[test]
fn missing_file_is_an_io_error_naming_it() {
    let err = load("/definitely/not/here.wav").unwrap_err();
    assert!(matches!(err, AudioError::Io { .. }), "{err:?}");
    assert!(
        err.to_string().contains("/definitely/not/here.wav"),
        "{err}"
    );
}

#[test]
fn zero_byte_file_is_empty() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_temp(&dir, "nothing.mp3", &[]);
    let err = load(&path).unwrap_err();
    assert!(matches!(err, AudioError::Empty { .. }), "{err:?}");
    assert!(err.to_string().contains("nothing.mp3"), "{err}");
}

#[test]
fn wav_without_samples_is_empty() {
    let bytes = fixture_bytes("wav_pcm_16.wav");
    let mut header = bytes[..data_offset(&bytes)].to_vec();
    let at = header.len() - 4;
    header[at..].copy_from_slice(&0u32.to_le_bytes());
    let err = load_reader(Cursor::new(header)).unwrap_err();
    assert!(matches!(err, AudioError::Empty { .. }), "{err:?}");
}

#[test]
fn wav_cut_inside_the_data_is_truncated() {
    let bytes = fixture_bytes("wav_pcm_16.wav");
    let cut = data_offset(&bytes) + 100;
    let dir = tempfile::tempdir().unwrap();
    let path = write_temp(&dir, "cut.wav", &bytes[..cut]);
    let err = load(&path).unwrap_err();
    assert!(matches!(err, AudioError::Truncated { .. }), "{err:?}");
    assert!(err.to_string().contains("cut.wav"), "{err}");
}

#[test]
fn wav_cut_inside_the_header_is_truncated() {
    let bytes = fixture_bytes("wav_pcm_16.wav");
    let err = load_reader(Cursor::new(bytes[..30].to_vec())).unwrap_err();
    assert!(matches!(err, AudioError::Truncated { .. }), "{err:?}");
}

#[test]
fn malformed_wav_header_is_corrupt() {
    let mut bytes = fixture_bytes("wav_pcm_16.wav");
    // fmt chunk length (bytes 16..20) set to an impossible 3.
    bytes[16..20].copy_from_slice(&3u32.to_le_bytes());
    let err = load_reader(Cursor::new(bytes)).unwrap_err();
    assert!(matches!(err, AudioError::Corrupt { .. }), "{err:?}");
}

#[test]
fn unknown_wav_encoding_is_unsupported() {
    let mut bytes = fixture_bytes("wav_pcm_16.wav");
    // Format tag (bytes 20..22) set to 0x0055 (MPEG Layer 3 inside WAV): read by neither decoder.
    bytes[20..22].copy_from_slice(&0x0055u16.to_le_bytes());
    let err = load_reader(Cursor::new(bytes)).unwrap_err();
    assert!(matches!(err, AudioError::Unsupported { .. }), "{err:?}");
}

#[test]
fn non_audio_file_is_unsupported() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_temp(
        &dir,
        "notes.txt",
        b"these are not the samples you are looking for\n",
    );
    let err = load(&path).unwrap_err();
    assert!(matches!(err, AudioError::Unsupported { .. }), "{err:?}");
    assert!(err.to_string().contains("notes.txt"), "{err}");
}

#[test]
fn nan_in_a_float_wav_is_an_error() {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 8000,
        bits_per_sample: 32,
        sample_format: hound::SampleFormat::Float,
    };
    let mut cursor = Cursor::new(Vec::new());
    let mut writer = hound::WavWriter::new(&mut cursor, spec).unwrap();
    for s in [0.0f32, 0.5, f32::NAN, 0.1] {
        writer.write_sample(s).unwrap();
    }
    writer.finalize().unwrap();
    let err = load_reader(Cursor::new(cursor.into_inner())).unwrap_err();
    assert!(
        matches!(err, AudioError::NonFinite { index: 2, .. }),
        "{err:?}"
    );
}

#[test]
fn peak_normalise_rejects_non_finite_and_leaves_audio_alone() {
    let mut audio = Audio::new(vec![0.5, f32::INFINITY, -0.25], 44_100).unwrap();
    let before = audio.clone();
    let err = audio.peak_normalise().unwrap_err();
    assert!(
        matches!(err, AudioError::NonFinite { index: 1, .. }),
        "{err:?}"
    );
    assert_eq!(audio, before);
}

#[cfg(feature = "compressed")]
mod compressed {
    use super::*;

    #[test]
    fn flac_cut_short_is_truncated() {
        let bytes = fixture_bytes("tone.flac");
        let err = load_reader(Cursor::new(bytes[..bytes.len() / 2].to_vec())).unwrap_err();
        assert!(matches!(err, AudioError::Truncated { .. }), "{err:?}");
    }

    #[test]
    fn flac_with_damaged_frames_is_corrupt() {
        let mut bytes = fixture_bytes("tone.flac");
        let n = bytes.len();
        for b in &mut bytes[n / 3..n / 3 + 64] {
            *b ^= 0x5A;
        }
        let err = load_reader(Cursor::new(bytes)).unwrap_err();
        assert!(
            matches!(
                err,
                AudioError::Corrupt { .. } | AudioError::Truncated { .. }
            ),
            "{err:?}"
        );
    }

    #[test]
    fn header_only_compressed_files_fail() {
        for name in ["tone.flac", "tone.ogg", "tone.mp3"] {
            let bytes = fixture_bytes(name);
            let err = load_reader(Cursor::new(bytes[..20].to_vec())).unwrap_err();
            assert!(
                matches!(
                    err,
                    AudioError::Truncated { .. }
                        | AudioError::Unsupported { .. }
                        | AudioError::Empty { .. }
                ),
                "{name}: {err:?}"
            );
        }
    }

    #[test]
    fn cut_mp3_and_ogg_fail_or_decode_the_part_present() {
        for name in ["tone.ogg", "tone.mp3"] {
            let bytes = fixture_bytes(name);
            let full = load_reader(Cursor::new(bytes.clone())).unwrap();
            match load_reader(Cursor::new(bytes[..bytes.len() / 2].to_vec())) {
                Ok(part) => assert!(part.len() < full.len(), "{name}"),
                Err(err) => assert!(
                    matches!(
                        err,
                        AudioError::Truncated { .. } | AudioError::Corrupt { .. }
                    ),
                    "{name}: {err:?}"
                ),
            }
        }
    }
}

#[test]
fn huge_finite_samples_are_mixed_without_overflow() {
    // Stereo float WAV at f32's top: the f32 channel sum overflows, the mean does not.
    let spec = hound::WavSpec {
        channels: 2,
        sample_rate: 44_100,
        bits_per_sample: 32,
        sample_format: hound::SampleFormat::Float,
    };
    let mut bytes = Cursor::new(Vec::new());
    {
        let mut w = hound::WavWriter::new(&mut bytes, spec).unwrap();
        for i in 0..1000 {
            let v = if i % 2 == 0 { 3.0e38f32 } else { -3.0e38 };
            w.write_sample(v).unwrap();
            w.write_sample(v).unwrap();
        }
        w.finalize().unwrap();
    }
    let mut audio = load_reader(Cursor::new(bytes.into_inner())).unwrap();
    assert!(audio.samples().iter().all(|s| s.is_finite()));
    assert_eq!(audio.samples()[0], 3.0e38);
    assert_eq!(audio.peak_normalise().unwrap(), 3.0e38);
    assert_eq!(audio.samples()[1], -1.0);
}

#[test]
fn samples_too_large_to_resample_are_an_error_not_a_panic() {
    let samples: Vec<f32> = (0..400)
        .map(|i| if i % 3 == 0 { 2.9e38 } else { -1.0e37 })
        .collect();
    let audio = Audio::new(samples, 8_000).unwrap();
    let err = audio.resample(44_100).unwrap_err();
    assert!(matches!(err, AudioError::Resample { .. }), "{err}");
    assert!(err.to_string().contains("too large"), "{err}");
    // Loud but sane audio resamples.
    let loud = Audio::new(vec![1e20; 400], 8_000).unwrap();
    assert!(loud.resample(44_100).is_ok());
}
