//! [`TensorFile`]: one safetensors file opened read-only through a memory map.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use memmap2::Mmap;
use safetensors::tensor::TensorInfo as LibInfo;
use safetensors::{Dtype, SafeTensors};

use crate::dtype::{decode_f32_into, decode_i64, is_float, FLOAT_DTYPES, INT_DTYPES};
use crate::error::{Result, TensorError};

/// The largest header this crate parses (the safetensors library's own limit).
pub const MAX_HEADER_BYTES: u64 = 100_000_000;

/// Dtype and shape of a stored tensor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TensorInfo {
    /// Stored element type.
    pub dtype: Dtype,
    /// Shape as stored.
    pub shape: Vec<usize>,
}

/// A tensor's stored bytes (little-endian elements of `dtype`), borrowed from the map.
#[derive(Debug, Clone, Copy)]
pub struct RawTensor<'a> {
    /// Stored element type.
    pub dtype: Dtype,
    /// Shape as stored.
    pub shape: &'a [usize],
    /// The bytes.
    pub bytes: &'a [u8],
}

struct Entry {
    info: TensorInfo,
    /// Byte range in the file.
    start: usize,
    end: usize,
}

/// The bytes of a file: memory-mapped ([`TensorFile::open`]) or owned ([`TensorFile::from_bytes`]).
enum Storage {
    Mapped(Mmap),
    Owned(Vec<u8>),
}

impl Storage {
    fn bytes(&self) -> &[u8] {
        match self {
            Storage::Mapped(m) => m,
            Storage::Owned(v) => v,
        }
    }
}

/// A safetensors file opened read-only through a memory map (or held in memory); tensors are
/// copied out one at a time.
pub struct TensorFile {
    path: PathBuf,
    storage: Storage,
    tensors: BTreeMap<String, Entry>,
    metadata: BTreeMap<String, String>,
}

impl std::fmt::Debug for TensorFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TensorFile")
            .field("path", &self.path)
            .field("tensors", &self.tensors.len())
            .finish()
    }
}

impl TensorFile {
    /// Opens and maps `path`. The header length is checked against the file size and
    /// [`MAX_HEADER_BYTES`] before it is parsed, and every tensor's byte range against the file.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref().to_path_buf();
        let mut file = File::open(&path).map_err(TensorError::io(&path))?;
        let len = file.metadata().map_err(TensorError::io(&path))?.len();
        if len >= 8 {
            let mut n = [0u8; 8];
            file.read_exact(&mut n).map_err(TensorError::io(&path))?;
            check_header_len(&path, len, Some(u64::from_le_bytes(n)))?;
        } else {
            check_header_len(&path, len, None)?;
        }
        // SAFETY: the map is read-only; like every reader of memory-mapped checkpoints we rely on
        // the file not being truncated while it is mapped. Every access is bounds-checked.
        let mmap = unsafe { Mmap::map(&file) }.map_err(TensorError::io(&path))?;
        Self::parse(path, Storage::Mapped(mmap))
    }

    /// Reads a safetensors file held in memory; `name` stands for the file in errors and is
    /// what [`TensorFile::path`] returns. The checks are those of [`TensorFile::open`]: the
    /// header length against the byte count and [`MAX_HEADER_BYTES`] before the header is
    /// parsed, then every tensor's byte range against the data.
    ///
    /// ```
    /// use std::collections::BTreeMap;
    /// use llark_tensors::{write_single, FloatDtype, TensorFile};
    ///
    /// let dir = tempfile::tempdir()?;
    /// let path = dir.path().join("t.safetensors");
    /// write_single(&path, "w", &[1.0, 2.0], vec![2], FloatDtype::F32, &BTreeMap::new())?;
    /// let file = TensorFile::from_bytes(std::fs::read(&path)?, "<memory>")?;
    /// assert_eq!(file.read_f32("w")?.0, vec![1.0, 2.0]);
    /// assert!(TensorFile::from_bytes(b"\xff\xff\xff\xff\xff\xff\xff\xff{}".to_vec(), "bad").is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn from_bytes(bytes: impl Into<Vec<u8>>, name: impl Into<PathBuf>) -> Result<Self> {
        let path = name.into();
        let bytes = bytes.into();
        let n = bytes
            .get(..8)
            .and_then(|b| <[u8; 8]>::try_from(b).ok())
            .map(u64::from_le_bytes);
        check_header_len(&path, bytes.len() as u64, n)?;
        Self::parse(path, Storage::Owned(bytes))
    }

    /// Parses the header of bytes whose header length has been checked.
    fn parse(path: PathBuf, storage: Storage) -> Result<Self> {
        let bytes = storage.bytes();
        let (header_len, meta) =
            SafeTensors::read_metadata(bytes).map_err(|source| TensorError::Format {
                path: path.clone(),
                source,
            })?;
        let data_start = 8 + header_len;
        let mut tensors = BTreeMap::new();
        for (name, info) in meta.tensors() {
            let entry =
                entry(info, data_start, bytes.len()).ok_or_else(|| TensorError::Header {
                    path: path.clone(),
                    reason: format!("data of `{name}` lies outside the file"),
                })?;
            tensors.insert(name, entry);
        }
        let metadata = meta
            .metadata()
            .clone()
            .unwrap_or_default()
            .into_iter()
            .collect();
        Ok(Self {
            path,
            storage,
            tensors,
            metadata,
        })
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Names of all tensors, sorted.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.tensors.keys().map(String::as_str)
    }

    /// Number of tensors.
    pub fn len(&self) -> usize {
        self.tensors.len()
    }

    /// Whether the file holds no tensor.
    pub fn is_empty(&self) -> bool {
        self.tensors.is_empty()
    }

    /// Whether a tensor of that name exists.
    pub fn contains(&self, name: &str) -> bool {
        self.tensors.contains_key(name)
    }

    /// Dtype and shape of a tensor, if present.
    pub fn info(&self, name: &str) -> Option<&TensorInfo> {
        self.tensors.get(name).map(|e| &e.info)
    }

    /// The shape of a tensor, if present.
    pub fn shape(&self, name: &str) -> Option<&[usize]> {
        self.info(name).map(|i| i.shape.as_slice())
    }

    /// The header's string metadata (`__metadata__`; empty when absent).
    pub fn metadata(&self) -> &BTreeMap<String, String> {
        &self.metadata
    }

    /// The name of the file's only tensor; an error naming the file when it holds none or several.
    pub fn only_tensor(&self) -> Result<&str> {
        match self.tensors.keys().collect::<Vec<_>>().as_slice() {
            [name] => Ok(name.as_str()),
            names => Err(TensorError::Header {
                path: self.path.clone(),
                reason: format!("{} tensors where exactly one was expected", names.len()),
            }),
        }
    }

    fn entry(&self, name: &str) -> Result<&Entry> {
        self.tensors.get(name).ok_or_else(|| TensorError::NotFound {
            name: name.to_string(),
            files: self.path.display().to_string(),
        })
    }

    /// A tensor's stored bytes, borrowed from the map.
    pub fn raw(&self, name: &str) -> Result<RawTensor<'_>> {
        let e = self.entry(name)?;
        Ok(RawTensor {
            dtype: e.info.dtype,
            shape: &e.info.shape,
            // In bounds: checked when the file was opened.
            bytes: &self.storage.bytes()[e.start..e.end],
        })
    }

    /// Checks that a tensor exists with the given shape (when `expected` is given).
    pub fn check_shape(&self, name: &str, expected: Option<&[usize]>) -> Result<&TensorInfo> {
        let info = &self.entry(name)?.info;
        match expected {
            Some(shape) if shape != info.shape.as_slice() => Err(TensorError::Shape {
                path: self.path.clone(),
                name: name.to_string(),
                actual: info.shape.clone(),
                expected: shape.to_vec(),
            }),
            _ => Ok(info),
        }
    }

    /// Checks that a tensor exists with the given shape and a float dtype, without reading it.
    pub fn check_float(&self, name: &str, expected: &[usize]) -> Result<()> {
        let info = self.check_shape(name, Some(expected))?;
        if is_float(info.dtype) {
            Ok(())
        } else {
            Err(self.dtype_error(name, info.dtype, FLOAT_DTYPES))
        }
    }

    fn dtype_error(&self, name: &str, dtype: Dtype, expected: &'static str) -> TensorError {
        TensorError::Dtype {
            path: self.path.clone(),
            name: name.to_string(),
            dtype,
            expected,
        }
    }

    /// Reads a float tensor (f32, f16, bf16 or f64 storage) as `f32` values (row-major) with
    /// its shape.
    pub fn read_f32(&self, name: &str) -> Result<(Vec<f32>, Vec<usize>)> {
        let mut out = Vec::new();
        let shape = self.read_f32_into(name, None, &mut out)?;
        Ok((out, shape))
    }

    /// Reads a float tensor as `f32` values, checking its shape.
    pub fn read_f32_shaped(&self, name: &str, expected: &[usize]) -> Result<Vec<f32>> {
        let mut out = Vec::new();
        self.read_f32_into(name, Some(expected), &mut out)?;
        Ok(out)
    }

    /// Reads a float tensor into `out` (cleared first, its allocation reused), checking the shape
    /// when `expected` is given; returns the shape.
    pub fn read_f32_into(
        &self,
        name: &str,
        expected: Option<&[usize]>,
        out: &mut Vec<f32>,
    ) -> Result<Vec<usize>> {
        let info = self.check_shape(name, expected)?.clone();
        let raw = self.raw(name)?;
        out.clear();
        decode_f32_into(raw.dtype, raw.bytes, out)
            .ok_or_else(|| self.dtype_error(name, raw.dtype, FLOAT_DTYPES))?;
        Ok(info.shape)
    }

    /// Reads an integer or bool tensor as `i64` values (row-major) with its shape.
    pub fn read_i64(&self, name: &str) -> Result<(Vec<i64>, Vec<usize>)> {
        let raw = self.raw(name)?;
        let values = decode_i64(raw.dtype, raw.bytes)
            .ok_or_else(|| self.dtype_error(name, raw.dtype, INT_DTYPES))?;
        Ok((values, raw.shape.to_vec()))
    }

    /// Reads an integer tensor as `i64` values, checking its shape.
    pub fn read_i64_shaped(&self, name: &str, expected: &[usize]) -> Result<Vec<i64>> {
        self.check_shape(name, Some(expected))?;
        Ok(self.read_i64(name)?.0)
    }

    /// Tells the OS that the mapped pages of a tensor that has just been copied out are no longer
    /// needed, so that loading a model does not keep the whole file resident next to the loaded
    /// weights. Harmless when the tensor is read again (its pages fault back in from the file).
    /// Does nothing for a file read with [`TensorFile::from_bytes`].
    pub fn release(&self, name: &str) {
        #[cfg(unix)]
        if let (Storage::Mapped(mmap), Some(e)) = (&self.storage, self.tensors.get(name)) {
            // SAFETY: the map is read-only and file-backed; dropping its pages only makes later
            // reads fault them in again, and no reference into the range outlives the caller's
            // copy. Failure is harmless and ignored.
            let _ = unsafe {
                mmap.unchecked_advise_range(
                    memmap2::UncheckedAdvice::DontNeed,
                    e.start,
                    e.end - e.start,
                )
            };
        }
        #[cfg(not(unix))]
        let _ = name;
    }
}

/// Checks a header length `n` (`None`: fewer than 8 bytes) against a file of `len` bytes and
/// [`MAX_HEADER_BYTES`], before anything is parsed.
fn check_header_len(path: &Path, len: u64, n: Option<u64>) -> Result<()> {
    let header = |reason: String| TensorError::Header {
        path: path.to_path_buf(),
        reason,
    };
    let Some(n) = n.filter(|_| len >= 8) else {
        return Err(header(format!(
            "{len} bytes, shorter than the 8-byte header length"
        )));
    };
    if n > MAX_HEADER_BYTES {
        return Err(header(format!(
            "header length {n} exceeds the limit of {MAX_HEADER_BYTES} bytes"
        )));
    }
    if n > len - 8 {
        return Err(header(format!(
            "header length {n} exceeds the {} bytes after the length field",
            len - 8
        )));
    }
    Ok(())
}

fn entry(info: &LibInfo, data_start: usize, file_len: usize) -> Option<Entry> {
    let (a, b) = info.data_offsets;
    let start = data_start.checked_add(a)?;
    let end = data_start.checked_add(b)?;
    (start <= end && end <= file_len).then(|| Entry {
        info: TensorInfo {
            dtype: info.dtype,
            shape: info.shape.clone(),
        },
        start,
        end,
    })
}

/// One tensor read from a single-tensor file, with the file's metadata.
#[derive(Debug, Clone, PartialEq)]
pub struct SingleTensor {
    /// The tensor's name.
    pub name: String,
    /// Its values as `f32`, row-major.
    pub values: Vec<f32>,
    /// Its shape.
    pub shape: Vec<usize>,
    /// The file's string metadata.
    pub metadata: BTreeMap<String, String>,
}

/// Reads the only tensor of a safetensors file as `f32`, with its shape and the file's metadata
/// (the counterpart of [`crate::write_single`]).
pub fn read_single(path: impl AsRef<Path>) -> Result<SingleTensor> {
    let file = TensorFile::open(path)?;
    let name = file.only_tensor()?.to_string();
    let (values, shape) = file.read_f32(&name)?;
    Ok(SingleTensor {
        name,
        values,
        shape,
        metadata: file.metadata.clone(),
    })
}
