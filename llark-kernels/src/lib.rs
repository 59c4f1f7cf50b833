//! CPU kernels for LLark's language model: weight matrices kept in memory as they are stored
//! (bf16, f16) or quantised to int8 with group-wise scales, and the matrix products that read them
//! directly, without an f32 copy of the matrix.
//!
//! A [`PackedMatrix`] is a `[rows, cols]` weight in the Hugging Face layout (`[out, in]`).
//! [`matmul_transposed`] computes `x W^T` for `x` of `[t, cols]` f32 activations:
//!
//! - one row of `x` (decoding): a fused kernel reads the matrix once, in its stored width. bf16
//!   and f16 elements are converted to f32 in registers and accumulated against `x` (AVX-512F or
//!   AVX2 + FMA + F16C when the CPU has them, portable code otherwise). For int8, `x` is rounded
//!   to int8 in the weights' groups (symmetric, `max |x| / 127`) and each group's dot product is
//!   summed exactly in integers (AVX-512 VNNI or AVX2, portable code otherwise), then scaled by
//!   both scales: this adds at most `scale_x / 2 * sum |w|` a group to the weights' own rounding;
//! - many rows (prefill): tiles of the matrix are widened into a small scratch buffer that stays
//!   in cache and multiplied with the `gemm` crate's f32 kernel.
//!
//! Both paths split the matrix's rows over rayon's thread pool (`RAYON_NUM_THREADS` sets its
//! size). [`probe`] measures the machine's read bandwidth and f32 GEMM rate, the limits these
//! kernels are judged against.
//!
//! ```
//! use llark_kernels::{matmul_transposed, PackedDtype, PackedMatrix};
//!
//! let w = [1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0]; // [2, 3]
//! let packed = PackedMatrix::from_f32(&w, 2, 3, PackedDtype::Bf16)?;
//! let y = matmul_transposed(&[1.0, 0.0, -1.0], 1, &packed)?;
//! assert_eq!(y, vec![-2.0, -2.0]);
//! # Ok::<(), llark_kernels::KernelError>(())
//! ```
#![warn(missing_docs)]

mod dot;
pub mod dtype;
pub mod error;
mod int8;
pub mod matmul;
pub mod packed;
pub mod probe;

pub use dtype::{PackedDtype, WeightDtype, DEFAULT_INT8_GROUP};
pub use error::{KernelError, Result};
pub use matmul::{matmul_transposed, matmul_transposed_into};
pub use packed::PackedMatrix;

/// Threads the kernels split their work over (rayon's global pool: `RAYON_NUM_THREADS`, else one
/// per core).
pub fn threads() -> usize {
    rayon::current_num_threads()
}
