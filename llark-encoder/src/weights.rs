//! Memory-mapped safetensors files: look tensors up by name, check their shapes, convert to f32.
//!
//! Weight files keep the original checkpoint names. Tensors stored as f16, bf16 or f64 are converted
//! to f32 when read; the file itself stays mapped, so reading one tensor at a time keeps at most that
//! tensor in anonymous memory.

use std::collections::HashMap;
use std::fs::File;
use std::path::{Path, PathBuf};

use burn::tensor::{backend::Backend, Int, Tensor, TensorData};
use memmap2::Mmap;
use safetensors::tensor::{Dtype, TensorInfo};
use safetensors::SafeTensors;

use crate::EncoderError;

/// A safetensors file opened read-only through a memory map.
pub struct WeightFile {
    path: PathBuf,
    mmap: Mmap,
    data_start: usize,
    tensors: HashMap<String, TensorInfo>,
}

impl std::fmt::Debug for WeightFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WeightFile")
            .field("path", &self.path)
            .field("tensors", &self.tensors.len())
            .finish()
    }
}

impl WeightFile {
    /// Opens and maps `path`, parsing the safetensors header.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, EncoderError> {
        let path = path.as_ref().to_path_buf();
        let io_err = |source| EncoderError::Io {
            path: path.clone(),
            source,
        };
        let file = File::open(&path).map_err(io_err)?;
        // SAFETY: the map is read-only and the file is not modified while mapped by this process.
        let mmap = unsafe { Mmap::map(&file) }.map_err(io_err)?;
        let (header_len, metadata) =
            SafeTensors::read_metadata(&mmap).map_err(|e| EncoderError::SafeTensors {
                path: path.clone(),
                message: e.to_string(),
            })?;
        let tensors = metadata
            .tensors()
            .into_iter()
            .map(|(name, info)| (name, info.clone()))
            .collect();
        Ok(Self {
            path,
            mmap,
            data_start: 8 + header_len,
            tensors,
        })
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether a tensor of that name exists.
    pub fn contains(&self, name: &str) -> bool {
        self.tensors.contains_key(name)
    }

    /// Names of all tensors in the file (unordered).
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.tensors.keys().map(String::as_str)
    }

    /// The shape of a tensor, if present.
    pub fn shape(&self, name: &str) -> Option<&[usize]> {
        self.tensors.get(name).map(|info| info.shape.as_slice())
    }

    fn info(&self, name: &str) -> Result<&TensorInfo, EncoderError> {
        self.tensors
            .get(name)
            .ok_or_else(|| EncoderError::MissingTensor {
                path: self.path.clone(),
                name: name.to_string(),
            })
    }

    fn bytes(&self, info: &TensorInfo) -> Result<&[u8], EncoderError> {
        let (start, end) = info.data_offsets;
        self.mmap
            .get(self.data_start + start..self.data_start + end)
            .ok_or_else(|| EncoderError::SafeTensors {
                path: self.path.clone(),
                message: format!("data offsets {start}..{end} lie outside the file"),
            })
    }

    fn check_shape(
        &self,
        name: &str,
        info: &TensorInfo,
        expected: &[usize],
    ) -> Result<(), EncoderError> {
        if info.shape != expected {
            return Err(EncoderError::TensorShape {
                path: self.path.clone(),
                name: name.to_string(),
                actual: info.shape.clone(),
                expected: expected.to_vec(),
            });
        }
        Ok(())
    }

    /// Checks that a tensor exists with the given shape and a float dtype, without reading it.
    pub fn check_float(&self, name: &str, expected: &[usize]) -> Result<(), EncoderError> {
        let info = self.info(name)?;
        self.check_shape(name, info, expected)?;
        match info.dtype {
            Dtype::F32 | Dtype::F16 | Dtype::BF16 | Dtype::F64 => Ok(()),
            other => Err(EncoderError::TensorDtype {
                path: self.path.clone(),
                name: name.to_string(),
                dtype: format!("{other:?}"),
                expected: "a float type (f32, f16, bf16, f64)",
            }),
        }
    }

    /// Reads a floating-point tensor as f32 values (row-major), checking its shape.
    pub fn read_f32(&self, name: &str, expected: &[usize]) -> Result<Vec<f32>, EncoderError> {
        let info = self.info(name)?;
        self.check_shape(name, info, expected)?;
        let bytes = self.bytes(info)?;
        let values = match info.dtype {
            Dtype::F32 => decode(bytes, f32::from_le_bytes),
            Dtype::F16 => decode(bytes, |b| half::f16::from_le_bytes(b).to_f32()),
            Dtype::BF16 => decode(bytes, |b| half::bf16::from_le_bytes(b).to_f32()),
            Dtype::F64 => decode(bytes, |b| f64::from_le_bytes(b) as f32),
            other => {
                return Err(EncoderError::TensorDtype {
                    path: self.path.clone(),
                    name: name.to_string(),
                    dtype: format!("{other:?}"),
                    expected: "a float type (f32, f16, bf16, f64)",
                })
            }
        };
        Ok(values)
    }

    /// Reads an integer tensor as i64 values (row-major), checking its shape.
    pub fn read_i64(&self, name: &str, expected: &[usize]) -> Result<Vec<i64>, EncoderError> {
        let info = self.info(name)?;
        self.check_shape(name, info, expected)?;
        let bytes = self.bytes(info)?;
        let values = match info.dtype {
            Dtype::I64 => decode(bytes, i64::from_le_bytes),
            Dtype::I32 => decode(bytes, |b| i64::from(i32::from_le_bytes(b))),
            other => {
                return Err(EncoderError::TensorDtype {
                    path: self.path.clone(),
                    name: name.to_string(),
                    dtype: format!("{other:?}"),
                    expected: "an integer type (i64, i32)",
                })
            }
        };
        Ok(values)
    }

    /// Reads a float tensor onto `device` as a burn tensor of the given shape (f32 values).
    pub fn tensor<B: Backend, const D: usize>(
        &self,
        name: &str,
        shape: [usize; D],
        device: &B::Device,
    ) -> Result<Tensor<B, D>, EncoderError> {
        let values = self.read_f32(name, &shape)?;
        Ok(Tensor::from_data(TensorData::new(values, shape), device))
    }

    /// Reads an integer tensor onto `device` as a burn tensor of the given shape.
    pub fn int_tensor<B: Backend, const D: usize>(
        &self,
        name: &str,
        shape: [usize; D],
        device: &B::Device,
    ) -> Result<Tensor<B, D, Int>, EncoderError> {
        let values = self.read_i64(name, &shape)?;
        Ok(Tensor::from_data(TensorData::new(values, shape), device))
    }
}

fn decode<T, const N: usize>(bytes: &[u8], f: impl Fn([u8; N]) -> T) -> Vec<T> {
    bytes
        .chunks_exact(N)
        .map(|chunk| {
            let mut buf = [0u8; N];
            buf.copy_from_slice(chunk);
            f(buf)
        })
        .collect()
}
