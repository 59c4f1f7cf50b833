//! The fused kernels of `llark_lm::fused` against burn's generic compositions on burn-flex, with
//! and without autodiff: values and the gradients of every input.

use burn::backend::{Autodiff, Flex};
use burn::tensor::{backend::Backend, Tensor, TensorData};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use llark_lm::fused::{self, generic};

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
        let x0: Tensor<Grad, 2> = random(shape, 4);
        let w0: Tensor<Grad, 1> = random([shape[1]], 5);
        let (xa, xb) = (x0.clone().require_grad(), x0.require_grad());
        let (wa, wb) = if trainable_scale {
            (w0.clone().require_grad(), w0.require_grad())
        } else {
            (w0.clone(), w0)
        };
        let ya = fused::rms_norm_rows(xa.clone(), wa.clone(), 1e-5);
        let yb = generic::rms_norm_rows(xb.clone(), wb.clone(), 1e-5);
        assert!(max_diff(&values(ya.clone()), &values(yb.clone())) < 1e-5);
        let (ga, gb) = (
            weighted_sum(ya, 6).backward(),
            weighted_sum(yb, 6).backward(),
        );
        let d = max_diff(
            &values(xa.grad(&ga).unwrap()),
            &values(xb.grad(&gb).unwrap()),
        );
        assert!(d < 1e-4, "{shape:?} dx: {d}");
        if trainable_scale {
            let d = max_diff(
                &values(wa.grad(&ga).unwrap()),
                &values(wb.grad(&gb).unwrap()),
            );
            assert!(d < 1e-3, "{shape:?} dw: {d}");
        } else {
            assert!(wa.grad(&ga).is_none());
        }
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
    let g0: Tensor<Grad, 3> = random([2, 5, 48], 9);
    let u0: Tensor<Grad, 3> = random([2, 5, 48], 10);
    let (ga_in, gb_in) = (g0.clone().require_grad(), g0.require_grad());
    let (ua_in, ub_in) = (u0.clone().require_grad(), u0.require_grad());
    let ya = fused::swiglu(ga_in.clone(), ua_in.clone());
    let yb = generic::swiglu(gb_in.clone(), ub_in.clone());
    assert!(max_diff(&values(ya.clone()), &values(yb.clone())) < 1e-5);
    let (ga, gb) = (
        weighted_sum(ya, 11).backward(),
        weighted_sum(yb, 11).backward(),
    );
    for (a, b) in [(&ga_in, &gb_in), (&ua_in, &ub_in)] {
        let d = max_diff(&values(a.grad(&ga).unwrap()), &values(b.grad(&gb).unwrap()));
        assert!(d < 1e-4, "{d}");
    }
    // Only one input tracked: the other gets no gradient.
    let (g, u) = (
        random::<Grad, 2>([3, 8], 12).require_grad(),
        random([3, 8], 13),
    );
    let grads = weighted_sum(fused::swiglu(g.clone(), u.clone()), 14).backward();
    assert!(g.grad(&grads).is_some() && u.grad(&grads).is_none());
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
    for (x_tracked, w_tracked) in [(true, true), (false, true), (true, false)] {
        let x0: Tensor<Grad, 2> = random([9, 24], 28);
        let w0: Tensor<Grad, 2> = random([17, 24], 29);
        let track = |t: Tensor<Grad, 2>, on: bool| if on { t.require_grad() } else { t };
        let (xa, xb) = (track(x0.clone(), x_tracked), track(x0, x_tracked));
        let (wa, wb) = (track(w0.clone(), w_tracked), track(w0, w_tracked));
        let ya = fused::matmul_transposed(xa.clone(), wa.clone());
        let yb = generic::matmul_transposed(xb.clone(), wb.clone());
        assert!(max_diff(&values(ya.clone()), &values(yb.clone())) < 1e-4);
        let (ga, gb) = (
            weighted_sum(ya, 30).backward(),
            weighted_sum(yb, 30).backward(),
        );
        for (a, b, on) in [(&xa, &xb, x_tracked), (&wa, &wb, w_tracked)] {
            match (a.grad(&ga), b.grad(&gb)) {
                (Some(da), Some(db)) => {
                    assert!(on);
                    assert!(max_diff(&values(da), &values(db)) < 1e-4);
                }
                (None, None) => assert!(!on),
                _ => {
                    panic!("the fused and generic products disagree on which inputs get gradients")
                }
            }
        }
    }
}
