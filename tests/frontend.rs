//! The audio front end against the same steps done by hand on the host: decode + resample +
//! peak normalisation (llark-audio), the lite encoder's host frames, LLark's host pooling.

use burn::backend::Flex;
use llark::audio::{synth, write_wav, Audio, WavFormat};
use llark::encoder::lite::{LiteConfig, LiteEncoder};
use llark::encoder::{EncoderInfo, Frames};
use llark::projector::Pooling;
use llark::{AudioFrontEnd, LlarkError, WindowPlan};

const FPS: u32 = 2;

fn front_end() -> AudioFrontEnd<Flex> {
    let encoder = LiteEncoder::new(LiteConfig::default()).unwrap();
    AudioFrontEnd::new(Box::new(encoder), Some(FPS), &Default::default()).unwrap()
}

/// What the front end must compute for `audio` (already at 44.1 kHz), done on the host.
fn by_hand(audio: &Audio) -> Vec<f32> {
    let mut audio = audio.clone();
    audio.peak_normalise().unwrap();
    let encoder = LiteEncoder::new(LiteConfig::default()).unwrap();
    let frames = encoder.encode_frames(audio.samples(), 44_100).unwrap();
    Pooling::new(encoder.frame_rate(), FPS)
        .apply_host(&frames.data, frames.frames, frames.width)
        .unwrap()
}

fn host(tensor: burn::tensor::Tensor<Flex, 2>) -> Vec<f32> {
    Frames::from_tensor(tensor).unwrap().data
}

fn assert_close(ours: &[f32], want: &[f32], what: &str) {
    assert_eq!(ours.len(), want.len(), "{what}: lengths");
    for (i, (a, b)) in ours.iter().zip(want).enumerate() {
        assert!(
            (a - b).abs() <= 1e-5 * b.abs().max(1.0),
            "{what}[{i}]: {a} vs {b}"
        );
    }
}

#[test]
fn a_file_goes_through_decode_resample_normalise_encode_pool() {
    let dir = tempfile::tempdir().unwrap();
    // 22.05 kHz at a quiet level: resampling and normalisation both matter.
    let mut quiet = synth::music(22_050, 4.0, 5).unwrap().into_samples();
    quiet.iter_mut().for_each(|v| *v *= 0.1);
    let path = dir.path().join("clip.wav");
    write_wav(
        &path,
        &Audio::new(quiet, 22_050).unwrap(),
        WavFormat::Float32,
    )
    .unwrap();

    let fe = front_end();
    let loaded = fe.load(&path).unwrap();
    assert_eq!(loaded.sample_rate(), 44_100);
    let peak = loaded.samples().iter().fold(0f32, |m, v| m.max(v.abs()));
    assert!((peak - 1.0).abs() < 1e-6, "peak {peak}");

    let resampled = llark::audio::load_resampled(&path, 44_100).unwrap();
    let ours = host(fe.encode_file(&path).unwrap());
    assert_close(&ours, &by_hand(&resampled), "encode_file");
    assert_eq!(fe.pool_fps(), Some(FPS));
}

#[test]
fn long_audio_is_cut_into_windows_normalised_once() {
    let audio = synth::music(44_100, 10.0, 9).unwrap();
    let fe = front_end();
    let plan = WindowPlan::new(4.0, 4.0).unwrap();
    let prepared = fe.prepare(&audio).unwrap();
    let windows = fe.encode_windows(&prepared, &plan).unwrap();
    let starts: Vec<f64> = windows.iter().map(|w| w.start_seconds).collect();
    assert_eq!(starts, [0.0, 4.0, 8.0]);
    assert!((windows[2].duration_seconds - 2.0).abs() < 1e-9);
    for window in windows {
        let a = (window.start_seconds * 44_100.0) as usize;
        let b = a + (window.duration_seconds * 44_100.0).round() as usize;
        // Each window is the crop of the once-normalised recording, encoded and pooled.
        let encoder = LiteEncoder::new(LiteConfig::default()).unwrap();
        let frames = encoder
            .encode_frames(&prepared.samples()[a..b], 44_100)
            .unwrap();
        let want = Pooling::new(encoder.frame_rate(), FPS)
            .apply_host(&frames.data, frames.frames, frames.width)
            .unwrap();
        assert_close(&host(window.encodings), &want, "window");
    }
}

#[test]
fn window_plans_cover_the_audio_and_reject_bad_lengths() {
    let plan = WindowPlan::new(1.0, 0.5).unwrap();
    assert_eq!(plan.ranges(25, 10), [0..10, 5..15, 10..20, 15..25]);
    assert_eq!(
        plan.ranges(7, 10),
        vec![std::ops::Range { start: 0, end: 7 }]
    );
    assert!(plan.ranges(0, 10).is_empty());
    let llark = WindowPlan::llark().ranges(1 << 21, 44_100);
    assert_eq!(llark, [0..1 << 20, 1 << 20..1 << 21]);
    for (w, h) in [
        (0.0, 1.0),
        (1.0, -1.0),
        (f64::NAN, 1.0),
        (1.0, f64::INFINITY),
    ] {
        assert!(matches!(
            WindowPlan::new(w, h),
            Err(LlarkError::WindowPlan { .. })
        ));
    }
}

#[test]
fn a_pooling_rate_the_encoder_cannot_give_is_refused_up_front() {
    let encoder = LiteEncoder::new(LiteConfig::default()).unwrap();
    let err = AudioFrontEnd::<Flex>::new(Box::new(encoder), Some(1000), &Default::default())
        .err()
        .expect("1000 fps from a 10.8 Hz encoder");
    assert!(matches!(err, LlarkError::Projector(_)), "{err:?}");
    // A wrong sample rate is named, not resampled silently, when samples are given as they are.
    let fe = front_end();
    let at_22k = synth::sine(440.0, 0.5, 22_050, 22_050).unwrap();
    assert!(matches!(fe.encode(&at_22k), Err(LlarkError::Encoder(_))));
}

#[test]
fn a_clip_too_short_for_one_frame_is_an_error_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("blip.wav");
    let blip: Vec<f32> = (0..200).map(|i| (i as f32 * 0.1).sin()).collect();
    write_wav(
        &path,
        &Audio::new(blip, 44_100).unwrap(),
        WavFormat::Float32,
    )
    .unwrap();
    let err = front_end().encode_file(&path).unwrap_err();
    assert!(matches!(err, LlarkError::InFile { .. }), "{err}");
    assert!(err.to_string().contains("blip.wav"), "{err}");
}
