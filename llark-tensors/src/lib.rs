//! Safetensors files for LLark, in one place.
//!
//! - Reading: [`TensorFile`] maps one file read-only, checks its header length against the file
//!   and a limit before parsing it, and copies tensors out one at a time as `f32` (from f32, f16,
//!   bf16 or f64), as `i64` (from integer and bool dtypes) or as raw bytes;
//!   [`TensorFile::from_bytes`] reads the same format from memory, with the same checks.
//!   [`TensorSet`] reads a Hugging Face directory, shard index or list of files as one.
//!   [`read_single`] reads the only tensor of a file with the file's metadata.
//! - Writing: [`TensorBuf`] holds a host tensor encoded as f32, f16, bf16 ([`FloatDtype`]) or
//!   i64; [`write_file`] writes named tensors with string metadata atomically (temporary file in
//!   the same directory, fsync, rename); [`write_shards`] writes shards and their index;
//!   [`write_single`] writes one tensor; [`AtomicFile`] streams any other file the same way.
//!
//! Every error is a [`TensorError`] naming the file and tensor at fault. The crate has no
//! deep-learning dependency: callers turn the host values into their framework's tensors.
//!
//! ```no_run
//! use std::collections::BTreeMap;
//! use llark_tensors::{read_single, write_file, write_single, FloatDtype, TensorBuf, TensorSet};
//!
//! // A Hugging Face directory (index + shards, or model.safetensors), memory-mapped.
//! let weights = TensorSet::open_dir("llama-2-7b/")?;
//! let (values, shape) = weights.read_f32("model.norm.weight")?;
//! weights.release("model.norm.weight");
//!
//! // Named tensors, written atomically, with metadata.
//! let w = TensorBuf::from_f32("w", &values, shape, FloatDtype::Bf16)?;
//! let metadata = BTreeMap::from([("format".to_string(), "pt".to_string())]);
//! write_file("out.safetensors", [("w", &w)], &metadata)?;
//!
//! // One tensor with string metadata, and back.
//! write_single("clip.safetensors", "encoding", &[0.5; 8], vec![2, 4], FloatDtype::F16, &metadata)?;
//! let clip = read_single("clip.safetensors")?;
//! assert_eq!(clip.metadata["format"], "pt");
//! # Ok::<(), llark_tensors::TensorError>(())
//! ```
#![warn(missing_docs)]

mod atomic;
mod dtype;
mod error;
mod file;
mod set;
mod write;

pub use atomic::{partial_path, same_file, AtomicFile};
pub use dtype::{
    decode_f32, decode_f32_into, decode_i64, encode_f32, is_float, FloatDtype, FLOAT_DTYPES,
    INT_DTYPES,
};
pub use error::{Result, TensorError};
pub use file::{read_single, RawTensor, SingleTensor, TensorFile, TensorInfo, MAX_HEADER_BYTES};
pub use safetensors::Dtype;
pub use set::{
    is_plain_file_name, read_weight_map, TensorSet, INDEX_FILE, MAX_INDEX_BYTES, SINGLE_FILE,
};
pub use write::{
    write_atomic, write_bytes_atomic, write_file, write_shards, write_shards_streaming,
    write_single, ShardSet, TensorBuf,
};
