//! `WeightSource`: memory-mapped safetensors files (one file or shards with an index) that hand out
//! tensors by name, one at a time, converted to the backend's float type.

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::path::{Path, PathBuf};

use burn::tensor::{backend::Backend, Int, Tensor, TensorData};
use memmap2::Mmap;
use safetensors::tensor::{Dtype, Metadata, SafeTensors};

use crate::error::{LmError, Result};

/// Name of the single-file checkpoint in a Hugging Face directory.
pub const SINGLE_FILE: &str = "model.safetensors";
/// Name of the shard index in a Hugging Face directory.
pub const INDEX_FILE: &str = "model.safetensors.index.json";

struct MappedFile {
    path: PathBuf,
    mmap: Mmap,
    data_start: usize,
    metadata: Metadata,
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
/// Reading a tensor copies exactly that tensor out of the map, so loading a model never holds
/// more than the loaded weights plus one tensor in converted form.
pub struct WeightSource {
    files: Vec<MappedFile>,
    locations: BTreeMap<String, usize>,
    description: String,
}

impl std::fmt::Debug for WeightSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WeightSource")
            .field("files", &self.description)
            .field("tensors", &self.locations.len())
            .finish()
    }
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> LmError + '_ {
    move |source| LmError::Io {
        path: path.to_path_buf(),
        source,
    }
}

impl WeightSource {
    /// Opens the weights of a Hugging Face model directory: `model.safetensors.index.json` and its
    /// shards when the index exists, otherwise `model.safetensors`.
    pub fn open_dir(dir: impl AsRef<Path>) -> Result<Self> {
        let dir = dir.as_ref();
        let index = dir.join(INDEX_FILE);
        if index.exists() {
            return Self::open_index(&index);
        }
        let single = dir.join(SINGLE_FILE);
        if single.exists() {
            return Self::open_files(&[single]);
        }
        Err(LmError::Io {
            path: dir.to_path_buf(),
            source: std::io::Error::new(
                std::io::ErrorKind::NotFound,
                format!("neither {INDEX_FILE} nor {SINGLE_FILE} in the directory"),
            ),
        })
    }

    /// Opens the shards listed in a `model.safetensors.index.json` (`weight_map`).
    pub fn open_index(index: impl AsRef<Path>) -> Result<Self> {
        let index = index.as_ref();
        let text = std::fs::read_to_string(index).map_err(io_err(index))?;
        let bad = |reason: String| LmError::Safetensors {
            path: index.to_path_buf(),
            reason,
        };
        let json: serde_json::Value =
            serde_json::from_str(&text).map_err(|e| bad(format!("not JSON: {e}")))?;
        let map = json
            .get("weight_map")
            .and_then(|m| m.as_object())
            .ok_or_else(|| bad("no `weight_map` object".into()))?;
        let mut shards: Vec<String> = Vec::new();
        for (name, file) in map {
            let file = file
                .as_str()
                .ok_or_else(|| bad(format!("`weight_map.{name}` is not a file name")))?;
            if !shards.iter().any(|s| s == file) {
                shards.push(file.to_string());
            }
        }
        shards.sort();
        let dir = index.parent().unwrap_or(Path::new("."));
        let paths: Vec<PathBuf> = shards.iter().map(|s| dir.join(s)).collect();
        let source = Self::open_files(&paths)?;
        // Every tensor named by the index must be in the shard it names.
        for (name, file) in map {
            let expected = dir.join(file.as_str().unwrap_or_default());
            match source.locations.get(name) {
                Some(&i) if source.files[i].path == expected => {}
                _ => {
                    return Err(bad(format!(
                        "tensor `{name}` is not in {}",
                        expected.display()
                    )))
                }
            }
        }
        Ok(source)
    }

    /// Opens and maps the given safetensors files. A tensor name may appear in only one file.
    pub fn open_files(paths: &[PathBuf]) -> Result<Self> {
        let mut files = Vec::with_capacity(paths.len());
        let mut locations = BTreeMap::new();
        for (i, path) in paths.iter().enumerate() {
            let file = File::open(path).map_err(io_err(path))?;
            // SAFETY: the file is opened read-only; like every reader of memory-mapped checkpoints
            // we rely on it not being truncated while the map is alive.
            let mmap = unsafe { Mmap::map(&file) }.map_err(io_err(path))?;
            let (header_len, metadata) =
                SafeTensors::read_metadata(&mmap).map_err(|e| LmError::Safetensors {
                    path: path.clone(),
                    reason: e.to_string(),
                })?;
            for name in metadata.tensors().keys() {
                if let Some(prev) = locations.insert(name.clone(), i) {
                    return Err(LmError::Safetensors {
                        path: path.clone(),
                        reason: format!("tensor `{name}` is also in {}", paths[prev].display()),
                    });
                }
            }
            files.push(MappedFile {
                path: path.clone(),
                mmap,
                data_start: 8 + header_len,
                metadata,
            });
        }
        let description = paths
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(", ");
        Ok(Self {
            files,
            locations,
            description,
        })
    }

    /// The files this source reads, for messages.
    pub fn description(&self) -> &str {
        &self.description
    }

    /// All tensor names, sorted.
    pub fn names(&self) -> Vec<String> {
        self.locations.keys().cloned().collect()
    }

    /// Whether a tensor of that name exists.
    pub fn contains(&self, name: &str) -> bool {
        self.locations.contains_key(name)
    }

    /// Shape, dtype and file of a tensor, or `None` when absent.
    pub fn meta(&self, name: &str) -> Option<TensorMeta> {
        let file = &self.files[*self.locations.get(name)?];
        let info = file.metadata.info(name)?;
        Some(TensorMeta {
            shape: info.shape.clone(),
            dtype: format!("{:?}", info.dtype),
            file: file.path.clone(),
        })
    }

    /// Tells the OS that the mapped pages of a tensor that has just been copied out are no longer
    /// needed, so that loading does not keep the whole file resident next to the loaded weights.
    fn release(&self, name: &str) {
        #[cfg(unix)]
        if let Some(file) = self.locations.get(name).map(|&i| &self.files[i]) {
            if let Some(info) = file.metadata.info(name) {
                let (start, end) = info.data_offsets;
                // SAFETY: the map is read-only and backed by a file; dropping its pages only makes
                // later reads fault them in again from the file, and no reference into the range
                // outlives the copy that preceded this call. Failure is harmless and ignored.
                let _ = unsafe {
                    file.mmap.unchecked_advise_range(
                        memmap2::UncheckedAdvice::DontNeed,
                        file.data_start + start,
                        end - start,
                    )
                };
            }
        }
        #[cfg(not(unix))]
        let _ = name;
    }

    fn raw(&self, name: &str) -> Result<(Dtype, Vec<usize>, &[u8])> {
        let not_found = || LmError::TensorNotFound {
            name: name.to_string(),
            source_desc: self.description.clone(),
        };
        let file = &self.files[*self.locations.get(name).ok_or_else(not_found)?];
        let info = file.metadata.info(name).ok_or_else(not_found)?;
        let (start, end) = info.data_offsets;
        let bytes = file
            .mmap
            .get(file.data_start + start..file.data_start + end)
            .ok_or_else(|| LmError::Safetensors {
                path: file.path.clone(),
                reason: format!("data of `{name}` lies outside the file"),
            })?;
        Ok((info.dtype, info.shape.clone(), bytes))
    }

    /// Reads a float tensor (f32, f16, bf16 or f64 storage) as f32 values on the host.
    pub fn read_f32(&self, name: &str) -> Result<(Vec<f32>, Vec<usize>)> {
        let (dtype, shape, bytes) = self.raw(name)?;
        let values = match dtype {
            Dtype::F32 => decode(bytes, |b: [u8; 4]| f32::from_le_bytes(b)),
            Dtype::F16 => decode(bytes, |b: [u8; 2]| half::f16::from_le_bytes(b).to_f32()),
            Dtype::BF16 => decode(bytes, |b: [u8; 2]| half::bf16::from_le_bytes(b).to_f32()),
            Dtype::F64 => decode(bytes, |b: [u8; 8]| f64::from_le_bytes(b) as f32),
            other => {
                return Err(LmError::UnsupportedDtype {
                    name: name.to_string(),
                    dtype: format!("{other:?}"),
                })
            }
        };
        self.release(name);
        Ok((values, shape))
    }

    /// Reads an integer tensor (i64, i32, u32, i16, u8 ...) as i64 values on the host.
    pub fn read_i64(&self, name: &str) -> Result<(Vec<i64>, Vec<usize>)> {
        let (dtype, shape, bytes) = self.raw(name)?;
        let values = match dtype {
            Dtype::I64 => decode(bytes, |b: [u8; 8]| i64::from_le_bytes(b)),
            Dtype::I32 => decode(bytes, |b: [u8; 4]| i32::from_le_bytes(b) as i64),
            Dtype::U32 => decode(bytes, |b: [u8; 4]| u32::from_le_bytes(b) as i64),
            Dtype::I16 => decode(bytes, |b: [u8; 2]| i16::from_le_bytes(b) as i64),
            Dtype::U8 => bytes.iter().map(|&b| b as i64).collect(),
            Dtype::BOOL => bytes.iter().map(|&b| (b != 0) as i64).collect(),
            other => {
                return Err(LmError::UnsupportedDtype {
                    name: name.to_string(),
                    dtype: format!("{other:?}"),
                })
            }
        };
        Ok((values, shape))
    }

    /// Builds a float tensor of rank `D` on `device` in the backend's float type.
    pub fn tensor<B: Backend, const D: usize>(
        &self,
        name: &str,
        device: &B::Device,
    ) -> Result<Tensor<B, D>> {
        let (values, shape) = self.read_f32(name)?;
        check_rank::<D>(name, &shape)?;
        Ok(Tensor::from_data(TensorData::new(values, shape), device))
    }

    /// Builds a float tensor and checks its shape.
    pub fn tensor_shaped<B: Backend, const D: usize>(
        &self,
        name: &str,
        expected: [usize; D],
        device: &B::Device,
    ) -> Result<Tensor<B, D>> {
        let meta = self.meta(name).ok_or_else(|| LmError::TensorNotFound {
            name: name.to_string(),
            source_desc: self.description.clone(),
        })?;
        if meta.shape != expected {
            return Err(LmError::Shape {
                name: name.to_string(),
                expected: expected.to_vec(),
                actual: meta.shape,
            });
        }
        self.tensor(name, device)
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
        self.locations
            .keys()
            .filter_map(|n| self.meta(n).map(|m| (n.clone(), m.shape)))
            .collect()
    }
}

fn check_rank<const D: usize>(name: &str, shape: &[usize]) -> Result<()> {
    if shape.len() != D {
        return Err(LmError::Input(format!(
            "tensor `{name}` has rank {} ({shape:?}), expected rank {D}",
            shape.len()
        )));
    }
    Ok(())
}

fn decode<const N: usize, T>(bytes: &[u8], f: impl Fn([u8; N]) -> T) -> Vec<T> {
    bytes
        .chunks_exact(N)
        .map(|c| {
            let mut a = [0u8; N];
            a.copy_from_slice(c);
            f(a)
        })
        .collect()
}
