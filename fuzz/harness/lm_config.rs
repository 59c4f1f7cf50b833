// Harness of the `lm_config` fuzz target (included by `fuzz_targets/lm_config.rs` and by
// `llark-lm/tests/fuzz_corpus.rs`, which replays the corpus on stable).

use llark_lm::{LlamaConfig, RopeKind};

/// Largest head width for which the harness builds the RoPE tables (`head_dim / 2` values).
const MAX_HEAD_DIM: usize = 1 << 16;
/// Largest layer count for which the harness lists the parameters ([`llark_lm::tensor_specs`]).
const MAX_LAYERS: usize = 1 << 10;
/// Largest parameter count (elements) the harness considers plausible: 10^12.
const MAX_PARAMETERS: u128 = 1_000_000_000_000;

/// Parses `data` as a Hugging Face `config.json` with [`LlamaConfig::from_json_str`] (which
/// validates), then uses an accepted configuration the way loading a model does: accessors,
/// RoPE frequencies and the parameter list.
///
/// A configuration that `validate` accepts but that would make later code panic or allocate
/// absurdly is a *concern* ([`concerns`]). Those code paths are skipped for it, so that fuzzing
/// goes on; with `LLARK_FUZZ_STRICT_CONFIG=1` in the environment a concern panics instead, so
/// that the fuzzer reports and minimises such inputs.
pub fn run(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let config = match LlamaConfig::from_json_str(text) {
        Ok(config) => config,
        Err(e) => {
            assert!(!e.to_string().is_empty());
            return;
        }
    };
    let head_dim = config.head_dim();
    let kv = config.num_kv_heads();
    assert!(kv > 0 && config.num_attention_heads % kv == 0);
    assert_eq!(head_dim % 2, 0);
    let _ = config.eos_ids();
    let rope = config
        .rope_kind()
        .expect("validate checked the RoPE scaling");
    let found = concerns(&config, rope);
    if !found.is_empty() && std::env::var_os("LLARK_FUZZ_STRICT_CONFIG").is_some() {
        panic!("validate() accepted a config that later code cannot use: {found:?}");
    }
    // A written config reads back and validates again.
    let json = serde_json::to_string(&config).expect("a config serialises");
    let back = LlamaConfig::from_json_str(&json).expect("a written config reads back");
    assert_eq!(back.head_dim(), head_dim);
    assert_eq!(back.num_hidden_layers, config.num_hidden_layers);
    if found.is_empty() {
        let freqs = llark_lm::rope::inverse_frequencies(&config);
        assert_eq!(freqs.len(), head_dim / 2);
        let specs = llark_lm::tensor_specs(&config);
        assert!(specs.len() > config.num_hidden_layers);
    }
}

/// What `validate` let through that later code cannot use: values that make RoPE tables, norms
/// or parameter shapes meaningless, overflow, or allocate beyond the harness's bounds.
pub fn concerns(config: &LlamaConfig, rope: RopeKind) -> Vec<String> {
    let mut out = Vec::new();
    let mut flag = |ok: bool, what: String| {
        if !ok {
            out.push(what);
        }
    };
    let head_dim = config.head_dim();
    flag(
        config.rope_theta.is_finite() && config.rope_theta > 0.0,
        format!("rope_theta {}", config.rope_theta),
    );
    flag(
        config.rms_norm_eps.is_finite() && config.rms_norm_eps > 0.0,
        format!("rms_norm_eps {}", config.rms_norm_eps),
    );
    flag(
        config.max_position_embeddings > 0,
        "max_position_embeddings 0".into(),
    );
    flag(head_dim > 0, "head_dim 0".into());
    flag(head_dim <= MAX_HEAD_DIM, format!("head_dim {head_dim}"));
    flag(
        config.num_hidden_layers <= MAX_LAYERS,
        format!("num_hidden_layers {}", config.num_hidden_layers),
    );
    let q_out = (config.num_attention_heads as u128) * (head_dim as u128);
    let kv_out = (config.num_kv_heads() as u128) * (head_dim as u128);
    flag(
        q_out <= usize::MAX as u128,
        format!("num_attention_heads * head_dim = {q_out} overflows usize"),
    );
    let (d, f, v) = (
        config.hidden_size as u128,
        config.intermediate_size as u128,
        config.vocab_size as u128,
    );
    let per_layer = d
        .saturating_mul(2 * q_out + 2 * kv_out)
        .saturating_add(d.saturating_mul(f).saturating_mul(3));
    let parameters = v
        .saturating_mul(d)
        .saturating_mul(2)
        .saturating_add(per_layer.saturating_mul(config.num_hidden_layers as u128));
    flag(
        parameters <= MAX_PARAMETERS,
        format!("{parameters} parameters"),
    );
    let positive = |x: f64| x.is_finite() && x > 0.0;
    match rope {
        RopeKind::Default => {}
        RopeKind::Linear { factor } => {
            flag(positive(factor), format!("rope_scaling.factor {factor}"))
        }
        RopeKind::Llama3 {
            factor,
            low_freq_factor,
            high_freq_factor,
            original_max_position_embeddings,
        } => {
            flag(positive(factor), format!("rope_scaling.factor {factor}"));
            flag(
                positive(low_freq_factor) && positive(high_freq_factor),
                format!("rope_scaling low/high_freq_factor {low_freq_factor}/{high_freq_factor}"),
            );
            flag(
                high_freq_factor != low_freq_factor,
                format!("rope_scaling high_freq_factor == low_freq_factor ({low_freq_factor}): division by zero"),
            );
            flag(
                original_max_position_embeddings > 0.0,
                "rope_scaling.original_max_position_embeddings 0".into(),
            );
        }
    }
    out
}
