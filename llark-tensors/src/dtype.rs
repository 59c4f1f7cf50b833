//! Element types: decoding stored little-endian bytes to `f32` / `i64`, and encoding `f32` values
//! into the float storage types this crate writes.

use half::{bf16, f16};
use safetensors::Dtype;

/// Storage type of written float tensors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum FloatDtype {
    /// IEEE single precision (exact).
    #[default]
    F32,
    /// IEEE half precision.
    F16,
    /// bfloat16 (what Llama-2 checkpoints use).
    Bf16,
}

impl FloatDtype {
    /// The safetensors dtype.
    pub fn dtype(self) -> Dtype {
        match self {
            FloatDtype::F32 => Dtype::F32,
            FloatDtype::F16 => Dtype::F16,
            FloatDtype::Bf16 => Dtype::BF16,
        }
    }

    /// Bytes per element.
    pub fn size(self) -> usize {
        match self {
            FloatDtype::F32 => 4,
            FloatDtype::F16 | FloatDtype::Bf16 => 2,
        }
    }

    /// The float storage type of a safetensors dtype, if it is one of the three.
    pub fn from_dtype(dtype: Dtype) -> Option<Self> {
        match dtype {
            Dtype::F32 => Some(FloatDtype::F32),
            Dtype::F16 => Some(FloatDtype::F16),
            Dtype::BF16 => Some(FloatDtype::Bf16),
            _ => None,
        }
    }
}

/// What [`decode_f32`] accepts, for messages.
pub const FLOAT_DTYPES: &str = "a float type (f32, f16, bf16, f64)";
/// What [`decode_i64`] accepts, for messages.
pub const INT_DTYPES: &str = "an integer or bool type (i64, i32, u32, i16, u16, i8, u8, bool)";

/// Whether [`decode_f32`] reads this dtype.
pub fn is_float(dtype: Dtype) -> bool {
    matches!(dtype, Dtype::F32 | Dtype::F16 | Dtype::BF16 | Dtype::F64)
}

/// Decodes little-endian bytes of a float dtype (f32, f16, bf16, f64) to `f32`, appending to
/// `out`; `None` for any other dtype. f64 values are rounded to the nearest f32.
pub fn decode_f32_into(dtype: Dtype, bytes: &[u8], out: &mut Vec<f32>) -> Option<()> {
    out.reserve(bytes.len() / (dtype.bitsize() / 8).max(1));
    match dtype {
        Dtype::F32 => out.extend(chunks(bytes).map(f32::from_le_bytes)),
        Dtype::F16 => out.extend(chunks(bytes).map(|b| f16::from_le_bytes(b).to_f32())),
        Dtype::BF16 => out.extend(chunks(bytes).map(|b| bf16::from_le_bytes(b).to_f32())),
        Dtype::F64 => out.extend(chunks(bytes).map(|b| f64::from_le_bytes(b) as f32)),
        _ => return None,
    }
    Some(())
}

/// Decodes little-endian bytes of a float dtype to `f32`; `None` for a non-float dtype.
pub fn decode_f32(dtype: Dtype, bytes: &[u8]) -> Option<Vec<f32>> {
    let mut out = Vec::new();
    decode_f32_into(dtype, bytes, &mut out).map(|()| out)
}

/// Decodes little-endian bytes of an integer or bool dtype to `i64`; `None` for other dtypes
/// (u64, which may not fit, included).
pub fn decode_i64(dtype: Dtype, bytes: &[u8]) -> Option<Vec<i64>> {
    let values = match dtype {
        Dtype::I64 => chunks(bytes).map(i64::from_le_bytes).collect(),
        Dtype::I32 => chunks(bytes)
            .map(|b| i32::from_le_bytes(b).into())
            .collect(),
        Dtype::U32 => chunks(bytes)
            .map(|b| u32::from_le_bytes(b).into())
            .collect(),
        Dtype::I16 => chunks(bytes)
            .map(|b| i16::from_le_bytes(b).into())
            .collect(),
        Dtype::U16 => chunks(bytes)
            .map(|b| u16::from_le_bytes(b).into())
            .collect(),
        Dtype::I8 => bytes.iter().map(|&b| (b as i8).into()).collect(),
        Dtype::U8 => bytes.iter().map(|&b| b.into()).collect(),
        Dtype::BOOL => bytes.iter().map(|&b| i64::from(b != 0)).collect(),
        _ => return None,
    };
    Some(values)
}

/// Encodes `f32` values as little-endian bytes of `dtype` (rounding to nearest). With `checked`,
/// the first finite value that would become infinite is returned as `Err((index, value))`.
pub fn encode_f32(
    values: &[f32],
    dtype: FloatDtype,
    checked: bool,
) -> Result<Vec<u8>, (usize, f32)> {
    let mut out = Vec::with_capacity(values.len() * dtype.size());
    match dtype {
        FloatDtype::F32 => values
            .iter()
            .for_each(|v| out.extend_from_slice(&v.to_le_bytes())),
        FloatDtype::F16 => encode_half(
            values,
            checked,
            &mut out,
            f16::from_f32,
            f16::is_finite,
            f16::to_le_bytes,
        )?,
        FloatDtype::Bf16 => encode_half(
            values,
            checked,
            &mut out,
            bf16::from_f32,
            bf16::is_finite,
            bf16::to_le_bytes,
        )?,
    }
    Ok(out)
}

fn encode_half<H: Copy>(
    values: &[f32],
    checked: bool,
    out: &mut Vec<u8>,
    from: fn(f32) -> H,
    finite: fn(H) -> bool,
    bytes: fn(H) -> [u8; 2],
) -> Result<(), (usize, f32)> {
    for (i, &v) in values.iter().enumerate() {
        let h = from(v);
        if checked && v.is_finite() && !finite(h) {
            return Err((i, v));
        }
        out.extend_from_slice(&bytes(h));
    }
    Ok(())
}

fn chunks<const N: usize>(bytes: &[u8]) -> impl Iterator<Item = [u8; N]> + '_ {
    bytes.chunks_exact(N).map(|c| {
        let mut a = [0u8; N];
        a.copy_from_slice(c);
        a
    })
}
