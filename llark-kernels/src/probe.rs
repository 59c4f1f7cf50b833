//! The machine's limits, measured where they are needed: memory read bandwidth (the bound of
//! decoding, which reads every weight once a token) and the f32 GEMM rate (the bound of prefill
//! and training). Benches print them beside their own figures so that ratios carry their context.

use std::time::Instant;

use rayon::prelude::*;

/// Best-of-`repeats` read bandwidth in bytes per second: a wrapping sum of a `bytes`-sized
/// buffer of 64-bit words (larger than the caches, say 1 GiB) split over `threads` threads.
/// Integer adds with eight independent accumulators keep the loop far from compute-bound, so
/// the figure is what memory delivers to one core (or to `threads` cores).
pub fn read_bandwidth(bytes: usize, threads: usize, repeats: usize) -> f64 {
    let n = (bytes / 8).max(1);
    let data: Vec<u64> = (0..n as u64).map(|i| i.wrapping_mul(0x9e37_79b9)).collect();
    let threads = threads.max(1);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .ok();
    let chunk = n.div_ceil(threads);
    let sum = |c: &[u64]| -> u64 {
        let mut acc = [0u64; 8];
        let blocks = c.chunks_exact(8);
        let tail = blocks
            .remainder()
            .iter()
            .fold(0u64, |a, &v| a.wrapping_add(v));
        for b in blocks {
            for (a, &v) in acc.iter_mut().zip(b) {
                *a = a.wrapping_add(v);
            }
        }
        acc.iter().fold(tail, |a, &v| a.wrapping_add(v))
    };
    let mut best = f64::INFINITY;
    let mut sink = 0u64;
    for _ in 0..repeats.max(1) {
        let start = Instant::now();
        let total = match &pool {
            Some(pool) => pool.install(|| {
                data.par_chunks(chunk)
                    .map(sum)
                    .reduce(|| 0, u64::wrapping_add)
            }),
            None => data.chunks(chunk).map(sum).fold(0, u64::wrapping_add),
        };
        best = best.min(start.elapsed().as_secs_f64());
        sink = sink.wrapping_add(total);
    }
    std::hint::black_box(sink);
    (n * 8) as f64 / best
}

/// Best-of-`repeats` f32 GEMM rate in FLOP/s of the `gemm` crate on one thread for
/// `[m, k] x [k, n]`.
pub fn gemm_rate(m: usize, n: usize, k: usize, repeats: usize) -> f64 {
    let a: Vec<f32> = (0..m * k).map(|i| ((i % 13) as f32) * 0.01).collect();
    let b: Vec<f32> = (0..k * n).map(|i| ((i % 11) as f32) * 0.01).collect();
    let mut c = vec![0.0f32; m * n];
    let mut best = f64::INFINITY;
    for _ in 0..repeats.max(1) {
        let start = Instant::now();
        // SAFETY: a is m x k, b k x n, c m x n, all row-major with the strides given.
        unsafe {
            crate::matmul::gemm_f32(
                [m, n, k],
                (c.as_mut_ptr(), 1, n as isize),
                (a.as_ptr(), 1, k as isize),
                (b.as_ptr(), 1, n as isize),
            );
        }
        best = best.min(start.elapsed().as_secs_f64());
    }
    std::hint::black_box(&c);
    2.0 * (m * n * k) as f64 / best
}
