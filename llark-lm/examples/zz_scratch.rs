use burn::backend::Flex;
use burn::tensor::{Int, Tensor, TensorData};
use llark_lm::{PackedDtype, PackedMatrix};
use std::time::Instant;
type B = Flex;
fn main() {
    let dev = Default::default();
    let table = Tensor::<B, 2>::from_data(
        TensorData::new(vec![0.5f32; 32000 * 4096], [32000, 4096]),
        &dev,
    );
    let t0 = Instant::now();
    for i in 0..20 {
        let ids = Tensor::<B, 1, Int>::from_data(TensorData::new(vec![i as i64 * 100], [1]), &dev);
        std::hint::black_box(table.clone().select(0, ids).into_data());
    }
    println!(
        "select 1 row: {:.2} ms",
        t0.elapsed().as_secs_f64() / 20.0 * 1e3
    );
    for (rows, cols) in [
        (11008usize, 4096usize),
        (4096, 4096),
        (4096, 11008),
        (32000, 4096),
    ] {
        for dtype in [PackedDtype::Bf16, PackedDtype::Int8 { group: 64 }] {
            let mats: Vec<PackedMatrix> = (0..(1usize << 30) / (rows * cols))
                .map(|k| {
                    let v: Vec<f32> = (0..rows * cols)
                        .map(|i: usize| {
                            ((i.wrapping_mul(2654435761).wrapping_add(k) % 2001) as f32 - 1000.0)
                                * 2e-5
                        })
                        .collect();
                    PackedMatrix::from_f32(&v, rows, cols, dtype).unwrap()
                })
                .collect();
            let bytes: usize = mats.iter().map(|m| m.stored_bytes()).sum();
            let x = vec![0.1f32; cols];
            let mut out = vec![0.0; rows];
            for _ in 0..2 {
                for m in &mats {
                    llark_kernels::matmul_transposed_into(&x, 1, m, &mut out).unwrap();
                }
            }
            let t0 = Instant::now();
            for _ in 0..3 {
                for m in &mats {
                    llark_kernels::matmul_transposed_into(&x, 1, m, &mut out).unwrap();
                }
            }
            let s = t0.elapsed().as_secs_f64() / 3.0;
            println!(
                "{rows}x{cols} {dtype:?}: {} matrices {:.0} MB in {:.1} ms = {:.1} GB/s",
                mats.len(),
                bytes as f64 / 1e6,
                s * 1e3,
                bytes as f64 / s / 1e9
            );
        }
    }
    println!(
        "probe {:.1} GB/s",
        llark_kernels::probe::read_bandwidth(1 << 30, 1, 5) / 1e9
    );
}
