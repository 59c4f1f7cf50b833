//! Reading golden safetensors fixtures into burn tensor data.
#![allow(dead_code)]

use std::collections::HashMap;
use std::path::Path;

use burn::tensor::TensorData;
use safetensors::{Dtype, SafeTensors};

/// Every tensor of a fixture file, f32 as f32 and i64 as i64.
pub fn read_fixture(name: &str) -> HashMap<String, TensorData> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let file = SafeTensors::deserialize(&bytes).unwrap();
    file.tensors()
        .into_iter()
        .map(|(name, view)| {
            let shape = view.shape().to_vec();
            let data = match view.dtype() {
                Dtype::F32 => TensorData::new(
                    view.data()
                        .chunks_exact(4)
                        .map(|b| f32::from_le_bytes(b.try_into().unwrap()))
                        .collect::<Vec<_>>(),
                    shape,
                ),
                Dtype::I64 => TensorData::new(
                    view.data()
                        .chunks_exact(8)
                        .map(|b| i64::from_le_bytes(b.try_into().unwrap()))
                        .collect::<Vec<_>>(),
                    shape,
                ),
                other => panic!("{name}: unexpected dtype {other:?}"),
            };
            (name, data)
        })
        .collect()
}

/// Largest absolute difference between two f32 tensors of the same shape.
pub fn max_abs_diff(a: &TensorData, b: &TensorData) -> f32 {
    assert_eq!(a.shape, b.shape, "shapes differ");
    let a = a.to_vec::<f32>().unwrap();
    let b = b.to_vec::<f32>().unwrap();
    a.iter()
        .zip(&b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

/// Root mean square of an f32 tensor.
pub fn rms(a: &TensorData) -> f32 {
    let a = a.to_vec::<f32>().unwrap();
    (a.iter().map(|x| x * x).sum::<f32>() / a.len() as f32).sqrt()
}
