//! Fused dot products of an f32 vector with one stored bf16 or f16 row: each element is widened
//! to f32 in registers, so a row is read once in its stored width. AVX-512F or AVX2 + FMA + F16C
//! when the CPU has them, portable code otherwise; all give the same sums up to the order of
//! additions. (Int8 rows are multiplied with int8 activations by [`crate::int8`]; this module
//! widens them for the tiled product and keeps their f32 reference.)

use crate::packed::{PackedMatrix, Row};

/// `out[i] = row(start + i) . x` for every `i` of `out` (`x.len()` = the row length): the ISA is
/// chosen once per call, and each row's kernel is inlined into the loop over rows.
pub(crate) fn dot_rows(w: &PackedMatrix, start: usize, x: &[f32], out: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    {
        if simd::available_512() {
            // SAFETY: the CPU has AVX-512F, AVX2, FMA and F16C (checked once at run time), and
            // the kernels read only within each row and `x`, which have the same length.
            return unsafe { simd::rows_512(w, start, x, out) };
        }
        if simd::available() {
            // SAFETY: as above, with AVX2, FMA and F16C.
            return unsafe { simd::rows_256(w, start, x, out) };
        }
    }
    for (i, o) in out.iter_mut().enumerate() {
        *o = portable(w.row(start + i), x);
    }
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

    use crate::packed::{PackedMatrix, Row};

    /// The AVX2 kernels over rows `start..start + out.len()` of `w`.
    #[target_feature(enable = "avx2,fma,f16c")]
    pub(super) unsafe fn rows_256(w: &PackedMatrix, start: usize, x: &[f32], out: &mut [f32]) {
        for (i, o) in out.iter_mut().enumerate() {
            *o = row_256(w.row(start + i), x);
        }
    }

    /// One row with the AVX2 kernels (portable code for int8 rows).
    #[target_feature(enable = "avx2,fma,f16c")]
    #[inline]
    unsafe fn row_256(row: Row<'_>, x: &[f32]) -> f32 {
        match row {
            Row::Bf16(r) => dot_half::<true>(r, x),
            Row::F16(r) => dot_half::<false>(r, x),
            row => super::portable(row, x),
        }
    }

    /// One row with the AVX-512 kernels (portable code for int8 rows).
    #[target_feature(enable = "avx512f,avx2,fma,f16c")]
    #[inline]
    unsafe fn row_512(row: Row<'_>, x: &[f32]) -> f32 {
        match row {
            Row::Bf16(r) => dot_half_512::<true>(r, x),
            Row::F16(r) => dot_half_512::<false>(r, x),
            row => super::portable(row, x),
        }
    }

    /// The AVX-512 kernels over rows `start..start + out.len()` of `w`.
    #[target_feature(enable = "avx512f,avx2,fma,f16c")]
    pub(super) unsafe fn rows_512(w: &PackedMatrix, start: usize, x: &[f32], out: &mut [f32]) {
        // Four rows at a time share each load of `x` (a long row's `x` does not fit in L1).
        let mut i = 0;
        while i + 4 <= out.len() {
            let rows = [0, 1, 2, 3].map(|j| w.row(start + i + j));
            let done = match rows {
                [Row::Bf16(a), Row::Bf16(b), Row::Bf16(c), Row::Bf16(d)] => {
                    Some(dot4_half_512::<true>([a, b, c, d], x))
                }
                [Row::F16(a), Row::F16(b), Row::F16(c), Row::F16(d)] => {
                    Some(dot4_half_512::<false>([a, b, c, d], x))
                }
                _ => None,
            };
            match done {
                Some(v) => out[i..i + 4].copy_from_slice(&v),
                None => break,
            }
            i += 4;
        }
        for (j, o) in out.iter_mut().enumerate().skip(i) {
            *o = row_512(w.row(start + j), x);
        }
    }

    /// Dot products of f32 `x` with four bf16 (`BF16`) or f16 rows: each sixteen-lane load of
    /// `x` serves four rows, two accumulators a row.
    #[target_feature(enable = "avx512f,avx2,fma,f16c")]
    #[inline]
    unsafe fn dot4_half_512<const BF16: bool>(w: [&[u16]; 4], x: &[f32]) -> [f32; 4] {
        let k = x.len().min(w.iter().map(|r| r.len()).min().unwrap_or(0));
        let xp = x.as_ptr();
        let [p0, p1, p2, p3] = w.map(<[u16]>::as_ptr);
        let z = _mm512_setzero_ps();
        let (mut a0, mut b0, mut a1, mut b1, mut a2, mut b2, mut a3, mut b3) =
            (z, z, z, z, z, z, z, z);
        let mut i = 0;
        while i + 32 <= k {
            // Four short streams (one per row) do not train the hardware prefetcher in time.
            // Past a row's end each stream goes on at the same place of the row four below
            // (the next block's, rows being `k` apart in a packed matrix), not into the next
            // row, which this block reads; a prefetch never faults.
            let ahead = i + PREFETCH_HALF;
            let ahead = ahead + usize::from(ahead >= k) * 3 * k;
            for p in [p0, p1, p2, p3] {
                _mm_prefetch::<_MM_HINT_T0>(p.wrapping_add(ahead).cast());
            }
            let (xa, xb) = (_mm512_loadu_ps(xp.add(i)), _mm512_loadu_ps(xp.add(i + 16)));
            a0 = _mm512_fmadd_ps(widen16::<BF16>(p0.add(i)), xa, a0);
            b0 = _mm512_fmadd_ps(widen16::<BF16>(p0.add(i + 16)), xb, b0);
            a1 = _mm512_fmadd_ps(widen16::<BF16>(p1.add(i)), xa, a1);
            b1 = _mm512_fmadd_ps(widen16::<BF16>(p1.add(i + 16)), xb, b1);
            a2 = _mm512_fmadd_ps(widen16::<BF16>(p2.add(i)), xa, a2);
            b2 = _mm512_fmadd_ps(widen16::<BF16>(p2.add(i + 16)), xb, b2);
            a3 = _mm512_fmadd_ps(widen16::<BF16>(p3.add(i)), xa, a3);
            b3 = _mm512_fmadd_ps(widen16::<BF16>(p3.add(i + 16)), xb, b3);
            i += 32;
        }
        let sums = [
            _mm512_reduce_add_ps(_mm512_add_ps(a0, b0)),
            _mm512_reduce_add_ps(_mm512_add_ps(a1, b1)),
            _mm512_reduce_add_ps(_mm512_add_ps(a2, b2)),
            _mm512_reduce_add_ps(_mm512_add_ps(a3, b3)),
        ];
        let mut out = [0.0; 4];
        for (r, o) in out.iter_mut().enumerate() {
            *o = sums[r] + half_tail::<BF16>(&w[r][i..k], &x[i..k]);
        }
        out
    }

    /// Sixteen bf16 (`BF16`) or f16 values at `p` as f32.
    #[target_feature(enable = "avx512f,avx2,fma,f16c")]
    #[inline]
    unsafe fn widen16<const BF16: bool>(p: *const u16) -> __m512 {
        let raw = _mm256_loadu_si256(p.cast());
        if BF16 {
            _mm512_castsi512_ps(_mm512_slli_epi32::<16>(_mm512_cvtepu16_epi32(raw)))
        } else {
            _mm512_cvtph_ps(raw)
        }
    }

    /// Dot product of f32 `x` with a bf16 (`BF16`) or f16 row `w`, sixteen lanes, four
    /// accumulators.
    #[target_feature(enable = "avx512f,avx2,fma,f16c")]
    #[inline]
    unsafe fn dot_half_512<const BF16: bool>(w: &[u16], x: &[f32]) -> f32 {
        let k = w.len().min(x.len());
        let (wp, xp) = (w.as_ptr(), x.as_ptr());
        let (mut a0, mut a1, mut a2, mut a3) = (
            _mm512_setzero_ps(),
            _mm512_setzero_ps(),
            _mm512_setzero_ps(),
            _mm512_setzero_ps(),
        );
        let mut i = 0;
        while i + 64 <= k {
            a0 = _mm512_fmadd_ps(widen16::<BF16>(wp.add(i)), _mm512_loadu_ps(xp.add(i)), a0);
            a1 = _mm512_fmadd_ps(
                widen16::<BF16>(wp.add(i + 16)),
                _mm512_loadu_ps(xp.add(i + 16)),
                a1,
            );
            a2 = _mm512_fmadd_ps(
                widen16::<BF16>(wp.add(i + 32)),
                _mm512_loadu_ps(xp.add(i + 32)),
                a2,
            );
            a3 = _mm512_fmadd_ps(
                widen16::<BF16>(wp.add(i + 48)),
                _mm512_loadu_ps(xp.add(i + 48)),
                a3,
            );
            i += 64;
        }
        while i + 16 <= k {
            a0 = _mm512_fmadd_ps(widen16::<BF16>(wp.add(i)), _mm512_loadu_ps(xp.add(i)), a0);
            i += 16;
        }
        let sum = _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)));
        sum + half_tail::<BF16>(&w[i..k], &x[i..k])
    }

    /// The scalar rest of a bf16 (`BF16`) or f16 dot product.
    #[inline]
    fn half_tail<const BF16: bool>(w: &[u16], x: &[f32]) -> f32 {
        w.iter()
            .zip(x)
            .map(|(&b, &xv)| {
                let v = if BF16 {
                    half::bf16::from_bits(b).to_f32()
                } else {
                    half::f16::from_bits(b).to_f32()
                };
                v * xv
            })
            .sum()
    }

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

    /// How far ahead (in elements) the four-row kernels prefetch each row: 1 KiB.
    const PREFETCH_HALF: usize = 512;

    /// Whether the CPU has AVX-512F (checked once): sixteen lanes halve the instructions per
    /// weight.
    pub(super) fn available_512() -> bool {
        static HAS: OnceLock<bool> = OnceLock::new();
        *HAS.get_or_init(|| available() && is_x86_feature_detected!("avx512f"))
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

    /// Dot product of f32 `x` with a bf16 (`BF16`) or f16 row `w` of the same length (eight
    /// lanes, four accumulators).
    #[target_feature(enable = "avx2,fma,f16c")]
    #[inline]
    pub(super) unsafe fn dot_half<const BF16: bool>(w: &[u16], x: &[f32]) -> f32 {
        let k = w.len().min(x.len());
        let (wp, xp) = (w.as_ptr(), x.as_ptr());
        let (mut a0, mut a1, mut a2, mut a3) = (
            _mm256_setzero_ps(),
            _mm256_setzero_ps(),
            _mm256_setzero_ps(),
            _mm256_setzero_ps(),
        );
        let mut i = 0;
        while i + STEP <= k {
            a0 = _mm256_fmadd_ps(widen8::<BF16>(wp.add(i)), _mm256_loadu_ps(xp.add(i)), a0);
            a1 = _mm256_fmadd_ps(
                widen8::<BF16>(wp.add(i + 8)),
                _mm256_loadu_ps(xp.add(i + 8)),
                a1,
            );
            a2 = _mm256_fmadd_ps(
                widen8::<BF16>(wp.add(i + 16)),
                _mm256_loadu_ps(xp.add(i + 16)),
                a2,
            );
            a3 = _mm256_fmadd_ps(
                widen8::<BF16>(wp.add(i + 24)),
                _mm256_loadu_ps(xp.add(i + 24)),
                a3,
            );
            i += STEP;
        }
        let sum = hsum(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)));
        sum + half_tail::<BF16>(&w[i..k], &x[i..k])
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::PackedDtype;

    /// The dispatched kernels (SIMD where the CPU has it) equal the portable one, for row
    /// lengths around the SIMD steps and every storage.
    #[test]
    fn dispatched_equals_portable() {
        for cols in [1, 31, 32, 33, 64, 100, 128, 1000, 1024] {
            let rows = 5;
            let w: Vec<f32> = (0..rows * cols)
                .map(|i| ((i * 37 % 101) as f32 - 50.0) / 60.0)
                .collect();
            let x: Vec<f32> = (0..cols).map(|i| (i % 17) as f32 - 8.0).collect();
            let int8 = PackedDtype::Int8 { group: 64 }.fitted(cols);
            for dtype in [
                PackedDtype::Bf16,
                PackedDtype::F16,
                int8,
                PackedDtype::Int8 { group: cols },
            ] {
                let m = PackedMatrix::from_f32(&w, rows, cols, dtype).unwrap();
                let mut out = vec![0.0; rows];
                dot_rows(&m, 0, &x, &mut out);
                for (r, &got) in out.iter().enumerate() {
                    let want = portable(m.row(r), &x);
                    assert!(
                        (got - want).abs() <= 1e-4 * want.abs().max(1.0),
                        "{dtype:?} cols {cols} row {r}: {got} vs {want}"
                    );
                }
                let mut widened = vec![0.0; cols];
                let mut reference = vec![0.0; cols];
                m.row(rows - 1).widen(&mut widened);
                m.row(rows - 1).widen_portable(&mut reference);
                assert_eq!(widened, reference, "{dtype:?} cols {cols}");
            }
        }
    }
}
