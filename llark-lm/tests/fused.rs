//! The fused kernels of `llark_lm::fused` against burn's generic compositions on burn-flex, with
//! and without autodiff: values and the gradients of every input.

use burn::backend::{Autodiff, Flex};
use burn::tensor::{backend::Backend, Tensor, TensorData};
use llark_lm::fused::{self, generic};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

type Grad = Autodiff<Flex>;

/// Values in `[-4, 4)` from a seeded generator of the test's own (burn's backend generator is
/// shared by the tests running in parallel).
fn random<B: Backend, const D: usize>(shape: [usize; D], seed: u64) -> Tensor<B, D> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let n: usize = shape.iter().product();
    let data: Vec<f32> = (0..n).map(|_| rng.random_range(-4.0..4.0)).collect();
    Tensor::from_data(TensorData::new(data, shape), &Default::default())
}

fn values<B: Backend, const D: usize>(t: Tensor<B, D>) -> Vec<f32> {
    t.into_data()
        .convert::<f32>()
        .into_vec()
        .expect("f32 values")
}

/// The largest absolute difference, after checking the lengths match.
fn max_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    assert!(!a.is_empty());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

/// A loss that weights every output differently, so each gradient element matters.
fn weighted_sum<const D: usize>(y: Tensor<Grad, D>, seed: u64) -> Tensor<Grad, 1> {
    let w: Tensor<Grad, D> = random(y.dims(), seed);
    (y * w).sum()
}

/// Tolerances of a comparison: values, the first input's gradient, the second's.
struct Tolerances(f32, f32, f32);

/// Runs a two-input operation fused and generic on the same inputs, each tracked as asked, and
/// checks the values and each tracked input's gradient; an untracked input gets no gradient.
fn check_pair<const D: usize, const E: usize, const F: usize>(
    (a0, b0): (Tensor<Grad, D>, Tensor<Grad, E>),
    (a_on, b_on): (bool, bool),
    fused_op: impl Fn(Tensor<Grad, D>, Tensor<Grad, E>) -> Tensor<Grad, F>,
    generic_op: impl Fn(Tensor<Grad, D>, Tensor<Grad, E>) -> Tensor<Grad, F>,
    tol: Tolerances,
) {
    fn track<const R: usize>(t: Tensor<Grad, R>, on: bool) -> Tensor<Grad, R> {
        if on {
            t.require_grad()
        } else {
            t
        }
    }
    let (aa, ab) = (track(a0.clone(), a_on), track(a0, a_on));
    let (ba, bb) = (track(b0.clone(), b_on), track(b0, b_on));
    let ya = fused_op(aa.clone(), ba.clone());
    let yb = generic_op(ab.clone(), bb.clone());
    let d = max_diff(&values(ya.clone()), &values(yb.clone()));
    assert!(d < tol.0, "values: {d}");
    let (ga, gb) = (
        weighted_sum(ya, 99).backward(),
        weighted_sum(yb, 99).backward(),
    );
    let first = (aa.grad(&ga), ab.grad(&gb));
    let second = (ba.grad(&ga), bb.grad(&gb));
    for ((fused_grad, generic_grad), on, limit) in [
        ((first.0.map(values), first.1.map(values)), a_on, tol.1),
        ((second.0.map(values), second.1.map(values)), b_on, tol.2),
    ] {
        match (fused_grad, generic_grad) {
            (Some(x), Some(y)) => {
                assert!(on);
                let d = max_diff(&x, &y);
                assert!(d < limit, "gradient: {d}");
            }
            (None, None) => assert!(!on),
            _ => panic!("the fused and generic operations disagree on which inputs get gradients"),
        }
    }
}

#[test]
fn softmax_rows_matches_generic_values_and_gradients() {
    for shape in [[7, 13], [64, 90], [1, 1]] {
        let x0: Tensor<Grad, 2> = random(shape, 1);
        let (xa, xb) = (x0.clone().require_grad(), x0.require_grad());
        let (ya, yb) = (
            fused::softmax_rows(xa.clone()),
            generic::softmax_rows(xb.clone()),
        );
        assert!(max_diff(&values(ya.clone()), &values(yb.clone())) < 1e-6);
        let (ga, gb) = (
            weighted_sum(ya, 2).backward(),
            weighted_sum(yb, 2).backward(),
        );
        let (da, db) = (values(xa.grad(&ga).unwrap()), values(xb.grad(&gb).unwrap()));
        assert!(
            max_diff(&da, &db) < 1e-5,
            "{shape:?}: {}",
            max_diff(&da, &db)
        );
    }
    let plain: Tensor<Flex, 2> = random([5, 9], 3);
    let d = max_diff(
        &values(fused::softmax_rows(plain.clone())),
        &values(generic::softmax_rows(plain)),
    );
    assert!(d < 1e-6);
}

#[test]
fn rms_norm_rows_matches_generic_values_and_gradients() {
    for (shape, trainable_scale) in [([6, 32], true), ([40, 128], true), ([3, 16], false)] {
        check_pair(
            (
                random::<Grad, 2>(shape, 4),
                random::<Grad, 1>([shape[1]], 5),
            ),
            (true, trainable_scale),
            |x, w| fused::rms_norm_rows(x, w, 1e-5),
            |x, w| generic::rms_norm_rows(x, w, 1e-5),
            Tolerances(1e-5, 1e-4, 1e-3),
        );
    }
    let (x, w): (Tensor<Flex, 2>, Tensor<Flex, 1>) = (random([4, 24], 7), random([24], 8));
    let d = max_diff(
        &values(fused::rms_norm_rows(x.clone(), w.clone(), 1e-6)),
        &values(generic::rms_norm_rows(x, w, 1e-6)),
    );
    assert!(d < 1e-5);
}

#[test]
fn swiglu_matches_generic_values_and_gradients() {
    for tracked in [(true, true), (true, false), (false, true)] {
        check_pair(
            (
                random::<Grad, 3>([2, 5, 48], 9),
                random::<Grad, 3>([2, 5, 48], 10),
            ),
            tracked,
            fused::swiglu,
            generic::swiglu,
            Tolerances(1e-5, 1e-4, 1e-4),
        );
    }
    let (g, u): (Tensor<Flex, 2>, Tensor<Flex, 2>) = (random([3, 8], 15), random([3, 8], 16));
    let d = max_diff(
        &values(fused::swiglu(g.clone(), u.clone())),
        &values(generic::swiglu(g, u)),
    );
    assert!(d < 1e-5);
}

#[test]
fn weighted_nll_rows_matches_generic_values_and_gradients() {
    let (n, v) = (37, 50);
    let targets: Vec<usize> = (0..n).map(|i| (i * 7) % v).collect();
    let weights: Vec<f32> = (0..n).map(|i| [1.0, 0.0, 0.5][i % 3]).collect();
    let x0: Tensor<Grad, 2> = random([n, v], 19);
    let (xa, xb) = (x0.clone().require_grad(), x0.require_grad());
    let ya = fused::weighted_nll_rows(xa.clone(), &targets, &weights);
    let yb = generic::weighted_nll_rows(xb.clone(), &targets, &weights);
    let (va, vb) = (values(ya.clone()), values(yb.clone()));
    assert!(
        max_diff(&va, &vb) < 1e-3 * vb[0].abs().max(1.0),
        "{va:?} {vb:?}"
    );
    let (ga, gb) = (ya.mul_scalar(0.7).backward(), yb.mul_scalar(0.7).backward());
    let d = max_diff(
        &values(xa.grad(&ga).unwrap()),
        &values(xb.grad(&gb).unwrap()),
    );
    assert!(d < 1e-5, "{d}");
    let plain: Tensor<Flex, 2> = random([n, v], 20);
    let (a, b) = (
        values(fused::weighted_nll_rows(plain.clone(), &targets, &weights)),
        values(generic::weighted_nll_rows(plain, &targets, &weights)),
    );
    assert!(max_diff(&a, &b) < 1e-3 * b[0].abs().max(1.0));
}

#[test]
fn rope_token_major_matches_generic_values_and_gradients() {
    for (batch, table_batch) in [(2, 2), (3, 1)] {
        let shape = [batch, 5, 4, 16];
        let cos: Tensor<Grad, 4> = random([table_batch, 1, 5, 16], 21);
        let sin: Tensor<Grad, 4> = random([table_batch, 1, 5, 16], 22);
        let x0: Tensor<Grad, 4> = random(shape, 23);
        let (xa, xb) = (x0.clone().require_grad(), x0.require_grad());
        let ya = fused::rope_token_major(xa.clone(), &cos, &sin);
        let yb = generic::rope_token_major(xb.clone(), &cos, &sin);
        assert!(max_diff(&values(ya.clone()), &values(yb.clone())) < 1e-5);
        // The gradient arrives transposed, as it does from the attention's swap of axes.
        let loss = |y: Tensor<Grad, 4>| weighted_sum(y.swap_dims(1, 2), 24);
        let (ga, gb) = (loss(ya).backward(), loss(yb).backward());
        let d = max_diff(
            &values(xa.grad(&ga).unwrap()),
            &values(xb.grad(&gb).unwrap()),
        );
        assert!(d < 1e-4, "{d}");
    }
    let (x, cos, sin): (Tensor<Flex, 4>, Tensor<Flex, 4>, Tensor<Flex, 4>) = (
        random([1, 3, 2, 8], 25),
        random([1, 1, 3, 8], 26),
        random([1, 1, 3, 8], 27),
    );
    let d = max_diff(
        &values(fused::rope_token_major(x.clone(), &cos, &sin)),
        &values(generic::rope_token_major(x, &cos, &sin)),
    );
    assert!(d < 1e-5);
}

#[test]
fn matmul_transposed_matches_generic_values_and_gradients() {
    for tracked in [(true, true), (false, true), (true, false)] {
        check_pair(
            (
                random::<Grad, 2>([9, 24], 28),
                random::<Grad, 2>([17, 24], 29),
            ),
            tracked,
            fused::matmul_transposed,
            generic::matmul_transposed,
            Tolerances(1e-4, 1e-4, 1e-4),
        );
    }
}
