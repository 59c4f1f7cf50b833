//! Replays the corpus of the `lm_config` fuzz target (`fuzz/`) on stable: the harness is the fuzz
//! target's own body, `fuzz/harness/lm_config.rs`. `write_seeds` (ignored) writes the target's
//! seed inputs.

mod harness {
    include!("../../fuzz/harness/lm_config.rs");
}
mod replay {
    include!("../../fuzz/harness/replay.rs");
}

#[test]
fn lm_config_corpus_replays() {
    let n = replay::replay("lm_config", harness::run);
    assert!(n > 0);
}

#[test]
#[ignore = "writes fuzz/seeds/lm_config; run by hand"]
fn write_seeds() {
    let llama2 = serde_json::to_vec_pretty(&llark_lm::LlamaConfig::llama2_7b()).unwrap();
    // As Hugging Face writes them (extra fields included).
    let hf_llama2 = br#"{
  "architectures": ["LlamaForCausalLM"],
  "bos_token_id": 1,
  "eos_token_id": 2,
  "hidden_act": "silu",
  "hidden_size": 4096,
  "initializer_range": 0.02,
  "intermediate_size": 11008,
  "max_position_embeddings": 4096,
  "model_type": "llama",
  "num_attention_heads": 32,
  "num_hidden_layers": 32,
  "num_key_value_heads": 32,
  "pretraining_tp": 1,
  "rms_norm_eps": 1e-05,
  "rope_scaling": null,
  "tie_word_embeddings": false,
  "torch_dtype": "float16",
  "transformers_version": "4.31.0.dev0",
  "use_cache": true,
  "vocab_size": 32000
}"#
    .to_vec();
    let llama3 = br#"{"vocab_size": 128256, "hidden_size": 64, "intermediate_size": 128,
"num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2, "head_dim": 16,
"max_position_embeddings": 131072, "rms_norm_eps": 1e-5, "rope_theta": 500000.0,
"rope_scaling": {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
"high_freq_factor": 4.0, "original_max_position_embeddings": 8192},
"tie_word_embeddings": true, "eos_token_id": [128001, 128008, 128009], "bos_token_id": 128000}"#
        .to_vec();
    let linear = br#"{"vocab_size": 32, "hidden_size": 8, "intermediate_size": 16,
"num_hidden_layers": 1, "num_attention_heads": 2, "rope_scaling": {"type": "linear", "factor": 2.0},
"attention_bias": true, "mlp_bias": true, "pad_token_id": 0}"#
        .to_vec();
    replay::write_seeds(
        "lm_config",
        &[
            ("llama2-7b.json", llama2),
            ("hf-llama2-7b.json", hf_llama2),
            ("llama3-scaling.json", llama3),
            ("tiny-linear.json", linear),
        ],
    );
}
