//! Generation: reference greedy ids with and without repetition penalty, seeded sampling, stop
//! ids and strings, streaming, prompts as embeddings, and multi-turn continuation of a cache.

mod common;

use common::*;
use llark_lm::{AttentionMask, GenerationConfig, GenerationHooks, Llama, Prompt, StopReason};

fn prompts(name: &str) -> Vec<Vec<u32>> {
    int_rows(&reference(name), "input_ids")
        .iter()
        .map(|r| r.iter().map(|&v| v as u32).collect())
        .collect()
}

/// The generated part of a reference id tensor.
fn reference_new(name: &str, key: &str) -> Vec<Vec<u32>> {
    let reference = reference(name);
    let prompt_len = int_rows(&reference, "input_ids")[0].len();
    int_rows(&reference, key)
        .iter()
        .map(|r| r[prompt_len..].iter().map(|&v| v as u32).collect())
        .collect()
}

fn run(model: &Llama<B>, prompts: &[Vec<u32>], config: &GenerationConfig) -> Vec<Vec<u32>> {
    model
        .generate(
            Prompt::Ids(prompts.to_vec()),
            config,
            GenerationHooks::default(),
        )
        .unwrap()
        .tokens
}

#[test]
fn repetition_penalty_matches_transformers() {
    let model = load("gqa-theta");
    let expected = reference_new("gqa-theta", "greedy_ids_repetition_penalty");
    let (penalty, _) = reference("gqa-theta")
        .read_f32("repetition_penalty")
        .unwrap();
    let config = GenerationConfig {
        repetition_penalty: penalty[0],
        ..GenerationConfig::greedy(expected[0].len())
    };
    assert_eq!(run(&model, &prompts("gqa-theta"), &config), expected);
    // Without the penalty the continuation differs (the reference greedy ids).
    let plain = reference_new("gqa-theta", "greedy_ids");
    assert_ne!(plain, expected);
    assert_eq!(
        run(
            &model,
            &prompts("gqa-theta"),
            &GenerationConfig::greedy(plain[0].len())
        ),
        plain
    );
}

#[test]
fn degenerate_sampling_equals_greedy_reference() {
    let model = load("llama-tiny");
    let expected = reference_new("llama-tiny", "greedy_ids");
    let n = expected[0].len();
    for config in [
        GenerationConfig {
            do_sample: true,
            top_k: Some(1),
            seed: 3,
            ..GenerationConfig::greedy(n)
        },
        GenerationConfig {
            do_sample: true,
            top_p: Some(1e-6),
            seed: 4,
            ..GenerationConfig::greedy(n)
        },
        GenerationConfig {
            do_sample: true,
            temperature: 1e-3,
            seed: 5,
            ..GenerationConfig::greedy(n)
        },
    ] {
        assert_eq!(
            run(&model, &prompts("llama-tiny"), &config),
            expected,
            "{config:?}"
        );
    }
}

#[test]
fn sampling_is_reproducible_under_a_seed() {
    let model = load("llama-tiny");
    let sample = |seed| GenerationConfig {
        do_sample: true,
        temperature: 1.5,
        top_k: Some(100),
        top_p: Some(0.95),
        seed,
        ..GenerationConfig::greedy(16)
    };
    let p = prompts("llama-tiny");
    let a = run(&model, &p, &sample(7));
    assert_eq!(a, run(&model, &p, &sample(7)));
    assert!((8..12).any(|seed| run(&model, &p, &sample(seed)) != a));
    assert_ne!(a, run(&model, &p, &GenerationConfig::greedy(16)));
    let bad = GenerationConfig {
        do_sample: true,
        temperature: 0.0,
        ..GenerationConfig::greedy(4)
    };
    assert!(model
        .generate(Prompt::Ids(p), &bad, GenerationHooks::default())
        .is_err());
}

#[test]
fn stops_on_eos_and_stop_strings_and_streams_tokens() {
    let model = load("llama-tiny");
    let expected = reference_new("llama-tiny", "greedy_ids");
    let p = prompts("llama-tiny");
    // Row 0 stops at its third token, row 1 runs to the end unless it meets the same id.
    let eos = expected[0][2];
    let config = GenerationConfig {
        eos_token_ids: vec![eos],
        ..GenerationConfig::greedy(expected[0].len())
    };
    let mut streamed: Vec<Vec<u32>> = vec![Vec::new(); 2];
    let mut on_token = |row: usize, id: u32| streamed[row].push(id);
    let out = model
        .generate(
            Prompt::Ids(p.clone()),
            &config,
            GenerationHooks {
                decode: None,
                on_token: Some(&mut on_token),
                cancel: None,
            },
        )
        .unwrap();
    let first_eos = expected[0].iter().position(|&t| t == eos).unwrap();
    assert_eq!(out.tokens[0], expected[0][..=first_eos].to_vec());
    assert_eq!(out.stop_reasons[0], StopReason::Eos);
    let row1_end = expected[1]
        .iter()
        .position(|&t| t == eos)
        .map_or(expected[1].len(), |i| i + 1);
    assert_eq!(out.tokens[1], expected[1][..row1_end].to_vec());
    assert_eq!(streamed, out.tokens);

    // Stop strings are searched in the decoded continuation.
    let decode = |ids: &[u32]| ids.iter().map(|i| format!("<{i}>")).collect::<String>();
    let stop = format!("<{}><{}>", expected[1][1], expected[1][2]);
    let config = GenerationConfig {
        stop_strings: vec![stop],
        ..GenerationConfig::greedy(expected[0].len())
    };
    let out = model
        .generate(
            Prompt::Ids(p.clone()),
            &config,
            GenerationHooks {
                decode: Some(&decode),
                on_token: None,
                cancel: None,
            },
        )
        .unwrap();
    assert_eq!(out.tokens[1], expected[1][..3].to_vec());
    assert_eq!(out.stop_reasons[1], StopReason::StopString);
    // Without a decoder, stop strings are an error.
    assert!(model
        .generate(Prompt::Ids(p), &config, GenerationHooks::default())
        .is_err());
}

#[test]
fn embedding_prompts_equal_id_prompts() {
    let model = load("left-pad");
    let rows = vec![vec![5u32, 9, 11, 200, 31], vec![7u32, 8]];
    let by_ids = run(&model, &rows, &GenerationConfig::greedy(6));
    // Left-pad by hand and pass embeddings.
    let padded = vec![rows[0].clone(), vec![0, 0, 0, 7, 8]];
    let embeds = model.embed_ids(&padded).unwrap();
    let mask = AttentionMask::left_padded(&[5, 2], 5).unwrap();
    let out = model
        .generate(
            Prompt::Embeds {
                embeds,
                mask,
                history: Vec::new(),
            },
            &GenerationConfig::greedy(6),
            GenerationHooks::default(),
        )
        .unwrap();
    assert_eq!(out.tokens, by_ids);
    // Right-padded embeddings are rejected.
    let embeds = model.embed_ids(&padded).unwrap();
    let mask = AttentionMask::right_padded(&[5, 2], 5).unwrap();
    let prompt = Prompt::Embeds {
        embeds,
        mask,
        history: Vec::new(),
    };
    assert!(model
        .generate(
            prompt,
            &GenerationConfig::greedy(2),
            GenerationHooks::default()
        )
        .is_err());
}

#[test]
fn multi_turn_generation_reuses_the_cache() {
    let model = load("gqa-theta");
    let turn1 = vec![vec![10u32, 20, 30, 40], vec![50u32, 60]];
    let turn2 = vec![vec![70u32, 80], vec![90u32, 100, 110]];
    let config = GenerationConfig::greedy(4);
    let mut cache = model.new_cache(2, 4);
    let first = model
        .generate_in_cache(
            Prompt::Ids(turn1.clone()),
            &config,
            &mut cache,
            GenerationHooks::default(),
        )
        .unwrap();
    // Turn 1 prompts are left-padded to 4, then 4 generated tokens are all in the cache.
    assert_eq!(cache.len(), 4 + 4);
    let second = model
        .generate_in_cache(
            Prompt::Ids(turn2.clone()),
            &config,
            &mut cache,
            GenerationHooks::default(),
        )
        .unwrap();
    assert_eq!(cache.len(), 8 + 3 + 4);
    // The same conversation from scratch gives the same answers.
    for row in 0..2 {
        let history: Vec<u32> = [&turn1[row][..], &first.tokens[row], &turn2[row]].concat();
        let fresh = run(&model, &[history], &config);
        assert_eq!(fresh[0], second.tokens[row], "row {row}");
        let fresh1 = run(&model, &[turn1[row].clone()], &config);
        assert_eq!(fresh1[0], first.tokens[row], "row {row}");
    }
}

#[test]
fn a_cancel_hook_stops_generation_after_the_tokens_so_far() {
    let model = load("llama-tiny");
    let p = prompts("llama-tiny");
    let expected = reference_new("llama-tiny", "greedy_ids");
    let count = std::cell::Cell::new(0usize);
    let mut on_token = |_row: usize, _id: u32| count.set(count.get() + 1);
    // Cancel once three tokens (of both rows together) have been chosen.
    let cancel = || count.get() >= 3;
    let out = model
        .generate(
            Prompt::Ids(p),
            &GenerationConfig::greedy(expected[0].len()),
            GenerationHooks {
                decode: None,
                on_token: Some(&mut on_token),
                cancel: Some(&cancel),
            },
        )
        .unwrap();
    assert_eq!(
        out.stop_reasons,
        [StopReason::Cancelled, StopReason::Cancelled]
    );
    assert_eq!(out.tokens[0], expected[0][..2].to_vec());
    assert_eq!(out.tokens[1], expected[1][..2].to_vec());
}
