//! Fused dot products of an f32 vector with one stored row: each element is widened to f32 in
//! registers, so a row is read once in its stored width. AVX2 + FMA (+ F16C for f16) when the CPU
//! has them (AVX-512F for int8 rows with groups of 64), portable code otherwise; all give the same
//! sums up to the order of additions.

use crate::packed::Row;

/// `sum_k row[k] * x[k]` (`x.len()` = row length).
pub(crate) fn dot(row: Row<'_>, x: &[f32]) -> f32 {
    #[cfg(target_arch = "x86_64")]
    if simd::available() {
        // SAFETY: the CPU has AVX2, FMA and F16C (checked once at run time), and the kernels
        // read only within `row` and `x`, which have the same length.
        return unsafe {
            match row {
                Row::Bf16(w) => simd::dot_half::<true>(w, x),
                Row::F16(w) => simd::dot_half::<false>(w, x),
                Row::Int8 {
                    values,
                    scales,
                    group,
                } if group.is_multiple_of(simd::STEP_512) && simd::available_512() => {
                    simd::dot_int8_512(values, scales, group, x)
                }
                Row::Int8 {
                    values,
                    scales,
                    group,
                } if group.is_multiple_of(simd::STEP) => simd::dot_int8(values, scales, group, x),
                Row::Int8 { .. } => portable(row, x),
            }
        };
    }
    portable(row, x)
}

/// Writes the f32 values of `row` into `out` (same length), with SIMD where the CPU has it.
pub(crate) fn widen(row: Row<'_>, out: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    if simd::available() {
        // SAFETY: AVX2, FMA and F16C are present; the kernels stay within `row` and `out`.
        unsafe {
            match row {
                Row::Bf16(w) => return simd::widen_half::<true>(w, out),
                Row::F16(w) => return simd::widen_half::<false>(w, out),
                Row::Int8 {
                    values,
                    scales,
                    group,
                } if group.is_multiple_of(16) => {
                    return simd::widen_int8(values, scales, group, out)
                }
                Row::Int8 { .. } => {}
            }
        }
    }
    row.widen_portable(out)
}

/// The reference kernel: widen, multiply, add (four partial sums).
pub(crate) fn portable(row: Row<'_>, x: &[f32]) -> f32 {
    fn dot4(x: &[f32], w: impl Iterator<Item = f32>) -> f32 {
        let mut acc = [0.0f32; 4];
        for (i, (xv, wv)) in x.iter().zip(w).enumerate() {
            acc[i % 4] += xv * wv;
        }
        (acc[0] + acc[1]) + (acc[2] + acc[3])
    }
    match row {
        Row::Bf16(w) => dot4(x, w.iter().map(|&b| half::bf16::from_bits(b).to_f32())),
        Row::F16(w) => dot4(x, w.iter().map(|&b| half::f16::from_bits(b).to_f32())),
        Row::Int8 {
            values,
            scales,
            group,
        } => values
            .chunks(group)
            .zip(x.chunks(group))
            .zip(scales)
            .map(|((q, xs), &s)| dot4(xs, q.iter().map(|&v| f32::from(v))) * s)
            .sum(),
    }
}

#[cfg(target_arch = "x86_64")]
mod simd {
    use std::arch::x86_64::*;
    use std::sync::OnceLock;

    /// Elements per unrolled step: four vectors of eight, four independent accumulators.
    pub(super) const STEP: usize = 32;

    /// Whether the CPU has AVX2, FMA and F16C (checked once).
    pub(super) fn available() -> bool {
        static HAS: OnceLock<bool> = OnceLock::new();
        *HAS.get_or_init(|| {
            is_x86_feature_detected!("avx2")
                && is_x86_feature_detected!("fma")
                && is_x86_feature_detected!("f16c")
        })
    }

    /// Elements per step of the AVX-512 int8 kernel: four vectors of sixteen.
    pub(super) const STEP_512: usize = 64;

    /// Whether the CPU has AVX-512F (checked once); int8 widening is the bottleneck of its dot
    /// product, and sixteen lanes halve the instructions per weight.
    pub(super) fn available_512() -> bool {
        static HAS: OnceLock<bool> = OnceLock::new();
        *HAS.get_or_init(|| is_x86_feature_detected!("avx512f"))
    }

    /// Dot product of f32 `x` with a group-wise int8 row (`group` a multiple of [`STEP_512`]).
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn dot_int8_512(
        values: &[i8],
        scales: &[f32],
        group: usize,
        x: &[f32],
    ) -> f32 {
        let (wp, xp) = (values.as_ptr(), x.as_ptr());
        let mut total = _mm512_setzero_ps();
        for (g, &scale) in scales.iter().enumerate() {
            let mut acc = [_mm512_setzero_ps(); 4];
            let mut i = g * group;
            let end = i + group;
            while i < end {
                for (j, a) in acc.iter_mut().enumerate() {
                    let o = i + 16 * j;
                    let w =
                        _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128(wp.add(o).cast())));
                    *a = _mm512_fmadd_ps(w, _mm512_loadu_ps(xp.add(o)), *a);
                }
                i += STEP_512;
            }
            let part = _mm512_add_ps(_mm512_add_ps(acc[0], acc[1]), _mm512_add_ps(acc[2], acc[3]));
            total = _mm512_fmadd_ps(part, _mm512_set1_ps(scale), total);
        }
        _mm512_reduce_add_ps(total)
    }

    #[target_feature(enable = "avx2,fma,f16c")]
    #[inline]
    fn hsum(v: __m256) -> f32 {
        let s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps::<1>(v));
        let s = _mm_add_ps(s, _mm_movehl_ps(s, s));
        let s = _mm_add_ss(s, _mm_shuffle_ps::<0b01>(s, s));
        _mm_cvtss_f32(s)
    }

    /// Eight bf16 (`BF16`) or f16 values at `p` as f32.
    #[target_feature(enable = "avx2,fma,f16c")]
    #[inline]
    unsafe fn widen8<const BF16: bool>(p: *const u16) -> __m256 {
        let raw = _mm_loadu_si128(p.cast());
        if BF16 {
            _mm256_castsi256_ps(_mm256_slli_epi32::<16>(_mm256_cvtepu16_epi32(raw)))
        } else {
            _mm256_cvtph_ps(raw)
        }
    }

    /// Sixteen int8 values at `p` as two vectors of eight f32.
    #[target_feature(enable = "avx2,fma,f16c")]
    #[inline]
    unsafe fn widen16_i8(p: *const i8) -> (__m256, __m256) {
        let raw = _mm_loadu_si128(p.cast());
        (
            _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(raw)),
            _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128::<8>(raw))),
        )
    }

    /// Dot product of f32 `x` with a bf16 (`BF16`) or f16 row `w` of the same length.
    #[target_feature(enable = "avx2,fma,f16c")]
    pub(super) unsafe fn dot_half<const BF16: bool>(w: &[u16], x: &[f32]) -> f32 {
        let k = w.len().min(x.len());
        let (wp, xp) = (w.as_ptr(), x.as_ptr());
        let mut acc = [_mm256_setzero_ps(); 4];
        let mut i = 0;
        while i + STEP <= k {
            for (j, a) in acc.iter_mut().enumerate() {
                let o = i + 8 * j;
                *a = _mm256_fmadd_ps(widen8::<BF16>(wp.add(o)), _mm256_loadu_ps(xp.add(o)), *a);
            }
            i += STEP;
        }
        let mut sum = hsum(_mm256_add_ps(
            _mm256_add_ps(acc[0], acc[1]),
            _mm256_add_ps(acc[2], acc[3]),
        ));
        for j in i..k {
            let v = if BF16 {
                half::bf16::from_bits(w[j]).to_f32()
            } else {
                half::f16::from_bits(w[j]).to_f32()
            };
            sum += v * x[j];
        }
        sum
    }

    /// Widens a bf16 (`BF16`) or f16 row into `out`.
    #[target_feature(enable = "avx2,fma,f16c")]
    pub(super) unsafe fn widen_half<const BF16: bool>(w: &[u16], out: &mut [f32]) {
        let k = w.len().min(out.len());
        let mut i = 0;
        while i + 8 <= k {
            _mm256_storeu_ps(out.as_mut_ptr().add(i), widen8::<BF16>(w.as_ptr().add(i)));
            i += 8;
        }
        for j in i..k {
            out[j] = if BF16 {
                half::bf16::from_bits(w[j]).to_f32()
            } else {
                half::f16::from_bits(w[j]).to_f32()
            };
        }
    }

    /// Widens a group-wise int8 row (`group` a multiple of 16) into `out`.
    #[target_feature(enable = "avx2,fma,f16c")]
    pub(super) unsafe fn widen_int8(values: &[i8], scales: &[f32], group: usize, out: &mut [f32]) {
        for (g, &scale) in scales.iter().enumerate() {
            let s = _mm256_set1_ps(scale);
            let mut i = g * group;
            while i < (g + 1) * group {
                let (a, b) = widen16_i8(values.as_ptr().add(i));
                _mm256_storeu_ps(out.as_mut_ptr().add(i), _mm256_mul_ps(a, s));
                _mm256_storeu_ps(out.as_mut_ptr().add(i + 8), _mm256_mul_ps(b, s));
                i += 16;
            }
        }
    }

    /// Dot product of f32 `x` with a group-wise int8 row (`group` a multiple of [`STEP`]).
    #[target_feature(enable = "avx2,fma,f16c")]
    pub(super) unsafe fn dot_int8(values: &[i8], scales: &[f32], group: usize, x: &[f32]) -> f32 {
        let (wp, xp) = (values.as_ptr(), x.as_ptr());
        let mut total = _mm256_setzero_ps();
        for (g, &scale) in scales.iter().enumerate() {
            let mut acc = [_mm256_setzero_ps(); 4];
            let mut i = g * group;
            let end = i + group;
            while i < end {
                let (a, b) = widen16_i8(wp.add(i));
                let (c, d) = widen16_i8(wp.add(i + 16));
                acc[0] = _mm256_fmadd_ps(a, _mm256_loadu_ps(xp.add(i)), acc[0]);
                acc[1] = _mm256_fmadd_ps(b, _mm256_loadu_ps(xp.add(i + 8)), acc[1]);
                acc[2] = _mm256_fmadd_ps(c, _mm256_loadu_ps(xp.add(i + 16)), acc[2]);
                acc[3] = _mm256_fmadd_ps(d, _mm256_loadu_ps(xp.add(i + 24)), acc[3]);
                i += STEP;
            }
            let part = _mm256_add_ps(_mm256_add_ps(acc[0], acc[1]), _mm256_add_ps(acc[2], acc[3]));
            total = _mm256_fmadd_ps(part, _mm256_set1_ps(scale), total);
        }
        hsum(total)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The dispatched kernel (SIMD where the CPU has it) equals the portable one.
    #[test]
    fn dispatched_equals_portable() {
        let x: Vec<f32> = (0..1000)
            .map(|i| ((i * 37 % 101) as f32 - 50.0) / 25.0)
            .collect();
        let bits: Vec<u16> = x
            .iter()
            .map(|v| half::bf16::from_f32(v * 0.3).to_bits())
            .collect();
        let halfs: Vec<u16> = x
            .iter()
            .map(|v| half::f16::from_f32(v * -0.7).to_bits())
            .collect();
        let q: Vec<i8> = (0..1024).map(|i| ((i * 53) % 255) as i8).collect();
        let scales: Vec<f32> = (0..16).map(|g| 0.01 * (g + 1) as f32).collect();
        let x1024: Vec<f32> = (0..1024).map(|i| (i % 17) as f32 - 8.0).collect();
        for len in [0, 1, 31, 32, 33, 100, 1000] {
            for row in [Row::Bf16(&bits[..len]), Row::F16(&halfs[..len])] {
                let (a, b) = (dot(row, &x[..len]), portable(row, &x[..len]));
                assert!(
                    (a - b).abs() <= 1e-4 * b.abs().max(1.0),
                    "{row:?}: {a} vs {b}"
                );
            }
        }
        let row = Row::Int8 {
            values: &q,
            scales: &scales,
            group: 64,
        };
        let (a, b) = (dot(row, &x1024), portable(row, &x1024));
        assert!((a - b).abs() <= 1e-4 * b.abs().max(1.0), "int8: {a} vs {b}");
    }
}
