//! Splicing audio frames into token embeddings, as LLark's forward does.

use burn::backend::{Autodiff, Flex};
use burn::tensor::{Tensor, TensorData};
use llark_projector::{splice_audio, AudioTokenIds, ProjectorError};

type B = Flex;

const TOKENS: AudioTokenIds = AudioTokenIds {
    start: 32002,
    end: 32003,
    patch: 32001,
};

/// Embeddings whose row t of example b is filled with 1000*b + t.
fn position_embeds(batch: usize, seq: usize, width: usize) -> Tensor<B, 3> {
    let values: Vec<f32> = (0..batch * seq * width)
        .map(|i| {
            let b = i / (seq * width);
            let t = (i / width) % seq;
            (1000 * b + t) as f32
        })
        .collect();
    Tensor::from_data(
        TensorData::new(values, [batch, seq, width]),
        &Default::default(),
    )
}

fn clip(frames: usize, width: usize, value: f32) -> Tensor<B, 2> {
    Tensor::full([frames, width], value, &Default::default())
}

#[test]
fn frames_replace_the_patches_after_each_start() {
    // Example 0: two clips (2 and 1 frames); example 1: one clip of 3 frames, right-padded.
    let ids = vec![
        vec![1, 32002, 32001, 32001, 32003, 7, 32002, 32001, 32003, 9],
        vec![1, 5, 32002, 32001, 32001, 32001, 32003, 8, 0, 0],
    ];
    let clips = vec![
        vec![clip(2, 4, -1.0), clip(1, 4, -2.0)],
        vec![clip(3, 4, -3.0)],
    ];
    let out = splice_audio(position_embeds(2, 10, 4), &ids, &clips, TOKENS).unwrap();
    let values = out.into_data().to_vec::<f32>().unwrap();
    let row = |b: usize, t: usize| values[(b * 10 + t) * 4];
    let expected0 = [0.0, 1.0, -1.0, -1.0, 4.0, 5.0, 6.0, -2.0, 8.0, 9.0];
    let expected1 = [
        1000.0, 1001.0, 1002.0, -3.0, -3.0, -3.0, 1006.0, 1007.0, 1008.0, 1009.0,
    ];
    for t in 0..10 {
        assert_eq!(row(0, t), expected0[t], "example 0, position {t}");
        assert_eq!(row(1, t), expected1[t], "example 1, position {t}");
    }
}

#[test]
fn a_missing_audio_end_is_an_error() {
    let ids = vec![vec![1, 32002, 32001, 32001, 7, 32003]];
    let clips = vec![vec![clip(2, 4, 0.0)]];
    let err = splice_audio(position_embeds(1, 6, 4), &ids, &clips, TOKENS).unwrap_err();
    assert_eq!(
        err,
        ProjectorError::MissingAudioEnd {
            example: 0,
            start: 1,
            frames: 2,
            expected_end: 4,
            found: "token 7".into()
        }
    );
    // Frames running past the sequence.
    let clips = vec![vec![clip(9, 4, 0.0)]];
    let err = splice_audio(position_embeds(1, 6, 4), &ids, &clips, TOKENS).unwrap_err();
    assert!(
        matches!(&err, ProjectorError::MissingAudioEnd { found, .. } if found == "the end of the sequence")
    );
}

#[test]
fn clip_counts_widths_and_lengths_are_checked() {
    let ids = vec![vec![1, 32002, 32001, 32003]];
    let err = splice_audio(position_embeds(1, 4, 4), &ids, &[vec![]], TOKENS).unwrap_err();
    assert_eq!(
        err,
        ProjectorError::ClipCount {
            example: 0,
            starts: 1,
            clips: 0
        }
    );
    let err = splice_audio(
        position_embeds(1, 4, 4),
        &ids,
        &[vec![clip(1, 3, 0.0)]],
        TOKENS,
    )
    .unwrap_err();
    assert!(matches!(err, ProjectorError::Shape { .. }), "{err}");
    let short = vec![vec![1, 32002, 32001]];
    let err = splice_audio(
        position_embeds(1, 4, 4),
        &short,
        &[vec![clip(1, 4, 0.0)]],
        TOKENS,
    )
    .unwrap_err();
    assert!(matches!(err, ProjectorError::Shape { .. }), "{err}");
}

#[test]
fn gradients_reach_the_clips_and_the_other_embeddings() {
    type A = Autodiff<Flex>;
    let device = Default::default();
    let embeds = Tensor::<A, 3>::ones([1, 5, 2], &device).require_grad();
    let frames = Tensor::<A, 2>::ones([2, 2], &device).require_grad();
    let ids = vec![vec![1, 32002, 32001, 32001, 32003]];
    let out = splice_audio(embeds.clone(), &ids, &[vec![frames.clone()]], TOKENS).unwrap();
    let weights = Tensor::<A, 3>::from_data(
        TensorData::new((0..10).map(|i| i as f32).collect::<Vec<_>>(), [1, 5, 2]),
        &device,
    );
    let grads = (out * weights).sum().backward();
    let frame_grad = frames
        .grad(&grads)
        .unwrap()
        .into_data()
        .to_vec::<f32>()
        .unwrap();
    assert_eq!(frame_grad, vec![4.0, 5.0, 6.0, 7.0]);
    let embed_grad = embeds
        .grad(&grads)
        .unwrap()
        .into_data()
        .to_vec::<f32>()
        .unwrap();
    assert_eq!(
        embed_grad,
        vec![0.0, 1.0, 2.0, 3.0, 0.0, 0.0, 0.0, 0.0, 8.0, 9.0]
    );
}
