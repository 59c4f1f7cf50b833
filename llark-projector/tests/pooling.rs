//! Pooling against LLark's `windowed_average` (torch `AvgPool1d`), including the pooled outputs
//! of the original Jukebox fixtures.

mod common;

use burn::backend::Flex;
use burn::tensor::{Tensor, TensorData};
use llark_projector::{Pooling, ProjectorError};

const JUKEBOX_RATE: f64 = 344.53125;

/// One golden case: encoder frames, LLark's pooled output, and the pooling.
struct Case {
    index: usize,
    acts: TensorData,
    expected: TensorData,
    pooling: Pooling,
    tolerance: f32,
}

/// The ten cases of `pooling.safetensors`.
fn reference_cases() -> Vec<Case> {
    let fixture = common::read_fixture("pooling.safetensors");
    let count = fixture.keys().filter(|k| k.ends_with(".acts")).count();
    assert_eq!(count, 10, "fixture holds 10 cases");
    (0..count)
        .map(|index| {
            let expected = fixture[&format!("c{index}.pooled")].clone();
            let fps = fixture[&format!("c{index}.fps")].to_vec::<i64>().unwrap()[0] as u32;
            Case {
                index,
                acts: fixture[&format!("c{index}.acts")].clone(),
                tolerance: 1e-5 * common::rms(&expected).max(1.0),
                expected,
                pooling: Pooling::new(JUKEBOX_RATE, fps),
            }
        })
        .collect()
}

#[test]
fn tensor_and_host_pooling_match_reference_cases_and_each_other() {
    let device = Default::default();
    for Case {
        index,
        acts,
        expected,
        pooling,
        tolerance,
    } in reference_cases()
    {
        let frames = Tensor::<Flex, 2>::from_data(acts.clone(), &device);
        let tensor = pooling.apply(frames).unwrap().into_data();
        assert_eq!(
            pooling.output_len(acts.shape[0]).unwrap(),
            expected.shape[0],
            "case {index}: output length"
        );
        let err = common::max_abs_diff(&tensor, &expected);
        assert!(
            err <= tolerance,
            "case {index} ({pooling:?}): max abs err {err} > {tolerance}"
        );

        let [frames, width] = [acts.shape[0], acts.shape[1]];
        let host = pooling
            .apply_host(&acts.to_vec::<f32>().unwrap(), frames, width)
            .unwrap();
        let host = TensorData::new(host, [expected.shape[0], width]);
        let err = common::max_abs_diff(&host, &expected);
        assert!(
            err <= tolerance,
            "case {index}: host vs reference max abs err {err} > {tolerance}"
        );
        let err = common::max_abs_diff(&host, &tensor);
        assert!(
            err <= tolerance,
            "case {index}: host vs tensor max abs err {err} > {tolerance}"
        );
    }
}

#[test]
fn host_pooling_rejects_short_clips_and_bad_shapes() {
    let pooling = Pooling::new(JUKEBOX_RATE, 10);
    assert_eq!(
        pooling.apply_host(&[1.0; 60], 20, 3).unwrap_err(),
        ProjectorError::ClipTooShort {
            frames: 20,
            window_len: 34
        }
    );
    assert!(matches!(
        pooling.apply_host(&[1.0; 59], 20, 3),
        Err(ProjectorError::Shape { .. })
    ));
    assert_eq!(
        Pooling::new(JUKEBOX_RATE, 0)
            .apply_host(&[1.0, 2.0, 3.0, 5.0], 2, 2)
            .unwrap(),
        vec![2.0, 3.5]
    );
}

#[test]
fn window_lengths_follow_the_exact_activation_rate() {
    // floor(344.53125 / fps): 34 at 10 fps; 68 (not 69) at 5 fps; 344 at 1 fps.
    for (fps, len) in [(10, 34), (5, 68), (1, 344), (3, 114), (25, 13)] {
        assert_eq!(
            Pooling::new(JUKEBOX_RATE, fps).window_len().unwrap(),
            Some(len)
        );
    }
    assert_eq!(Pooling::new(JUKEBOX_RATE, 0).window_len().unwrap(), None);
    assert_eq!(
        Pooling::new(JUKEBOX_RATE, 10).output_len(8192).unwrap(),
        240
    );
}

#[test]
fn too_short_clips_and_bad_rates_are_errors() {
    let device = Default::default();
    let frames = Tensor::<Flex, 2>::ones([20, 3], &device);
    assert_eq!(
        Pooling::new(JUKEBOX_RATE, 10).apply(frames).unwrap_err(),
        ProjectorError::ClipTooShort {
            frames: 20,
            window_len: 34
        }
    );
    assert!(matches!(
        Pooling::new(5.0, 10).window_len(),
        Err(ProjectorError::InvalidPooling { .. })
    ));
    assert!(matches!(
        Pooling::new(f64::NAN, 10).window_len(),
        Err(ProjectorError::InvalidPooling { .. })
    ));
}
