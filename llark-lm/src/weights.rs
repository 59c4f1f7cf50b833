//! `WeightSource`: memory-mapped safetensors files (one file or shards with an index) that hand out
//! tensors by name, one at a time, converted to the backend's float type.
//!
//! The files are read through [`llark_tensors::TensorSet`]; this module adds burn tensors.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use burn::tensor::{backend::Backend, Int, Tensor, TensorData};
use llark_kernels::{PackedDtype, PackedMatrix};
use llark_tensors::{Dtype, TensorSet};

use crate::error::{LmError, Result};

pub use llark_tensors::{INDEX_FILE, SINGLE_FILE};

/// Suffix of the tensor that holds the group scales of an int8 weight: `{name}_scale`, shaped
/// `[rows, cols / group]` (f32, f16 or bf16), beside `{name}` stored as `I8` `[rows, cols]`.
pub const INT8_SCALE_SUFFIX: &str = "_scale";

/// The name of the scale tensor of int8 weight `name`.
pub fn int8_scale_name(name: &str) -> String {
    format!("{name}{INT8_SCALE_SUFFIX}")
}

/// Where a tensor lives: the file it is in and its stored layout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TensorMeta {
    /// Shape as stored.
    pub shape: Vec<usize>,
    /// Stored element type (`F32`, `F16`, `BF16`, `I64`, ...).
    pub dtype: String,
    /// The file holding the tensor.
    pub file: PathBuf,
}

/// Memory-mapped safetensors files, opened once, read tensor by tensor.
///
/// Reading a tensor copies exactly that tensor out of the map (and lets the OS drop its mapped
/// pages), so loading a model never holds more than the loaded weights plus one tensor in
/// converted form.
#[derive(Debug)]
pub struct WeightSource {
    set: TensorSet,
}

impl From<TensorSet> for WeightSource {
    fn from(set: TensorSet) -> Self {
        Self { set }
    }
}

impl WeightSource {
    /// Opens the weights of a Hugging Face model directory: `model.safetensors.index.json` and its
    /// shards when the index exists, otherwise `model.safetensors`.
    pub fn open_dir(dir: impl AsRef<Path>) -> Result<Self> {
        Ok(TensorSet::open_dir(dir)?.into())
    }

    /// Opens the shards listed in a `model.safetensors.index.json` (`weight_map`).
    pub fn open_index(index: impl AsRef<Path>) -> Result<Self> {
        Ok(TensorSet::open_index(index)?.into())
    }

    /// Opens and maps the given safetensors files. A tensor name may appear in only one file.
    pub fn open_files(paths: &[PathBuf]) -> Result<Self> {
        Ok(TensorSet::open_files(paths)?.into())
    }

    /// The underlying file set.
    pub fn tensors(&self) -> &TensorSet {
        &self.set
    }

    /// The files this source reads, for messages.
    pub fn description(&self) -> &str {
        self.set.description()
    }

    /// All tensor names, sorted.
    pub fn names(&self) -> Vec<String> {
        self.set.names().map(str::to_string).collect()
    }

    /// Whether a tensor of that name exists.
    pub fn contains(&self, name: &str) -> bool {
        self.set.contains(name)
    }

    /// Shape, dtype and file of a tensor, or `None` when absent.
    pub fn meta(&self, name: &str) -> Option<TensorMeta> {
        let file = self.set.file_of(name)?;
        let info = file.info(name)?;
        Some(TensorMeta {
            shape: info.shape.clone(),
            dtype: format!("{:?}", info.dtype),
            file: file.path().to_path_buf(),
        })
    }

    /// Reads a float tensor (f32, f16, bf16 or f64 storage) as f32 values on the host.
    pub fn read_f32(&self, name: &str) -> Result<(Vec<f32>, Vec<usize>)> {
        let out = self.set.read_f32(name)?;
        self.set.release(name);
        Ok(out)
    }

    /// [`Self::read_f32`], failing with [`LmError::NonFiniteWeight`] at a NaN or infinity (for
    /// weights that go into a model).
    pub fn read_finite_f32(&self, name: &str) -> Result<(Vec<f32>, Vec<usize>)> {
        let (values, shape) = self.read_f32(name)?;
        self.check_finite(name, &values)?;
        Ok((values, shape))
    }

    /// Reads an integer tensor (i64, i32, u32, i16, u8, bool ...) as i64 values on the host.
    pub fn read_i64(&self, name: &str) -> Result<(Vec<i64>, Vec<usize>)> {
        Ok(self.set.read_i64(name)?)
    }

    /// Builds a float tensor of rank `D` on `device` in the backend's float type.
    pub fn tensor<B: Backend, const D: usize>(
        &self,
        name: &str,
        device: &B::Device,
    ) -> Result<Tensor<B, D>> {
        let (values, shape) = self.read_f32(name)?;
        check_rank::<D>(name, &shape)?;
        self.check_finite(name, &values)?;
        Ok(Tensor::from_data(TensorData::new(values, shape), device))
    }

    /// Builds a float tensor and checks its shape.
    pub fn tensor_shaped<B: Backend, const D: usize>(
        &self,
        name: &str,
        expected: [usize; D],
        device: &B::Device,
    ) -> Result<Tensor<B, D>> {
        let values = self.set.read_f32_shaped(name, &expected)?;
        self.set.release(name);
        self.check_finite(name, &values)?;
        Ok(Tensor::from_data(TensorData::new(values, expected), device))
    }

    /// Reads a `[rows, cols]` weight into packed storage `dtype`.
    ///
    /// Stored bits are kept as they are when the file already holds that type (bf16 as bf16,
    /// f16 as f16, an int8 weight with its `{name}_scale` as int8 with the file's group size);
    /// anything else is read as f32 (an int8 weight dequantised) and converted. Fails at a
    /// NaN or infinity, at a value f16 cannot hold, and at a scale tensor that does not fit.
    pub fn packed_matrix(
        &self,
        name: &str,
        shape: [usize; 2],
        dtype: PackedDtype,
    ) -> Result<PackedMatrix> {
        let [rows, cols] = shape;
        let packed_err = |source| LmError::packed(name, source);
        let stored = self.set.raw(name)?.dtype;
        let result = match (stored, dtype) {
            (Dtype::BF16, PackedDtype::Bf16) => {
                PackedMatrix::from_bf16_bits(self.half_bits(name, shape)?, rows, cols)
            }
            (Dtype::F16, PackedDtype::F16) => {
                PackedMatrix::from_f16_bits(self.half_bits(name, shape)?, rows, cols)
            }
            (Dtype::I8, PackedDtype::Int8 { .. }) => return self.int8_matrix(name, shape),
            (Dtype::I8, _) => {
                let values = self.int8_matrix(name, shape)?.to_f32();
                PackedMatrix::from_f32(&values, rows, cols, dtype)
            }
            _ => {
                let values = self.set.read_f32_shaped(name, &shape)?;
                PackedMatrix::from_f32(&values, rows, cols, dtype)
            }
        };
        self.set.release(name);
        result.map_err(packed_err)
    }

    /// Reads a `[rows, cols]` float weight as f32, an int8 weight (with its scales) dequantised.
    pub fn matrix_f32(&self, name: &str, shape: [usize; 2]) -> Result<Vec<f32>> {
        if self.set.info(name).map(|i| i.dtype) == Some(Dtype::I8) {
            return Ok(self.int8_matrix(name, shape)?.to_f32());
        }
        let values = self.set.read_f32_shaped(name, &shape)?;
        self.set.release(name);
        self.check_finite(name, &values)?;
        Ok(values)
    }

    /// Whether `name` is stored as an int8 weight.
    pub fn is_int8(&self, name: &str) -> bool {
        self.set.info(name).map(|i| i.dtype) == Some(Dtype::I8)
    }

    /// The stored bytes of `name` after checking its shape.
    fn raw_shaped(&self, name: &str, shape: &[usize]) -> Result<llark_tensors::RawTensor<'_>> {
        let file = self.set.file(name)?;
        file.check_shape(name, Some(shape))?;
        Ok(file.raw(name)?)
    }

    /// The stored 16-bit elements of `name`, checked against `shape`.
    fn half_bits(&self, name: &str, shape: [usize; 2]) -> Result<Vec<u16>> {
        let raw = self.raw_shaped(name, &shape)?;
        Ok(le_u16s(raw.bytes))
    }

    /// An int8 weight and its `{name}_scale` tensor (whose width gives the group size).
    fn int8_matrix(&self, name: &str, shape: [usize; 2]) -> Result<PackedMatrix> {
        let [rows, cols] = shape;
        let raw = self.raw_shaped(name, &shape)?;
        let values: Vec<i8> = raw.bytes.iter().map(|&b| b as i8).collect();
        self.set.release(name);
        let scale_name = int8_scale_name(name);
        let (scales, scale_shape) = self.read_f32(&scale_name)?;
        let packed_err = |source| LmError::packed(name, source);
        let groups = match scale_shape[..] {
            [r, g] if r == rows && g > 0 && cols % g == 0 => g,
            _ => {
                return Err(LmError::Input(format!(
                    "int8 weight `{name}` is {shape:?}, its scales `{scale_name}` are \
                     {scale_shape:?}: expected [{rows}, groups] with groups dividing {cols}"
                )))
            }
        };
        PackedMatrix::from_int8(values, scales, rows, cols, cols / groups).map_err(packed_err)
    }

    /// Fails with [`LmError::NonFiniteWeight`] at the first NaN or infinity of `values`.
    fn check_finite(&self, name: &str, values: &[f32]) -> Result<()> {
        match values.iter().position(|v| !v.is_finite()) {
            None => Ok(()),
            Some(index) => Err(LmError::NonFiniteWeight {
                source_desc: self.description().to_string(),
                name: name.to_string(),
                index,
                value: values[index],
            }),
        }
    }

    /// Builds an integer tensor of rank `D` on `device`.
    pub fn int_tensor<B: Backend, const D: usize>(
        &self,
        name: &str,
        device: &B::Device,
    ) -> Result<Tensor<B, D, Int>> {
        let (values, shape) = self.read_i64(name)?;
        check_rank::<D>(name, &shape)?;
        Ok(Tensor::from_data(TensorData::new(values, shape), device))
    }

    /// Shapes of all tensors, by name.
    pub fn shapes(&self) -> HashMap<String, Vec<usize>> {
        self.set
            .names()
            .filter_map(|n| self.set.info(n).map(|i| (n.to_string(), i.shape.clone())))
            .collect()
    }
}

/// Little-endian 16-bit elements of `bytes` (an odd last byte is ignored); one bulk copy on
/// little-endian targets.
fn le_u16s(bytes: &[u8]) -> Vec<u16> {
    let n = bytes.len() / 2;
    if cfg!(target_endian = "little") {
        let mut out: Vec<u16> = Vec::with_capacity(n);
        // SAFETY: `out` has room for `n` u16s, `bytes` holds `2 n` bytes, the regions do not
        // overlap, and on a little-endian target the bytes are the u16s' representation.
        unsafe {
            std::ptr::copy_nonoverlapping(bytes.as_ptr(), out.as_mut_ptr().cast::<u8>(), 2 * n);
            out.set_len(n);
        }
        out
    } else {
        bytes
            .chunks_exact(2)
            .map(|b| u16::from_le_bytes([b[0], b[1]]))
            .collect()
    }
}

fn check_rank<const D: usize>(name: &str, shape: &[usize]) -> Result<()> {
    if shape.len() != D {
        return Err(LmError::Rank {
            name: name.to_string(),
            shape: shape.to_vec(),
            rank: D,
        });
    }
    Ok(())
}
