//! Fused operations of the decoder: softmax over rows, RMS normalisation, the SwiGLU gate, the
//! rotary embedding, the cross-entropy's log-softmax and the projections' `x W^T`, each one pass
//! over its rows forward and one backward.
//!
//! burn's generic versions compose several tensor operations (softmax: max, subtract, exp, sum,
//! divide; RMSNorm: square, mean, add, sqrt, reciprocal, two products; SwiGLU: sigmoid and two
//! products; rotary: slices, negation, concatenation, two products and a sum; cross-entropy:
//! log-softmax, gather, weighting), and on an autodiff backend every one of them records its
//! own backward step, which re-reads its operands and allocates its result. On the default CPU
//! backend (burn-flex, f32), with or without autodiff, these functions run one kernel over the
//! rows instead, with a hand-derived backward step (cargo feature `flex`, on by default); every
//! other backend, dtype and checkpointing strategy takes the generic composition ([`generic`]),
//! which is also what the fused kernels are tested against, values and gradients.
//!
//! The backend is recognised at run time (its `TypeId`, then a downcast of the tensor primitive
//! through `Any`), so the layers calling these functions stay generic over `B: Backend`.
//!
//! ```
//! use burn::backend::{Autodiff, Flex};
//! use burn::tensor::Tensor;
//!
//! type B = Autodiff<Flex>;
//! let device = Default::default();
//! let x = Tensor::<B, 2>::from_floats([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]], &device).require_grad();
//! let y = llark_lm::fused::softmax_rows(x.clone());
//! let grads = (y.clone() * y).sum().backward();
//! assert_eq!(x.grad(&grads).map(|g| g.dims()), Some([2, 3]));
//! ```

use burn::tensor::{activation, backend::Backend, Int, Tensor, TensorData};

/// `softmax(x)` along the last dimension of `[N, D]`.
pub fn softmax_rows<B: Backend>(x: Tensor<B, 2>) -> Tensor<B, 2> {
    #[cfg(feature = "flex")]
    let x = match flex::softmax_rows(x) {
        Ok(y) => return y,
        Err(x) => x,
    };
    generic::softmax_rows(x)
}

/// RMS normalisation of the rows of `[N, D]` with the scale `weight` `[D]`:
/// `x / sqrt(mean(x²) + eps) * weight`, as transformers' `LlamaRMSNorm` computes it.
pub fn rms_norm_rows<B: Backend>(x: Tensor<B, 2>, weight: Tensor<B, 1>, eps: f64) -> Tensor<B, 2> {
    #[cfg(feature = "flex")]
    let (x, weight) = match flex::rms_norm_rows(x, weight, eps) {
        Ok(y) => return y,
        Err(inputs) => inputs,
    };
    generic::rms_norm_rows(x, weight, eps)
}

/// The SwiGLU gate `silu(gate) * up` of two tensors of one shape.
pub fn swiglu<B: Backend, const D: usize>(gate: Tensor<B, D>, up: Tensor<B, D>) -> Tensor<B, D> {
    #[cfg(feature = "flex")]
    let (gate, up) = match flex::swiglu(gate, up) {
        Ok(y) => return y,
        Err(inputs) => inputs,
    };
    generic::swiglu(gate, up)
}

/// The summed negative log-likelihood `-sum_r weights[r] * log_softmax(logits[r])[targets[r]]`
/// of the rows of `logits` `[N, V]`, as a `[1]` tensor (the cross-entropy's numerator).
/// `targets` and `weights` hold one entry per row; targets must be below `V` (rows of weight
/// 0 are not read).
pub fn weighted_nll_rows<B: Backend>(
    logits: Tensor<B, 2>,
    targets: &[usize],
    weights: &[f32],
) -> Tensor<B, 1> {
    #[cfg(feature = "flex")]
    let logits = match flex::weighted_nll_rows(logits, targets, weights) {
        Ok(y) => return y,
        Err(logits) => logits,
    };
    generic::weighted_nll_rows(logits, targets, weights)
}

/// Rotary position embedding of `x` in token-major layout `[B, T, H, D]`:
/// `x * cos + rotate_half(x) * sin` with `rotate_half([x1, x2]) = [-x2, x1]` over the last
/// dimension and the tables `cos`, `sin` `[B or 1, 1, T, D]` shared by the heads (constants: no
/// gradient reaches them).
pub fn rope_token_major<B: Backend>(
    x: Tensor<B, 4>,
    cos: &Tensor<B, 4>,
    sin: &Tensor<B, 4>,
) -> Tensor<B, 4> {
    #[cfg(feature = "flex")]
    let x = match flex::rope_token_major(x, cos, sin) {
        Ok(y) => return y,
        Err(x) => x,
    };
    generic::rope_token_major(x, cos, sin)
}

/// `x W^T` for `x` `[N, in]` and a weight `W` `[out, in]` in the Hugging Face layout. On
/// `Autodiff<Flex>` the weight's gradient `dy^T x` is computed directly in `W`'s layout, so the
/// optimizer reads it contiguously (burn's transpose would hand it back as a transposed view,
/// which every element-wise step of the optimizer then walks with burn-flex's strided iterator).
pub fn matmul_transposed<B: Backend>(x: Tensor<B, 2>, weight: Tensor<B, 2>) -> Tensor<B, 2> {
    #[cfg(feature = "flex")]
    let (x, weight) = match flex::matmul_transposed(x, weight) {
        Ok(y) => return y,
        Err(inputs) => inputs,
    };
    generic::matmul_transposed(x, weight)
}

/// The generic compositions of burn operations the fused kernels replace (any backend).
pub mod generic {
    use super::*;

    /// `softmax(x)` along the last dimension, composed of burn operations.
    pub fn softmax_rows<B: Backend>(x: Tensor<B, 2>) -> Tensor<B, 2> {
        activation::softmax(x, 1)
    }

    /// RMS normalisation of the rows, composed of burn operations. The scale is repeated to
    /// `[N, D]` rather than broadcast: burn-flex's binary operations take a slow strided path on
    /// broadcast operands, forward and backward.
    pub fn rms_norm_rows<B: Backend>(
        x: Tensor<B, 2>,
        weight: Tensor<B, 1>,
        eps: f64,
    ) -> Tensor<B, 2> {
        let [n, _] = x.dims();
        let variance = (x.clone() * x.clone()).mean_dim(1);
        let inv = variance.add_scalar(eps).sqrt().recip();
        let scale = weight.unsqueeze::<2>().repeat_dim(0, n);
        x * inv * scale
    }

    /// `x W^T` through burn's transpose and matrix product.
    pub fn matmul_transposed<B: Backend>(x: Tensor<B, 2>, weight: Tensor<B, 2>) -> Tensor<B, 2> {
        x.matmul(weight.transpose())
    }

    /// The summed weighted negative log-likelihood, composed of burn operations.
    pub fn weighted_nll_rows<B: Backend>(
        logits: Tensor<B, 2>,
        targets: &[usize],
        weights: &[f32],
    ) -> Tensor<B, 1> {
        let n = targets.len();
        let device = logits.device();
        let targets: Vec<i64> = targets.iter().map(|&t| t as i64).collect();
        let targets = Tensor::<B, 2, Int>::from_data(TensorData::new(targets, [n, 1]), &device);
        let weights = Tensor::<B, 2>::from_data(TensorData::new(weights.to_vec(), [n, 1]), &device);
        let picked = activation::log_softmax(logits, 1).gather(1, targets);
        (picked * weights).sum().neg()
    }

    /// Rotary position embedding in token-major layout, composed of burn operations: the tables
    /// `[B, 1, T, D]` are read as `[B, T, 1, D]` (the same memory) and repeated over the heads,
    /// so every product has equal, contiguous operands.
    pub fn rope_token_major<B: Backend>(
        x: Tensor<B, 4>,
        cos: &Tensor<B, 4>,
        sin: &Tensor<B, 4>,
    ) -> Tensor<B, 4> {
        let [b, t, h, d] = x.dims();
        let half = d / 2;
        let x1 = x.clone().slice([0..b, 0..t, 0..h, 0..half]);
        let x2 = x.clone().slice([0..b, 0..t, 0..h, half..d]);
        let rotated = Tensor::cat(vec![x2.neg(), x1], 3);
        let table = |c: &Tensor<B, 4>| {
            let [cb, _, ct, cd] = c.dims();
            let c = c.clone().reshape([cb, ct, 1, cd]);
            if h > 1 {
                c.repeat_dim(2, h)
            } else {
                c
            }
        };
        x * table(cos) + rotated * table(sin)
    }

    /// `silu(gate) * up`, composed of burn operations.
    pub fn swiglu<B: Backend, const D: usize>(
        gate: Tensor<B, D>,
        up: Tensor<B, D>,
    ) -> Tensor<B, D> {
        activation::silu(gate) * up
    }
}

/// The row kernels, on contiguous f32 slices.
mod kernels {
    /// Softmax backward of one row: `dx = y * (dy - sum(dy * y))`.
    pub(super) fn softmax_backward(y: &[f32], dy: &[f32], dx: &mut [f32]) {
        let dot: f32 = y.iter().zip(dy).map(|(a, b)| a * b).sum();
        for ((o, &yv), &g) in dx.iter_mut().zip(y).zip(dy) {
            *o = yv * (g - dot);
        }
    }

    /// `1 / sqrt(mean(x²) + eps)` of one row.
    pub(super) fn inverse_rms(x: &[f32], eps: f64) -> f32 {
        let square: f32 = x.iter().map(|v| v * v).sum();
        let mean = square / x.len().max(1) as f32;
        1.0 / (mean + eps as f32).sqrt()
    }

    /// RMSNorm forward of one row.
    pub(super) fn rms_norm(x: &[f32], w: &[f32], eps: f64, y: &mut [f32]) {
        let inv = inverse_rms(x, eps);
        for ((o, &xv), &wv) in y.iter_mut().zip(x).zip(w) {
            *o = xv * inv * wv;
        }
    }

    /// RMSNorm backward of one row: `dx = r * (g - x * r² * mean(g * x))` with `g = dy * w`,
    /// into `dx`; `dy * x * r` added into `dw` when given.
    pub(super) fn rms_norm_backward(
        x: &[f32],
        w: &[f32],
        dy: &[f32],
        eps: f64,
        dx: Option<&mut [f32]>,
        dw: Option<&mut [f32]>,
    ) {
        let inv = inverse_rms(x, eps);
        if let Some(dx) = dx {
            let gx: f32 = x.iter().zip(w).zip(dy).map(|((a, b), c)| a * b * c).sum();
            let k = inv * inv * gx / x.len().max(1) as f32;
            for (((o, &xv), &wv), &g) in dx.iter_mut().zip(x).zip(w).zip(dy) {
                *o = inv * (g * wv - xv * k);
            }
        }
        if let Some(dw) = dw {
            for ((o, &xv), &g) in dw.iter_mut().zip(x).zip(dy) {
                *o += g * xv * inv;
            }
        }
    }

    /// `log(sum(exp(x)))` of one row.
    pub(super) fn log_sum_exp(x: &[f32]) -> f32 {
        let max = x.iter().fold(f32::NEG_INFINITY, |m, &v| m.max(v));
        if !max.is_finite() {
            return max;
        }
        let sum: f32 = x.iter().map(|&v| (v - max).exp()).sum();
        max + sum.ln()
    }

    /// Gradient of `-w * log_softmax(x)[t]` scaled by `scale`:
    /// `scale * w * (softmax(x) - onehot(t))`, given `lse = log_sum_exp(x)`.
    pub(super) fn nll_backward(x: &[f32], t: usize, w: f32, lse: f32, scale: f32, dx: &mut [f32]) {
        let k = scale * w;
        for (o, &v) in dx.iter_mut().zip(x) {
            *o = k * (v - lse).exp();
        }
        if let Some(o) = dx.get_mut(t) {
            *o -= k;
        }
    }

    /// Rotary embedding of one head's vector: `y = x * c + rotate_half(x) * s`.
    pub(super) fn rope(x: &[f32], c: &[f32], s: &[f32], y: &mut [f32]) {
        let half = x.len() / 2;
        for i in 0..half {
            y[i] = x[i] * c[i] - x[i + half] * s[i];
            y[i + half] = x[i + half] * c[i + half] + x[i] * s[i + half];
        }
    }

    /// Backward of [`rope`]: `dx = dy * c + rotate_half^T(dy * s)` with
    /// `rotate_half^T([z1, z2]) = [z2, -z1]`.
    pub(super) fn rope_backward(dy: &[f32], c: &[f32], s: &[f32], dx: &mut [f32]) {
        let half = dy.len() / 2;
        for i in 0..half {
            dx[i] = dy[i] * c[i] + dy[i + half] * s[i + half];
            dx[i + half] = dy[i + half] * c[i + half] - dy[i] * s[i];
        }
    }

    /// `1 / (1 + exp(-x))` without overflow.
    fn sigmoid(x: f32) -> f32 {
        if x >= 0.0 {
            1.0 / (1.0 + (-x).exp())
        } else {
            let e = x.exp();
            e / (1.0 + e)
        }
    }

    /// SwiGLU forward: `silu(gate) * up`.
    pub(super) fn swiglu(gate: &[f32], up: &[f32], y: &mut [f32]) {
        for ((o, &g), &u) in y.iter_mut().zip(gate).zip(up) {
            *o = g * sigmoid(g) * u;
        }
    }

    /// SwiGLU backward: `d_gate = dy * up * s * (1 + gate * (1 - s))` and
    /// `d_up = dy * gate * s` with `s = sigmoid(gate)`, each when asked for.
    pub(super) fn swiglu_backward(
        gate: &[f32],
        up: &[f32],
        dy: &[f32],
        mut d_gate: Option<&mut [f32]>,
        mut d_up: Option<&mut [f32]>,
    ) {
        for i in 0..gate.len() {
            let (g, u, d) = (gate[i], up[i], dy[i]);
            let s = sigmoid(g);
            if let Some(dg) = d_gate.as_deref_mut() {
                dg[i] = d * u * s * (1.0 + g * (1.0 - s));
            }
            if let Some(du) = d_up.as_deref_mut() {
                du[i] = d * g * s;
            }
        }
    }
}

/// The burn-flex implementations: forward on `Flex`, forward and backward on
/// `Autodiff<Flex>`; anything else is handed back unchanged.
#[cfg(feature = "flex")]
mod flex {
    use std::any::{Any, TypeId};

    use burn::backend::autodiff::checkpoint::base::Checkpointer;
    use burn::backend::autodiff::checkpoint::strategy::NoCheckpointing;
    use burn::backend::autodiff::grads::Gradients;
    use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
    use burn::backend::flex::{Flex, FlexTensor};
    use burn::backend::Autodiff;
    use burn::tensor::ops::{FloatTensor, FloatTensorOps};
    use burn::tensor::TensorPrimitive;
    use burn::tensor::{backend::Backend, DType, Shape, Tensor, TensorData, TensorMetadata};

    use super::kernels;

    type FlexGrad = Autodiff<Flex>;
    type GradTensor = FloatTensor<FlexGrad>;

    /// Moves `value` into type `U` when it is one (`Err(value)` otherwise).
    fn cast<T: 'static, U: 'static>(value: T) -> Result<U, T> {
        let mut slot = Some(value);
        if let Some(target) = (&mut slot as &mut dyn Any).downcast_mut::<Option<U>>() {
            if let Some(moved) = target.take() {
                return Ok(moved);
            }
        }
        match slot {
            Some(value) => Err(value),
            None => unreachable!("the value is only taken when the cast succeeds"),
        }
    }

    /// The backend a tensor of `B` runs on, when it is one of the two with fused kernels.
    enum Target {
        Plain,
        Grad,
        Other,
    }

    fn target<B: Backend>() -> Target {
        let id = TypeId::of::<B>();
        if id == TypeId::of::<Flex>() {
            Target::Plain
        } else if id == TypeId::of::<FlexGrad>() {
            Target::Grad
        } else {
            Target::Other
        }
    }

    /// The float primitive of `x` as the primitive of backend `P` (`B` must be `P`).
    fn primitive<B: Backend, P: Backend, const D: usize>(
        x: Tensor<B, D>,
    ) -> Result<P::FloatTensorPrimitive, Tensor<B, D>> {
        cast::<_, P::FloatTensorPrimitive>(x.into_primitive().tensor())
            .map_err(|p| Tensor::from_primitive(TensorPrimitive::Float(p)))
    }

    /// A tensor of `B` from a primitive of backend `P` (`B` must be `P`).
    fn tensor<B: Backend, P: Backend, const D: usize>(p: P::FloatTensorPrimitive) -> Tensor<B, D> {
        match cast::<_, B::FloatTensorPrimitive>(p) {
            Ok(p) => Tensor::from_primitive(TensorPrimitive::Float(p)),
            Err(_) => unreachable!("called only once the backends are known to be equal"),
        }
    }

    /// Whether a burn-flex tensor holds f32 values.
    fn is_f32(t: &FlexTensor) -> bool {
        t.dtype() == DType::F32
    }

    /// The contiguous f32 values of a burn-flex tensor.
    fn values(t: &FlexTensor) -> FlexTensor {
        t.to_contiguous()
    }

    fn output(values: Vec<f32>, shape: Shape) -> FlexTensor {
        FlexTensor::from_data(TensorData::new(values, shape))
    }

    /// Runs `kernel` over the rows of `len` elements of `inputs` (contiguous, equal lengths),
    /// writing each row's result into a new tensor of `shape`.
    fn map_rows(
        inputs: &[&FlexTensor],
        len: usize,
        shape: Shape,
        mut kernel: impl FnMut(&[&[f32]], &mut [f32]),
    ) -> FlexTensor {
        let slices: Vec<&[f32]> = inputs.iter().map(|t| t.storage::<f32>()).collect();
        let total = slices.first().map_or(0, |s| s.len());
        let mut out = vec![0f32; total];
        let mut rows: Vec<&[f32]> = Vec::with_capacity(slices.len());
        for (r, o) in out.chunks_mut(len.max(1)).enumerate() {
            rows.clear();
            rows.extend(slices.iter().map(|s| &s[r * len..r * len + o.len()]));
            kernel(&rows, o);
        }
        output(out, shape)
    }

    /// The backward step of a one-input operation: registers `gradient(state, dy)` (with `dy`
    /// contiguous) for the input when it needs a gradient.
    fn backward_one<S>(
        ops: Ops<S, 1>,
        grads: &mut Gradients,
        gradient: impl FnOnce(S, FlexTensor) -> FlexTensor,
    ) {
        let dy = values(&grads.consume::<Flex>(&ops.node));
        let [parent] = ops.parents;
        if let Some(parent) = parent {
            grads.register::<Flex>(parent.id, gradient(ops.state, dy));
        }
    }

    // ---------------------------------------------------------------- softmax

    fn softmax_forward(x: FlexTensor) -> FlexTensor {
        burn::backend::flex::ops::activation::softmax(x, 1)
    }

    #[derive(Debug)]
    struct SoftmaxRows;

    impl Backward<Flex, 1> for SoftmaxRows {
        /// The output `y`.
        type State = FlexTensor;

        fn backward(self, ops: Ops<FlexTensor, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
            backward_one(ops, grads, |y, dy| {
                let len = *y.shape().as_slice().last().unwrap_or(&1);
                map_rows(&[&y, &dy], len, y.shape(), |r, o| {
                    kernels::softmax_backward(r[0], r[1], o)
                })
            });
        }
    }

    pub(super) fn softmax_rows<B: Backend>(x: Tensor<B, 2>) -> Result<Tensor<B, 2>, Tensor<B, 2>> {
        // Without autodiff, burn's softmax already runs burn-flex's fused kernel.
        match target::<B>() {
            Target::Grad => {
                let p: GradTensor = primitive::<B, FlexGrad, 2>(x)?;
                if !is_f32(&p.primitive) {
                    return Err(tensor::<B, FlexGrad, 2>(p));
                }
                let out = match SoftmaxRows
                    .prepare::<NoCheckpointing>([p.node.clone()])
                    .compute_bound()
                    .stateful()
                {
                    OpsKind::Tracked(prep) => {
                        let y = softmax_forward(p.primitive);
                        prep.finish(y.clone(), y)
                    }
                    OpsKind::UnTracked(prep) => prep.finish(softmax_forward(p.primitive)),
                };
                Ok(tensor::<B, FlexGrad, 2>(out))
            }
            Target::Plain | Target::Other => Err(x),
        }
    }

    // ---------------------------------------------------------------- RMSNorm

    /// RMSNorm forward of contiguous `x` and `w`.
    fn rms_forward(x: &FlexTensor, w: &FlexTensor, eps: f64) -> FlexTensor {
        let d = *x.shape().as_slice().last().unwrap_or(&1);
        let weight = w.storage::<f32>();
        map_rows(&[x], d, x.shape(), |r, o| {
            kernels::rms_norm(r[0], weight, eps, o)
        })
    }

    #[derive(Debug)]
    struct RmsNormRows {
        eps: f64,
    }

    impl Backward<Flex, 2> for RmsNormRows {
        /// The input rows and the scale, contiguous.
        type State = (FlexTensor, FlexTensor);

        fn backward(self, ops: Ops<Self::State, 2>, grads: &mut Gradients, _: &mut Checkpointer) {
            let dy = values(&grads.consume::<Flex>(&ops.node));
            let (x, w) = ops.state;
            let [x_parent, w_parent] = ops.parents;
            let shape = x.shape();
            let d = *shape.as_slice().last().unwrap_or(&1);
            let (xs, ws, dys) = (x.storage::<f32>(), w.storage::<f32>(), dy.storage::<f32>());
            let mut dx = x_parent.as_ref().map(|_| vec![0f32; xs.len()]);
            let mut dw = w_parent.as_ref().map(|_| vec![0f32; ws.len()]);
            for r in 0..xs.len() / d.max(1) {
                let span = r * d..(r + 1) * d;
                kernels::rms_norm_backward(
                    &xs[span.clone()],
                    ws,
                    &dys[span.clone()],
                    self.eps,
                    dx.as_mut().map(|v| &mut v[span.clone()]),
                    dw.as_deref_mut(),
                );
            }
            if let (Some(node), Some(dx)) = (x_parent, dx) {
                grads.register::<Flex>(node.id, output(dx, shape));
            }
            if let (Some(node), Some(dw)) = (w_parent, dw) {
                grads.register::<Flex>(node.id, output(dw, w.shape()));
            }
        }
    }

    type Pair<B, const D: usize, const E: usize> = (Tensor<B, D>, Tensor<B, E>);

    /// Both primitives as those of `P`, or both tensors back.
    fn primitives<B: Backend, P: Backend, const D: usize, const E: usize>(
        a: Tensor<B, D>,
        b: Tensor<B, E>,
    ) -> Result<(P::FloatTensorPrimitive, P::FloatTensorPrimitive), Pair<B, D, E>> {
        match primitive::<B, P, D>(a) {
            Ok(a) => match primitive::<B, P, E>(b) {
                Ok(b) => Ok((a, b)),
                Err(b) => Err((tensor::<B, P, D>(a), b)),
            },
            Err(a) => Err((a, b)),
        }
    }

    pub(super) fn rms_norm_rows<B: Backend>(
        x: Tensor<B, 2>,
        weight: Tensor<B, 1>,
        eps: f64,
    ) -> Result<Tensor<B, 2>, Pair<B, 2, 1>> {
        if x.dims()[1] != weight.dims()[0] {
            return Err((x, weight));
        }
        match target::<B>() {
            Target::Plain => {
                let (x, w) = primitives::<B, Flex, 2, 1>(x, weight)?;
                if !(is_f32(&x) && is_f32(&w)) {
                    return Err((tensor::<B, Flex, 2>(x), tensor::<B, Flex, 1>(w)));
                }
                Ok(tensor::<B, Flex, 2>(rms_forward(
                    &values(&x),
                    &values(&w),
                    eps,
                )))
            }
            Target::Grad => {
                let (x, w): (GradTensor, GradTensor) = primitives::<B, FlexGrad, 2, 1>(x, weight)?;
                if !(is_f32(&x.primitive) && is_f32(&w.primitive)) {
                    return Err((tensor::<B, FlexGrad, 2>(x), tensor::<B, FlexGrad, 1>(w)));
                }
                let (xs, ws) = (values(&x.primitive), values(&w.primitive));
                let y = rms_forward(&xs, &ws, eps);
                let out = match (RmsNormRows { eps })
                    .prepare::<NoCheckpointing>([x.node.clone(), w.node.clone()])
                    .compute_bound()
                    .stateful()
                {
                    OpsKind::Tracked(prep) => prep.finish((xs, ws), y),
                    OpsKind::UnTracked(prep) => prep.finish(y),
                };
                Ok(tensor::<B, FlexGrad, 2>(out))
            }
            Target::Other => Err((x, weight)),
        }
    }

    // ---------------------------------------------------------------- cross-entropy

    #[derive(Debug, Clone)]
    struct NllState {
        logits: FlexTensor,
        targets: Vec<usize>,
        weights: Vec<f32>,
        /// `log_sum_exp` of every row.
        lse: Vec<f32>,
    }

    #[derive(Debug)]
    struct WeightedNll;

    impl Backward<Flex, 1> for WeightedNll {
        type State = NllState;

        fn backward(self, ops: Ops<NllState, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
            backward_one(ops, grads, |st, scale| {
                let scale = scale.storage::<f32>().first().copied().unwrap_or(0.0);
                let v = *st.logits.shape().as_slice().last().unwrap_or(&1);
                let mut row = 0;
                map_rows(&[&st.logits], v, st.logits.shape(), |r, o| {
                    let (t, w) = (st.targets[row], st.weights[row]);
                    if w != 0.0 {
                        kernels::nll_backward(r[0], t, w, st.lse[row], scale, o);
                    }
                    row += 1;
                })
            });
        }
    }

    /// The per-row `log_sum_exp` and the summed weighted negative log-likelihood.
    fn nll_forward(logits: &FlexTensor, targets: &[usize], weights: &[f32]) -> (Vec<f32>, f32) {
        let v = *logits.shape().as_slice().last().unwrap_or(&1);
        let x = logits.storage::<f32>();
        let mut lse = Vec::with_capacity(targets.len());
        let mut total = 0f32;
        for ((row, &t), &w) in x.chunks(v.max(1)).zip(targets).zip(weights) {
            let l = kernels::log_sum_exp(row);
            lse.push(l);
            if w != 0.0 {
                total += w * (l - row[t]);
            }
        }
        (lse, total)
    }

    pub(super) fn weighted_nll_rows<B: Backend>(
        logits: Tensor<B, 2>,
        targets: &[usize],
        weights: &[f32],
    ) -> Result<Tensor<B, 1>, Tensor<B, 2>> {
        let [n, v] = logits.dims();
        if targets.len() != n || weights.len() != n || targets.iter().any(|&t| t >= v) {
            return Err(logits);
        }
        let total = |t: f32| output(vec![t], Shape::new([1]));
        match target::<B>() {
            Target::Plain => {
                let p = primitive::<B, Flex, 2>(logits)?;
                if !is_f32(&p) {
                    return Err(tensor::<B, Flex, 2>(p));
                }
                let (_, sum) = nll_forward(&values(&p), targets, weights);
                Ok(tensor::<B, Flex, 1>(total(sum)))
            }
            Target::Grad => {
                let p: GradTensor = primitive::<B, FlexGrad, 2>(logits)?;
                if !is_f32(&p.primitive) {
                    return Err(tensor::<B, FlexGrad, 2>(p));
                }
                let x = values(&p.primitive);
                let (lse, sum) = nll_forward(&x, targets, weights);
                let out = match WeightedNll
                    .prepare::<NoCheckpointing>([p.node.clone()])
                    .compute_bound()
                    .stateful()
                {
                    OpsKind::Tracked(prep) => {
                        let state = NllState {
                            logits: x,
                            targets: targets.to_vec(),
                            weights: weights.to_vec(),
                            lse,
                        };
                        prep.finish(state, total(sum))
                    }
                    OpsKind::UnTracked(prep) => prep.finish(total(sum)),
                };
                Ok(tensor::<B, FlexGrad, 1>(out))
            }
            Target::Other => Err(logits),
        }
    }

    // ---------------------------------------------------------------- rotary embedding

    /// A kernel over one head vector: `(input, cos, sin, output)`.
    type RopeKernel = fn(&[f32], &[f32], &[f32], &mut [f32]);

    /// Applies a per-head-vector `kernel(input, cos, sin, out)` over `[B, T, H, D]` values with
    /// tables `[CB, 1, T, D]` (`CB` is `B` or 1).
    fn rope_map(
        input: &FlexTensor,
        cos: &FlexTensor,
        sin: &FlexTensor,
        kernel: RopeKernel,
    ) -> FlexTensor {
        let shape = input.shape();
        let dims = shape.as_slice();
        let (t, h, d) = (dims[1], dims[2], dims[3]);
        let table_batches = cos.shape().as_slice()[0];
        let (x, c, s) = (
            input.storage::<f32>(),
            cos.storage::<f32>(),
            sin.storage::<f32>(),
        );
        let mut out = vec![0f32; x.len()];
        for (v, o) in out.chunks_mut(d.max(1)).enumerate() {
            let token = v / h.max(1);
            let (batch, position) = (token / t.max(1), token % t.max(1));
            let row = ((batch % table_batches.max(1)) * t + position) * d;
            let span = v * d..(v + 1) * d;
            kernel(&x[span], &c[row..row + d], &s[row..row + d], o);
        }
        output(out, shape)
    }

    #[derive(Debug)]
    struct Rope;

    impl Backward<Flex, 1> for Rope {
        /// The cosine and sine tables.
        type State = (FlexTensor, FlexTensor);

        fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
            backward_one(ops, grads, |(cos, sin), dy| {
                rope_map(&dy, &cos, &sin, kernels::rope_backward)
            });
        }
    }

    /// Whether tables of `table` dims fit `x` dims for the fused kernel.
    fn rope_fits(x: [usize; 4], table: [usize; 4]) -> bool {
        let [b, t, _, d] = x;
        let [cb, one, ct, cd] = table;
        (cb == b || cb == 1) && one == 1 && ct == t && cd == d && d % 2 == 0
    }

    pub(super) fn rope_token_major<B: Backend>(
        x: Tensor<B, 4>,
        cos: &Tensor<B, 4>,
        sin: &Tensor<B, 4>,
    ) -> Result<Tensor<B, 4>, Tensor<B, 4>> {
        if !(rope_fits(x.dims(), cos.dims()) && cos.dims() == sin.dims()) {
            return Err(x);
        }
        match target::<B>() {
            Target::Plain => {
                let (c, s) = match primitives::<B, Flex, 4, 4>(cos.clone(), sin.clone()) {
                    Ok(tables) => tables,
                    Err(_) => return Err(x),
                };
                let p = primitive::<B, Flex, 4>(x)?;
                if !(is_f32(&p) && is_f32(&c) && is_f32(&s)) {
                    return Err(tensor::<B, Flex, 4>(p));
                }
                let (c, s) = (values(&c), values(&s));
                Ok(tensor::<B, Flex, 4>(rope_map(
                    &values(&p),
                    &c,
                    &s,
                    kernels::rope,
                )))
            }
            Target::Grad => {
                let (c, s): (GradTensor, GradTensor) =
                    match primitives::<B, FlexGrad, 4, 4>(cos.clone(), sin.clone()) {
                        Ok(tables) => tables,
                        Err(_) => return Err(x),
                    };
                let p: GradTensor = primitive::<B, FlexGrad, 4>(x)?;
                let constant = !(c.is_tracked() || s.is_tracked());
                if !(constant
                    && is_f32(&p.primitive)
                    && is_f32(&c.primitive)
                    && is_f32(&s.primitive))
                {
                    return Err(tensor::<B, FlexGrad, 4>(p));
                }
                let (c, s) = (values(&c.primitive), values(&s.primitive));
                let y = rope_map(&values(&p.primitive), &c, &s, kernels::rope);
                let out = match Rope
                    .prepare::<NoCheckpointing>([p.node.clone()])
                    .compute_bound()
                    .stateful()
                {
                    OpsKind::Tracked(prep) => prep.finish((c, s), y),
                    OpsKind::UnTracked(prep) => prep.finish(y),
                };
                Ok(tensor::<B, FlexGrad, 4>(out))
            }
            Target::Other => Err(x),
        }
    }

    // ---------------------------------------------------------------- x W^T

    #[derive(Debug)]
    struct MatmulTransposed;

    impl Backward<Flex, 2> for MatmulTransposed {
        /// `x` when the weight needs a gradient, the weight when `x` does.
        type State = (Option<FlexTensor>, Option<FlexTensor>);

        fn backward(self, ops: Ops<Self::State, 2>, grads: &mut Gradients, _: &mut Checkpointer) {
            let dy = grads.consume::<Flex>(&ops.node);
            let [x_parent, w_parent] = ops.parents;
            let (x, w) = ops.state;
            if let (Some(node), Some(w)) = (x_parent, w) {
                grads.register::<Flex>(node.id, Flex::float_matmul(dy.clone(), w));
            }
            if let (Some(node), Some(x)) = (w_parent, x) {
                let dw = Flex::float_matmul(Flex::float_transpose(dy), x);
                grads.register::<Flex>(node.id, dw);
            }
        }
    }

    pub(super) fn matmul_transposed<B: Backend>(
        x: Tensor<B, 2>,
        weight: Tensor<B, 2>,
    ) -> Result<Tensor<B, 2>, Pair<B, 2, 2>> {
        if x.dims()[1] != weight.dims()[1] || !matches!(target::<B>(), Target::Grad) {
            return Err((x, weight));
        }
        let (x, w): (GradTensor, GradTensor) = primitives::<B, FlexGrad, 2, 2>(x, weight)?;
        if !(is_f32(&x.primitive) && is_f32(&w.primitive)) {
            return Err((tensor::<B, FlexGrad, 2>(x), tensor::<B, FlexGrad, 2>(w)));
        }
        let y = Flex::float_matmul(
            x.primitive.clone(),
            Flex::float_transpose(w.primitive.clone()),
        );
        let (x_tracked, w_tracked) = (x.is_tracked(), w.is_tracked());
        let out = match MatmulTransposed
            .prepare::<NoCheckpointing>([x.node.clone(), w.node.clone()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => {
                let state = (
                    w_tracked.then_some(x.primitive),
                    x_tracked.then_some(w.primitive),
                );
                prep.finish(state, y)
            }
            OpsKind::UnTracked(prep) => prep.finish(y),
        };
        Ok(tensor::<B, FlexGrad, 2>(out))
    }

    // ---------------------------------------------------------------- SwiGLU

    /// SwiGLU forward of contiguous `gate` and `up`.
    fn swiglu_forward(gate: &FlexTensor, up: &FlexTensor) -> FlexTensor {
        let len = gate.shape().num_elements();
        map_rows(&[gate, up], len, gate.shape(), |r, o| {
            kernels::swiglu(r[0], r[1], o)
        })
    }

    #[derive(Debug)]
    struct Swiglu;

    impl Backward<Flex, 2> for Swiglu {
        /// The gate and up inputs, contiguous.
        type State = (FlexTensor, FlexTensor);

        fn backward(self, ops: Ops<Self::State, 2>, grads: &mut Gradients, _: &mut Checkpointer) {
            let dy = values(&grads.consume::<Flex>(&ops.node));
            let (gate, up) = ops.state;
            let [g_parent, u_parent] = ops.parents;
            let n = gate.shape().num_elements();
            let mut dg = g_parent.as_ref().map(|_| vec![0f32; n]);
            let mut du = u_parent.as_ref().map(|_| vec![0f32; n]);
            kernels::swiglu_backward(
                gate.storage::<f32>(),
                up.storage::<f32>(),
                dy.storage::<f32>(),
                dg.as_deref_mut(),
                du.as_deref_mut(),
            );
            if let (Some(node), Some(dg)) = (g_parent, dg) {
                grads.register::<Flex>(node.id, output(dg, gate.shape()));
            }
            if let (Some(node), Some(du)) = (u_parent, du) {
                grads.register::<Flex>(node.id, output(du, up.shape()));
            }
        }
    }

    pub(super) fn swiglu<B: Backend, const D: usize>(
        gate: Tensor<B, D>,
        up: Tensor<B, D>,
    ) -> Result<Tensor<B, D>, Pair<B, D, D>> {
        if gate.dims() != up.dims() {
            return Err((gate, up));
        }
        match target::<B>() {
            Target::Plain => {
                let (g, u) = primitives::<B, Flex, D, D>(gate, up)?;
                if !(is_f32(&g) && is_f32(&u)) {
                    return Err((tensor::<B, Flex, D>(g), tensor::<B, Flex, D>(u)));
                }
                Ok(tensor::<B, Flex, D>(swiglu_forward(
                    &values(&g),
                    &values(&u),
                )))
            }
            Target::Grad => {
                let (g, u): (GradTensor, GradTensor) = primitives::<B, FlexGrad, D, D>(gate, up)?;
                if !(is_f32(&g.primitive) && is_f32(&u.primitive)) {
                    return Err((tensor::<B, FlexGrad, D>(g), tensor::<B, FlexGrad, D>(u)));
                }
                let (gs, us) = (values(&g.primitive), values(&u.primitive));
                let y = swiglu_forward(&gs, &us);
                let out = match Swiglu
                    .prepare::<NoCheckpointing>([g.node.clone(), u.node.clone()])
                    .compute_bound()
                    .stateful()
                {
                    OpsKind::Tracked(prep) => prep.finish((gs, us), y),
                    OpsKind::UnTracked(prep) => prep.finish(y),
                };
                Ok(tensor::<B, FlexGrad, D>(out))
            }
            Target::Other => Err((gate, up)),
        }
    }
}
