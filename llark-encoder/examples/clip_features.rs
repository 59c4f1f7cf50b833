//! Writes what the lite encoder's fitted parts read for each clip of a `clips.jsonl` file (one
//! clip a line with `"audio"`, a WAV path relative to the file, `"tempo_bpm"` and
//! `"instruments"`, as the quickstart's development set): the tempo ranker's features and the
//! instrument tagger's timbre statistics, the input of `tools/reference/fit_tempo_ranker.py` and
//! `tools/reference/fit_instrument_tagger.py`.
//!
//! ```text
//! cargo run --release --example quickstart -- --development-set dev
//! cargo run --release -p llark-encoder --example clip_features -- dev/clips.jsonl dev/features.jsonl
//! ```
//!
//! Each output line: the clip's `id`, `source`, `tempo_bpm`, `instruments`, the bins' `bpm`
//! and their `features` (`RANKER_FEATURES` numbers per bin), and the `timbre` statistics.
//!
//! `--config config.json` takes the encoder's configuration from a file (default: the
//! default configuration). With a third argument `ENVELOPES.f32`, the tempo ranker's band onset
//! envelopes of each clip go there too, as little-endian `f32`, band after band; each line then
//! names where its own start (`envelope_offset`, in values), how many `envelope_bands` and
//! `envelope_frames` it has, and the `onset_rate` in frames per second.

use std::io::Write;
use std::path::Path;

use llark_encoder::{LiteConfig, LiteEncoder};

/// The mean over frames of the columns `range`.
fn block_mean(frames: &llark_encoder::Frames, range: std::ops::Range<usize>) -> Vec<f32> {
    let mut mean = vec![0f32; range.len()];
    for t in 0..frames.frames {
        for (m, v) in mean.iter_mut().zip(&frames.row(t)[range.clone()]) {
            *m += v / frames.frames.max(1) as f32;
        }
    }
    mean
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1).peekable();
    let config = if args.peek().map(String::as_str) == Some("--config") {
        let path = args.nth(1).ok_or("--config needs a config.json path")?;
        LiteConfig::from_json_file(path)?
    } else {
        LiteConfig::default()
    };
    let (Some(input), Some(output)) = (args.next(), args.next()) else {
        return Err(
            "usage: clip_features [--config config.json] CLIPS.jsonl OUT.jsonl [ENVELOPES.f32]"
                .into(),
        );
    };
    let mut envelopes = match args.next() {
        Some(path) => Some(std::io::BufWriter::new(std::fs::File::create(path)?)),
        None => None,
    };
    let mut envelope_offset = 0usize;
    let encoder = LiteEncoder::new(config.clone())?;
    let bass = LiteEncoder::new(LiteConfig {
        chroma_fmin: 40.0,
        chroma_fmax: 260.0,
        ..config
    })?;
    let dir = Path::new(&input).parent().unwrap_or(Path::new("."));
    let mut out = std::io::BufWriter::new(std::fs::File::create(&output)?);
    let mut count = 0usize;
    for line in std::fs::read_to_string(&input)?
        .lines()
        .filter(|l| !l.trim().is_empty())
    {
        let clip: serde_json::Value = serde_json::from_str(line)?;
        let audio = clip["audio"].as_str().ok_or("a clip lacks \"audio\"")?;
        let audio = llark_audio::load_resampled(dir.join(audio), encoder.config().sample_rate)?;
        let found = encoder.tempo_features(audio.samples(), audio.sample_rate())?;
        let timbre = encoder.timbre_statistics(audio.samples(), audio.sample_rate())?;
        let frames = encoder.encode_frames(audio.samples(), audio.sample_rate())?;
        let bass_frames = bass.encode_frames(audio.samples(), audio.sample_rate())?;
        let chroma = block_mean(&frames, encoder.layout().chroma.clone());
        let bass_chroma = block_mean(&bass_frames, bass.layout().chroma.clone());
        let mut row = serde_json::json!({
            "id": clip["id"],
            "source": clip["source"],
            "tempo_bpm": clip["tempo_bpm"],
            "instruments": clip["instruments"],
            "bpm": found.bpm,
            "features": found.features.iter().map(|f| f.to_vec()).collect::<Vec<_>>(),
            "timbre": timbre,
            "key": clip["key"],
            "chroma": chroma,
            "bass_chroma": bass_chroma,
        });
        if let Some(sink) = envelopes.as_mut() {
            let bands = encoder.tempo_envelopes(audio.samples(), audio.sample_rate())?;
            let frames = bands.first().map_or(0, Vec::len);
            for value in bands.iter().flatten() {
                sink.write_all(&value.to_le_bytes())?;
            }
            row["envelope_offset"] = envelope_offset.into();
            row["envelope_bands"] = bands.len().into();
            row["envelope_frames"] = frames.into();
            row["onset_rate"] = encoder.config().onset_rate().into();
            envelope_offset += bands.len() * frames;
        }
        writeln!(out, "{row}")?;
        count += 1;
    }
    out.flush()?;
    if let Some(mut sink) = envelopes {
        sink.flush()?;
    }
    println!("{count} clips -> {output}");
    Ok(())
}
