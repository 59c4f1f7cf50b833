//! The corpus: audio files found under the inputs, their clip ids, and shards of the sorted list.

use std::fmt;
use std::path::{Component, Path, PathBuf};
use std::str::FromStr;

use crate::error::{JobError, Result};

/// File extensions (compared case-insensitively) taken from input folders.
pub const AUDIO_EXTENSIONS: [&str; 4] = ["wav", "mp3", "flac", "ogg"];
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
        let meta = std::fs::metadata(input).map_err(JobError::io(input))?;
        if meta.is_dir() {
            walk(input, input, &mut clips)?;
        } else {
            let id = input
                .file_stem()
                .and_then(|s| s.to_str())
                .filter(|s| !s.is_empty())
                .ok_or_else(|| JobError::PathNotUtf8 {
                    path: input.to_path_buf(),
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
            return Err(JobError::DuplicateClipId {
                id: pair[0].id.clone(),
                first: pair[0].path.clone(),
                second: pair[1].path.clone(),
            });
        }
    }
    Ok(clips)
}

fn walk(root: &Path, dir: &Path, clips: &mut Vec<Clip>) -> Result<()> {
    for entry in std::fs::read_dir(dir).map_err(JobError::io(dir))? {
        let path = entry.map_err(JobError::io(dir))?.path();
        let meta = std::fs::metadata(&path).map_err(JobError::io(&path))?;
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
    let not_utf8 = || JobError::PathNotUtf8 {
        path: path.to_path_buf(),
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
            return Err(JobError::ShardIndex { index, count });
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
    type Err = JobError;

    fn from_str(s: &str) -> Result<Self> {
        let bad = || JobError::ShardSyntax { text: s.to_owned() };
        let (index, count) = s.split_once('/').ok_or_else(bad)?;
        let index = index.trim().parse().map_err(|_| bad())?;
        let count = count.trim().parse().map_err(|_| bad())?;
        Shard::new(index, count)
    }
}
