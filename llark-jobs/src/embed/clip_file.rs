//! The per-clip encoding file: `OUT/clips/<id>.safetensors`, one tensor [`ENCODING_TENSOR`]
//! `[frames, D]` in f16 or f32 with the encoder, its frame rate, the pooling rate and the source
//! path as string metadata, written through a temporary file and a rename.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use half::f16;
use llark::data::StoreDtype;
use llark::encoder::Frames;
use safetensors::{Dtype, SafeTensors};

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

    fn to_map(&self) -> HashMap<String, String> {
        HashMap::from([
            ("encoder".to_owned(), self.encoder.clone()),
            ("frame_rate".to_owned(), self.frame_rate.to_string()),
            (
                "pool_fps".to_owned(),
                self.pool_fps.map_or("none".to_owned(), |f| f.to_string()),
            ),
            ("source".to_owned(), self.source.clone()),
        ])
    }

    fn from_map(path: &Path, map: Option<&HashMap<String, String>>) -> Result<Self> {
        let field = |name: &str| {
            map.and_then(|m| m.get(name))
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

/// Writes `frames` to `path` as tensor [`ENCODING_TENSOR`] in `dtype` with `metadata`: first to
/// `path` + `.tmp`, then renamed, so `path` only ever holds a whole file. Parent folders are
/// created.
pub fn write_clip_file(
    path: &Path,
    frames: &Frames,
    dtype: StoreDtype,
    metadata: &EncodingMetadata,
) -> Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(JobError::io(parent))?;
    }
    let bytes: Vec<u8> = match dtype {
        StoreDtype::F32 => frames.data.iter().flat_map(|v| v.to_le_bytes()).collect(),
        StoreDtype::F16 => {
            let mut out = Vec::with_capacity(frames.data.len() * 2);
            for (i, &v) in frames.data.iter().enumerate() {
                let h = f16::from_f32(v);
                if v.is_finite() && !h.is_finite() {
                    return Err(bad_file(
                        path,
                        format!(
                            "value {v} at frame {}, feature {} overflows f16",
                            i / frames.width.max(1),
                            i % frames.width.max(1)
                        ),
                    ));
                }
                out.extend_from_slice(&h.to_le_bytes());
            }
            out
        }
    };
    let st_dtype = match dtype {
        StoreDtype::F32 => Dtype::F32,
        StoreDtype::F16 => Dtype::F16,
    };
    let format_err =
        |e: safetensors::SafeTensorError| bad_file(path, format!("cannot serialise: {e}"));
    let view =
        safetensors::tensor::TensorView::new(st_dtype, vec![frames.frames, frames.width], &bytes)
            .map_err(format_err)?;
    let file = safetensors::serialize([(ENCODING_TENSOR, view)], Some(metadata.to_map()))
        .map_err(format_err)?;
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    std::fs::write(&tmp, file).map_err(JobError::io(&tmp))?;
    std::fs::rename(&tmp, path).map_err(JobError::io(path))
}

/// Reads a per-clip file written by [`write_clip_file`].
pub fn read_clip_file(path: &Path) -> Result<ClipEncoding> {
    let bytes = std::fs::read(path).map_err(JobError::io(path))?;
    let bad = |what: String| bad_file(path, what);
    let file = SafeTensors::deserialize(&bytes).map_err(|e| bad(e.to_string()))?;
    let (_, header) = SafeTensors::read_metadata(&bytes).map_err(|e| bad(e.to_string()))?;
    let metadata = EncodingMetadata::from_map(path, header.metadata().as_ref())?;
    let view = file
        .tensor(ENCODING_TENSOR)
        .map_err(|_| bad(format!("no tensor `{ENCODING_TENSOR}`")))?;
    let [frames, width] = *view.shape() else {
        return Err(bad(format!(
            "`{ENCODING_TENSOR}` has shape {:?}, expected [frames, width]",
            view.shape()
        )));
    };
    let (dtype, data) = match view.dtype() {
        Dtype::F32 => (
            StoreDtype::F32,
            view.data()
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect::<Vec<_>>(),
        ),
        Dtype::F16 => (
            StoreDtype::F16,
            view.data()
                .chunks_exact(2)
                .map(|b| f16::from_le_bytes([b[0], b[1]]).to_f32())
                .collect(),
        ),
        other => return Err(bad(format!("`{ENCODING_TENSOR}` has dtype {other:?}"))),
    };
    let frames = Frames::new(data, frames, width).ok_or_else(|| {
        bad(format!(
            "`{ENCODING_TENSOR}` has the wrong number of values"
        ))
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
