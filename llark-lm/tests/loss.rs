//! The causal-LM loss equals transformers' (fixtures with -100 labels and right padding) and can
//! be differentiated on an autodiff backend.

mod common;

use burn::backend::{Autodiff, Flex};
use burn::tensor::{Int, Tensor, TensorData};
use common::*;
use llark_lm::{causal_lm_loss, AttentionMask, Llama};

type AD = Autodiff<Flex>;

/// The label value of transformers' fixtures that the loss skips.
const IGNORED: i64 = -100;

fn loss_inputs(name: &str) -> (Vec<Vec<i64>>, Vec<Vec<i64>>, AttentionMask, f32) {
    let reference = reference(name);
    let ids = int_rows(&reference, "loss_input_ids");
    let labels = int_rows(&reference, "loss_labels");
    let mask_rows = int_rows(&reference, "loss_attention_mask");
    let mask = mask_from_rows(&mask_rows);
    let (loss, _) = reference.read_f32("loss").unwrap();
    (ids, labels, mask, loss[0])
}

fn int2<Bk: burn::tensor::backend::Backend>(rows: &[Vec<i64>]) -> Tensor<Bk, 2, Int> {
    Tensor::from_data(
        TensorData::new(rows.concat(), [rows.len(), rows[0].len()]),
        &Default::default(),
    )
}

#[test]
fn loss_matches_transformers_and_backpropagates() {
    for name in ["gqa-theta", "rope-llama3-tied"] {
        let (ids, labels, mask, expected) = loss_inputs(name);
        let model = Llama::<AD>::from_pretrained(fixture(name), &Default::default()).unwrap();
        let logits = model.forward(int2::<AD>(&ids), Some(&mask), None).unwrap();
        let loss = causal_lm_loss(logits, int2::<AD>(&labels), IGNORED).unwrap();
        let value: f32 = loss.clone().into_scalar();
        assert!(
            (value - expected).abs() <= 1e-5,
            "{name}: {value} vs {expected}"
        );
        let grads = loss.backward();
        let g = model.embed_tokens.grad(&grads).expect("embedding gradient");
        let g: Vec<f32> = g.into_data().convert::<f32>().into_vec().unwrap();
        assert!(g.iter().all(|x| x.is_finite()));
        assert!(g.iter().any(|&x| x != 0.0));
        let norm_grad = model.layers[0].input_layernorm.weight.grad(&grads);
        assert!(norm_grad.is_some());
    }
}

#[test]
fn ignored_positions_do_not_count() {
    let (ids, labels, mask, expected) = loss_inputs("gqa-theta");
    let model = load("gqa-theta");
    let logits = model.forward(int2::<B>(&ids), Some(&mask), None).unwrap();
    // Changing the ids under ignored labels of the last row's padding does not change the loss.
    let mut relabelled = labels.clone();
    relabelled[0][0] = 17; // position 0 is never a target (labels are shifted)
    let a: f32 = causal_lm_loss(logits.clone(), int2::<B>(&labels), IGNORED)
        .unwrap()
        .into_scalar();
    let b: f32 = causal_lm_loss(logits.clone(), int2::<B>(&relabelled), IGNORED)
        .unwrap()
        .into_scalar();
    assert_eq!(a, b);
    assert!((a - expected).abs() <= 1e-5);
    let all_ignored = vec![vec![IGNORED; ids[0].len()]; ids.len()];
    let nan: f32 = causal_lm_loss(logits.clone(), int2::<B>(&all_ignored), IGNORED)
        .unwrap()
        .into_scalar();
    assert!(nan.is_nan());
    let mut invalid = labels.clone();
    invalid[0][5] = 100_000;
    assert!(causal_lm_loss(logits, int2::<B>(&invalid), IGNORED).is_err());
}
