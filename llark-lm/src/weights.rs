//! `WeightSource`: memory-mapped safetensors files (one file or shards with an index) that hand out
//! tensors by name, one at a time, converted to the backend's float type.
//!
//! The files are read through [`llark_tensors::TensorSet`]; this module adds burn tensors.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use burn::tensor::{backend::Backend, Int, Tensor, TensorData};
use llark_tensors::TensorSet;

use crate::error::{LmError, Result};

pub use llark_tensors::{INDEX_FILE, SINGLE_FILE};

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
