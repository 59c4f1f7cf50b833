//! Encoding a corpus of audio files into stored encoder frames, resumably and in shards, then
//! packing them into an [`EncodingStore`](llark_data::EncodingStore) for the trainer.
//!
//! Each clip is written as soon as it is encoded, as its own file `OUT/clips/<id>.safetensors`
//! (one tensor `encoding` `[frames, D]` in the chosen dtype, with the encoder name, its frame
//! rate, the pooling rate and the source path as metadata), through a temporary file and a
//! rename, so an interrupted run leaves only whole files. A later run skips every clip whose file
//! exists. [`Shard`] splits the sorted clip list between machines (`index % count`). Once every
//! clip of the corpus has its file (or when asked), [`pack`] gathers the files into a store at
//! `OUT/store`.
//!
//! ```no_run
//! use llark::embedding::{embed, find_clips, EmbedOptions};
//! use llark::{backend, encoders::load_encoder};
//!
//! let device = backend::default_device();
//! let encoder = load_encoder::<backend::DefaultBackend>("jukebox", &device)?;
//! let clips = find_clips(&["music/"])?;
//! let options = EmbedOptions::new("encodings").with_pool_fps(Some(10));
//! let summary = embed(encoder.as_ref(), &clips, &options, |_| {})?;
//! println!("{}", summary.line());
//! # Ok::<(), llark::LlarkError>(())
//! ```

use std::collections::HashMap;
use std::fmt;
use std::path::{Component, Path, PathBuf};
use std::str::FromStr;

use half::f16;
use llark_data::store::{StoreIndex, INDEX_FILE};
use llark_data::{EncodingStoreWriter, StoreDtype, StoreOptions};
use llark_encoder::{AudioEncoder, Frames};
use llark_projector::Pooling;
use safetensors::{Dtype, SafeTensors};

use crate::error::{LlarkError, Result};

/// File extensions (compared case-insensitively) taken from input folders.
pub const AUDIO_EXTENSIONS: [&str; 4] = ["wav", "mp3", "flac", "ogg"];
/// Name of the tensor in a per-clip file.
pub const ENCODING_TENSOR: &str = "encoding";
/// Folder of the per-clip files inside the output folder.
pub const CLIPS_DIR: &str = "clips";
/// Folder of the packed store inside the output folder.
pub const STORE_DIR: &str = "store";

/// One input audio file and the id its encoding is stored under.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Clip {
    /// Path relative to the input folder without its extension, `/`-separated (or the file stem
    /// for a file named directly).
    pub id: String,
    /// The audio file.
    pub path: PathBuf,
}

/// Lists the clips of `inputs` (audio files and folders), sorted by id.
///
/// Folders are searched recursively for files with one of [`AUDIO_EXTENSIONS`]; a file named
/// directly is taken whatever its extension. Two inputs giving the same id are an error.
pub fn find_clips<P: AsRef<Path>>(inputs: &[P]) -> Result<Vec<Clip>> {
    let mut clips = Vec::new();
    for input in inputs {
        let input = input.as_ref();
        let meta = std::fs::metadata(input).map_err(|source| LlarkError::Io {
            path: input.to_path_buf(),
            source,
        })?;
        if meta.is_dir() {
            walk(input, input, &mut clips)?;
        } else {
            let id = input
                .file_stem()
                .and_then(|s| s.to_str())
                .filter(|s| !s.is_empty())
                .ok_or_else(|| {
                    LlarkError::Input(format!(
                        "{}: the file name is not valid UTF-8 text",
                        input.display()
                    ))
                })?;
            clips.push(Clip {
                id: id.to_owned(),
                path: input.to_path_buf(),
            });
        }
    }
    clips.sort();
    for pair in clips.windows(2) {
        if pair[0].id == pair[1].id {
            return Err(LlarkError::Input(format!(
                "{} and {} both give the clip id `{}`",
                pair[0].path.display(),
                pair[1].path.display(),
                pair[0].id
            )));
        }
    }
    Ok(clips)
}

fn walk(root: &Path, dir: &Path, clips: &mut Vec<Clip>) -> Result<()> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| LlarkError::Io { path, source }
    };
    for entry in std::fs::read_dir(dir).map_err(io(dir))? {
        let path = entry.map_err(io(dir))?.path();
        let meta = std::fs::metadata(&path).map_err(io(&path))?;
        if meta.is_dir() {
            walk(root, &path, clips)?;
        } else if has_audio_extension(&path) {
            clips.push(Clip {
                id: relative_id(root, &path)?,
                path,
            });
        }
    }
    Ok(())
}

fn has_audio_extension(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| AUDIO_EXTENSIONS.iter().any(|a| a.eq_ignore_ascii_case(e)))
}

/// `dir/sub/song.wav` under `dir` gives `sub/song`.
fn relative_id(root: &Path, path: &Path) -> Result<String> {
    let not_utf8 = || {
        LlarkError::Input(format!(
            "{}: the path is not valid UTF-8 text",
            path.display()
        ))
    };
    let relative = path.strip_prefix(root).unwrap_or(path).with_extension("");
    let mut parts = Vec::new();
    for component in relative.components() {
        match component {
            Component::Normal(part) => parts.push(part.to_str().ok_or_else(not_utf8)?),
            _ => return Err(not_utf8()),
        }
    }
    Ok(parts.join("/"))
}

/// The part `index` of `count` of a corpus: the clips whose position in the sorted list is
/// `index` modulo `count`. Written and parsed as `index/count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    /// This part, `0..count`.
    pub index: usize,
    /// Number of parts.
    pub count: usize,
}

impl Shard {
    /// The whole corpus (`0/1`).
    pub const ALL: Shard = Shard { index: 0, count: 1 };

    /// Part `index` of `count`; an error unless `index < count`.
    pub fn new(index: usize, count: usize) -> Result<Self> {
        if index >= count {
            return Err(LlarkError::Input(format!(
                "shard {index}/{count}: the index must be below the count"
            )));
        }
        Ok(Shard { index, count })
    }

    /// Whether the clip at `position` of the sorted list belongs to this part.
    pub fn contains(&self, position: usize) -> bool {
        position % self.count == self.index
    }
}

impl Default for Shard {
    fn default() -> Self {
        Shard::ALL
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl FromStr for Shard {
    type Err = LlarkError;

    fn from_str(s: &str) -> Result<Self> {
        let bad = || LlarkError::Input(format!("shard `{s}`: expected INDEX/COUNT, such as 0/4"));
        let (index, count) = s.split_once('/').ok_or_else(bad)?;
        let index = index.trim().parse().map_err(|_| bad())?;
        let count = count.trim().parse().map_err(|_| bad())?;
        Shard::new(index, count)
    }
}

/// Parses a store dtype name (`f16` or `f32`).
pub fn parse_dtype(name: &str) -> Result<StoreDtype> {
    match name.to_ascii_lowercase().as_str() {
        "f16" => Ok(StoreDtype::F16),
        "f32" => Ok(StoreDtype::F32),
        _ => Err(LlarkError::Input(format!(
            "dtype `{name}`: expected f16 or f32"
        ))),
    }
}

/// What [`embed`] does.
#[derive(Debug, Clone, PartialEq)]
pub struct EmbedOptions {
    /// Output folder (per-clip files under `clips/`, the store under `store/`).
    pub out: PathBuf,
    /// Element type of the per-clip files and of the store.
    pub dtype: StoreDtype,
    /// Pool the encoder frames to this many frames per second (0: one mean per clip) with
    /// [`Pooling`]; `None` keeps the encoder's frames.
    pub pool_fps: Option<u32>,
    /// The part of the corpus to encode.
    pub shard: Shard,
    /// Pack the store at the end even if some clips have no file yet (then the store holds the
    /// clips that have one) or nothing changed since the last packing.
    pub pack: bool,
}

impl EmbedOptions {
    /// Defaults: f32, no pooling, the whole corpus, packing only once every clip is encoded.
    pub fn new(out: impl Into<PathBuf>) -> Self {
        EmbedOptions {
            out: out.into(),
            dtype: StoreDtype::F32,
            pool_fps: None,
            shard: Shard::ALL,
            pack: false,
        }
    }

    /// With this dtype.
    pub fn with_dtype(mut self, dtype: StoreDtype) -> Self {
        self.dtype = dtype;
        self
    }

    /// With this pooling rate.
    pub fn with_pool_fps(mut self, pool_fps: Option<u32>) -> Self {
        self.pool_fps = pool_fps;
        self
    }

    /// With this shard.
    pub fn with_shard(mut self, shard: Shard) -> Self {
        self.shard = shard;
        self
    }

    /// Forcing the packing or not.
    pub fn with_pack(mut self, pack: bool) -> Self {
        self.pack = pack;
        self
    }
}

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
pub struct ClipMetadata {
    /// The encoder's name ([`AudioEncoder::name`]).
    pub encoder: String,
    /// The encoder's frame rate in Hz (before pooling).
    pub frame_rate: f64,
    /// The pooling rate, if the frames were pooled.
    pub pool_fps: Option<u32>,
    /// The audio file the clip was read from.
    pub source: String,
}

impl ClipMetadata {
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
            map.and_then(|m| m.get(name)).ok_or_else(|| {
                LlarkError::Input(format!(
                    "{}: metadata field `{name}` missing",
                    path.display()
                ))
            })
        };
        let invalid = |name: &str, value: &str| {
            LlarkError::Input(format!(
                "{}: metadata field `{name}` has the invalid value `{value}`",
                path.display()
            ))
        };
        let rate = field("frame_rate")?;
        let fps = field("pool_fps")?;
        Ok(ClipMetadata {
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
    pub metadata: ClipMetadata,
}

/// Loads `path` at the encoder's sample rate, peak-normalises it, encodes it and pools the frames
/// to `pool_fps` (see [`EmbedOptions::pool_fps`]). Audio past
/// [`AudioEncoder::max_input_samples`] is ignored by the encoder.
pub fn encode_file(
    encoder: &dyn AudioEncoder,
    path: &Path,
    pool_fps: Option<u32>,
) -> Result<Frames> {
    let mut audio = llark_audio::load_resampled(path, encoder.sample_rate())?;
    audio.peak_normalise()?;
    let frames = encoder.encode(audio.samples(), encoder.sample_rate())?;
    let frames = match pool_fps {
        None => frames,
        Some(fps) => {
            let pooling = Pooling::new(encoder.frame_rate(), fps);
            let data = pooling.apply_host(&frames.data, frames.frames, frames.width)?;
            let len = pooling.output_len(frames.frames)?;
            Frames::new(data, len, frames.width).ok_or_else(|| {
                LlarkError::Input(format!(
                    "pooling gave a wrong number of values for {len} frames"
                ))
            })?
        }
    };
    if frames.frames == 0 {
        return Err(LlarkError::Input(
            "the audio is too short to give a single frame".into(),
        ));
    }
    Ok(frames)
}

/// Writes `frames` to `path` as tensor [`ENCODING_TENSOR`] in `dtype` with `metadata`: first to
/// `path` + `.tmp`, then renamed, so `path` only ever holds a whole file. Parent folders are
/// created.
pub fn write_clip_file(
    path: &Path,
    frames: &Frames,
    dtype: StoreDtype,
    metadata: &ClipMetadata,
) -> Result<()> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| LlarkError::Io { path, source }
    };
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(io(parent))?;
    }
    let bytes: Vec<u8> = match dtype {
        StoreDtype::F32 => frames.data.iter().flat_map(|v| v.to_le_bytes()).collect(),
        StoreDtype::F16 => {
            let mut out = Vec::with_capacity(frames.data.len() * 2);
            for (i, &v) in frames.data.iter().enumerate() {
                let h = f16::from_f32(v);
                if v.is_finite() && !h.is_finite() {
                    return Err(LlarkError::Input(format!(
                        "{}: value {v} at frame {}, feature {} overflows f16",
                        path.display(),
                        i / frames.width.max(1),
                        i % frames.width.max(1)
                    )));
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
    let format_err = |e: safetensors::SafeTensorError| {
        LlarkError::Input(format!("{}: cannot serialise: {e}", path.display()))
    };
    let view =
        safetensors::tensor::TensorView::new(st_dtype, vec![frames.frames, frames.width], &bytes)
            .map_err(format_err)?;
    let file = safetensors::serialize([(ENCODING_TENSOR, view)], Some(metadata.to_map()))
        .map_err(format_err)?;
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    std::fs::write(&tmp, file).map_err(io(&tmp))?;
    std::fs::rename(&tmp, path).map_err(io(path))
}

/// Reads a per-clip file written by [`write_clip_file`].
pub fn read_clip_file(path: &Path) -> Result<ClipEncoding> {
    let bytes = std::fs::read(path).map_err(|source| LlarkError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let bad = |what: String| LlarkError::Input(format!("{}: {what}", path.display()));
    let file = SafeTensors::deserialize(&bytes).map_err(|e| bad(e.to_string()))?;
    let (_, header) = SafeTensors::read_metadata(&bytes).map_err(|e| bad(e.to_string()))?;
    let metadata = ClipMetadata::from_map(path, header.metadata().as_ref())?;
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

/// What happened to one clip.
#[derive(Debug)]
pub enum ClipOutcome {
    /// Encoded and written, with this many frames.
    Encoded {
        /// Frames written.
        frames: usize,
    },
    /// Its file existed already.
    Skipped,
    /// Failed; the run goes on with the next clip.
    Failed(LlarkError),
}

/// Progress of [`embed`], reported before and after each clip of the shard.
#[derive(Debug)]
pub enum Progress<'a> {
    /// The clip at `position` (counting from 0 among the `total` clips of the shard) begins.
    Started {
        /// The clip.
        clip: &'a Clip,
        /// Its position in the shard.
        position: usize,
        /// Clips in the shard.
        total: usize,
    },
    /// The clip is done.
    Finished {
        /// The clip.
        clip: &'a Clip,
        /// What happened.
        outcome: &'a ClipOutcome,
    },
    /// All clips have files; the store is being packed.
    Packing {
        /// Clips to pack.
        clips: usize,
    },
}

/// A clip that failed, with its audio file (displayed as the error, prefixed with the file's
/// path unless the error names it already).
#[derive(Debug)]
pub struct ClipFailure {
    /// The clip.
    pub clip: Clip,
    /// Why.
    pub error: LlarkError,
}

impl fmt::Display for ClipFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&failure_message(&self.clip.path, &self.error))
    }
}

/// `error` as a message that names the file `path` (prefixed with it unless it names it already).
pub fn failure_message(path: &Path, error: &LlarkError) -> String {
    let path = path.display().to_string();
    let error = error.to_string();
    if error.contains(&path) {
        error
    } else {
        format!("{path}: {error}")
    }
}

/// The result of [`embed`].
#[derive(Debug, Default)]
pub struct EmbedSummary {
    /// Clips of the shard encoded in this run.
    pub encoded: usize,
    /// Clips of the shard whose file existed already.
    pub skipped: usize,
    /// Clips of the shard that failed.
    pub failed: Vec<ClipFailure>,
    /// Clips of the whole corpus (every shard) that still have no file.
    pub missing: usize,
    /// The index of the store, if it was packed in this run.
    pub packed: Option<StoreIndex>,
}

impl EmbedSummary {
    /// One line for humans: `encoded N, skipped N, failed N` and what became of the store.
    pub fn line(&self) -> String {
        let mut line = format!(
            "encoded {}, skipped {}, failed {}",
            self.encoded,
            self.skipped,
            self.failed.len()
        );
        match &self.packed {
            Some(index) => line.push_str(&format!("; packed {} clips", index.clips.len())),
            None if self.missing > 0 => {
                line.push_str(&format!("; {} clips still to encode", self.missing))
            }
            None => {}
        }
        line
    }
}

/// Encodes the clips of `options.shard` that have no file under `options.out` yet, one file per
/// clip, reporting to `progress`; a clip that fails is recorded and the run goes on. Then packs
/// the store (see [`pack`]) if `options.pack` is set, or if every clip of `clips` has its file
/// and either a clip was encoded in this run or there is no store yet.
///
/// Errors are those that stop the whole run: a pooling rate the encoder's frame rate cannot give,
/// an output folder or a store that cannot be written.
pub fn embed(
    encoder: &dyn AudioEncoder,
    clips: &[Clip],
    options: &EmbedOptions,
    mut progress: impl FnMut(Progress<'_>),
) -> Result<EmbedSummary> {
    if let Some(fps) = options.pool_fps {
        Pooling::new(encoder.frame_rate(), fps).window_len()?;
    }
    let clips_dir = options.out.join(CLIPS_DIR);
    std::fs::create_dir_all(&clips_dir).map_err(|source| LlarkError::Io {
        path: clips_dir.clone(),
        source,
    })?;
    let mine: Vec<&Clip> = clips
        .iter()
        .enumerate()
        .filter(|(i, _)| options.shard.contains(*i))
        .map(|(_, c)| c)
        .collect();
    let mut summary = EmbedSummary::default();
    for (position, &clip) in mine.iter().enumerate() {
        progress(Progress::Started {
            clip,
            position,
            total: mine.len(),
        });
        let path = clip_file(&options.out, &clip.id);
        let outcome = if path.exists() {
            ClipOutcome::Skipped
        } else {
            match encode_clip(encoder, clip, &path, options) {
                Ok(frames) => ClipOutcome::Encoded { frames },
                Err(error) => ClipOutcome::Failed(error),
            }
        };
        progress(Progress::Finished {
            clip,
            outcome: &outcome,
        });
        match outcome {
            ClipOutcome::Encoded { .. } => summary.encoded += 1,
            ClipOutcome::Skipped => summary.skipped += 1,
            ClipOutcome::Failed(error) => summary.failed.push(ClipFailure {
                clip: clip.clone(),
                error,
            }),
        }
    }
    summary.missing = clips
        .iter()
        .filter(|c| !clip_file(&options.out, &c.id).exists())
        .count();
    let store_exists = options.out.join(STORE_DIR).join(INDEX_FILE).exists();
    let complete = summary.missing == 0 && (summary.encoded > 0 || !store_exists);
    if options.pack || complete {
        progress(Progress::Packing {
            clips: clips.len() - summary.missing,
        });
        summary.packed = Some(pack(&options.out, clips, options.dtype)?);
    }
    Ok(summary)
}

fn encode_clip(
    encoder: &dyn AudioEncoder,
    clip: &Clip,
    path: &Path,
    options: &EmbedOptions,
) -> Result<usize> {
    let frames = encode_file(encoder, &clip.path, options.pool_fps)?;
    let metadata = ClipMetadata {
        encoder: encoder.name().to_owned(),
        frame_rate: encoder.frame_rate(),
        pool_fps: options.pool_fps,
        source: clip.path.display().to_string(),
    };
    write_clip_file(path, &frames, options.dtype, &metadata)?;
    Ok(frames.frames)
}

/// Packs the per-clip files of `clips` found under `out` into a new store at `out/store` in
/// `dtype`, replacing any store there (it is built in a separate folder and moved in place at the
/// end). Clips without a file are left out. Every file must come from the same encoder, frame
/// rate and pooling, and have the same width.
pub fn pack(out: &Path, clips: &[Clip], dtype: StoreDtype) -> Result<StoreIndex> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| LlarkError::Io { path, source }
    };
    let store_dir = out.join(STORE_DIR);
    let partial = out.join(format!("{STORE_DIR}.partial-{}", std::process::id()));
    if partial.exists() {
        std::fs::remove_dir_all(&partial).map_err(io(&partial))?;
    }
    let mut writer: Option<EncodingStoreWriter> = None;
    let mut first: Option<(PathBuf, ClipMetadata)> = None;
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
                    return Err(LlarkError::Input(format!(
                        "{} ({} at {} Hz, pooling {:?}) does not match {} ({} at {} Hz, pooling {:?})",
                        path.display(),
                        e.encoder,
                        e.frame_rate,
                        e.pool_fps,
                        first_path.display(),
                        m.encoder,
                        m.frame_rate,
                        m.pool_fps
                    )));
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
    let writer = writer.ok_or_else(|| {
        LlarkError::Input(format!(
            "{}: no encoded clip to pack",
            out.join(CLIPS_DIR).display()
        ))
    })?;
    let index = writer.finish()?;
    if store_dir.exists() {
        std::fs::remove_dir_all(&store_dir).map_err(io(&store_dir))?;
    }
    std::fs::rename(&partial, &store_dir).map_err(io(&store_dir))?;
    Ok(index)
}
