//! [`TensorSet`]: several safetensors files read as one (a single file, or shards listed by a
//! Hugging Face `model.safetensors.index.json`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::error::{Result, TensorError};
use crate::file::{RawTensor, TensorFile, TensorInfo};

/// Name of the single-file checkpoint in a Hugging Face directory.
pub const SINGLE_FILE: &str = "model.safetensors";
/// Name of the shard index in a Hugging Face directory.
pub const INDEX_FILE: &str = "model.safetensors.index.json";
/// The largest shard index this crate reads.
pub const MAX_INDEX_BYTES: u64 = 64 << 20;

/// Memory-mapped safetensors files opened once and read tensor by tensor; a tensor name may
/// appear in only one of them.
pub struct TensorSet {
    files: Vec<TensorFile>,
    locations: BTreeMap<String, usize>,
    description: String,
}

impl std::fmt::Debug for TensorSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TensorSet")
            .field("files", &self.description)
            .field("tensors", &self.locations.len())
            .finish()
    }
}

impl TensorSet {
    /// Opens `path`: a directory (see [`TensorSet::open_dir`]), a `*.index.json` shard index, or
    /// one safetensors file.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        if path.is_dir() {
            Self::open_dir(path)
        } else if path.to_string_lossy().ends_with(".index.json") {
            Self::open_index(path)
        } else {
            Self::open_files(&[path.to_path_buf()])
        }
    }

    /// Opens a Hugging Face model directory: `model.safetensors.index.json` and its shards when
    /// the index exists, otherwise `model.safetensors`.
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
        Err(TensorError::Io {
            path: dir.to_path_buf(),
            source: std::io::Error::new(
                std::io::ErrorKind::NotFound,
                format!("neither {INDEX_FILE} nor {SINGLE_FILE} in the directory"),
            ),
        })
    }

    /// Opens the shards listed in a shard index (`weight_map`), checking that every tensor it
    /// names is in the shard it names. Shard names must be plain file names beside the index.
    pub fn open_index(index: impl AsRef<Path>) -> Result<Self> {
        let index = index.as_ref();
        let map = read_weight_map(index)?;
        let bad = |reason: String| TensorError::Index {
            path: index.to_path_buf(),
            reason,
        };
        let mut shards: Vec<&str> = map.values().map(String::as_str).collect();
        shards.sort_unstable();
        shards.dedup();
        let dir = index.parent().unwrap_or(Path::new("."));
        let paths: Vec<PathBuf> = shards.iter().map(|s| dir.join(s)).collect();
        let set = Self::open_files(&paths)?;
        for (name, file) in &map {
            let expected = dir.join(file);
            match set.locations.get(name) {
                Some(&i) if set.files[i].path() == expected => {}
                _ => {
                    return Err(bad(format!(
                        "tensor `{name}` is not in {}",
                        expected.display()
                    )))
                }
            }
        }
        Ok(set)
    }

    /// Opens and maps the given files.
    pub fn open_files(paths: &[PathBuf]) -> Result<Self> {
        let mut files: Vec<TensorFile> = Vec::with_capacity(paths.len());
        let mut locations = BTreeMap::new();
        for (i, path) in paths.iter().enumerate() {
            let file = TensorFile::open(path)?;
            for name in file.names() {
                if let Some(prev) = locations.insert(name.to_string(), i) {
                    return Err(TensorError::Duplicate {
                        name: name.to_string(),
                        first: files[prev].path().to_path_buf(),
                        second: path.clone(),
                    });
                }
            }
            files.push(file);
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

    /// The files this set reads, comma-separated, for messages.
    pub fn description(&self) -> &str {
        &self.description
    }

    /// The opened files, in order.
    pub fn files(&self) -> &[TensorFile] {
        &self.files
    }

    /// All tensor names, sorted.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.locations.keys().map(String::as_str)
    }

    /// Number of tensors.
    pub fn len(&self) -> usize {
        self.locations.len()
    }

    /// Whether the set holds no tensor.
    pub fn is_empty(&self) -> bool {
        self.locations.is_empty()
    }

    /// Whether a tensor of that name exists.
    pub fn contains(&self, name: &str) -> bool {
        self.locations.contains_key(name)
    }

    /// The file holding a tensor, if any.
    pub fn file_of(&self, name: &str) -> Option<&TensorFile> {
        self.locations.get(name).map(|&i| &self.files[i])
    }

    /// The file holding a tensor, or [`TensorError::NotFound`] listing every file of the set.
    pub fn file(&self, name: &str) -> Result<&TensorFile> {
        self.file_of(name).ok_or_else(|| TensorError::NotFound {
            name: name.to_string(),
            files: self.description.clone(),
        })
    }

    /// Dtype and shape of a tensor, if present.
    pub fn info(&self, name: &str) -> Option<&TensorInfo> {
        self.file_of(name)?.info(name)
    }

    /// A tensor's stored bytes, borrowed from the map.
    pub fn raw(&self, name: &str) -> Result<RawTensor<'_>> {
        self.file(name)?.raw(name)
    }

    /// Reads a float tensor as `f32` values with its shape (see [`TensorFile::read_f32`]).
    pub fn read_f32(&self, name: &str) -> Result<(Vec<f32>, Vec<usize>)> {
        self.file(name)?.read_f32(name)
    }

    /// Reads a float tensor as `f32` values, checking its shape.
    pub fn read_f32_shaped(&self, name: &str, expected: &[usize]) -> Result<Vec<f32>> {
        self.file(name)?.read_f32_shaped(name, expected)
    }

    /// Reads an integer or bool tensor as `i64` values with its shape.
    pub fn read_i64(&self, name: &str) -> Result<(Vec<i64>, Vec<usize>)> {
        self.file(name)?.read_i64(name)
    }

    /// Drops the mapped pages of a tensor that has been copied out (see [`TensorFile::release`]).
    pub fn release(&self, name: &str) {
        if let Some(file) = self.file_of(name) {
            file.release(name);
        }
    }
}

/// Reads the `weight_map` (tensor name → shard file name) of a shard index.
pub fn read_weight_map(index: &Path) -> Result<BTreeMap<String, String>> {
    let bad = |reason: String| TensorError::Index {
        path: index.to_path_buf(),
        reason,
    };
    let len = std::fs::metadata(index)
        .map_err(TensorError::io(index))?
        .len();
    if len > MAX_INDEX_BYTES {
        return Err(bad(format!(
            "{len} bytes, more than the limit of {MAX_INDEX_BYTES}"
        )));
    }
    let text = std::fs::read_to_string(index).map_err(TensorError::io(index))?;
    let json: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| bad(format!("not JSON: {e}")))?;
    let map = json
        .get("weight_map")
        .and_then(|m| m.as_object())
        .ok_or_else(|| bad("no `weight_map` object".into()))?;
    map.iter()
        .map(|(name, file)| {
            let file = file
                .as_str()
                .ok_or_else(|| bad(format!("`weight_map.{name}` is not a file name")))?;
            if !is_plain_file_name(file) {
                return Err(bad(format!(
                    "`weight_map.{name}`: {file:?} is not a plain file name"
                )));
            }
            Ok((name.clone(), file.to_string()))
        })
        .collect()
}

/// Whether `name` is a file name without directories (no separators, not hidden, not `..`).
pub fn is_plain_file_name(name: &str) -> bool {
    !name.is_empty() && !name.contains(['/', '\\']) && !name.starts_with('.')
}
