//! A small reader of NumPy `.npy` files (format versions 1, 2 and 3): little-endian float16,
//! float32 or float64 arrays in C order, read into `f32`. This is how LLark stored per-clip
//! encodings before packing them.

use std::path::{Path, PathBuf};

/// Errors reading a `.npy` file; each names the file.
#[derive(Debug, thiserror::Error)]
pub enum NpyError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not a valid or supported `.npy` file.
    #[error("{path}: {reason}")]
    Format {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
}

/// Element type of a `.npy` array.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NpyDtype {
    /// `<f2`.
    F16,
    /// `<f4`.
    F32,
    /// `<f8`.
    F64,
}

impl NpyDtype {
    fn size(self) -> usize {
        match self {
            NpyDtype::F16 => 2,
            NpyDtype::F32 => 4,
            NpyDtype::F64 => 8,
        }
    }
}

/// An array read from a `.npy` file.
#[derive(Debug, Clone, PartialEq)]
pub struct NpyArray {
    /// The shape.
    pub shape: Vec<usize>,
    /// The element type in the file.
    pub dtype: NpyDtype,
    /// The values, converted to `f32`, row-major.
    pub data: Vec<f32>,
}

/// Reads a `.npy` file.
pub fn read_npy(path: impl AsRef<Path>) -> Result<NpyArray, NpyError> {
    let path = path.as_ref();
    let bytes = std::fs::read(path).map_err(|source| NpyError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    parse_npy(&bytes).map_err(|reason| NpyError::Format {
        path: path.to_path_buf(),
        reason,
    })
}

/// Parses the bytes of a `.npy` file; the error is the reason.
pub fn parse_npy(bytes: &[u8]) -> Result<NpyArray, String> {
    const MAGIC: &[u8] = b"\x93NUMPY";
    if bytes.len() < 10 || &bytes[..6] != MAGIC {
        return Err("not a .npy file (bad magic)".into());
    }
    let major = bytes[6];
    let (header_len, header_start) = match major {
        1 => (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10),
        2 | 3 => {
            if bytes.len() < 12 {
                return Err("truncated header length".into());
            }
            let n = u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]);
            (n as usize, 12)
        }
        v => return Err(format!("unsupported .npy format version {v}")),
    };
    let data_start = header_start + header_len;
    let header = bytes
        .get(header_start..data_start)
        .ok_or("truncated header")?;
    let header = std::str::from_utf8(header).map_err(|_| "header is not UTF-8 text")?;
    let descr = dict_value(header, "descr")?;
    let dtype = match descr.trim_matches(|c| c == '\'' || c == '"') {
        "<f2" => NpyDtype::F16,
        "<f4" => NpyDtype::F32,
        "<f8" => NpyDtype::F64,
        other => {
            return Err(format!(
                "unsupported dtype {other} (expected little-endian <f2, <f4 or <f8)"
            ))
        }
    };
    match dict_value(header, "fortran_order")?.trim() {
        "False" => {}
        "True" => return Err("Fortran-order arrays are not supported".into()),
        other => return Err(format!("bad fortran_order value {other}")),
    }
    let shape = parse_shape(dict_value(header, "shape")?)?;
    // The byte count too is checked: a shape whose element count fits may still overflow once
    // multiplied by the element size (and, wrapped, match a short payload).
    let expected = shape
        .iter()
        .try_fold(1usize, |a, &d| a.checked_mul(d))
        .and_then(|count| count.checked_mul(dtype.size()))
        .ok_or_else(|| format!("shape {shape:?} of {descr} overflows the address space"))?;
    let payload = &bytes[data_start..];
    if payload.len() != expected {
        return Err(format!(
            "shape {shape:?} of {descr} needs {expected} data bytes, the file has {}",
            payload.len()
        ));
    }
    let data = match dtype {
        NpyDtype::F16 => payload
            .chunks_exact(2)
            .map(|c| half::f16::from_le_bytes([c[0], c[1]]).to_f32())
            .collect(),
        NpyDtype::F32 => payload
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect(),
        NpyDtype::F64 => payload
            .chunks_exact(8)
            .map(|c| {
                let mut b = [0u8; 8];
                b.copy_from_slice(c);
                f64::from_le_bytes(b) as f32
            })
            .collect(),
    };
    Ok(NpyArray { shape, dtype, data })
}

/// The raw text of `key`'s value in the header's Python dict literal.
fn dict_value<'h>(header: &'h str, key: &str) -> Result<&'h str, String> {
    let pat_single = format!("'{key}'");
    let pat_double = format!("\"{key}\"");
    let at = header
        .find(&pat_single)
        .or_else(|| header.find(&pat_double))
        .ok_or_else(|| format!("header has no {key}"))?;
    let rest = &header[at + key.len() + 2..];
    let rest = rest
        .trim_start()
        .strip_prefix(':')
        .ok_or_else(|| format!("header: no ':' after {key}"))?
        .trim_start();
    let end = if rest.starts_with('(') {
        rest.find(')').map(|i| i + 1)
    } else {
        rest.find([',', '}'])
    }
    .ok_or_else(|| format!("header: unterminated value of {key}"))?;
    Ok(&rest[..end])
}

fn parse_shape(text: &str) -> Result<Vec<usize>, String> {
    let inner = text
        .trim()
        .strip_prefix('(')
        .and_then(|t| t.strip_suffix(')'))
        .ok_or_else(|| format!("bad shape {text}"))?;
    inner
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| s.parse::<usize>().map_err(|_| format!("bad shape {text}")))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn npy(descr: &str, shape: &str, payload: &[u8]) -> Vec<u8> {
        let mut header =
            format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}");
        while (10 + header.len() + 1) % 64 != 0 {
            header.push(' ');
        }
        header.push('\n');
        let mut out = b"\x93NUMPY\x01\x00".to_vec();
        out.extend_from_slice(&(header.len() as u16).to_le_bytes());
        out.extend_from_slice(header.as_bytes());
        out.extend_from_slice(payload);
        out
    }

    #[test]
    fn parses_scalar_and_rejects_short_payload() {
        let a = parse_npy(&npy("<f4", "()", &1.5f32.to_le_bytes())).unwrap();
        assert_eq!(a.shape, Vec::<usize>::new());
        assert_eq!(a.data, vec![1.5]);
        let err = parse_npy(&npy("<f4", "(2, 3)", &[0; 8])).unwrap_err();
        assert!(err.contains("needs 24"), "{err}");
        let err = parse_npy(&npy(">f4", "(1,)", &[0; 4])).unwrap_err();
        assert!(err.contains("unsupported dtype"), "{err}");
    }
}
