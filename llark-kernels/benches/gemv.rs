//! One-row products (decoding) and 64-row products (prefill) of a 4096 x 11008 matrix, Llama-2-7B's
//! MLP shape, in every packed storage, beside the machine's read bandwidth and f32 GEMM rate
//! measured in the same run. A one-row product reads the matrix once, so its speed in GB/s of
//! stored bytes, against the read bandwidth, says how close decoding is to its bound.
//!
//! `RAYON_NUM_THREADS=1 cargo bench -p llark-kernels --bench gemv` (one thread; leave the
//! variable out for all cores).

use std::time::Instant;

use llark_kernels::{matmul_transposed_into, probe, PackedDtype, PackedMatrix};

fn best_of(repeats: usize, mut f: impl FnMut()) -> f64 {
    f();
    (0..repeats)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed().as_secs_f64()
        })
        .fold(f64::INFINITY, f64::min)
}

fn main() {
    let threads = rayon::current_num_threads();
    let bandwidth = probe::read_bandwidth(1 << 30, threads, 5);
    let gemm = probe::gemm_rate(256, 1024, 1024, 5);
    println!(
        "threads {threads}: read bandwidth {:.1} GB/s, f32 GEMM (1 thread) {:.1} GFLOP/s",
        bandwidth / 1e9,
        gemm / 1e9
    );
    let (rows, cols) = (11008, 4096);
    let values: Vec<f32> = (0..rows * cols)
        .map(|i: usize| ((i.wrapping_mul(2654435761) % 2001) as f32 - 1000.0) * 2e-5)
        .collect();
    let x: Vec<f32> = (0..64 * cols)
        .map(|i| ((i % 97) as f32 - 48.0) / 48.0)
        .collect();
    println!("| storage | stored MB | one row: ms | GB/s | of bandwidth | 64 rows: ms | GFLOP/s |");
    println!("|---|---|---|---|---|---|---|");
    for dtype in [
        PackedDtype::Bf16,
        PackedDtype::F16,
        PackedDtype::Int8 { group: 64 },
    ] {
        let w = PackedMatrix::from_f32(&values, rows, cols, dtype).expect("finite values");
        let bytes = w.stored_bytes() as f64;
        let mut out = vec![0.0; 64 * rows];
        let one = best_of(20, || {
            matmul_transposed_into(&x[..cols], 1, &w, &mut out[..rows]).expect("shapes")
        });
        let many = best_of(3, || {
            matmul_transposed_into(&x, 64, &w, &mut out).expect("shapes")
        });
        println!(
            "| {} | {:.0} | {:.2} | {:.1} | {:.0} % | {:.1} | {:.1} |",
            dtype.name(),
            bytes / 1e6,
            one * 1e3,
            bytes / one / 1e9,
            100.0 * bytes / one / bandwidth,
            many * 1e3,
            2.0 * (64 * rows * cols) as f64 / many / 1e9
        );
    }
}
