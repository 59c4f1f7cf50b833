//! Behaviour of the Jukebox model beyond fixture parity: loading (converted checkpoints, streaming,
//! strict errors), the attention dependency structure, batching and the frame count per clip length.

use std::path::{Path, PathBuf};

use burn::backend::Flex;
use burn::tensor::{Tensor, TensorData};
use llark_encoder::jukebox::synthetic::write_random_weights;
use llark_encoder::jukebox::{AttnPattern, PriorBlock};
use llark_encoder::parity::check_model;
use llark_encoder::weights::WeightFile;
use llark_encoder::{AudioEncoder, EncoderError, Frames, Jukebox, JukeboxConfig, JukeboxOptions};
use llark_tensors::TensorError;

type B = Flex;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn tiny_config() -> JukeboxConfig {
    JukeboxConfig::from_json_file(fixture("jukebox-tiny/config.json")).unwrap()
}

fn reference_audio(name: &str) -> Vec<f32> {
    let file = WeightFile::open(fixture(name).join("reference.safetensors")).unwrap();
    let shape = file.shape("audio_raw").unwrap().to_vec();
    file.read_f32("audio_raw", &shape).unwrap()
}

fn load(dir: &Path, stream: bool) -> Jukebox<B> {
    Jukebox::load_dir(
        dir,
        JukeboxOptions {
            stream_layers: stream,
        },
        &Default::default(),
    )
    .unwrap()
}

/// The checkpoint written by `tools/convert_jukebox.py` from a torch-saved original-layout file
/// (f16 Conv1D weights, `module.` prefix, extra layers, `x_out`) reproduces the golden outputs.
#[test]
fn converted_checkpoint_reproduces_golden_outputs() {
    let converted = fixture("jukebox-converted-tiny");
    let prior = WeightFile::open(converted.join("prior.safetensors")).unwrap();
    assert!(!prior.contains("prior.x_out.weight"));
    assert!(!prior.contains("prior.transformer._attn_mods.4.ln_0.weight"));
    for stream in [false, true] {
        let model = load(&converted, stream);
        let report = check_model(&model, fixture("jukebox-tiny/reference.safetensors")).unwrap();
        assert!(report.passed, "{report}");
    }
}

#[test]
fn streamed_layers_equal_resident_layers() {
    let audio = reference_audio("jukebox-tiny");
    let resident = load(&fixture("jukebox-tiny"), false)
        .encode_frames(&audio, 44_100)
        .unwrap();
    let streamed = load(&fixture("jukebox-tiny"), true)
        .encode_frames(&audio, 44_100)
        .unwrap();
    assert_eq!(resident, streamed);
}

#[test]
fn batch_equals_one_clip_at_a_time() {
    let model = load(&fixture("jukebox-tiny"), false);
    let long = reference_audio("jukebox-tiny");
    let short = reference_audio("jukebox-tiny-short");
    let batch = model.encode_frames_batch(&[&long, &short], 44_100).unwrap();
    for (clip, batched) in [&long, &short].into_iter().zip(&batch) {
        let single = model.encode_frames(clip, 44_100).unwrap();
        assert_eq!(single.shape(), batched.shape());
        let max = single
            .data
            .iter()
            .zip(&batched.data)
            .map(|(a, b)| (a - b).abs())
            .fold(0f32, f32::max);
        assert!(max < 1e-5, "batched differs by {max}");
    }
    assert_eq!(batch[0].frames, 256);
    assert_eq!(batch[1].frames, 156);
}

#[test]
fn frame_count_follows_the_real_length() {
    let jukebox = load(&fixture("jukebox-tiny"), false);
    // The pipeline holds encoders as trait objects.
    let model: &dyn AudioEncoder<B> = &jukebox;
    let device = Default::default();
    let encode = |samples: &[f32]| {
        let tensor = model.encode(samples, 44_100, &device).unwrap();
        Frames::from_tensor(tensor).unwrap()
    };
    assert_eq!(model.name(), "jukebox");
    let audio = reference_audio("jukebox-tiny");
    assert_eq!(model.frame_rate(), 44_100.0 / 128.0);
    assert_eq!(model.width(), 64);
    assert_eq!(model.max_input_samples(), Some(32_768));
    for (n, frames) in [(0, 0), (127, 0), (128 * 10 + 5, 10), (32_768, 256)] {
        let out = encode(&audio[..n]);
        assert_eq!(
            (out.frames, out.width, out.data.len()),
            (frames, 64, frames * 64),
            "n = {n}"
        );
    }
    // Audio past one window is dropped, as in LLark: 40,000 samples give n_ctx frames.
    let mut longer = audio.clone();
    longer.extend_from_slice(&audio[..7232]);
    let out = encode(&longer);
    assert_eq!(out.frames, 256);
    // Silence: no peak normalisation (peak 0), finite frames for the real length.
    let silence = encode(&vec![0.0; 5000]);
    assert_eq!(silence.frames, 5000 / 128);
    assert!(silence.data.iter().all(|v| v.is_finite()));
}

#[test]
fn bad_audio_is_rejected() {
    let model = load(&fixture("jukebox-tiny"), false);
    assert!(matches!(
        model.encode_frames(&[0.1; 1000], 22_050),
        Err(EncoderError::SampleRate {
            actual: 22_050,
            expected: 44_100
        })
    ));
    let mut audio = vec![0.1f32; 1000];
    audio[17] = f32::NAN;
    assert!(matches!(
        model.encode_frames(&audio, 44_100),
        Err(EncoderError::NonFiniteSample { index: 17, .. })
    ));
}

#[test]
fn missing_and_misshaped_tensors_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let (vq, pr) = (
        dir.path().join("vqvae.safetensors"),
        dir.path().join("prior.safetensors"),
    );
    let config = tiny_config().with_depth(2);
    write_random_weights(&config, &vq, &pr, 3, true).unwrap();
    let device = Default::default();
    let ok = Jukebox::<B>::load(config.clone(), &vq, &pr, JukeboxOptions::default(), &device);
    assert!(ok.is_ok());

    for stream in [false, true] {
        let deeper = config.clone().with_depth(3);
        let err = Jukebox::<B>::load(
            deeper,
            &vq,
            &pr,
            JukeboxOptions {
                stream_layers: stream,
            },
            &device,
        )
        .unwrap_err();
        match err {
            EncoderError::Tensors(TensorError::NotFound { name, .. }) => {
                assert_eq!(name, "prior.transformer._attn_mods.2.ln_0.weight")
            }
            other => panic!("unexpected {other}"),
        }
    }

    let mut wider_mlp = config.clone();
    wider_mlp.prior.m_mlp = 2.0;
    let err =
        Jukebox::<B>::load(wider_mlp, &vq, &pr, JukeboxOptions::default(), &device).unwrap_err();
    match &err {
        EncoderError::Tensors(TensorError::Shape {
            name,
            actual,
            expected,
            ..
        }) => {
            assert_eq!(name, "prior.transformer._attn_mods.0.mlp.c_fc.w");
            assert_eq!(
                (actual.as_slice(), expected.as_slice()),
                (&[64, 64][..], &[64, 128][..])
            );
        }
        other => panic!("unexpected {other}"),
    }
    assert!(err.to_string().contains("mlp.c_fc.w"));

    let mut other_codebook = config;
    other_codebook.vqvae.l_bins = 64;
    other_codebook.prior.bins = 64;
    let err = Jukebox::<B>::load(other_codebook, &vq, &pr, JukeboxOptions::default(), &device)
        .unwrap_err();
    assert!(
        matches!(&err, EncoderError::Tensors(TensorError::Shape { name, .. }) if name == "bottleneck.level_blocks.2.k"),
        "{err}"
    );
}

/// Which output positions of one layer change when input position `j` changes: the sets of the
/// reference's own check (`factored_attention.py`: block → same block up to `pos`; transpose →
/// same in-block offset, earlier or current block; previous block → the whole previous block),
/// plus `pos` itself through the residual path.
#[test]
fn attention_patterns_have_the_reference_dependencies() {
    let dir = tempfile::tempdir().unwrap();
    let (vq, pr) = (
        dir.path().join("vqvae.safetensors"),
        dir.path().join("prior.safetensors"),
    );
    let mut config = tiny_config().with_depth(3);
    config.prior.n_ctx = 48;
    config.prior.blocks = 6; // block_ctx 8, 6 blocks: transpose length != block length
    config.labels[2] = 48 * 128;
    write_random_weights(&config, &vq, &pr, 11, false).unwrap();
    let file = WeightFile::open(&pr).unwrap();
    let device = Default::default();
    let (t, w, bc) = (48, config.prior.width, 8);
    let base: Vec<f32> = (0..t * w)
        .map(|i| ((i * 7919) % 1000) as f32 / 500.0 - 1.0)
        .collect();
    let run = |block: &PriorBlock<B>, x: &[f32]| -> Vec<f32> {
        let input = Tensor::<B, 3>::from_data(TensorData::new(x.to_vec(), [1, t, w]), &device);
        block.forward(input).into_data().to_vec::<f32>().unwrap()
    };
    for (layer, pattern) in [
        (0, AttnPattern::Block),
        (1, AttnPattern::TransposeBlock),
        (2, AttnPattern::PrevBlock),
    ] {
        let block = PriorBlock::<B>::load(&file, &config.prior, layer, &device).unwrap();
        assert_eq!(block.pattern(), pattern);
        let out = run(&block, &base);
        for j in [0, 5, 8, 13, 21, 40, 47] {
            let mut x = base.clone();
            // Not a constant shift: LayerNorm would remove it.
            x[j * w..(j + 1) * w]
                .iter_mut()
                .enumerate()
                .for_each(|(c, v)| *v += (c as f32 * 0.37).sin());
            let changed = run(&block, &x);
            for i in 0..t {
                let diff = (0..w)
                    .map(|c| (out[i * w + c] - changed[i * w + c]).abs())
                    .fold(0f32, f32::max);
                let depends = i == j
                    || match pattern {
                        AttnPattern::Block => j / bc == i / bc && j <= i,
                        AttnPattern::TransposeBlock => j <= i && (i - j) % bc == 0,
                        AttnPattern::PrevBlock => i / bc >= 1 && j / bc == i / bc - 1,
                    };
                if depends {
                    assert!(
                        diff > 1e-5,
                        "{pattern:?}: output {i} should depend on input {j}"
                    );
                } else {
                    assert_eq!(
                        diff, 0.0,
                        "{pattern:?}: output {i} must not depend on input {j}"
                    );
                }
            }
        }
    }
}
