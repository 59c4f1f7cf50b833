//! The machine's limits, measured where they are needed: memory read bandwidth (the bound of
//! decoding, which reads every weight once a token) and the f32 GEMM rate (the bound of prefill
//! and training). Benches print them beside their own figures so that ratios carry their context.

use std::time::Instant;

use rayon::prelude::*;

/// Best-of-`repeats` read bandwidth in bytes per second: the sum of a `bytes`-sized f32 buffer
/// (larger than the caches, say 1 GiB) split over `threads` threads.
pub fn read_bandwidth(bytes: usize, threads: usize, repeats: usize) -> f64 {
    let n = (bytes / 4).max(1);
    let data: Vec<f32> = (0..n).map(|i| (i % 7) as f32).collect();
    let threads = threads.max(1);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .ok();
    let chunk = n.div_ceil(threads);
    let mut best = f64::INFINITY;
    let mut sink = 0.0f32;
    for _ in 0..repeats.max(1) {
        let start = Instant::now();
        let sum = |c: &[f32]| -> f32 {
            let mut acc = [0.0f32; 16];
            let blocks = c.chunks_exact(16);
            let tail: f32 = blocks.remainder().iter().sum();
            for b in blocks {
                for (a, v) in acc.iter_mut().zip(b) {
                    *a += v;
                }
            }
            acc.iter().sum::<f32>() + tail
        };
        let total: f32 = match &pool {
            Some(pool) => pool.install(|| data.par_chunks(chunk).map(sum).sum()),
            None => data.chunks(chunk).map(sum).sum(),
        };
        best = best.min(start.elapsed().as_secs_f64());
        sink += total;
    }
    std::hint::black_box(sink);
    (n * 4) as f64 / best
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
            gemm::gemm(
                m,
                n,
                k,
                c.as_mut_ptr(),
                1,
                n as isize,
                false,
                a.as_ptr(),
                1,
                k as isize,
                b.as_ptr(),
                1,
                n as isize,
                0.0,
                1.0,
                false,
                false,
                false,
                gemm::Parallelism::None,
            );
        }
        best = best.min(start.elapsed().as_secs_f64());
    }
    std::hint::black_box(&c);
    2.0 * (m * n * k) as f64 / best
}
