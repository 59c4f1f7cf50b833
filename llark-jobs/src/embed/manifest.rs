//! Manifests: what each shard embedded, with content hashes, and the merge step that proves a
//! job array embedded every clip of the corpus exactly once before it packs the store.
//!
//! At the end of each run, a shard writes `OUT/manifests/shard-IIIII-of-NNNNN.json`
//! ([`ShardManifest`]): for every clip of the shard that has its file, the clip's id, its
//! source audio (path, size, SHA-256, recorded when the clip was encoded) and its per-clip
//! file (path, size, SHA-256, frames); and the clips that failed, with why. A run that is
//! killed writes none; running the shard again skips the clips already written and writes it.
//! Nothing in it depends on the time or the machine, so a rerun writes the same bytes.
//!
//! [`merge`] reads every shard manifest and checks that there is one per shard of a single
//! count, that each clip of the corpus is listed by exactly one shard and no other clip is,
//! that every per-clip file still has the hash its shard recorded and every source the hash it
//! had when it was encoded. Only then does it pack the store and write `OUT/manifest.json`
//! ([`Manifest`]: the counts, every clip's record and the store's files with their hashes).

use std::fmt;
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use llark::data::store::StoreIndex;
use llark::data::StoreDtype;
use llark_tensors::TensorFile;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::clip_file::{clip_file, EncodingMetadata, ENCODING_TENSOR};
use super::corpus::{Clip, Shard};
use super::{pack, ClipFailure, STORE_DIR};
use crate::error::{JobError, Result};

/// Folder of the shard manifests inside the output folder.
pub const MANIFESTS_DIR: &str = "manifests";
/// The merged manifest inside the output folder.
pub const MANIFEST_FILE: &str = "manifest.json";
/// The manifest format this code writes and reads.
pub const MANIFEST_FORMAT: u32 = 1;
/// The largest manifest read (164k clips take about 70 MB).
const MAX_MANIFEST_BYTES: u64 = 1 << 30;
/// Problems listed in a [`MergeError`]'s message (all are in its `problems`).
const PROBLEMS_SHOWN: usize = 10;

/// One embedded clip: its source audio and its per-clip file, with sizes and SHA-256 hashes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClipRecord {
    /// The clip id.
    pub id: String,
    /// The source audio file, as the shard saw it.
    pub source: String,
    /// Its size in bytes when it was encoded.
    pub source_bytes: u64,
    /// Its SHA-256 (hex) when it was encoded.
    pub source_sha256: String,
    /// The per-clip file, relative to the output folder, `/`-separated.
    pub file: String,
    /// Its size in bytes.
    pub file_bytes: u64,
    /// Its SHA-256 (hex).
    pub file_sha256: String,
    /// Frames in it.
    pub frames: usize,
}

/// A clip of a shard that failed, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailedClip {
    /// The clip id.
    pub id: String,
    /// The source audio file.
    pub source: String,
    /// The error.
    pub error: String,
}

/// What one shard embedded: `OUT/manifests/shard-IIIII-of-NNNNN.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardManifest {
    /// [`MANIFEST_FORMAT`].
    pub format: u32,
    /// The shard's index.
    pub index: usize,
    /// The shard count.
    pub count: usize,
    /// Clips in the whole corpus, as this shard saw it.
    pub corpus_clips: usize,
    /// The clips of the shard that have their file, by id.
    pub clips: Vec<ClipRecord>,
    /// The clips of the shard that failed.
    pub failed: Vec<FailedClip>,
}

/// One file of the packed store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoreFile {
    /// Its name inside the store folder.
    pub name: String,
    /// Its size in bytes.
    pub bytes: u64,
    /// Its SHA-256 (hex).
    pub sha256: String,
}

/// The merged manifest, `OUT/manifest.json`: proof that the shards embedded every clip of the
/// corpus exactly once, and what the store was packed from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// [`MANIFEST_FORMAT`].
    pub format: u32,
    /// The shard count.
    pub shards: usize,
    /// Clips embedded (every clip of the corpus).
    pub clip_count: usize,
    /// Frames over all clips.
    pub frames: u64,
    /// Every clip, by id.
    pub clips: Vec<ClipRecord>,
    /// The store's files, by name.
    pub store: Vec<StoreFile>,
}

/// What [`merge`] made.
#[derive(Debug, Clone)]
pub struct Merged {
    /// The manifest written to `OUT/manifest.json`.
    pub manifest: Manifest,
    /// The index of the store packed at `OUT/store`.
    pub index: StoreIndex,
}

/// The shard manifests do not prove that every clip was embedded exactly once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MergeError {
    /// The output folder.
    pub out: PathBuf,
    /// Every problem found, one sentence each, naming the shard, clip or file.
    pub problems: Vec<String>,
}

impl fmt::Display for MergeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: the shards do not cover the corpus exactly once ({} problem{}): {}",
            self.out.display(),
            self.problems.len(),
            if self.problems.len() == 1 { "" } else { "s" },
            self.problems[..self.problems.len().min(PROBLEMS_SHOWN)].join("; ")
        )?;
        if self.problems.len() > PROBLEMS_SHOWN {
            write!(f, "; and {} more", self.problems.len() - PROBLEMS_SHOWN)?;
        }
        Ok(())
    }
}

impl std::error::Error for MergeError {}

/// The manifest of `shard` under the output folder `out`.
pub fn shard_manifest_path(out: &Path, shard: Shard) -> PathBuf {
    out.join(MANIFESTS_DIR).join(format!(
        "shard-{:05}-of-{:05}.json",
        shard.index, shard.count
    ))
}

/// The size and SHA-256 (hex) of a file, read in 1 MiB pieces.
pub fn sha256_file(path: &Path) -> Result<(u64, String)> {
    let mut file = File::open(path).map_err(JobError::io(path))?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 1 << 20];
    let mut bytes = 0u64;
    loop {
        let n = file.read(&mut buffer).map_err(JobError::io(path))?;
        if n == 0 {
            break;
        }
        hasher.update(&buffer[..n]);
        bytes += n as u64;
    }
    let digest = hasher.finalize();
    Ok((bytes, digest.iter().map(|b| format!("{b:02x}")).collect()))
}

/// The record of `clip`, whose per-clip file exists under `out`. The source's hash is the one
/// recorded in the file when the clip was encoded (or, for a file written without one, the
/// source's hash now).
pub fn clip_record(out: &Path, clip: &Clip) -> Result<ClipRecord> {
    let path = clip_file(out, &clip.id);
    let header = TensorFile::open(&path)?;
    let metadata = EncodingMetadata::from_map(&path, header.metadata())?;
    let frames = header
        .info(ENCODING_TENSOR)
        .and_then(|info| info.shape.first().copied())
        .ok_or_else(|| JobError::ClipFile {
            path: path.clone(),
            problem: format!("no tensor `{ENCODING_TENSOR}` [frames, width]"),
        })?;
    let (source_bytes, source_sha256) = match metadata.source_hash {
        Some(hash) => hash,
        None => sha256_file(&clip.path)?,
    };
    let (file_bytes, file_sha256) = sha256_file(&path)?;
    Ok(ClipRecord {
        id: clip.id.clone(),
        source: metadata.source,
        source_bytes,
        source_sha256,
        file: format!("{}/{}.safetensors", super::CLIPS_DIR, clip.id),
        file_bytes,
        file_sha256,
        frames,
    })
}

/// Writes the manifest of `shard` of the corpus `clips` under `out` (see the module's
/// documentation), with the clips that failed in this run; returns it.
pub fn write_shard_manifest(
    out: &Path,
    clips: &[Clip],
    shard: Shard,
    failed: &[ClipFailure],
) -> Result<ShardManifest> {
    let mut records = Vec::new();
    for (_, clip) in clips
        .iter()
        .enumerate()
        .filter(|(position, _)| shard.contains(*position))
    {
        if clip_file(out, &clip.id).exists() {
            records.push(clip_record(out, clip)?);
        }
    }
    let manifest = ShardManifest {
        format: MANIFEST_FORMAT,
        index: shard.index,
        count: shard.count,
        corpus_clips: clips.len(),
        clips: records,
        failed: failed
            .iter()
            .map(|failure| FailedClip {
                id: failure.clip.id.clone(),
                source: failure.clip.path.display().to_string(),
                error: failure.to_string(),
            })
            .collect(),
    };
    write_json(&shard_manifest_path(out, shard), &manifest)?;
    Ok(manifest)
}

/// Checks the shard manifests under `out` against the corpus `clips` (see the module's
/// documentation) and returns every clip's record, by id. Every problem found is listed in the
/// [`JobError::Merge`] error.
pub fn verify(out: &Path, clips: &[Clip]) -> Result<(usize, Vec<ClipRecord>)> {
    let mut problems = Vec::new();
    let manifests = read_shard_manifests(out, &mut problems)?;
    let count = manifests.first().map(|(_, m)| m.count);
    if let Some(count) = count {
        let counts: std::collections::BTreeSet<usize> =
            manifests.iter().map(|(_, m)| m.count).collect();
        if counts.len() > 1 {
            problems.push(format!(
                "manifests of different shard counts {counts:?} in {}: remove those of an \
                 earlier layout",
                out.join(MANIFESTS_DIR).display()
            ));
        }
        for index in 0..count {
            if !manifests.iter().any(|(_, m)| m.index == index) {
                problems.push(format!(
                    "shard {index}/{count} has no manifest: it has not run to its end"
                ));
            }
        }
    } else {
        problems.push(format!(
            "no shard manifest in {}: no shard has run to its end",
            out.join(MANIFESTS_DIR).display()
        ));
    }
    let mut listed: std::collections::BTreeMap<&str, (&Path, &ClipRecord)> = Default::default();
    for (path, manifest) in &manifests {
        for record in &manifest.clips {
            if let Some((first, _)) = listed.insert(&record.id, (path, record)) {
                problems.push(format!(
                    "clip `{}` is listed by both {} and {}",
                    record.id,
                    first.display(),
                    path.display()
                ));
            }
        }
    }
    let mut records = Vec::with_capacity(clips.len());
    for clip in clips {
        let Some((manifest, record)) = listed.remove(clip.id.as_str()) else {
            let failure = manifests
                .iter()
                .flat_map(|(_, m)| &m.failed)
                .find(|f| f.id == clip.id);
            problems.push(match failure {
                Some(failed) => format!("clip `{}` failed: {}", clip.id, failed.error),
                None => format!(
                    "clip `{}` ({}) is in no shard's manifest",
                    clip.id,
                    clip.path.display()
                ),
            });
            continue;
        };
        check_record(out, clip, manifest, record, &mut problems)?;
        records.push(record.clone());
    }
    for (id, (manifest, _)) in listed {
        problems.push(format!(
            "clip `{id}` listed by {} is not in the corpus",
            manifest.display()
        ));
    }
    if problems.is_empty() {
        Ok((count.unwrap_or(0), records))
    } else {
        Err(JobError::Merge(Box::new(MergeError {
            out: out.to_path_buf(),
            problems,
        })))
    }
}

/// Verifies the shards (see [`verify`]), packs the store at `OUT/store` in `dtype` and writes
/// `OUT/manifest.json`.
pub fn merge(out: &Path, clips: &[Clip], dtype: StoreDtype) -> Result<Merged> {
    let (shards, records) = verify(out, clips)?;
    let index = pack(out, clips, dtype)?;
    let store_dir = out.join(STORE_DIR);
    let mut names = Vec::new();
    for entry in std::fs::read_dir(&store_dir).map_err(JobError::io(&store_dir))? {
        let entry = entry.map_err(JobError::io(&store_dir))?;
        names.push(entry.file_name().to_string_lossy().into_owned());
    }
    names.sort();
    let mut store = Vec::with_capacity(names.len());
    for name in names {
        let (bytes, sha256) = sha256_file(&store_dir.join(&name))?;
        store.push(StoreFile {
            name,
            bytes,
            sha256,
        });
    }
    let manifest = Manifest {
        format: MANIFEST_FORMAT,
        shards,
        clip_count: records.len(),
        frames: records.iter().map(|r| r.frames as u64).sum(),
        clips: records,
        store,
    };
    write_json(&out.join(MANIFEST_FILE), &manifest)?;
    Ok(Merged { manifest, index })
}

/// Whether `record` (from `manifest`) still describes `clip`: the per-clip file and the source
/// have the hashes recorded.
fn check_record(
    out: &Path,
    clip: &Clip,
    manifest: &Path,
    record: &ClipRecord,
    problems: &mut Vec<String>,
) -> Result<()> {
    let file = clip_file(out, &clip.id);
    if !file.exists() {
        problems.push(format!(
            "clip `{}`: {} listed by {} is gone",
            clip.id,
            file.display(),
            manifest.display()
        ));
        return Ok(());
    }
    if sha256_file(&file)? != (record.file_bytes, record.file_sha256.clone()) {
        problems.push(format!(
            "clip `{}`: {} changed after {} was written (run that shard again)",
            clip.id,
            file.display(),
            manifest.display()
        ));
    }
    if sha256_file(&clip.path)? != (record.source_bytes, record.source_sha256.clone()) {
        problems.push(format!(
            "clip `{}`: the audio {} changed after it was embedded (delete {} and run its \
             shard again)",
            clip.id,
            clip.path.display(),
            file.display()
        ));
    }
    Ok(())
}

/// Every `shard-*.json` under `OUT/manifests`, by file name; unreadable ones become problems.
fn read_shard_manifests(
    out: &Path,
    problems: &mut Vec<String>,
) -> Result<Vec<(PathBuf, ShardManifest)>> {
    let dir = out.join(MANIFESTS_DIR);
    if !dir.exists() {
        return Ok(Vec::new());
    }
    let mut paths = Vec::new();
    for entry in std::fs::read_dir(&dir).map_err(JobError::io(&dir))? {
        let path = entry.map_err(JobError::io(&dir))?.path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if name.starts_with("shard-") && name.ends_with(".json") {
            paths.push(path);
        }
    }
    paths.sort();
    let mut manifests = Vec::with_capacity(paths.len());
    for path in paths {
        match read_shard_manifest(&path) {
            Ok(manifest) => {
                let named = Shard::new(manifest.index, manifest.count)
                    .is_ok_and(|shard| shard_manifest_path(out, shard) == path);
                if named {
                    manifests.push((path, manifest));
                } else {
                    problems.push(format!(
                        "{} holds shard {}/{}, not the one its name says",
                        path.display(),
                        manifest.index,
                        manifest.count
                    ));
                }
            }
            Err(problem) => problems.push(format!("{}: {problem}", path.display())),
        }
    }
    Ok(manifests)
}

fn read_shard_manifest(path: &Path) -> std::result::Result<ShardManifest, String> {
    let bytes = std::fs::metadata(path).map_err(|e| e.to_string())?.len();
    if bytes > MAX_MANIFEST_BYTES {
        return Err(format!(
            "{bytes} bytes, more than a manifest may have ({MAX_MANIFEST_BYTES})"
        ));
    }
    let text = std::fs::read(path).map_err(|e| e.to_string())?;
    let manifest: ShardManifest =
        serde_json::from_slice(&text).map_err(|e| format!("not a shard manifest: {e}"))?;
    if manifest.format != MANIFEST_FORMAT {
        return Err(format!(
            "manifest format {} (this version reads {MANIFEST_FORMAT})",
            manifest.format
        ));
    }
    Ok(manifest)
}

/// Writes `value` as pretty JSON with a final newline, atomically.
fn write_json(path: &Path, value: &impl Serialize) -> Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(JobError::io(parent))?;
    }
    let mut text = serde_json::to_vec_pretty(value).map_err(|source| JobError::Json {
        path: path.to_path_buf(),
        source,
    })?;
    text.push(b'\n');
    llark_tensors::write_bytes_atomic(path, &text)?;
    Ok(())
}
