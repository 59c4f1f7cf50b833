//! `x W^T` for f32 activations `x` and a [`PackedMatrix`] `W`, split over rayon's threads.

use rayon::prelude::*;

use crate::dot;
use crate::error::{KernelError, Result};
use crate::int8;
use crate::packed::PackedMatrix;

/// Rows of `W` one task widens at a time when `x` has several rows: at most this many f32 bytes
/// of scratch (in the last-level cache while `gemm` reads it). Each tile makes `gemm` pack `x`
/// again, so tiles are large: 8 MiB gave 86-92 GFLOP/s on a 4096 x 11008 bf16/int8 matrix
/// against 105 for plain f32 `gemm`, 0.5 MiB only 46-51.
const TILE_BYTES: usize = 8 * 1024 * 1024;

/// Rows of `W` per task of the one-row product (enough work to amortise a task).
const ROWS_PER_TASK: usize = 64;

/// Stored bytes below which a one-row product runs on the calling thread: handing a task to the
/// pool and waiting for it costs tens of microseconds, as much as reading 1 MB.
const SPLIT_BYTES: usize = 4 * 1024 * 1024;

/// Whether a one-row product over `w` is worth handing to rayon's pool: more than one thread
/// and enough bytes to read.
fn worth_splitting(w: &PackedMatrix) -> bool {
    rayon::current_num_threads() > 1 && w.stored_bytes() >= SPLIT_BYTES
}

/// `x W^T` with `x` `[t, cols]` row-major: `[t, rows]` row-major. See [`matmul_transposed_into`].
pub fn matmul_transposed(x: &[f32], t: usize, w: &PackedMatrix) -> Result<Vec<f32>> {
    let mut out = vec![0.0; t * w.rows()];
    matmul_transposed_into(x, t, w, &mut out)?;
    Ok(out)
}

/// Writes `x W^T` (`[t, rows]`, row-major) into `out`.
///
/// One row of `x` (decoding) goes through the fused kernels, which read `W` once in its stored
/// width (for int8 weights, `x` is rounded to int8 in the weights' groups and each group summed
/// in integers: see the crate documentation for the error this adds); several rows widen tiles
/// of `W` into a cache-sized scratch and multiply them with the `gemm` crate. Either way the
/// rows of `W` are split over rayon's thread pool.
pub fn matmul_transposed_into(
    x: &[f32],
    t: usize,
    w: &PackedMatrix,
    out: &mut [f32],
) -> Result<()> {
    let [rows, cols] = w.shape();
    let expected = t
        .checked_mul(cols)
        .ok_or_else(|| KernelError::TooLarge(vec![t, cols]))?;
    if x.len() != expected {
        return Err(KernelError::Length {
            what: "activations",
            found: x.len(),
            expected,
            shape: vec![t, cols],
        });
    }
    if out.len() != t * rows {
        return Err(KernelError::Length {
            what: "output",
            found: out.len(),
            expected: t * rows,
            shape: vec![t, rows],
        });
    }
    if t == 0 || rows == 0 {
        return Ok(());
    }
    if cols == 0 {
        out.fill(0.0);
        return Ok(());
    }
    if t == 1 {
        match w.int8_view() {
            Some(view) => {
                let x = int8::QuantisedRow::new(x, view.group());
                one_row(w, out, |start, chunk| {
                    int8::dot_rows(&view, start, &x, chunk)
                });
            }
            None => one_row(w, out, |start, chunk| dot::dot_rows(w, start, x, chunk)),
        }
        return Ok(());
    }
    // Several rows: out^T [rows, t] tile by tile (contiguous per task), then transposed.
    let tile = (TILE_BYTES / (cols * 4)).clamp(8, 1024);
    let mut out_t = vec![0.0f32; rows * t];
    out_t.par_chunks_mut(tile * t).enumerate().for_each_init(
        Vec::new,
        |scratch: &mut Vec<f32>, (task, chunk)| {
            let start = task * tile;
            let n = chunk.len() / t;
            scratch.resize(n * cols, 0.0);
            w.widen_rows(start, scratch);
            // SAFETY: `chunk` holds n x t values (C[i, j] at j * t + i), `x` t x cols
            // (row-major) and `scratch` n x cols (row-major, read as its transpose cols x n);
            // the strides below stay inside those buffers.
            unsafe {
                gemm_f32(
                    [t, n, cols],
                    (chunk.as_mut_ptr(), t as isize, 1),
                    (x.as_ptr(), 1, cols as isize),
                    (scratch.as_ptr(), cols as isize, 1),
                );
            }
        },
    );
    for (r, row) in out_t.chunks_exact(t).enumerate() {
        for (i, &v) in row.iter().enumerate() {
            out[i * rows + r] = v;
        }
    }
    Ok(())
}

/// Runs `kernel(first_row, out_chunk)` over the rows of a one-row product, on the calling
/// thread or split over rayon's pool (see [`worth_splitting`]).
fn one_row(w: &PackedMatrix, out: &mut [f32], kernel: impl Fn(usize, &mut [f32]) + Sync) {
    if !worth_splitting(w) {
        return kernel(0, out);
    }
    out.par_chunks_mut(ROWS_PER_TASK)
        .enumerate()
        .for_each(|(task, chunk)| kernel(task * ROWS_PER_TASK, chunk));
}

/// A matrix operand of [`gemm_f32`]: its pointer, column stride and row stride, in elements.
pub(crate) type Operand<P> = (P, isize, isize);

/// `dst = lhs rhs` for `[m, k] x [k, n]` (`mnk = [m, n, k]`) with the `gemm` crate's f32 kernel
/// on the calling thread.
///
/// # Safety
/// Every element that the shapes address through each operand's strides must lie in its
/// allocation, and `dst` must not overlap the inputs.
pub(crate) unsafe fn gemm_f32(
    mnk: [usize; 3],
    dst: Operand<*mut f32>,
    lhs: Operand<*const f32>,
    rhs: Operand<*const f32>,
) {
    let [m, n, k] = mnk;
    // SAFETY: forwarded from the caller.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.0,
            dst.1,
            dst.2,
            false,
            lhs.0,
            lhs.1,
            lhs.2,
            rhs.0,
            rhs.1,
            rhs.2,
            0.0,
            1.0,
            false,
            false,
            false,
            gemm::Parallelism::None,
        );
    }
}
