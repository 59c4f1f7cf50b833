//! Memory-mapped safetensors weight files as burn tensors and parameters.
//!
//! Weight files keep the original checkpoint names. The file is read through
//! [`llark_tensors::TensorFile`]: tensors stored as f16, bf16 or f64 are converted to f32 when read
//! and the file stays mapped, so reading one tensor at a time keeps at most that tensor in
//! anonymous memory.

use std::path::Path;

use burn::module::Param;
use burn::tensor::{backend::Backend, Int, Tensor, TensorData};
use llark_tensors::TensorFile;

use crate::EncoderError;

/// A safetensors file opened read-only through a memory map.
#[derive(Debug)]
pub struct WeightFile {
    file: TensorFile,
}

impl WeightFile {
    /// Opens and maps `path`, parsing the safetensors header.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, EncoderError> {
        Ok(Self {
            file: TensorFile::open(path)?,
        })
    }

    /// The underlying mapped file.
    pub fn tensors(&self) -> &TensorFile {
        &self.file
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        self.file.path()
    }

    /// Whether a tensor of that name exists.
    pub fn contains(&self, name: &str) -> bool {
        self.file.contains(name)
    }

    /// Names of all tensors in the file, sorted.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.file.names()
    }

    /// The shape of a tensor, if present.
    pub fn shape(&self, name: &str) -> Option<&[usize]> {
        self.file.shape(name)
    }

    /// Checks that a tensor exists with the given shape and a float dtype, without reading it.
    pub fn check_float(&self, name: &str, expected: &[usize]) -> Result<(), EncoderError> {
        Ok(self.file.check_float(name, expected)?)
    }

    /// Reads a floating-point tensor as f32 values (row-major), checking its shape.
    pub fn read_f32(&self, name: &str, expected: &[usize]) -> Result<Vec<f32>, EncoderError> {
        Ok(self.file.read_f32_shaped(name, expected)?)
    }

    /// Reads an integer tensor as i64 values (row-major), checking its shape.
    pub fn read_i64(&self, name: &str, expected: &[usize]) -> Result<Vec<i64>, EncoderError> {
        Ok(self.file.read_i64_shaped(name, expected)?)
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

    /// Fills a parameter from the tensor `name`: the shape and device are those the parameter
    /// was initialised with (a lazily initialised parameter is never materialised), and its id is
    /// kept.
    pub fn load_param<B: Backend, const D: usize>(
        &self,
        name: &str,
        param: Param<Tensor<B, D>>,
    ) -> Result<Param<Tensor<B, D>>, EncoderError> {
        let shape: [usize; D] = param.lazy_shape().dims();
        let tensor = self.tensor(name, shape, &param.lazy_device())?;
        Ok(Param::initialized(param.id, tensor))
    }
}
