//! Projectors against PyTorch modules (`nn.Linear` as LLark, LLaVA's `mlp2x_gelu`).

mod common;

use std::collections::HashMap;

use burn::backend::Flex;
use burn::tensor::{Tensor, TensorData};
use llark_projector::{Projector, ProjectorConfig, ProjectorError, ProjectorKind};

fn weights_of(fixture: &HashMap<String, TensorData>, kind: &str) -> HashMap<String, TensorData> {
    fixture
        .iter()
        .filter_map(|(k, v)| {
            k.strip_prefix(&format!("{kind}."))
                .filter(|name| name.starts_with("model."))
                .map(|name| (name.to_string(), v.clone()))
        })
        .collect()
}

#[test]
fn projectors_match_pytorch() {
    let fixture = common::read_fixture("projectors.safetensors");
    let device = Default::default();
    for (kind, name) in [
        (ProjectorKind::Linear, "linear"),
        (ProjectorKind::Mlp2xGelu, "mlp2x_gelu"),
    ] {
        let config = ProjectorConfig::new(kind, 12, 8);
        let weights = weights_of(&fixture, name);
        assert_eq!(weights.len(), config.weight_shapes().len());
        let projector = Projector::<Flex>::from_torch_weights(&config, &weights, &device).unwrap();
        assert_eq!(projector.config(), config);
        let input =
            Tensor::<Flex, 3>::from_data(fixture[&format!("{name}.input")].clone(), &device);
        let output = projector.forward(input).into_data();
        let err = common::max_abs_diff(&output, &fixture[&format!("{name}.output")]);
        assert!(err <= 1e-5, "{name}: max abs err {err}");

        // Saving gives back the checkpoint tensors bit for bit.
        for (tensor_name, data) in projector.to_torch_weights() {
            assert_eq!(data, weights[&tensor_name], "{name}: {tensor_name}");
        }
    }
}

#[test]
fn missing_and_misshaped_weights_are_named() {
    let fixture = common::read_fixture("projectors.safetensors");
    let device = Default::default();
    let config = ProjectorConfig::new(ProjectorKind::Linear, 12, 8);
    let mut weights = weights_of(&fixture, "linear");
    weights.remove("model.mm_projector.bias");
    let err = Projector::<Flex>::from_torch_weights(&config, &weights, &device).unwrap_err();
    assert_eq!(
        err,
        ProjectorError::MissingWeight("model.mm_projector.bias".into())
    );
    let wrong = ProjectorConfig::new(ProjectorKind::Linear, 13, 8);
    let weights = weights_of(&fixture, "linear");
    let err = Projector::<Flex>::from_torch_weights(&wrong, &weights, &device).unwrap_err();
    assert!(
        matches!(&err, ProjectorError::Shape { what, .. } if what == "model.mm_projector.weight"),
        "{err}"
    );
}

#[test]
fn config_serialises_with_llava_names() {
    let config = ProjectorConfig::new(ProjectorKind::Mlp2xGelu, 4800, 4096);
    let json = serde_json::to_string(&config).unwrap();
    assert_eq!(
        json,
        r#"{"kind":"mlp2x_gelu","mm_hidden_size":4800,"hidden_size":4096}"#
    );
    let back: ProjectorConfig = serde_json::from_str(&json).unwrap();
    assert_eq!(back, config);
    let linear: ProjectorKind = serde_json::from_str(r#""linear""#).unwrap();
    assert_eq!(linear, ProjectorKind::Linear);
}
