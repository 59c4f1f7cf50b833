//! Packing the per-clip files into an encoding store.

use std::path::{Path, PathBuf};

use llark::data::store::StoreIndex;
use llark::data::{EncodingStoreWriter, StoreDtype, StoreOptions};

use super::clip_file::{clip_file, read_clip_file, EncodingMetadata, CLIPS_DIR};
use super::corpus::Clip;
use super::STORE_DIR;
use crate::error::{JobError, Result};

/// Packs the per-clip files of `clips` found under `out` into a new store at `out/store` in
/// `dtype`, replacing any store there (it is built in a separate folder and moved in place at the
/// end). Clips without a file are left out. Every file must come from the same encoder, frame
/// rate and pooling, and have the same width.
pub fn pack(out: &Path, clips: &[Clip], dtype: StoreDtype) -> Result<StoreIndex> {
    let store_dir = out.join(STORE_DIR);
    let partial = out.join(format!("{STORE_DIR}.partial-{}", std::process::id()));
    if partial.exists() {
        std::fs::remove_dir_all(&partial).map_err(JobError::io(&partial))?;
    }
    let mut writer: Option<EncodingStoreWriter> = None;
    let mut first: Option<(PathBuf, EncodingMetadata)> = None;
    for clip in clips {
        let path = clip_file(out, &clip.id);
        if !path.exists() {
            continue;
        }
        let encoding = read_clip_file(&path)?;
        match &first {
            None => first = Some((path.clone(), encoding.metadata.clone())),
            Some((first_path, m)) => {
                let e = &encoding.metadata;
                if (&m.encoder, m.frame_rate, m.pool_fps) != (&e.encoder, e.frame_rate, e.pool_fps)
                {
                    return Err(JobError::MixedEncodings {
                        path: path.clone(),
                        found: e.describe(),
                        first_path: first_path.clone(),
                        first: m.describe(),
                    });
                }
            }
        }
        let writer = match &mut writer {
            Some(w) => w,
            None => writer.insert(EncodingStoreWriter::create(
                &partial,
                encoding.frames.width,
                StoreOptions {
                    dtype,
                    ..StoreOptions::default()
                },
            )?),
        };
        writer.add(&clip.id, &encoding.frames.data, encoding.frames.frames)?;
    }
    let writer = writer.ok_or_else(|| JobError::NothingToPack {
        dir: out.join(CLIPS_DIR),
    })?;
    let index = writer.finish()?;
    if store_dir.exists() {
        std::fs::remove_dir_all(&store_dir).map_err(JobError::io(&store_dir))?;
    }
    std::fs::rename(&partial, &store_dir).map_err(JobError::io(&store_dir))?;
    Ok(index)
}
