//! The shipped corpus of public-domain compositions (`assets/compositions/`): small `.mid` files
//! with their ground truth in `index.jsonl`, split by piece into training and held-out parts.
//! No work by J. S. Bach is in it: his music is kept for evaluation outside this project.

use std::path::{Path, PathBuf};

use llark_music::{Instrument, Key, Mode};
use serde::{Deserialize, Serialize};

use crate::error::{MidiError, Result};
use crate::smf::{read_midi, MidiFile};

/// The corpus folder, relative to the workspace root.
pub const COMPOSITIONS_DIR: &str = "assets/compositions";
/// The index file inside it.
pub const CORPUS_INDEX: &str = "index.jsonl";
/// The largest index read, in bytes.
pub const MAX_INDEX_BYTES: u64 = 8 << 20;

/// One part of a piece: its channel's program and the instrument a listener hears.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CorpusPart {
    /// The part's name in the score (`"Violin I"`).
    pub name: String,
    /// The General MIDI program it is played with.
    pub program: u8,
    /// The instrument's listener name (`"violin"`).
    pub instrument: String,
}

/// One piece of the corpus, as a line of `index.jsonl`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CorpusPiece {
    /// Identifier (`"haydn-op74no1-mvt1"`).
    pub id: String,
    /// The `.mid` file, relative to the corpus folder.
    pub file: String,
    /// The composer's name.
    pub composer: String,
    /// The title.
    pub title: String,
    /// The key of the opening, `"Bb major"`.
    pub key: String,
    /// The time signature of the opening, `"3/4"`.
    pub meter: String,
    /// The tapped tempo (BPM) the file is set to.
    pub tempo_bpm: f64,
    /// Quarter notes per minute, as the file's tempo event says.
    pub quarter_bpm: f64,
    /// What a tap counts: `"quarter"`, `"dotted quarter"` or `"half"`.
    pub beat_unit: String,
    /// Length in seconds.
    pub duration_seconds: f64,
    /// The parts.
    pub parts: Vec<CorpusPart>,
    /// The instruments heard, sorted.
    pub instruments: Vec<String>,
    /// `"train"` or `"heldout"`.
    pub split: String,
}

impl CorpusPiece {
    /// The key, when it reads as a major or minor key.
    pub fn parsed_key(&self) -> Option<Key> {
        Key::from_name(&self.key).filter(|k| k.mode() != Mode::Other)
    }

    /// Whether the piece is held out of training.
    pub fn held_out(&self) -> bool {
        self.split == "heldout"
    }
}

/// The corpus: its folder and pieces.
#[derive(Debug, Clone)]
pub struct Corpus {
    dir: PathBuf,
    /// Every piece, in index order.
    pub pieces: Vec<CorpusPiece>,
}

/// The shipped corpus's folder in this source tree.
pub fn shipped_corpus() -> PathBuf {
    crate::soundfont::shipped(COMPOSITIONS_DIR)
}

impl Corpus {
    /// Reads `dir/index.jsonl`, checking every record (a key, a tempo, a split, a file name
    /// inside the folder, instruments from the vocabulary) and naming the line at fault.
    pub fn open(dir: impl AsRef<Path>) -> Result<Corpus> {
        let dir = dir.as_ref().to_path_buf();
        let path = dir.join(CORPUS_INDEX);
        let io = |source| MidiError::Io {
            path: path.clone(),
            source,
        };
        let bytes = std::fs::metadata(&path).map_err(io)?.len();
        if bytes > MAX_INDEX_BYTES {
            return Err(MidiError::TooLarge {
                origin: path.display().to_string(),
                bytes,
                limit: MAX_INDEX_BYTES,
            });
        }
        let text = std::fs::read_to_string(&path).map_err(io)?;
        let mut pieces = Vec::new();
        for (number, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let fail = |detail: String| MidiError::InvalidArgument {
                name: "corpus index",
                detail: format!("{} line {}: {detail}", path.display(), number + 1),
            };
            let piece: CorpusPiece = serde_json::from_str(line).map_err(|e| fail(e.to_string()))?;
            if piece.parsed_key().is_none() {
                return Err(fail(format!(
                    "key {:?} is not a major or minor key",
                    piece.key
                )));
            }
            if !(piece.tempo_bpm.is_finite() && (20.0..=400.0).contains(&piece.tempo_bpm)) {
                return Err(fail(format!("tempo {} BPM", piece.tempo_bpm)));
            }
            if !matches!(piece.split.as_str(), "train" | "heldout") {
                return Err(fail(format!(
                    "split {:?} is not train or heldout",
                    piece.split
                )));
            }
            let file = Path::new(&piece.file);
            if file.components().count() != 1 || file.extension().is_none_or(|e| e != "mid") {
                return Err(fail(format!(
                    "file {:?} is not a .mid file in the folder",
                    piece.file
                )));
            }
            if let Some(bad) = piece
                .parts
                .iter()
                .find(|p| Instrument::parse(&p.instrument).is_none())
            {
                return Err(fail(format!(
                    "instrument {:?} is not in the vocabulary",
                    bad.instrument
                )));
            }
            pieces.push(piece);
        }
        Ok(Corpus { dir, pieces })
    }

    /// The corpus folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Reads the MIDI file of `piece`.
    pub fn read(&self, piece: &CorpusPiece) -> Result<MidiFile> {
        read_midi(self.dir.join(&piece.file))
    }

    /// The pieces of one split (`held_out`: the held-out ones).
    pub fn split(&self, held_out: bool) -> impl Iterator<Item = &CorpusPiece> {
        self.pieces.iter().filter(move |p| p.held_out() == held_out)
    }
}
