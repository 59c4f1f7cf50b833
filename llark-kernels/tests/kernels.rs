//! The packed products against an f64 product of the values the storage stands for, on both
//! paths (one activation row: fused kernels; several: widened tiles and `gemm`), with lengths
//! that leave tails after the SIMD steps; conversion error bounds; typed errors.

use llark_kernels::{matmul_transposed, KernelError, PackedDtype, PackedMatrix, WeightDtype};

/// Deterministic values in [-1, 1) (a 64-bit LCG), scaled.
fn values(n: usize, seed: u64, scale: f32) -> Vec<f32> {
    let mut s = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..n)
        .map(|_| {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (((s >> 40) as f32) / (1u64 << 24) as f32 * 2.0 - 1.0) * scale
        })
        .collect()
}

/// `x W^T` in f64 with `W` given in f32, and the sum of |x||w| per output (the error scale).
fn reference(x: &[f32], t: usize, w: &[f32], rows: usize, cols: usize) -> (Vec<f64>, Vec<f64>) {
    let mut out = vec![0.0; t * rows];
    let mut mag = vec![0.0; t * rows];
    for i in 0..t {
        for r in 0..rows {
            for k in 0..cols {
                let p = f64::from(x[i * cols + k]) * f64::from(w[r * cols + k]);
                out[i * rows + r] += p;
                mag[i * rows + r] += p.abs();
            }
        }
    }
    (out, mag)
}

/// `x` (rows of `cols`) rounded to int8 in groups of `group` as the one-row int8 product rounds
/// it (symmetric, `scale = max |x| / 127`), as the values it stands for, and each group's scale.
fn rounded_activations(x: &[f32], group: usize) -> (Vec<f32>, Vec<f32>) {
    let mut scales = Vec::new();
    let mut rounded = Vec::with_capacity(x.len());
    for g in x.chunks(group) {
        let scale = g.iter().fold(0.0f32, |m, v| m.max(v.abs())) / 127.0;
        scales.push(scale);
        rounded.extend(g.iter().map(|&v| {
            if scale == 0.0 {
                0.0
            } else {
                (v / scale).round() * scale
            }
        }));
    }
    (rounded, scales)
}

const DTYPES: [PackedDtype; 5] = [
    PackedDtype::Bf16,
    PackedDtype::F16,
    PackedDtype::Int8 { group: 64 },
    PackedDtype::Int8 { group: 32 },
    PackedDtype::Int8 { group: 8 },
];

#[test]
fn products_equal_the_product_of_the_stored_values() {
    // (rows, cols): SIMD steps with and without tails, a 1-column matrix, more rows than a task.
    for (rows, cols) in [(3, 64), (70, 96), (5, 200), (130, 8), (2, 1000), (1, 1024)] {
        for dtype in DTYPES {
            let group_fits = match dtype {
                PackedDtype::Int8 { group } => cols % group == 0,
                _ => true,
            };
            if !group_fits {
                continue;
            }
            let w = values(rows * cols, rows as u64 * 31 + cols as u64, 0.5);
            let packed = PackedMatrix::from_f32(&w, rows, cols, dtype).unwrap();
            let stored = packed.to_f32();
            for t in [1, 2, 5, 40] {
                let x = values(t * cols, t as u64 + 7, 1.0);
                let y = matmul_transposed(&x, t, &packed).unwrap();
                // One int8 row multiplies the activations rounded to int8.
                let used = match dtype {
                    PackedDtype::Int8 { group } if t == 1 => rounded_activations(&x, group).0,
                    _ => x.clone(),
                };
                let (expected, mag) = reference(&used, t, &stored, rows, cols);
                for (i, ((&got, &want), &m)) in y.iter().zip(&expected).zip(&mag).enumerate() {
                    let err = (f64::from(got) - want).abs();
                    assert!(
                        err <= 1e-5 * m + 1e-6,
                        "{dtype:?} {rows}x{cols} t={t} output {i}: {got} vs {want} (|x||w| {m})"
                    );
                }
            }
        }
    }
}

#[test]
fn one_row_and_many_rows_agree() {
    // The fused kernel (t = 1) and the tiled gemm path (t > 1) on the same activation row, within
    // the rounding of the activations for int8.
    let (rows, cols) = (300, 4096);
    let w = values(rows * cols, 3, 0.05);
    let x = values(cols, 4, 1.0);
    for dtype in [
        PackedDtype::Bf16,
        PackedDtype::F16,
        PackedDtype::Int8 { group: 64 },
    ] {
        let packed = PackedMatrix::from_f32(&w, rows, cols, dtype).unwrap();
        let single = matmul_transposed(&x, 1, &packed).unwrap();
        let doubled: Vec<f32> = x.iter().chain(&x).copied().collect();
        let pair = matmul_transposed(&doubled, 2, &packed).unwrap();
        let stored = packed.to_f32();
        for r in 0..rows {
            let mut tol = 1e-4 * single[r].abs().max(1.0);
            if let PackedDtype::Int8 { group } = dtype {
                // The one-row product rounds `x` to int8: half a step a value at most.
                let (_, scales) = rounded_activations(&x, group);
                let w_row = &stored[r * cols..(r + 1) * cols];
                tol += w_row
                    .chunks(group)
                    .zip(&scales)
                    .map(|(g, s)| s / 2.0 * g.iter().map(|v| v.abs()).sum::<f32>())
                    .sum::<f32>();
            }
            assert!((single[r] - pair[r]).abs() <= tol, "{dtype:?} row {r}");
            assert!(
                (single[r] - pair[rows + r]).abs() <= tol,
                "{dtype:?} row {r}"
            );
        }
    }
}

#[test]
fn conversion_errors_stay_within_the_formats_precision() {
    let (rows, cols) = (16, 128);
    let w = values(rows * cols, 11, 3.0);
    let bf = PackedMatrix::from_f32(&w, rows, cols, PackedDtype::Bf16)
        .unwrap()
        .to_f32();
    let hf = PackedMatrix::from_f32(&w, rows, cols, PackedDtype::F16)
        .unwrap()
        .to_f32();
    let int8 = PackedMatrix::from_f32(&w, rows, cols, PackedDtype::Int8 { group: 32 }).unwrap();
    let (_, scales, group) = int8.int8_parts().unwrap();
    let q = int8.to_f32();
    for i in 0..w.len() {
        // Round to nearest: half a unit in the last place (8 and 11 significand bits).
        assert!(
            (bf[i] - w[i]).abs() <= w[i].abs() * 2f32.powi(-8) * 1.0001,
            "bf16 {i}"
        );
        assert!(
            (hf[i] - w[i]).abs() <= w[i].abs() * 2f32.powi(-11) * 1.0001 + 1e-7,
            "f16 {i}"
        );
        let scale = scales[i / group];
        assert!((q[i] - w[i]).abs() <= scale * 0.5001, "int8 {i}");
    }
    // The largest magnitude of each group is exact up to rounding of the scale.
    assert_eq!(scales.len(), rows * cols / group);
}

#[test]
fn stored_bits_are_kept_as_they_are() {
    // bf16 bits for 1.0, -2.0, 0.5 and the smallest positive normal.
    let bits = vec![0x3f80, 0xc000, 0x3f00, 0x0080];
    let m = PackedMatrix::from_bf16_bits(bits.clone(), 2, 2).unwrap();
    assert_eq!(m.half_bits().unwrap(), &bits[..]);
    assert_eq!(m.to_f32(), vec![1.0, -2.0, 0.5, f32::MIN_POSITIVE]);
    let h = PackedMatrix::from_f16_bits(vec![0x3c00, 0xc000], 1, 2).unwrap();
    assert_eq!(h.to_f32(), vec![1.0, -2.0]);
    let q = PackedMatrix::from_int8(vec![1, -2, 127, 0], vec![0.5, 2.0], 1, 4, 2).unwrap();
    assert_eq!(q.to_f32(), vec![0.5, -1.0, 254.0, 0.0]);
    assert_eq!(q.stored_bytes(), 4 + 8);
    assert_eq!(m.stored_bytes(), 8);
}

#[test]
fn bad_inputs_get_typed_errors() {
    let err = PackedMatrix::from_f32(&[1.0; 5], 2, 3, PackedDtype::Bf16).unwrap_err();
    assert!(
        matches!(
            err,
            KernelError::Length {
                found: 5,
                expected: 6,
                ..
            }
        ),
        "{err}"
    );
    let err = PackedMatrix::from_f32(&[1.0; 6], 2, 3, PackedDtype::Int8 { group: 2 }).unwrap_err();
    assert_eq!(err, KernelError::Group { group: 2, cols: 3 });
    let err = PackedMatrix::from_f32(&[1.0; 6], 2, 3, PackedDtype::Int8 { group: 0 }).unwrap_err();
    assert_eq!(err, KernelError::Group { group: 0, cols: 3 });
    let err =
        PackedMatrix::from_f32(&[1.0, f32::NAN], 1, 2, PackedDtype::Int8 { group: 2 }).unwrap_err();
    assert!(
        matches!(err, KernelError::Unrepresentable { index: 1, .. }),
        "{err}"
    );
    let err = PackedMatrix::from_f32(&[1.0, 1e6], 1, 2, PackedDtype::F16).unwrap_err();
    assert!(
        err.to_string().contains("1000000") && err.to_string().contains("f16"),
        "{err}"
    );
    let err = PackedMatrix::from_f32(&[f32::INFINITY], 1, 1, PackedDtype::Bf16).unwrap_err();
    assert!(
        matches!(err, KernelError::Unrepresentable { index: 0, .. }),
        "{err}"
    );
    let err = PackedMatrix::from_bf16_bits(vec![0x3f80, 0x7fc0], 1, 2).unwrap_err();
    assert!(
        matches!(err, KernelError::Unrepresentable { index: 1, .. }),
        "{err}"
    );
    let err = PackedMatrix::from_f16_bits(vec![0x7c00], 1, 1).unwrap_err();
    assert!(
        matches!(err, KernelError::Unrepresentable { index: 0, .. }),
        "{err}"
    );
    let err = PackedMatrix::from_int8(vec![0; 4], vec![1.0, -1.0], 1, 4, 2).unwrap_err();
    assert!(err.to_string().contains("scale"), "{err}");
    let err = PackedMatrix::from_int8(vec![0; 4], vec![1.0], 1, 4, 2).unwrap_err();
    assert!(
        matches!(
            err,
            KernelError::Length {
                what: "int8 scales",
                ..
            }
        ),
        "{err}"
    );
    let m = PackedMatrix::from_f32(&[1.0; 6], 2, 3, PackedDtype::Bf16).unwrap();
    let err = matmul_transposed(&[1.0; 5], 2, &m).unwrap_err();
    assert!(
        matches!(
            err,
            KernelError::Length {
                what: "activations",
                ..
            }
        ),
        "{err}"
    );
    let err = PackedMatrix::from_f32(&[], usize::MAX, 2, PackedDtype::Bf16).unwrap_err();
    assert!(matches!(err, KernelError::TooLarge(_)), "{err}");
}

#[test]
fn dtype_names_parse() {
    for d in WeightDtype::ALL {
        assert_eq!(d.name().parse::<WeightDtype>().unwrap(), d);
        assert_eq!(
            d.to_string().to_uppercase().parse::<WeightDtype>().unwrap(),
            d
        );
    }
    assert_eq!(WeightDtype::F32.packed(), None);
    assert_eq!(
        WeightDtype::Int8.packed(),
        Some(PackedDtype::Int8 { group: 64 })
    );
    let int8 = PackedDtype::Int8 { group: 64 };
    assert_eq!(int8.fitted(128), int8);
    assert_eq!(int8.fitted(176), PackedDtype::Int8 { group: 16 });
    assert_eq!(int8.fitted(36), PackedDtype::Int8 { group: 36 });
    assert_eq!(PackedDtype::Bf16.fitted(3), PackedDtype::Bf16);
    let err = "fp8".parse::<WeightDtype>().unwrap_err();
    assert!(err.to_string().contains("fp8") && err.to_string().contains("int8"));
}

#[test]
fn all_zero_groups_quantise_to_zero() {
    let w = [0.0f32; 8];
    let q = PackedMatrix::from_f32(&w, 1, 8, PackedDtype::Int8 { group: 4 }).unwrap();
    assert_eq!(q.to_f32(), vec![0.0; 8]);
    assert_eq!(matmul_transposed(&[1.0; 8], 1, &q).unwrap(), vec![0.0]);
}
