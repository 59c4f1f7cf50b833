//! The per-clip encoding file: `OUT/clips/<id>.safetensors`, one tensor [`ENCODING_TENSOR`]
//! `[frames, D]` in f16 or f32 with the encoder, its frame rate, the pooling rate and the source
//! path as string metadata, written atomically through `llark-tensors`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use llark::data::StoreDtype;
use llark::encoder::Frames;
use llark_tensors::{Dtype, TensorError, TensorFile};

use crate::error::{JobError, Result};

/// Name of the tensor in a per-clip file.
pub const ENCODING_TENSOR: &str = "encoding";
/// Folder of the per-clip files inside the output folder.
pub const CLIPS_DIR: &str = "clips";

/// The per-clip file of clip `id` under the output folder `out`.
pub fn clip_file(out: &Path, id: &str) -> PathBuf {
    let mut path = out.join(CLIPS_DIR);
    path.extend(id.split('/'));
    let mut name = path.into_os_string();
    name.push(".safetensors");
    PathBuf::from(name)
}

/// The metadata stored with each per-clip file.
#[derive(Debug, Clone, PartialEq)]
pub struct EncodingMetadata {
    /// The encoder's name ([`EncoderInfo::name`](llark::encoder::EncoderInfo::name)).
    pub encoder: String,
    /// The encoder's frame rate in Hz (before pooling).
    pub frame_rate: f64,
    /// The pooling rate, if the frames were pooled.
    pub pool_fps: Option<u32>,
    /// The audio file the clip was read from.
    pub source: String,
    /// That file's size in bytes and SHA-256 (hex) when it was encoded (absent from files
    /// written before hashes were recorded).
    pub source_hash: Option<(u64, String)>,
}

impl EncodingMetadata {
    /// `"<encoder> at <rate> Hz, pooling <fps or none>"`, for messages.
    pub fn describe(&self) -> String {
        let pooling = self.pool_fps.map_or("none".to_owned(), |f| f.to_string());
        format!(
            "{} at {} Hz, pooling {pooling}",
            self.encoder, self.frame_rate
        )
    }

    fn to_map(&self) -> BTreeMap<String, String> {
        let mut map = BTreeMap::from([
            ("encoder".to_owned(), self.encoder.clone()),
            ("frame_rate".to_owned(), self.frame_rate.to_string()),
            (
                "pool_fps".to_owned(),
                self.pool_fps.map_or("none".to_owned(), |f| f.to_string()),
            ),
            ("source".to_owned(), self.source.clone()),
        ]);
        if let Some((bytes, sha256)) = &self.source_hash {
            map.insert("source_bytes".to_owned(), bytes.to_string());
            map.insert("source_sha256".to_owned(), sha256.clone());
        }
        map
    }

    pub(crate) fn from_map(path: &Path, map: &BTreeMap<String, String>) -> Result<Self> {
        let field = |name: &str| {
            map.get(name)
                .ok_or_else(|| bad_file(path, format!("metadata field `{name}` missing")))
        };
        let invalid = |name: &str, value: &str| {
            bad_file(
                path,
                format!("metadata field `{name}` has the invalid value `{value}`"),
            )
        };
        let rate = field("frame_rate")?;
        let fps = field("pool_fps")?;
        Ok(EncodingMetadata {
            encoder: field("encoder")?.clone(),
            frame_rate: rate.parse().map_err(|_| invalid("frame_rate", rate))?,
            pool_fps: match fps.as_str() {
                "none" => None,
                n => Some(n.parse().map_err(|_| invalid("pool_fps", n))?),
            },
            source: field("source")?.clone(),
            source_hash: match (map.get("source_bytes"), map.get("source_sha256")) {
                (Some(bytes), Some(sha256)) => Some((
                    bytes.parse().map_err(|_| invalid("source_bytes", bytes))?,
                    sha256.clone(),
                )),
                _ => None,
            },
        })
    }
}

/// One per-clip file read back.
#[derive(Debug, Clone, PartialEq)]
pub struct ClipEncoding {
    /// The frames (f16 files are widened exactly to f32).
    pub frames: Frames,
    /// The element type on disk.
    pub dtype: StoreDtype,
    /// The metadata.
    pub metadata: EncodingMetadata,
}

/// Writes `frames` to `path` as tensor [`ENCODING_TENSOR`] in `dtype` with `metadata`, atomically
/// (a temporary file in the same folder, synced, then renamed), so `path` only ever holds a whole
/// file. Parent folders are created. A finite value that overflows f16 is an error naming its
/// frame and feature.
pub fn write_clip_file(
    path: &Path,
    frames: &Frames,
    dtype: StoreDtype,
    metadata: &EncodingMetadata,
) -> Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(JobError::io(parent))?;
    }
    let written = llark_tensors::write_single(
        path,
        ENCODING_TENSOR,
        &frames.data,
        vec![frames.frames, frames.width],
        dtype.float_dtype(),
        &metadata.to_map(),
    );
    match written {
        Ok(_) => Ok(()),
        Err(TensorError::Overflow { index, value, .. }) => {
            let width = frames.width.max(1);
            Err(bad_file(
                path,
                format!(
                    "value {value} at frame {}, feature {} overflows f16",
                    index / width,
                    index % width
                ),
            ))
        }
        Err(other) => Err(other.into()),
    }
}

/// Reads a per-clip file written by [`write_clip_file`].
pub fn read_clip_file(path: &Path) -> Result<ClipEncoding> {
    let file = TensorFile::open(path)?;
    let metadata = EncodingMetadata::from_map(path, file.metadata())?;
    let info = file
        .info(ENCODING_TENSOR)
        .ok_or_else(|| bad_file(path, format!("no tensor `{ENCODING_TENSOR}`")))?;
    let dtype = match info.dtype {
        Dtype::F32 => StoreDtype::F32,
        Dtype::F16 => StoreDtype::F16,
        other => {
            return Err(bad_file(
                path,
                format!("`{ENCODING_TENSOR}` has dtype {other:?}"),
            ))
        }
    };
    let [frames, width] = *info.shape.as_slice() else {
        return Err(bad_file(
            path,
            format!(
                "`{ENCODING_TENSOR}` has shape {:?}, expected [frames, width]",
                info.shape
            ),
        ));
    };
    let data = file.read_f32_shaped(ENCODING_TENSOR, &[frames, width])?;
    let frames = Frames::new(data, frames, width).ok_or_else(|| {
        bad_file(
            path,
            format!("`{ENCODING_TENSOR}` has the wrong number of values"),
        )
    })?;
    Ok(ClipEncoding {
        frames,
        dtype,
        metadata,
    })
}

fn bad_file(path: &Path, problem: String) -> JobError {
    JobError::ClipFile {
        path: path.to_path_buf(),
        problem,
    }
}
