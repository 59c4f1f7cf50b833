//! The multimodal `Llark` against transformers' Llama + LLark's projector and splice
//! (`tools/reference/llark_fixtures.py`): logits within 1e-4, greedy continuations exact, loss
//! within 1e-5.

use std::path::Path;

use burn::backend::Flex;
use llark::lm::{quantize_checkpoint, LoadOptions, WeightDtype};
use llark::parity::{check_llark_fixture, check_llark_fixture_with_dtype};
use llark::projector::PROJECTOR_PREFIX;

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

#[test]
fn packed_language_models_keep_close_to_the_reference() {
    // (dtype, largest max-abs logit error): the fixtures' f32 weights rounded or quantised
    // (measured 1.0-1.6e-2, 1.2-1.7e-3 and 3.0-5.2e-2).
    for (dtype, tolerance) in [
        (WeightDtype::Bf16, 2e-2),
        (WeightDtype::F16, 1e-2),
        (WeightDtype::Int8, 0.1),
    ] {
        for name in ["llark-tiny", "llark-tiny-two-clips", "llark-tiny-mlp"] {
            let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/fixtures/llark")
                .join(name);
            let report =
                check_llark_fixture_with_dtype::<Flex>(&dir, dtype, &Default::default()).unwrap();
            println!("{dtype}: {report}");
            assert!(report.compared_logits > 0, "{report}");
            assert!(report.max_abs_err <= tolerance, "{dtype} {report}");
        }
    }
}

#[test]
fn an_int8_copy_of_an_llark_checkpoint_loads_with_its_projector() {
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/llark/llark-tiny");
    let out = tempfile::tempdir().unwrap();
    let options = LoadOptions::allowing_prefixes([format!("{PROJECTOR_PREFIX}.")]);
    let report = quantize_checkpoint(&source, out.path(), 8, &options).unwrap();
    assert!(report.quantised > 0 && report.copied > 0, "{report:?}");
    // The reference file is among the copied files, so the copy is a fixture of its own.
    assert!(out.path().join("reference.safetensors").exists());
    let device = Default::default();
    let int8 =
        check_llark_fixture_with_dtype::<Flex>(out.path(), WeightDtype::Int8, &device).unwrap();
    let dense = check_llark_fixture::<Flex>(&source, &device).unwrap();
    println!("int8 copy: {int8}");
    assert!(int8.max_abs_err <= 0.1, "{int8}");
    let original = llark::Llark::<Flex>::from_pretrained(&source, &device).unwrap();
    let copy =
        llark::Llark::<Flex>::from_pretrained_with_dtype(out.path(), WeightDtype::Int8, &device)
            .unwrap();
    assert_eq!(
        original.projector.to_torch_weights(),
        copy.projector.to_torch_weights(),
        "the projector is copied as stored"
    );
    assert!(dense.passed, "{dense}");
}
