//! Configuration parsing, strict weight loading with complete error lists, extra tensors for the
//! multimodal model, and vocabulary resizing with mean-initialised rows.

mod common;

use std::collections::HashMap;
use std::path::Path;

use common::*;
use llark_lm::{
    check_weights, Llama, LlamaConfig, LmError, LoadOptions, RopeKind, TokenIds, WeightSource,
};
use llark_tensors::{write_file, FloatDtype, TensorBuf};

/// Copies a fixture to `dst`, rewriting its single weight file with `edit` applied to the tensors.
fn rewrite_fixture(
    src: &Path,
    dst: &Path,
    edit: impl FnOnce(&mut HashMap<String, (Vec<f32>, Vec<usize>)>),
) {
    std::fs::copy(src.join("config.json"), dst.join("config.json")).unwrap();
    let source = WeightSource::open_dir(src).unwrap();
    let mut tensors: HashMap<String, (Vec<f32>, Vec<usize>)> = source
        .names()
        .into_iter()
        .map(|n| {
            let t = source.read_f32(&n).unwrap();
            (n, t)
        })
        .collect();
    edit(&mut tensors);
    let bufs: Vec<(String, TensorBuf)> = tensors
        .into_iter()
        .map(|(n, (v, s))| {
            let buf = TensorBuf::from_f32(&n, &v, s, FloatDtype::F32).unwrap();
            (n, buf)
        })
        .collect();
    let files = bufs.iter().map(|(n, b)| (n.as_str(), b));
    write_file(dst.join("model.safetensors"), files, &Default::default()).unwrap();
}

#[test]
fn config_accepts_llama3_fields_and_unknown_extras() {
    let json = r#"{
        "vocab_size": 128256, "hidden_size": 4096, "intermediate_size": 14336,
        "num_hidden_layers": 32, "num_attention_heads": 32, "num_key_value_heads": 8,
        "rope_theta": 500000.0, "eos_token_id": [128001, 128008, 128009],
        "rope_scaling": {"factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                         "original_max_position_embeddings": 8192, "rope_type": "llama3"},
        "mm_hidden_size": 4800, "mm_projector_type": "linear", "tie_word_embeddings": false
    }"#;
    let config = LlamaConfig::from_json_str(json).unwrap();
    assert_eq!(config.num_kv_heads(), 8);
    assert_eq!(config.head_dim(), 128);
    assert_eq!(config.eos_ids(), vec![128001, 128008, 128009]);
    assert!(
        matches!(config.rope_kind().unwrap(), RopeKind::Llama3 { factor, .. } if factor == 8.0)
    );

    let llama2 = LlamaConfig::from_json_str(
        r#"{"vocab_size": 32000, "hidden_size": 4096, "intermediate_size": 11008,
            "num_hidden_layers": 32, "num_attention_heads": 32, "eos_token_id": 2,
            "rope_scaling": {"type": "linear", "factor": 2.0}}"#,
    )
    .unwrap();
    assert_eq!(llama2.eos_token_id, Some(TokenIds::One(2)));
    assert_eq!(llama2.num_kv_heads(), 32);
    assert_eq!(
        llama2.rope_kind().unwrap(),
        RopeKind::Linear { factor: 2.0 }
    );

    let bad = LlamaConfig::from_json_str(
        r#"{"vocab_size": 8, "hidden_size": 8, "intermediate_size": 8, "num_hidden_layers": 1,
            "num_attention_heads": 2, "rope_scaling": {"rope_type": "yarn", "factor": 2.0}}"#,
    )
    .unwrap_err();
    assert!(bad.to_string().contains("rope_scaling.rope_type"), "{bad}");
    let gqa = LlamaConfig::from_json_str(
        r#"{"vocab_size": 8, "hidden_size": 8, "intermediate_size": 8, "num_hidden_layers": 1,
            "num_attention_heads": 4, "num_key_value_heads": 3}"#,
    )
    .unwrap_err();
    assert!(gqa.to_string().contains("num_key_value_heads"), "{gqa}");
}

#[test]
fn strict_loading_lists_missing_unexpected_and_mis_shaped_tensors() {
    let dir = tempfile::tempdir().unwrap();
    rewrite_fixture(&fixture("llama-tiny"), dir.path(), |t| {
        t.remove("model.layers.1.mlp.up_proj.weight");
        t.remove("model.norm.weight");
        t.insert("model.extra.weight".into(), (vec![0.0; 4], vec![4]));
        let (v, _) = t.remove("model.layers.0.self_attn.k_proj.weight").unwrap();
        t.insert(
            "model.layers.0.self_attn.k_proj.weight".into(),
            (v[..64 * 32].to_vec(), vec![32, 64]),
        );
    });
    let err = Llama::<B>::from_pretrained(dir.path(), &Default::default()).unwrap_err();
    let LmError::WeightMismatch {
        missing,
        unexpected,
        mis_shaped,
        ..
    } = &err
    else {
        panic!("expected a weight mismatch, got {err}");
    };
    assert_eq!(
        missing,
        &vec![
            "model.layers.1.mlp.up_proj.weight".to_string(),
            "model.norm.weight".to_string()
        ]
    );
    assert_eq!(unexpected, &vec!["model.extra.weight".to_string()]);
    assert_eq!(mis_shaped.len(), 1);
    assert!(mis_shaped[0].starts_with("model.layers.0.self_attn.k_proj.weight"));
    let message = err.to_string();
    for name in [
        "up_proj",
        "model.norm.weight",
        "model.extra.weight",
        "k_proj",
    ] {
        assert!(message.contains(name), "{message}");
    }
}

#[test]
fn extra_prefixes_are_allowed_on_request_and_readable() {
    let dir = tempfile::tempdir().unwrap();
    let projector: Vec<f32> = (0..6).map(|i| i as f32 * 0.5).collect();
    let p = projector.clone();
    rewrite_fixture(&fixture("llama-tiny"), dir.path(), move |t| {
        t.insert("model.mm_projector.weight".into(), (p, vec![2, 3]));
    });
    assert!(Llama::<B>::from_pretrained(dir.path(), &Default::default()).is_err());

    let source = WeightSource::open_dir(dir.path()).unwrap();
    let config = LlamaConfig::from_file(dir.path().join("config.json")).unwrap();
    let options = LoadOptions::allowing_prefixes(["model.mm_projector."]);
    check_weights(&config, &source, &options).unwrap();
    let model = Llama::<B>::from_source(config, &source, &options, &Default::default()).unwrap();
    let w = source
        .tensor_shaped::<B, 2>("model.mm_projector.weight", [2, 3], &Default::default())
        .unwrap();
    assert_eq!(to_vec(w), projector);
    assert!(source
        .tensor_shaped::<B, 2>("model.mm_projector.weight", [3, 2], &Default::default())
        .is_err());
    // The model loaded next to the extra tensor still matches the reference.
    let report =
        llark_lm::parity::check_model(&model, &fixture("llama-tiny"), &Default::default()).unwrap();
    assert!(report.passed, "{report}");
}

#[test]
fn sharded_index_is_used_and_missing_directory_is_an_error() {
    let source = WeightSource::open_dir(fixture("sharded-bf16")).unwrap();
    assert!(source
        .description()
        .contains("model-00001-of-00003.safetensors"));
    assert_eq!(source.meta("model.norm.weight").unwrap().dtype, "BF16");
    let err = WeightSource::open_dir(fixture("does-not-exist")).unwrap_err();
    assert!(err.to_string().contains("does-not-exist"), "{err}");
}

fn mean_rows(values: &[f32], rows: usize, cols: usize) -> Vec<f32> {
    let mut mean = vec![0.0f64; cols];
    for r in 0..rows {
        for c in 0..cols {
            mean[c] += values[r * cols + c] as f64;
        }
    }
    mean.iter().map(|m| (m / rows as f64) as f32).collect()
}

#[test]
fn resize_initialises_new_rows_to_the_mean() {
    for (name, tied) in [("llama-tiny", false), ("rope-llama3-tied", true)] {
        let model = load(name);
        let source = WeightSource::open_dir(fixture(name)).unwrap();
        let (old, shape) = source.read_f32("model.embed_tokens.weight").unwrap();
        let (vocab, d) = (shape[0], shape[1]);
        let model = model.resize_token_embeddings(vocab + 3).unwrap();
        assert_eq!(model.vocab_size(), vocab + 3);
        let embed = to_vec(model.embed_tokens.val());
        assert_eq!(&embed[..vocab * d], &old[..]);
        let mean = mean_rows(&old, vocab, d);
        for r in vocab..vocab + 3 {
            assert!(max_abs_diff(&embed[r * d..(r + 1) * d], &mean) <= 1e-6);
        }
        if tied {
            assert!(model.lm_head.is_none());
        } else {
            let (old_head, _) = source.read_f32("lm_head.weight").unwrap();
            let head = to_vec(model.lm_head.as_ref().unwrap().val());
            assert_eq!(&head[..vocab * d], &old_head[..]);
            let head_mean = mean_rows(&old_head, vocab, d);
            assert!(max_abs_diff(&head[vocab * d..(vocab + 1) * d], &head_mean) <= 1e-6);
        }
        // Logits grow with the vocabulary and old entries are unchanged.
        let logits = model
            .forward(ids_tensor(&[vec![5, 6, 7]]), None, None)
            .unwrap();
        assert_eq!(logits.dims(), [1, 3, vocab + 3]);
        // The new ids can be embedded.
        assert!(model.embed_ids(&[vec![(vocab + 2) as u32]]).is_ok());
        let shrunk = model.resize_token_embeddings(vocab).unwrap();
        assert_eq!(shrunk.embed_tokens.dims(), [vocab, d]);
    }
}

#[test]
fn saved_model_reloads_and_keeps_parity() {
    for name in ["llama-tiny", "rope-llama3-tied"] {
        let model = load(name);
        let dir = tempfile::tempdir().unwrap();
        std::fs::copy(
            fixture(name).join("config.json"),
            dir.path().join("config.json"),
        )
        .unwrap();
        llark_lm::write_safetensors(
            dir.path().join("model.safetensors"),
            &model.to_hf_tensors(),
            llark_lm::SaveDtype::F32,
        )
        .unwrap();
        std::fs::copy(
            fixture(name).join("reference.safetensors"),
            dir.path().join("reference.safetensors"),
        )
        .unwrap();
        let report = llark_lm::check_fixture::<B>(dir.path(), &Default::default()).unwrap();
        assert!(report.passed, "{report}");
        // bf16 storage rounds the weights: still loads strictly, logits move only slightly.
        llark_lm::write_safetensors(
            dir.path().join("model.safetensors"),
            &model.to_hf_tensors(),
            llark_lm::SaveDtype::Bf16,
        )
        .unwrap();
        let source = WeightSource::open_dir(dir.path()).unwrap();
        assert_eq!(source.meta("model.norm.weight").unwrap().dtype, "BF16");
        let report = llark_lm::check_fixture::<B>(dir.path(), &Default::default()).unwrap();
        assert!(report.max_abs_err < 0.2, "{report}");
    }
}
