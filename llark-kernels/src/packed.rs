//! [`PackedMatrix`]: a `[rows, cols]` weight matrix kept in bf16, f16 or group-wise int8.

use half::{bf16, f16};

use crate::dtype::PackedDtype;
use crate::error::{KernelError, Result};

/// The stored elements of a [`PackedMatrix`], row-major.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Storage {
    Bf16(Vec<u16>),
    F16(Vec<u16>),
    Int8 {
        values: Vec<i8>,
        /// `[rows, cols / group]`.
        scales: Vec<f32>,
        group: usize,
    },
}

/// One row of a [`PackedMatrix`], borrowed.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Row<'a> {
    Bf16(&'a [u16]),
    F16(&'a [u16]),
    Int8 {
        values: &'a [i8],
        scales: &'a [f32],
        group: usize,
    },
}

/// The int8 storage of a [`PackedMatrix`], borrowed: what the int8 kernels read.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Int8View<'a> {
    values: &'a [i8],
    scales: &'a [f32],
    cols: usize,
    group: usize,
}

/// One row of an [`Int8View`]: `cols` values and `cols / group` scales.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Int8Row<'a> {
    pub(crate) values: &'a [i8],
    pub(crate) scales: &'a [f32],
}

impl<'a> Int8View<'a> {
    /// Weights that share one scale.
    pub(crate) fn group(&self) -> usize {
        self.group
    }

    /// Row `r`.
    pub(crate) fn row(&self, r: usize) -> Int8Row<'a> {
        let per_row = self.cols / self.group;
        Int8Row {
            values: &self.values[r * self.cols..(r + 1) * self.cols],
            scales: &self.scales[r * per_row..(r + 1) * per_row],
        }
    }
}

/// A `[rows, cols]` matrix (Hugging Face `[out, in]` layout) in a compact storage type, read
/// directly by [`crate::matmul_transposed`].
#[derive(Debug, Clone, PartialEq)]
pub struct PackedMatrix {
    rows: usize,
    cols: usize,
    storage: Storage,
}

fn element_count(rows: usize, cols: usize) -> Result<usize> {
    rows.checked_mul(cols)
        .ok_or_else(|| KernelError::TooLarge(vec![rows, cols]))
}

fn check_len(what: &'static str, found: usize, rows: usize, cols: usize) -> Result<()> {
    let expected = element_count(rows, cols)?;
    if found != expected {
        return Err(KernelError::Length {
            what,
            found,
            expected,
            shape: vec![rows, cols],
        });
    }
    Ok(())
}

fn check_group(group: usize, cols: usize) -> Result<()> {
    if group == 0 || !cols.is_multiple_of(group) {
        return Err(KernelError::Group { group, cols });
    }
    Ok(())
}

fn first_non_finite(values: &[f32]) -> Option<usize> {
    values.iter().position(|v| !v.is_finite())
}

/// Rounds f32 values to 16-bit floats with `convert`, failing at a non-finite input or at a
/// finite one that `convert` turns infinite (f16's range ends at 65,504).
fn to_half_bits(
    values: &[f32],
    dtype: &'static str,
    convert: impl Fn(f32) -> (u16, bool),
) -> Result<Vec<u16>> {
    let mut bits = Vec::with_capacity(values.len());
    for (index, &value) in values.iter().enumerate() {
        let (b, finite) = convert(value);
        if !value.is_finite() || !finite {
            return Err(KernelError::Unrepresentable {
                value,
                index,
                dtype,
            });
        }
        bits.push(b);
    }
    Ok(bits)
}

/// Fails at the first stored 16-bit value whose exponent bits (`exponent_mask`) are all set: a
/// NaN or infinity (checked on the bits, so a 13 GB checkpoint is scanned at memory speed).
fn check_half_finite(
    bits: &[u16],
    dtype: &'static str,
    exponent_mask: u16,
    widen: impl Fn(u16) -> f32,
) -> Result<()> {
    match bits
        .iter()
        .position(|&b| b & exponent_mask == exponent_mask)
    {
        None => Ok(()),
        Some(index) => Err(KernelError::Unrepresentable {
            value: widen(bits[index]),
            index,
            dtype,
        }),
    }
}

/// Symmetric int8 quantisation of one group: `scale = max|w| / 127`, `q = round(w / scale)`.
pub(crate) fn quantise_group(values: &[f32], out: &mut Vec<i8>) -> f32 {
    let max = values.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    if max == 0.0 {
        out.extend(std::iter::repeat_n(0, values.len()));
        return 0.0;
    }
    let scale = max / 127.0;
    let inv = 1.0 / scale;
    out.extend(
        values
            .iter()
            .map(|v| (v * inv).round().clamp(-127.0, 127.0) as i8),
    );
    scale
}

impl PackedMatrix {
    /// Converts f32 values (`[rows, cols]`, row-major) to `dtype`: bf16 and f16 round to nearest
    /// even; int8 quantises each group of a row symmetrically. Fails at a NaN or infinity, and
    /// for f16 at a value beyond its range.
    pub fn from_f32(values: &[f32], rows: usize, cols: usize, dtype: PackedDtype) -> Result<Self> {
        check_len("f32 weight", values.len(), rows, cols)?;
        let storage = match dtype {
            PackedDtype::Bf16 => Storage::Bf16(to_half_bits(values, "bf16", |v| {
                let b = bf16::from_f32(v);
                (b.to_bits(), b.is_finite())
            })?),
            PackedDtype::F16 => Storage::F16(to_half_bits(values, "f16", |v| {
                let h = f16::from_f32(v);
                (h.to_bits(), h.is_finite())
            })?),
            PackedDtype::Int8 { group } => {
                check_group(group, cols)?;
                if let Some(index) = first_non_finite(values) {
                    return Err(KernelError::Unrepresentable {
                        value: values[index],
                        index,
                        dtype: "int8",
                    });
                }
                let mut q = Vec::with_capacity(values.len());
                let scales = values
                    .chunks(group)
                    .map(|g| quantise_group(g, &mut q))
                    .collect();
                Storage::Int8 {
                    values: q,
                    scales,
                    group,
                }
            }
        };
        Ok(Self {
            rows,
            cols,
            storage,
        })
    }

    /// Wraps stored bfloat16 bits as they are (no conversion). Fails at a NaN or infinity.
    pub fn from_bf16_bits(bits: Vec<u16>, rows: usize, cols: usize) -> Result<Self> {
        check_len("bf16 weight", bits.len(), rows, cols)?;
        check_half_finite(&bits, "bf16", 0x7f80, |b| bf16::from_bits(b).to_f32())?;
        Ok(Self {
            rows,
            cols,
            storage: Storage::Bf16(bits),
        })
    }

    /// Wraps stored half-precision bits as they are (no conversion). Fails at a NaN or infinity.
    pub fn from_f16_bits(bits: Vec<u16>, rows: usize, cols: usize) -> Result<Self> {
        check_len("f16 weight", bits.len(), rows, cols)?;
        check_half_finite(&bits, "f16", 0x7c00, |b| f16::from_bits(b).to_f32())?;
        Ok(Self {
            rows,
            cols,
            storage: Storage::F16(bits),
        })
    }

    /// Wraps int8 values (`[rows, cols]`) and their scales (`[rows, cols / group]`); value `q` of
    /// group `g` stands for `q * scales[g]`. Fails at a non-finite or negative scale.
    pub fn from_int8(
        values: Vec<i8>,
        scales: Vec<f32>,
        rows: usize,
        cols: usize,
        group: usize,
    ) -> Result<Self> {
        check_len("int8 weight", values.len(), rows, cols)?;
        check_group(group, cols)?;
        check_len("int8 scales", scales.len(), rows, cols / group)?;
        if let Some(index) = scales.iter().position(|s| !s.is_finite() || *s < 0.0) {
            return Err(KernelError::Unrepresentable {
                value: scales[index],
                index,
                dtype: "an int8 scale (finite, not negative)",
            });
        }
        Ok(Self {
            rows,
            cols,
            storage: Storage::Int8 {
                values,
                scales,
                group,
            },
        })
    }

    /// Rows (output features).
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Columns (input features).
    pub fn cols(&self) -> usize {
        self.cols
    }

    /// `[rows, cols]`.
    pub fn shape(&self) -> [usize; 2] {
        [self.rows, self.cols]
    }

    /// The storage type.
    pub fn dtype(&self) -> PackedDtype {
        match &self.storage {
            Storage::Bf16(_) => PackedDtype::Bf16,
            Storage::F16(_) => PackedDtype::F16,
            Storage::Int8 { group, .. } => PackedDtype::Int8 { group: *group },
        }
    }

    /// Bytes held in memory (values and scales), what a product reads once.
    pub fn stored_bytes(&self) -> usize {
        match &self.storage {
            Storage::Bf16(b) | Storage::F16(b) => b.len() * 2,
            Storage::Int8 { values, scales, .. } => values.len() + scales.len() * 4,
        }
    }

    /// The int8 values and scales, `None` for other storage (for writing checkpoints).
    pub fn int8_parts(&self) -> Option<(&[i8], &[f32], usize)> {
        match &self.storage {
            Storage::Int8 {
                values,
                scales,
                group,
            } => Some((values, scales, *group)),
            _ => None,
        }
    }

    /// The 16-bit storage (bf16 or f16 bits), `None` for int8.
    pub fn half_bits(&self) -> Option<&[u16]> {
        match &self.storage {
            Storage::Bf16(b) | Storage::F16(b) => Some(b),
            Storage::Int8 { .. } => None,
        }
    }

    /// The int8 storage, `None` for other storage.
    pub(crate) fn int8_view(&self) -> Option<Int8View<'_>> {
        match &self.storage {
            Storage::Int8 {
                values,
                scales,
                group,
            } => Some(Int8View {
                values,
                scales,
                cols: self.cols,
                group: *group,
            }),
            _ => None,
        }
    }

    pub(crate) fn row(&self, r: usize) -> Row<'_> {
        let span = r * self.cols..(r + 1) * self.cols;
        match &self.storage {
            Storage::Bf16(b) => Row::Bf16(&b[span]),
            Storage::F16(b) => Row::F16(&b[span]),
            Storage::Int8 {
                values,
                scales,
                group,
            } => {
                let view = Int8View {
                    values,
                    scales,
                    cols: self.cols,
                    group: *group,
                };
                let Int8Row { values, scales } = view.row(r);
                Row::Int8 {
                    values,
                    scales,
                    group: *group,
                }
            }
        }
    }

    /// Widens rows `start..start + out.len() / cols` to f32 into `out`.
    pub(crate) fn widen_rows(&self, start: usize, out: &mut [f32]) {
        for (i, dst) in out.chunks_exact_mut(self.cols).enumerate() {
            self.row(start + i).widen(dst);
        }
    }

    /// The whole matrix in f32 (`[rows, cols]`, row-major): what the stored values stand for.
    pub fn to_f32(&self) -> Vec<f32> {
        let mut out = vec![0.0; self.rows * self.cols];
        self.widen_rows(0, &mut out);
        out
    }
}

impl Row<'_> {
    /// Writes the f32 values this row stands for into `out` (`out.len()` = row length).
    pub(crate) fn widen(&self, out: &mut [f32]) {
        crate::dot::widen(*self, out);
    }

    /// The portable widening, the reference of the SIMD one.
    pub(crate) fn widen_portable(&self, out: &mut [f32]) {
        match *self {
            Row::Bf16(b) => out
                .iter_mut()
                .zip(b)
                .for_each(|(o, &v)| *o = bf16::from_bits(v).to_f32()),
            Row::F16(b) => out
                .iter_mut()
                .zip(b)
                .for_each(|(o, &v)| *o = f16::from_bits(v).to_f32()),
            Row::Int8 {
                values,
                scales,
                group,
            } => {
                for ((o, q), &s) in out.chunks_mut(group).zip(values.chunks(group)).zip(scales) {
                    o.iter_mut()
                        .zip(q)
                        .for_each(|(o, &v)| *o = f32::from(v) * s);
                }
            }
        }
    }
}
