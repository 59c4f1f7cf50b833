//! The multimodal `Llark` against transformers' Llama + LLark's projector and splice
//! (`tools/reference/llark_fixtures.py`): logits within 1e-4, greedy continuations exact, loss
//! within 1e-5.

use std::path::Path;

use burn::backend::Flex;
use llark::parity::check_llark_fixture;

#[test]
fn llark_fixtures_match_the_reference() {
    for name in ["llark-tiny", "llark-tiny-two-clips", "llark-tiny-mlp"] {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/llark")
            .join(name);
        let report = check_llark_fixture::<Flex>(&dir, &Default::default()).unwrap();
        assert!(report.passed, "{report}");
        assert!(
            report.compared_logits > 0 && report.loss.is_some(),
            "{report}"
        );
        assert!(report.max_abs_err <= 1e-4, "{report}");
    }
}

#[test]
fn a_wrong_projector_fails_parity() {
    // The same fixture with the projector's bias changed must fail: the check can fail.
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/llark/llark-tiny");
    let dir = tempfile::tempdir().unwrap();
    for file in ["config.json", "reference.safetensors"] {
        std::fs::copy(source.join(file), dir.path().join(file)).unwrap();
    }
    let device = Default::default();
    let mut model = llark::Llark::<Flex>::from_pretrained(&source, &device).unwrap();
    let mut weights = model.projector.to_torch_weights();
    for (name, data) in &mut weights {
        if name.ends_with("bias") {
            let values: Vec<f32> = data
                .to_vec::<f32>()
                .unwrap()
                .iter()
                .map(|v| v + 0.01)
                .collect();
            *data = burn::tensor::TensorData::new(values, data.shape.clone());
        }
    }
    let map = weights.into_iter().collect();
    model.projector =
        llark::projector::Projector::from_torch_weights(&model.config().projector(), &map, &device)
            .unwrap();
    model.save(dir.path()).unwrap();
    let report = check_llark_fixture::<Flex>(dir.path(), &device).unwrap();
    assert!(!report.passed, "{report}");
}
