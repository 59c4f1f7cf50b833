//! Writing a directory of generated pieces: WAV files, one metadata JSON per clip and a
//! `metadata.jsonl` with all of them.

use std::fs;
use std::io::Write;
use std::path::Path;

use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::config::SynthConfig;
use super::metadata::PieceMetadata;
use super::piece::generate;
use crate::error::{AudioError, Result};
use crate::write::{write_wav, WavFormat};

/// Name of the file that holds every clip's metadata, one JSON object per line.
pub const METADATA_JSONL: &str = "metadata.jsonl";

/// The seeds of the `count` clips of the dataset of `seed`: the top 53 bits (exact in any JSON
/// reader) of the first `count` outputs of a ChaCha8 generator seeded with `seed`, so datasets
/// with different seeds do not share clips (except by a 53-bit coincidence).
pub fn clip_seeds(seed: u64, count: usize) -> Vec<u64> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..count).map(|_| rng.next_u64() >> 11).collect()
}

/// The id of clip `index` of a dataset: `"synth-000042"`.
pub fn clip_id(index: usize) -> String {
    format!("synth-{index:06}")
}

/// Generates `count` pieces into `dir` (created if needed): `<id>.wav` (mono 32-bit float),
/// `<id>.json` (pretty-printed [`PieceMetadata`]) and [`METADATA_JSONL`] with every clip's
/// metadata on one line, in index order. Clip `i` has id [`clip_id`]`(i)` and seed
/// [`clip_seeds`]`(seed, count)[i]`. `progress(done, count, &metadata)` is called after each
/// clip. Returns the metadata of every clip.
pub fn write_dataset(
    dir: impl AsRef<Path>,
    count: usize,
    seed: u64,
    config: &SynthConfig,
    mut progress: impl FnMut(usize, usize, &PieceMetadata),
) -> Result<Vec<PieceMetadata>> {
    let dir = dir.as_ref();
    config.validate()?;
    let io_err = |path: &Path| {
        let origin = path.display().to_string();
        move |source| AudioError::Io { origin, source }
    };
    fs::create_dir_all(dir).map_err(io_err(dir))?;
    let jsonl_path = dir.join(METADATA_JSONL);
    let mut jsonl = llark_tensors::AtomicFile::create(&jsonl_path).map_err(io_err(&jsonl_path))?;
    let mut all = Vec::with_capacity(count);
    for (index, clip_seed) in clip_seeds(seed, count).into_iter().enumerate() {
        let mut piece = generate(clip_seed, config)?;
        piece.metadata.set_id(&clip_id(index));
        let meta = &piece.metadata;
        write_wav(dir.join(&meta.audio), &piece.audio, WavFormat::Float32)?;
        let json_path = dir.join(format!("{}.json", meta.id));
        let json_err = |path: &Path| {
            let path = path.to_path_buf();
            move |e: serde_json::Error| AudioError::Write {
                path,
                detail: e.to_string(),
            }
        };
        let pretty = serde_json::to_string_pretty(meta).map_err(json_err(&json_path))?;
        llark_tensors::write_bytes_atomic(&json_path, (pretty + "\n").as_bytes()).map_err(|e| {
            AudioError::Write {
                path: json_path.clone(),
                detail: e.to_string(),
            }
        })?;
        let line = serde_json::to_string(meta).map_err(json_err(&jsonl_path))?;
        writeln!(jsonl, "{line}").map_err(io_err(&jsonl_path))?;
        progress(index + 1, count, meta);
        all.push(piece.metadata);
    }
    jsonl.commit().map_err(io_err(&jsonl_path))?;
    Ok(all)
}
