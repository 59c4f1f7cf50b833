//! burn's AdamW, configured from `AdamWOptions`, against torch.optim.AdamW (golden updates from
//! `tools/reference/schedule_fixtures.py`), and global-norm clipping against its definition.

use burn::backend::{Autodiff, Flex};
use burn::module::{Module, Param};
use burn::optim::{GradientsParams, Optimizer};
use burn::tensor::{Tensor, TensorData};
use llark_train::{clip_global_norm, global_grad_norm, AdamWOptions};
use serde_json::Value;

type B = Autodiff<Flex>;

#[derive(Module, Debug)]
struct Two<B: burn::tensor::backend::Backend> {
    a: Param<Tensor<B, 2>>,
    b: Param<Tensor<B, 1>>,
}

fn floats(v: &Value) -> Vec<f32> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap() as f32)
        .collect()
}

fn fixture() -> Value {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/adamw.json"
    ))
    .unwrap();
    serde_json::from_str(&text).unwrap()
}

fn module(a: Vec<f32>, b: Vec<f32>) -> Two<B> {
    let device = Default::default();
    Two {
        a: Param::from_tensor(Tensor::from_data(TensorData::new(a, [3, 4]), &device)),
        b: Param::from_tensor(Tensor::from_data(TensorData::new(b, [5]), &device)),
    }
}

#[test]
fn adamw_matches_torch_adamw() {
    let fixture = fixture();
    let device = Default::default();
    let mut worst = 0.0f32;
    for case in fixture["cases"].as_array().unwrap() {
        let options = AdamWOptions {
            learning_rate: 0.0,
            beta1: case["beta1"].as_f64().unwrap() as f32,
            beta2: case["beta2"].as_f64().unwrap() as f32,
            eps: case["eps"].as_f64().unwrap() as f32,
            weight_decay: case["weight_decay"].as_f64().unwrap() as f32,
        };
        let mut optim = options.to_burn().init::<B, Two<B>>();
        let mut m = module(floats(&case["initial"]["a"]), floats(&case["initial"]["b"]));
        for (i, step) in case["steps"].as_array().unwrap().iter().enumerate() {
            let mut grads = GradientsParams::new();
            grads.register(
                m.a.id,
                Tensor::<Flex, 2>::from_data(
                    TensorData::new(floats(&step["grads"]["a"]), [3, 4]),
                    &device,
                ),
            );
            grads.register(
                m.b.id,
                Tensor::<Flex, 1>::from_data(
                    TensorData::new(floats(&step["grads"]["b"]), [5]),
                    &device,
                ),
            );
            m = optim.step(step["lr"].as_f64().unwrap(), m, grads);
            let got_a = m.a.val().into_data().to_vec::<f32>().unwrap();
            let got_b = m.b.val().into_data().to_vec::<f32>().unwrap();
            for (got, want) in [
                (got_a, floats(&step["params"]["a"])),
                (got_b, floats(&step["params"]["b"])),
            ] {
                for (g, w) in got.iter().zip(&want) {
                    let err = (g - w).abs();
                    worst = worst.max(err);
                    assert!(err <= 2e-6, "{} step {i}: {g} vs torch {w}", case["name"]);
                }
            }
        }
    }
    println!("AdamW max abs difference to torch: {worst:e}");
}

#[test]
fn defaults_are_pytorch_and_llark_values_not_burns() {
    let o = AdamWOptions::default();
    assert_eq!(
        (o.beta1, o.beta2, o.eps, o.weight_decay),
        (0.9, 0.999, 1e-8, 0.0)
    );
    assert_eq!(o.learning_rate, 5e-5);
}

#[test]
fn global_norm_clipping_scales_all_gradients_together() {
    let device = Default::default();
    let m = module(vec![0.0; 12], vec![0.0; 5]);
    let ga: Vec<f32> = (0..12).map(|i| i as f32 * 0.5 - 2.0).collect();
    let gb: Vec<f32> = (0..5).map(|i| 3.0 - i as f32).collect();
    let norm_ref = ga
        .iter()
        .chain(&gb)
        .map(|x| f64::from(*x).powi(2))
        .sum::<f64>()
        .sqrt();
    let mut grads = GradientsParams::new();
    grads.register(
        m.a.id,
        Tensor::<Flex, 2>::from_data(TensorData::new(ga.clone(), [3, 4]), &device),
    );
    grads.register(
        m.b.id,
        Tensor::<Flex, 1>::from_data(TensorData::new(gb.clone(), [5]), &device),
    );
    assert!((global_grad_norm(&m, &grads) - norm_ref).abs() < 1e-5);
    let before = clip_global_norm(&m, &mut grads, 1.0);
    assert!((before - norm_ref).abs() < 1e-5);
    assert!((global_grad_norm(&m, &grads) - 1.0).abs() < 1e-5);
    let factor = 1.0 / (norm_ref + 1e-6);
    let a = grads
        .get::<Flex, 2>(m.a.id)
        .unwrap()
        .into_data()
        .to_vec::<f32>()
        .unwrap();
    for (g, x) in a.iter().zip(&ga) {
        assert!((f64::from(*g) - f64::from(*x) * factor).abs() < 1e-6);
    }
    // Below the threshold nothing changes.
    let mut grads2 = GradientsParams::new();
    grads2.register(
        m.b.id,
        Tensor::<Flex, 1>::from_data(TensorData::new(gb.clone(), [5]), &device),
    );
    clip_global_norm(&m, &mut grads2, 100.0);
    assert_eq!(
        grads2
            .get::<Flex, 1>(m.b.id)
            .unwrap()
            .into_data()
            .to_vec::<f32>()
            .unwrap(),
        gb
    );
}
