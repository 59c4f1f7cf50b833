//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::PathBuf;

use burn::backend::Flex;
use burn::tensor::{Int, Tensor, TensorData};
use llark_lm::{AttentionMask, Llama, WeightSource};

pub type B = Flex;

pub fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

pub fn load(name: &str) -> Llama<B> {
    Llama::<B>::from_pretrained(fixture(name), &Default::default()).unwrap()
}

/// The reference outputs of a fixture.
pub fn reference(name: &str) -> WeightSource {
    WeightSource::open_files(&[fixture(name).join("reference.safetensors")]).unwrap()
}

/// Rows of an integer reference tensor `[B, T]`.
pub fn int_rows(reference: &WeightSource, name: &str) -> Vec<Vec<i64>> {
    let (values, shape) = reference.read_i64(name).unwrap();
    values.chunks(shape[1]).map(<[i64]>::to_vec).collect()
}

pub fn ids_tensor(rows: &[Vec<i64>]) -> Tensor<B, 2, Int> {
    let (b, t) = (rows.len(), rows[0].len());
    let flat: Vec<i64> = rows.concat();
    Tensor::from_data(TensorData::new(flat, [b, t]), &Default::default())
}

pub fn to_vec<const D: usize>(t: Tensor<B, D>) -> Vec<f32> {
    t.into_data().convert::<f32>().into_vec().unwrap()
}

pub fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

/// The attention mask of 0/1 rows as the fixtures store them (non-zero: attend).
pub fn mask_from_rows(rows: &[Vec<i64>]) -> AttentionMask {
    AttentionMask::from_rows(
        rows.iter()
            .map(|r| r.iter().map(|&v| v != 0).collect())
            .collect(),
    )
    .unwrap()
}
