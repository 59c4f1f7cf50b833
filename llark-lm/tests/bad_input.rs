//! Configurations, weights and prompts that must be refused with a typed error before they can
//! allocate absurdly, answer silently wrong or run past the context.

mod common;

use burn::tensor::{Tensor, TensorData};
use common::*;
use llark_lm::{
    AttentionMask, GenerationConfig, GenerationHooks, Llama, LlamaConfig, LmError, Prompt,
    WeightSource,
};

const BASE: &str = r#""vocab_size": 64, "hidden_size": 16, "intermediate_size": 32,
    "num_hidden_layers": 1, "num_attention_heads": 2"#;

fn config_with(extra: &str) -> Result<LlamaConfig, LmError> {
    LlamaConfig::from_json_str(&format!("{{{BASE}{extra}}}"))
}

fn refused_field(extra: &str) -> String {
    match config_with(extra) {
        Err(LmError::ConfigValue { field, .. }) => field,
        other => panic!("{extra}: expected a ConfigValue error, got {other:?}"),
    }
}

#[test]
fn impossible_configs_are_refused_with_the_field() {
    assert!(config_with("").is_ok());
    for (extra, field) in [
        (r#", "rope_theta": 0"#, "rope_theta"),
        (r#", "rope_theta": -10000"#, "rope_theta"),
        (r#", "rms_norm_eps": -1e-6"#, "rms_norm_eps"),
        (r#", "rms_norm_eps": 0"#, "rms_norm_eps"),
        (
            r#", "max_position_embeddings": 0"#,
            "max_position_embeddings",
        ),
        (
            r#", "rope_scaling": {"rope_type": "linear", "factor": 0}"#,
            "rope_scaling.factor",
        ),
        (
            r#", "rope_scaling": {"rope_type": "llama3", "factor": 8, "low_freq_factor": 4,
                "high_freq_factor": 1, "original_max_position_embeddings": 8192}"#,
            "rope_scaling.high_freq_factor",
        ),
        (r#", "num_key_value_heads": 0"#, "num_key_value_heads"),
    ] {
        assert_eq!(refused_field(extra), field, "{extra}");
    }
    // Sizes that would allocate before any weight is read are bounded.
    let huge = r#"{"vocab_size": 64, "hidden_size": 16, "intermediate_size": 32,
        "num_hidden_layers": 1000000000000, "num_attention_heads": 2}"#;
    assert!(matches!(
        LlamaConfig::from_json_str(huge),
        Err(LmError::ConfigValue { field, .. }) if field == "num_hidden_layers"
    ));
    let wide = r#"{"vocab_size": 64, "hidden_size": 1000000000, "intermediate_size": 32,
        "num_hidden_layers": 1, "num_attention_heads": 2}"#;
    assert!(matches!(
        LlamaConfig::from_json_str(wide),
        Err(LmError::ConfigValue { field, .. }) if field == "hidden_size"
    ));
}

#[test]
fn nan_weights_are_refused_naming_the_tensor() {
    let dir = tempfile::tempdir().unwrap();
    let src = fixture("llama-tiny");
    std::fs::copy(src.join("config.json"), dir.path().join("config.json")).unwrap();
    let model = load("llama-tiny");
    let mut tensors = model.to_hf_tensors();
    let (name, data) = tensors
        .iter_mut()
        .find(|(n, _)| n.ends_with("layers.0.mlp.up_proj.weight"))
        .unwrap();
    let mut values: Vec<f32> = data.to_vec().unwrap();
    values[5] = f32::NAN;
    *data = TensorData::new(values, data.shape.clone());
    let name = name.clone();
    llark_lm::write_safetensors(
        dir.path().join("model.safetensors"),
        &tensors,
        llark_lm::SaveDtype::F32,
    )
    .unwrap();
    match Llama::<B>::from_pretrained(dir.path(), &Default::default()) {
        Err(LmError::NonFiniteWeight {
            name: bad, index, ..
        }) => {
            assert_eq!(bad, name);
            assert_eq!(index, 5);
        }
        Err(e) => panic!("expected NonFiniteWeight, got {e}"),
        Ok(_) => panic!("NaN weights loaded"),
    }
    // Reading the same tensor directly still works (the check is on the way into the model).
    let source = WeightSource::open_dir(dir.path()).unwrap();
    assert!(source.read_f32(&name).unwrap().0[5].is_nan());
}

#[test]
fn prompts_longer_than_the_context_are_refused() {
    let model = load("llama-tiny");
    let context = model.config.max_position_embeddings;
    let long = vec![vec![1u32; context + 1]];
    let err = model
        .generate(
            Prompt::Ids(long),
            &GenerationConfig::greedy(4),
            GenerationHooks::default(),
        )
        .unwrap_err();
    assert!(
        matches!(err, LmError::PromptTooLong { tokens, context: c } if tokens == context + 1 && c == context),
        "{err}"
    );
    // A prompt that fits stops when the context is full, however many tokens were asked for.
    let fits = vec![vec![1u32; context - 2]];
    let out = model
        .generate(
            Prompt::Ids(fits),
            &GenerationConfig::greedy(usize::MAX),
            GenerationHooks::default(),
        )
        .unwrap();
    assert!(out.tokens[0].len() <= 3, "{}", out.tokens[0].len());
}

#[test]
fn non_finite_logits_stop_generation_with_an_error() {
    let model = load("llama-tiny");
    let hidden = model.config.hidden_size;
    let mut values = vec![0.01f32; 3 * hidden];
    values[hidden + 1] = f32::NAN;
    let embeds =
        Tensor::<B, 3>::from_data(TensorData::new(values, [1, 3, hidden]), &Default::default());
    let prompt = Prompt::Embeds {
        embeds,
        mask: AttentionMask::from_rows(vec![vec![true; 3]]).unwrap(),
        history: Vec::new(),
    };
    let err = model
        .generate(
            prompt,
            &GenerationConfig::greedy(4),
            GenerationHooks::default(),
        )
        .unwrap_err();
    assert!(matches!(err, LmError::NonFiniteLogits { step: 0 }), "{err}");
}
