//! The KV cache and padding must not change results: decoding token by token equals the full
//! forward pass (and the transformers logits), and a left-padded batch equals single sequences.

mod common;

use common::*;
use llark_lm::{AttentionMask, GenerationConfig, GenerationHooks, Prompt};

#[test]
fn cached_decoding_equals_full_forward_and_reference() {
    let model = load("gqa-theta");
    let reference = reference("gqa-theta");
    let rows = int_rows(&reference, "input_ids");
    let (expected, shape) = reference.read_f32("logits").unwrap();
    let (batch, len, vocab) = (shape[0], shape[1], shape[2]);

    let full = to_vec(model.forward(ids_tensor(&rows), None, None).unwrap());
    // Prefill 5 positions, then one at a time (blocks are merged along the way).
    let mut cache = model.new_cache(batch, 3);
    let prefix: Vec<Vec<i64>> = rows.iter().map(|r| r[..5].to_vec()).collect();
    let mut pieces = vec![to_vec(
        model
            .forward(ids_tensor(&prefix), None, Some(&mut cache))
            .unwrap(),
    )];
    for t in 5..len {
        let step: Vec<Vec<i64>> = rows.iter().map(|r| vec![r[t]]).collect();
        pieces.push(to_vec(
            model
                .forward(ids_tensor(&step), None, Some(&mut cache))
                .unwrap(),
        ));
    }
    assert_eq!(cache.len(), len);
    // A binary-counter layout: at most log2(len) + 1 blocks.
    assert!(cache.blocks() >= 1 && cache.blocks() <= len.ilog2() as usize + 1);
    // Reassemble [B, T, V] from the pieces.
    let mut cached = vec![0.0f32; batch * len * vocab];
    let mut t0 = 0;
    for piece in &pieces {
        let steps = piece.len() / (batch * vocab);
        for b in 0..batch {
            for s in 0..steps {
                let src = (b * steps + s) * vocab;
                let dst = (b * len + t0 + s) * vocab;
                cached[dst..dst + vocab].copy_from_slice(&piece[src..src + vocab]);
            }
        }
        t0 += steps;
    }
    assert!(max_abs_diff(&cached, &full) <= 1e-5);
    assert!(max_abs_diff(&cached, &expected) <= 1e-4);
}

#[test]
fn left_padded_batch_equals_single_sequences() {
    let model = load("left-pad");
    let reference = reference("left-pad");
    let rows = int_rows(&reference, "input_ids");
    let mask_rows = int_rows(&reference, "attention_mask");
    let (_, shape) = reference.read_f32("logits").unwrap();
    let (len, vocab) = (shape[1], shape[2]);
    let mask = mask_from_rows(&mask_rows);
    let batched = to_vec(model.forward(ids_tensor(&rows), Some(&mask), None).unwrap());
    let prompts: Vec<Vec<u32>> = rows
        .iter()
        .zip(&mask_rows)
        .map(|(r, m)| {
            r.iter()
                .zip(m)
                .filter(|(_, &m)| m != 0)
                .map(|(&id, _)| id as u32)
                .collect()
        })
        .collect();
    let config = GenerationConfig::greedy(6);
    let batch_out = model
        .generate(
            Prompt::Ids(prompts.clone()),
            &config,
            GenerationHooks::default(),
        )
        .unwrap();
    for (b, prompt) in prompts.iter().enumerate() {
        let single_ids = vec![prompt.iter().map(|&v| v as i64).collect::<Vec<_>>()];
        let single = to_vec(model.forward(ids_tensor(&single_ids), None, None).unwrap());
        let pad = len - prompt.len();
        let batched_row = &batched[(b * len + pad) * vocab..(b + 1) * len * vocab];
        assert!(max_abs_diff(batched_row, &single) <= 1e-5, "row {b}");
        let single_out = model
            .generate(
                Prompt::Ids(vec![prompt.clone()]),
                &config,
                GenerationHooks::default(),
            )
            .unwrap();
        assert_eq!(batch_out.tokens[b], single_out.tokens[0], "row {b}");
    }
}

#[test]
fn mismatched_mask_and_cache_are_errors() {
    let model = load("llama-tiny");
    let ids = ids_tensor(&[vec![3, 4, 5]]);
    let mask = AttentionMask::ones(1, 2);
    assert!(model.forward(ids.clone(), Some(&mask), None).is_err());
    let mut cache = model.new_cache(2, 8);
    assert!(model.forward(ids.clone(), None, Some(&mut cache)).is_err());
    assert!(model
        .forward(ids_tensor(&[vec![3, 9999]]), None, None)
        .is_err());
}

#[test]
fn truncated_cache_continues_like_a_fresh_one() {
    let model = load("gqa-theta");
    let rows = int_rows(&reference("gqa-theta"), "input_ids");
    let mut cache = model.new_cache(rows.len(), 16);
    model
        .forward(ids_tensor(&rows), None, Some(&mut cache))
        .unwrap();
    for t in 0..5 {
        let step: Vec<Vec<i64>> = rows.iter().map(|r| vec![r[t]]).collect();
        model
            .forward(ids_tensor(&step), None, Some(&mut cache))
            .unwrap();
    }
    // Rewind into the middle of a block, then feed the rest of the prompt again.
    cache.truncate(7);
    assert_eq!(cache.len(), 7);
    let rest: Vec<Vec<i64>> = rows.iter().map(|r| r[7..].to_vec()).collect();
    let resumed = to_vec(
        model
            .forward(ids_tensor(&rest), None, Some(&mut cache))
            .unwrap(),
    );
    let full = to_vec(model.forward(ids_tensor(&rows), None, None).unwrap());
    let (b, len) = (rows.len(), rows[0].len());
    let vocab = full.len() / (b * len);
    let tail = len - 7;
    for row in 0..b {
        let ours = &resumed[row * tail * vocab..(row + 1) * tail * vocab];
        let theirs = &full[(row * len + 7) * vocab..(row + 1) * len * vocab];
        assert!(max_abs_diff(ours, theirs) <= 1e-5, "row {row}");
    }
}
