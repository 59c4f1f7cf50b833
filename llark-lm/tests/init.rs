//! `LlamaConfig::init`: a fresh model with transformers' initialisation law from the backend's
//! generator.

use burn::backend::Flex;
use llark_lm::{Llama, LlamaConfig, INITIALIZER_RANGE};

type B = Flex;

fn config() -> LlamaConfig {
    LlamaConfig::from_json_str(
        r#"{"vocab_size": 96, "hidden_size": 32, "intermediate_size": 64,
            "num_hidden_layers": 2, "num_attention_heads": 4}"#,
    )
    .unwrap()
}

#[test]
fn init_builds_every_tensor_with_hf_initialisation() {
    let device = Default::default();
    let fresh = config().init::<B>(&device).unwrap();
    let reference = Llama::<B>::random(config(), 0.1, 0, &device).unwrap();
    let names = |m: &Llama<B>| {
        m.to_hf_tensors()
            .into_iter()
            .map(|(n, d)| (n, d.shape.clone()))
            .collect::<Vec<_>>()
    };
    assert_eq!(names(&fresh), names(&reference));
    for (name, data) in fresh.to_hf_tensors() {
        let values: Vec<f32> = data.to_vec().unwrap();
        if name.ends_with("norm.weight") {
            assert!(values.iter().all(|&v| v == 1.0), "{name}");
        } else {
            let n = values.len() as f64;
            let mean = values.iter().map(|&v| f64::from(v)).sum::<f64>() / n;
            let var = values
                .iter()
                .map(|&v| (f64::from(v) - mean).powi(2))
                .sum::<f64>()
                / n;
            assert!(mean.abs() < 0.01, "{name}: mean {mean}");
            assert!(
                (var.sqrt() - INITIALIZER_RANGE).abs() < 0.004,
                "{name}: std {}",
                var.sqrt()
            );
        }
    }
    // An inconsistent configuration is refused.
    let bad = LlamaConfig {
        num_attention_heads: 5,
        ..config()
    };
    assert!(bad.init::<B>(&device).is_err());
}
