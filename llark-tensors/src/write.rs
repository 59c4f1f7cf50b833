//! Writing: [`TensorBuf`] (a host tensor ready to store), atomic single files, and shards with a
//! Hugging Face index.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use safetensors::{Dtype, View};

use crate::atomic::{partial_path, sync_parent};
use crate::dtype::{encode_f32, FloatDtype};
use crate::error::{Result, TensorError};
use crate::set::INDEX_FILE;

/// A host tensor ready to be written: dtype, shape and little-endian bytes that match them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TensorBuf {
    dtype: Dtype,
    shape: Vec<usize>,
    bytes: Vec<u8>,
}

fn element_count(name: &str, shape: &[usize]) -> Result<usize> {
    shape
        .iter()
        .try_fold(1usize, |n, &d| n.checked_mul(d))
        .ok_or_else(|| TensorError::Values {
            name: name.to_string(),
            reason: format!("shape {shape:?} overflows"),
        })
}

impl TensorBuf {
    /// Wraps stored bytes; `name` is only for the error when their length does not match.
    pub fn new(name: &str, dtype: Dtype, shape: Vec<usize>, bytes: Vec<u8>) -> Result<Self> {
        let n = element_count(name, &shape)?;
        let bits = n.checked_mul(dtype.bitsize());
        if bits.map(|b| b.div_ceil(8)) != Some(bytes.len()) {
            return Err(TensorError::Values {
                name: name.to_string(),
                reason: format!(
                    "{} bytes do not make a {dtype:?} tensor of shape {shape:?}",
                    bytes.len()
                ),
            });
        }
        Ok(Self {
            dtype,
            shape,
            bytes,
        })
    }

    /// Encodes `f32` values (row-major) of `shape` as `dtype`, rounding to nearest; values too
    /// large for f16 or bf16 become infinite.
    pub fn from_f32(
        name: &str,
        values: &[f32],
        shape: Vec<usize>,
        dtype: FloatDtype,
    ) -> Result<Self> {
        Self::encode(name, values, shape, dtype, false)
    }

    /// Like [`TensorBuf::from_f32`], but a finite value that would become infinite is a
    /// [`TensorError::Overflow`].
    pub fn from_f32_checked(
        name: &str,
        values: &[f32],
        shape: Vec<usize>,
        dtype: FloatDtype,
    ) -> Result<Self> {
        Self::encode(name, values, shape, dtype, true)
    }

    fn encode(
        name: &str,
        values: &[f32],
        shape: Vec<usize>,
        dtype: FloatDtype,
        checked: bool,
    ) -> Result<Self> {
        let n = element_count(name, &shape)?;
        if n != values.len() {
            return Err(TensorError::Values {
                name: name.to_string(),
                reason: format!("{} values do not make shape {shape:?}", values.len()),
            });
        }
        let bytes =
            encode_f32(values, dtype, checked).map_err(|(index, value)| TensorError::Overflow {
                name: name.to_string(),
                index,
                value,
                dtype: dtype.dtype(),
            })?;
        Ok(Self {
            dtype: dtype.dtype(),
            shape,
            bytes,
        })
    }

    /// Stores `i64` values (row-major) of `shape` as I64.
    pub fn from_i64(name: &str, values: &[i64], shape: Vec<usize>) -> Result<Self> {
        let bytes = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        Self::new(name, Dtype::I64, shape, bytes)
    }

    /// Stored element type.
    pub fn dtype(&self) -> Dtype {
        self.dtype
    }

    /// Shape.
    pub fn shape(&self) -> &[usize] {
        &self.shape
    }

    /// The stored bytes.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }
}

impl View for &TensorBuf {
    fn dtype(&self) -> Dtype {
        self.dtype
    }
    fn shape(&self) -> &[usize] {
        &self.shape
    }
    fn data(&self) -> Cow<'_, [u8]> {
        Cow::Borrowed(&self.bytes)
    }
    fn data_len(&self) -> usize {
        self.bytes.len()
    }
}

/// Writes a file atomically: `fill` writes a temporary file beside `path` (same directory, so the
/// rename cannot cross file systems), which is then synced and renamed over `path`, and the
/// directory is synced. On any error the temporary file is removed, so `path` is either untouched
/// or complete.
pub fn write_atomic(path: impl AsRef<Path>, fill: impl FnOnce(&Path) -> Result<()>) -> Result<()> {
    let path = path.as_ref();
    let tmp = partial_path(path).map_err(TensorError::io(path))?;
    let result = fill(&tmp).and_then(|()| {
        File::open(&tmp)
            .and_then(|f| f.sync_all())
            .map_err(TensorError::io(&tmp))?;
        std::fs::rename(&tmp, path).map_err(TensorError::io(path))
    });
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
        return result;
    }
    sync_parent(path);
    Ok(())
}

/// Writes bytes to `path` atomically (see [`write_atomic`]).
pub fn write_bytes_atomic(path: impl AsRef<Path>, bytes: &[u8]) -> Result<()> {
    write_atomic(path, |tmp| {
        File::create(tmp)
            .and_then(|mut f| f.write_all(bytes))
            .map_err(TensorError::io(tmp))
    })
}

/// The safetensors header of `views` (data in their order, back to back) with `metadata`, as
/// JSON whose keys come in a fixed order (`__metadata__` first with its keys sorted, then the
/// tensors in the order given) and padded with spaces to a multiple of 8 bytes, so that equal
/// inputs always give byte-identical files.
fn header_json(views: &[(&str, &TensorBuf)], metadata: &BTreeMap<String, String>) -> String {
    let quote = |text: &str| serde_json::Value::from(text).to_string();
    let mut entries = Vec::with_capacity(views.len() + 1);
    if !metadata.is_empty() {
        let fields: Vec<String> = metadata
            .iter()
            .map(|(key, value)| format!("{}:{}", quote(key), quote(value)))
            .collect();
        entries.push(format!("\"__metadata__\":{{{}}}", fields.join(",")));
    }
    let mut offset = 0usize;
    for (name, buf) in views {
        let end = offset + buf.bytes().len();
        let shape: Vec<String> = buf.shape().iter().map(usize::to_string).collect();
        entries.push(format!(
            "{}:{{\"dtype\":\"{:?}\",\"shape\":[{}],\"data_offsets\":[{offset},{end}]}}",
            quote(name),
            buf.dtype(),
            shape.join(","),
        ));
        offset = end;
    }
    let mut header = format!("{{{}}}", entries.join(","));
    header.extend(std::iter::repeat_n(' ', (8 - header.len() % 8) % 8));
    header
}

/// Writes named tensors to one safetensors file, atomically, with string `metadata` in its
/// header; returns the file size in bytes. Names must be unique and not `__metadata__`. The
/// tensors' data follow one another in the order given, and the header's keys come in a fixed
/// order, so equal inputs give byte-identical files (content hashes are reproducible).
pub fn write_file<'a>(
    path: impl AsRef<Path>,
    tensors: impl IntoIterator<Item = (&'a str, &'a TensorBuf)>,
    metadata: &BTreeMap<String, String>,
) -> Result<u64> {
    let path = path.as_ref();
    let mut views: Vec<(&str, &TensorBuf)> = Vec::new();
    for (name, buf) in tensors {
        if name.is_empty() || name == "__metadata__" {
            return Err(TensorError::Values {
                name: name.to_string(),
                reason: "empty or reserved name (`__metadata__` is the header's metadata key)"
                    .into(),
            });
        }
        if views.iter().any(|(n, _)| *n == name) {
            return Err(TensorError::Values {
                name: name.to_string(),
                reason: format!("given twice for {}", path.display()),
            });
        }
        views.push((name, buf));
    }
    let header = header_json(&views, metadata);
    write_atomic(path, |tmp| {
        let io = TensorError::io(tmp);
        let mut file = std::io::BufWriter::new(File::create(tmp).map_err(TensorError::io(tmp))?);
        file.write_all(&(header.len() as u64).to_le_bytes())
            .and_then(|()| file.write_all(header.as_bytes()))
            .and_then(|()| {
                views
                    .iter()
                    .try_for_each(|(_, buf)| file.write_all(buf.bytes()))
            })
            .and_then(|()| file.flush())
            .map_err(io)
    })?;
    Ok(std::fs::metadata(path)
        .map_err(TensorError::io(path))?
        .len())
}

/// Writes one tensor of `f32` values, stored as `dtype`, with string metadata, atomically (the
/// counterpart of [`crate::read_single`]).
pub fn write_single(
    path: impl AsRef<Path>,
    name: &str,
    values: &[f32],
    shape: Vec<usize>,
    dtype: FloatDtype,
    metadata: &BTreeMap<String, String>,
) -> Result<u64> {
    let buf = TensorBuf::from_f32_checked(name, values, shape, dtype)?;
    write_file(path, [(name, &buf)], metadata)
}

/// What [`write_shards`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShardSet {
    /// The shard files, in order.
    pub files: Vec<PathBuf>,
    /// The index file.
    pub index: PathBuf,
    /// Total bytes of tensor data (the index's `metadata.total_size`).
    pub total_size: u64,
}

/// Writes tensors as Hugging Face shards `{prefix}-0000i-of-0000n.safetensors` in `dir` (a shard
/// is closed once its data reaches `max_shard_bytes`; a larger tensor gets a shard of its own) and
/// then `{prefix}.safetensors.index.json` with `weight_map` and `metadata.total_size`. Every file
/// is written atomically, the index last, so a crash never leaves an index naming missing shards.
pub fn write_shards(
    dir: impl AsRef<Path>,
    prefix: &str,
    tensors: &[(String, TensorBuf)],
    max_shard_bytes: u64,
    metadata: &BTreeMap<String, String>,
) -> Result<ShardSet> {
    let plan: Vec<(String, u64)> = tensors
        .iter()
        .map(|(n, t)| (n.clone(), t.bytes.len() as u64))
        .collect();
    let mut next = tensors.iter();
    write_shards_streaming(
        dir,
        prefix,
        &plan,
        max_shard_bytes,
        metadata,
        |name| match next.next() {
            Some((n, t)) if n == name => Ok(t),
            _ => Err(TensorError::Values {
                name: name.to_string(),
                reason: "tensors out of plan order".into(),
            }),
        },
    )
}

/// As [`write_shards`], for tensors made one shard at a time: `plan` lists every tensor's name and
/// byte size in order, and `make(name)` is called for each when its shard is written, so at most
/// one shard's tensors are in memory (a checkpoint larger than memory can be written); `make` may
/// hand out owned buffers or references to buffers the caller keeps. A tensor
/// whose size differs from its plan entry is an error.
pub fn write_shards_streaming<T: std::borrow::Borrow<TensorBuf>>(
    dir: impl AsRef<Path>,
    prefix: &str,
    plan: &[(String, u64)],
    max_shard_bytes: u64,
    metadata: &BTreeMap<String, String>,
    mut make: impl FnMut(&str) -> Result<T>,
) -> Result<ShardSet> {
    let dir = dir.as_ref();
    let mut groups: Vec<Vec<&(String, u64)>> = Vec::new();
    let mut current = 0u64;
    for t in plan {
        match groups.last_mut() {
            Some(group) if current + t.1 <= max_shard_bytes => {
                group.push(t);
                current += t.1;
            }
            _ => {
                groups.push(vec![t]);
                current = t.1;
            }
        }
    }
    let n = groups.len().max(1);
    let mut files = Vec::with_capacity(n);
    let mut weight_map = serde_json::Map::new();
    for (i, group) in groups.iter().enumerate() {
        let name = format!("{prefix}-{:05}-of-{n:05}.safetensors", i + 1);
        let path = dir.join(&name);
        let bufs = group
            .iter()
            .map(|(k, size)| {
                let buf = make(k)?;
                let len = buf.borrow().bytes.len();
                if len as u64 != *size {
                    return Err(TensorError::Values {
                        name: k.clone(),
                        reason: format!("{len} bytes, {size} planned"),
                    });
                }
                Ok(buf)
            })
            .collect::<Result<Vec<_>>>()?;
        write_file(
            &path,
            group
                .iter()
                .zip(&bufs)
                .map(|((k, _), v)| (k.as_str(), v.borrow())),
            metadata,
        )?;
        for (k, _) in group {
            weight_map.insert(k.clone(), serde_json::Value::String(name.clone()));
        }
        files.push(path);
    }
    let total_size: u64 = plan.iter().map(|(_, size)| size).sum();
    let index_name = if prefix == "model" {
        INDEX_FILE.to_string()
    } else {
        format!("{prefix}.safetensors.index.json")
    };
    let index = dir.join(index_name);
    let json = serde_json::json!({
        "metadata": {"total_size": total_size},
        "weight_map": weight_map,
    });
    let text = serde_json::to_vec_pretty(&json).map_err(|e| TensorError::Index {
        path: index.clone(),
        reason: e.to_string(),
    })?;
    write_bytes_atomic(&index, &text)?;
    Ok(ShardSet {
        files,
        index,
        total_size,
    })
}
