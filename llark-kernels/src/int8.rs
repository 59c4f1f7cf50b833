//! One-row products of group-wise int8 weights (decoding): the activation row is quantised in
//! the weights' own groups (symmetric, `scale = max |x| / 127`, as the weights are), each group's
//! dot product is summed exactly in 32-bit integers, and that sum is scaled by the weight group's
//! scale times the activation group's.
//!
//! Kernels: AVX-512 VNNI (`vpdpbusd`, 64 products an instruction; groups a multiple of 64), AVX2
//! (`vpmaddwd`; groups a multiple of 16), portable code otherwise. All give the same integer
//! sums and differ only in the order of the f32 additions that combine the groups. Widening every
//! weight to f32 instead costs three instructions per sixteen weights, which bounds that kernel
//! below the memory's read bandwidth; the integer one is bound by memory.
//!
//! Rounding the activations to int8 adds an error of at most half an activation step per
//! element: `|y - y_f32| <= sum over groups of scale_x / 2 * sum |w|` of the group.

use crate::packed::{quantise_group, Int8Row, Int8View};

/// Largest group the SIMD kernels take: their 32-bit lanes sum at most `group / 64` (VNNI) or
/// `group / 8` (AVX2) products of 255 x 127, far below `i32::MAX` at this size.
const MAX_SIMD_GROUP: usize = 1 << 16;

/// An activation row quantised group by group to int8.
#[derive(Debug, Clone)]
pub(crate) struct QuantisedRow {
    values: Vec<i8>,
    /// One per group; NaN for a group holding a NaN or an infinity, so that it reaches the output.
    scales: Vec<f32>,
    group: usize,
    /// Per group (groups a multiple of 64 only), sixteen 32-bit lanes: `-128` times the sum of
    /// the lane's four values over the group's 64-value chunks. The VNNI kernel multiplies
    /// unsigned `w + 128` by signed `x`; starting each lane here takes the `128 * sum x` back out.
    offsets: Vec<i32>,
}

impl QuantisedRow {
    /// Quantises `x` in groups of `group` values (`x.len()` a multiple of `group`).
    pub(crate) fn new(x: &[f32], group: usize) -> Self {
        let mut values = Vec::with_capacity(x.len());
        let scales = x
            .chunks(group)
            .map(|g| {
                if g.iter().all(|v| v.is_finite()) {
                    quantise_group(g, &mut values)
                } else {
                    values.extend(std::iter::repeat_n(0, g.len()));
                    f32::NAN
                }
            })
            .collect();
        let offsets = if group.is_multiple_of(64) {
            values
                .chunks(group)
                .flat_map(|g| {
                    let mut lanes = [0i32; 16];
                    for chunk in g.chunks_exact(64) {
                        for (lane, four) in lanes.iter_mut().zip(chunk.chunks_exact(4)) {
                            *lane -= 128 * four.iter().map(|&v| i32::from(v)).sum::<i32>();
                        }
                    }
                    lanes
                })
                .collect()
        } else {
            Vec::new()
        };
        Self {
            values,
            scales,
            group,
            offsets,
        }
    }
}

/// `out[i] = row(start + i) . x` for every `i` of `out`, with `x` quantised in the weights'
/// groups: the ISA is chosen once per call.
pub(crate) fn dot_rows(w: &Int8View<'_>, start: usize, x: &QuantisedRow, out: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    if x.group <= MAX_SIMD_GROUP {
        if x.group.is_multiple_of(64) && simd::available_vnni() {
            // SAFETY: the CPU has AVX-512F/BW/VNNI (checked once at run time); every row and
            // `x` hold `cols` values and `cols / group` scales, and `x.offsets` sixteen lanes a
            // group, which is all the kernel reads. Eight rows at a time: four left a 4096 x
            // 11,008 product at 75-80 % of the read bandwidth, eight reach 86-93 %.
            return in_blocks::<8>(
                w,
                start,
                out,
                |rows| unsafe { simd::block_vnni(rows, x) },
                |rows| unsafe { simd::block_vnni(rows, x) },
            );
        }
        if x.group.is_multiple_of(16) && simd::available_avx2() {
            // SAFETY: as above, with AVX2 and FMA; no offsets are read. Four rows: eight would
            // not fit their accumulators in sixteen registers.
            return in_blocks::<4>(
                w,
                start,
                out,
                |rows| unsafe { simd::block_avx2(rows, x) },
                |rows| unsafe { simd::block_avx2(rows, x) },
            );
        }
    }
    for (i, o) in out.iter_mut().enumerate() {
        *o = portable(w.row(start + i), x);
    }
}

/// Runs `block` over rows `start..start + out.len()` `N` at a time (each load of `x` then serves
/// `N` rows, and `N` streams in flight keep the memory busy), then `one` over the rest.
#[cfg(target_arch = "x86_64")]
fn in_blocks<const N: usize>(
    w: &Int8View<'_>,
    start: usize,
    out: &mut [f32],
    mut block: impl FnMut([Int8Row<'_>; N]) -> [f32; N],
    mut one: impl FnMut([Int8Row<'_>; 1]) -> [f32; 1],
) {
    let mut blocks = out.chunks_exact_mut(N);
    let mut r = start;
    for chunk in &mut blocks {
        chunk.copy_from_slice(&block(std::array::from_fn(|j| w.row(r + j))));
        r += N;
    }
    for o in blocks.into_remainder() {
        *o = one([w.row(r)])[0];
        r += 1;
    }
}

/// The reference kernel: exact integer sums per group, scaled and added in order.
fn portable(row: Int8Row<'_>, x: &QuantisedRow) -> f32 {
    row.values
        .chunks(x.group)
        .zip(x.values.chunks(x.group))
        .zip(row.scales.iter().zip(&x.scales))
        .map(|((w, xs), (&sw, &sx))| {
            let sum: i64 = w
                .iter()
                .zip(xs)
                .map(|(&a, &b)| i64::from(a) * i64::from(b))
                .sum();
            sum as f32 * (sw * sx)
        })
        .sum()
}

#[cfg(target_arch = "x86_64")]
mod simd {
    use std::arch::x86_64::*;
    use std::sync::OnceLock;

    use super::{Int8Row, QuantisedRow};

    /// How far ahead (in bytes) each row's stream is prefetched: several short streams at once
    /// do not train the hardware prefetcher in time.
    const PREFETCH: usize = 1024;

    /// Whether the CPU has AVX-512F, AVX-512BW and AVX-512 VNNI (checked once).
    pub(super) fn available_vnni() -> bool {
        static HAS: OnceLock<bool> = OnceLock::new();
        *HAS.get_or_init(|| {
            is_x86_feature_detected!("avx512f")
                && is_x86_feature_detected!("avx512bw")
                && is_x86_feature_detected!("avx512vnni")
        })
    }

    /// Whether the CPU has AVX2 and FMA (checked once).
    pub(super) fn available_avx2() -> bool {
        static HAS: OnceLock<bool> = OnceLock::new();
        *HAS.get_or_init(|| is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma"))
    }

    /// Dot products of `N` rows with `x`: per group, each 32-bit lane starts at the group's
    /// offset and gathers `(w + 128) * x` over four bytes of every 64-value chunk; the exact
    /// lane sums are then converted and scaled by `scale_w * scale_x`.
    #[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
    #[inline]
    pub(super) unsafe fn block_vnni<const N: usize>(
        rows: [Int8Row<'_>; N],
        x: &QuantisedRow,
    ) -> [f32; N] {
        let chunks = x.group / 64;
        let cols = x.values.len();
        let flip = _mm512_set1_epi8(i8::MIN);
        let xp = x.values.as_ptr();
        let wp = rows.map(|r| r.values.as_ptr());
        let groups = x.scales.len();
        let mut acc = [_mm512_setzero_ps(); N];
        // Sixteen groups at a time: their combined scales in one multiply a row.
        for first in (0..groups).step_by(16) {
            let n = (groups - first).min(16);
            let mask = (u32::MAX >> (32 - n)) as __mmask16;
            let sx = _mm512_maskz_loadu_ps(mask, x.scales.as_ptr().add(first));
            let mut scales = [[0.0f32; 16]; N];
            for j in 0..N {
                // The next line of this row's scales, and at a row's start the first line of
                // the row `N` below, which the next block starts with.
                let sp = rows[j].scales.as_ptr();
                _mm_prefetch::<_MM_HINT_T0>(sp.wrapping_add(first + 16).cast());
                if first == 0 {
                    _mm_prefetch::<_MM_HINT_T0>(sp.wrapping_add(N * groups).cast());
                }
                let sw = _mm512_maskz_loadu_ps(mask, sp.add(first));
                _mm512_storeu_ps(scales[j].as_mut_ptr(), _mm512_mul_ps(sw, sx));
            }
            #[allow(clippy::needless_range_loop)] // `k` indexes every row's scales
            for k in 0..n {
                let g = first + k;
                let offset = _mm512_loadu_si512(x.offsets.as_ptr().add(g * 16).cast());
                let mut lanes = [offset; N];
                for c in 0..chunks {
                    let o = (g * chunks + c) * 64;
                    let xv = _mm512_loadu_si512(xp.add(o).cast());
                    // Past a row's end the stream goes on at the same place of the row `N`
                    // below (the next block's), not into row `j + 1`, which this block reads.
                    let ahead = o + PREFETCH;
                    let ahead = ahead + usize::from(ahead >= cols) * (N - 1) * cols;
                    for j in 0..N {
                        _mm_prefetch::<_MM_HINT_T0>(wp[j].wrapping_add(ahead).cast());
                        let wv = _mm512_xor_si512(_mm512_loadu_si512(wp[j].add(o).cast()), flip);
                        lanes[j] = _mm512_dpbusd_epi32(lanes[j], wv, xv);
                    }
                }
                for j in 0..N {
                    let scale = _mm512_set1_ps(scales[j][k]);
                    acc[j] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(lanes[j]), scale, acc[j]);
                }
            }
        }
        acc.map(|a| _mm512_reduce_add_ps(a))
    }

    /// Dot products of `N` rows with `x`, sixteen values a step sign-extended to 16 bits and
    /// multiplied pairwise into 32-bit lanes (`vpmaddwd`), exact per group.
    #[target_feature(enable = "avx2,fma")]
    #[inline]
    pub(super) unsafe fn block_avx2<const N: usize>(
        rows: [Int8Row<'_>; N],
        x: &QuantisedRow,
    ) -> [f32; N] {
        let xp = x.values.as_ptr();
        let wp = rows.map(|r| r.values.as_ptr());
        let mut acc = [_mm256_setzero_ps(); N];
        for (g, &sx) in x.scales.iter().enumerate() {
            let mut lanes = [_mm256_setzero_si256(); N];
            let mut o = g * x.group;
            while o < (g + 1) * x.group {
                let xv = _mm256_cvtepi8_epi16(_mm_loadu_si128(xp.add(o).cast()));
                for j in 0..N {
                    let wv = _mm256_cvtepi8_epi16(_mm_loadu_si128(wp[j].add(o).cast()));
                    lanes[j] = _mm256_add_epi32(lanes[j], _mm256_madd_epi16(wv, xv));
                }
                o += 16;
            }
            for j in 0..N {
                let scale = _mm256_set1_ps(*rows[j].scales.get_unchecked(g) * sx);
                acc[j] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(lanes[j]), scale, acc[j]);
            }
        }
        acc.map(|a| {
            let s = _mm_add_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps::<1>(a));
            let s = _mm_add_ps(s, _mm_movehl_ps(s, s));
            _mm_cvtss_f32(_mm_add_ss(s, _mm_shuffle_ps::<0b01>(s, s)))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{PackedDtype, PackedMatrix};

    fn weights(rows: usize, cols: usize) -> Vec<f32> {
        (0..rows * cols)
            .map(|i| ((i * 37 % 101) as f32 - 50.0) / 60.0)
            .collect()
    }

    /// The dispatched kernels (VNNI or AVX2 where the CPU has them) equal the portable one, for
    /// block tails (1-9 rows) and every group the SIMD kernels take or leave.
    #[test]
    fn dispatched_equals_portable() {
        for (cols, group) in [
            (64, 64),
            (192, 64),
            (256, 128),
            (1024, 64),
            (48, 16),
            (96, 32),
            (40, 8),
            (36, 36),
        ] {
            for rows in 1..10 {
                let w = weights(rows, cols);
                let m =
                    PackedMatrix::from_f32(&w, rows, cols, PackedDtype::Int8 { group }).unwrap();
                let parts = m.int8_view().unwrap();
                let x: Vec<f32> = (0..cols).map(|i| ((i % 17) as f32 - 8.0) * 0.3).collect();
                let q = QuantisedRow::new(&x, group);
                let mut out = vec![0.0; rows];
                dot_rows(&parts, 0, &q, &mut out);
                for (r, &got) in out.iter().enumerate() {
                    let want = portable(parts.row(r), &q);
                    assert!(
                        (got - want).abs() <= 1e-5 * want.abs().max(1.0),
                        "cols {cols} group {group} row {r} of {rows}: {got} vs {want}"
                    );
                }
            }
        }
    }

    /// The extreme stored values (-128 and 127 against -127 and 127) sum exactly.
    #[test]
    fn extreme_values_sum_exactly() {
        let cols = 128;
        let values: Vec<i8> = (0..cols)
            .map(|i| if i % 2 == 0 { -128 } else { 127 })
            .collect();
        let m = PackedMatrix::from_int8(values.clone(), vec![1.0, 1.0], 1, cols, 64).unwrap();
        let parts = m.int8_view().unwrap();
        // Scales of exactly 1: every product and sum is an integer held exactly in f32.
        let x: Vec<f32> = (0..cols)
            .map(|i| if i % 3 == 0 { -127.0 } else { 127.0 })
            .collect();
        let q = QuantisedRow::new(&x, 64);
        let mut out = [0.0];
        dot_rows(&parts, 0, &q, &mut out);
        let exact: i64 = values
            .iter()
            .zip(&q.values)
            .map(|(&a, &b)| i64::from(a) * i64::from(b))
            .sum();
        assert_eq!(q.values.iter().map(|v| v.abs()).min(), Some(127));
        assert_eq!(out[0], exact as f32);
    }

    /// A NaN or infinity in the activations gives NaN, as the f32 product would, rather than
    /// vanishing in the rounding to int8.
    #[test]
    fn non_finite_activations_reach_the_output() {
        let w = weights(2, 128);
        let m = PackedMatrix::from_f32(&w, 2, 128, PackedDtype::Int8 { group: 64 }).unwrap();
        let parts = m.int8_view().unwrap();
        let group = parts.group();
        for bad in [f32::NAN, f32::INFINITY] {
            let mut x = vec![0.5; 128];
            x[70] = bad;
            let mut out = [0.0; 2];
            dot_rows(&parts, 0, &QuantisedRow::new(&x, group), &mut out);
            assert!(out.iter().all(|v| v.is_nan()), "{bad}: {out:?}");
        }
    }
}
