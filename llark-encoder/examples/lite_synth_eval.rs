//! How well the lightweight encoder's features carry tempo and key on `llark-audio`'s synthetic
//! clips, read off without any training: the argmax of the clip-mean tempogram and key-correlation
//! blocks against the generator's ground truth.
//!
//! ```text
//! cargo run --release -p llark-encoder --example lite_synth_eval -- [COUNT] [SEED] [CSV]
//! cargo run --release -p llark-encoder --example lite_synth_eval -- CLIPS.jsonl
//! ```
//!
//! Prints tempo ACC1 / ACC2 (4 % tolerance; ACC2 also accepts 2×, ½×, 3×, ⅓×) of the tempogram and
//! of the tempo-salience block, the share of exact keys, the MIREX key score and the encoding
//! speed. Given a `.jsonl` file instead (one clip a line with `"audio"`, a WAV path relative to
//! the file, and `"tempo_bpm"`, as the quickstart's `audio/real/clips.jsonl`), reads those clips
//! and prints the tempo figures, the key posterior's MIREX score and the instrument tagger's
//! micro F1 (from the clips' `"key"` and `"instruments"`, when they have them); with
//! `LITE_EVAL_PER_CLIP` set, also each clip's salience peak and the tempo its digits spell. With `CSV`, also writes one line per clip:
//! tempo, key index (0..12 major, 12..24 minor), instruments joined by `|`, then the clip-mean
//! frame (the input of `tools/reference/lite_probe.py`).

use std::io::Write;
use std::time::Instant;

use llark_audio::synth::{clip_seeds, generate, Mode, SynthConfig};
use llark_encoder::{Frames, LiteConfig, LiteEncoder};

/// MIREX key score of key index `estimate` for `truth` (0..12 major, 12..24 minor): 1 exact,
/// 0.5 a fifth away in the same mode, 0.3 relative, 0.2 parallel, else 0.
fn mirex(estimate: usize, truth: usize) -> f64 {
    let (et, em, tt, tm) = (estimate % 12, estimate / 12, truth % 12, truth / 12);
    let relative = if tm == 0 {
        (tt + 9) % 12
    } else {
        (tt + 3) % 12
    };
    match () {
        _ if estimate == truth => 1.0,
        _ if em == tm && (et == (tt + 7) % 12 || tt == (et + 7) % 12) => 0.5,
        _ if em != tm && et == relative => 0.3,
        _ if em != tm && et == tt => 0.2,
        _ => 0.0,
    }
}

/// The mean over frames of every column.
fn clip_mean(frames: &Frames) -> Vec<f64> {
    let mut mean = vec![0f64; frames.width];
    for t in 0..frames.frames {
        for (m, &v) in mean.iter_mut().zip(frames.row(t)) {
            *m += f64::from(v) / frames.frames.max(1) as f64;
        }
    }
    mean
}

/// Index of the largest value of `mean[range]`, relative to the range's start.
fn argmax(mean: &[f64], range: std::ops::Range<usize>) -> usize {
    let block = &mean[range];
    (0..block.len())
        .max_by(|&a, &b| block[a].total_cmp(&block[b]))
        .unwrap_or(0)
}

/// Tempo hits of one clip-mean frame: (tempogram ACC1, ACC2, salience ACC1, ACC2).
fn tempo_hits(mean: &[f64], encoder: &LiteEncoder, tempo: f64) -> [usize; 4] {
    let (layout, bpm) = (encoder.layout(), encoder.config().tempo_bin_bpm());
    let score = |range: std::ops::Range<usize>| {
        if range.is_empty() {
            return [0, 0];
        }
        let found = bpm[argmax(mean, range)];
        let near = |t: f64| (found - t).abs() <= 0.04 * t;
        let octave = [1.0, 2.0, 0.5, 3.0, 1.0 / 3.0]
            .iter()
            .any(|m| near(tempo * m));
        [usize::from(near(tempo)), usize::from(octave)]
    };
    let [a, b] = score(layout.tempo.clone());
    let [c, d] = score(layout.tempo_salience.clone());
    [a, b, c, d]
}

/// The tempo figures of summed [`tempo_hits`] over `count` clips.
fn tempo_summary(hits: &[usize; 4], count: usize) -> String {
    let share = |h: usize| h as f64 / count.max(1) as f64;
    format!(
        "tempogram ACC1 {:.3} ACC2 {:.3} | salience ACC1 {:.3} ACC2 {:.3}",
        share(hits[0]),
        share(hits[1]),
        share(hits[2]),
        share(hits[3])
    )
}

/// Counts of the instrument tagger's named instruments (probability above 0.5, averaged over
/// frames) against the truth: (true positives, false positives, false negatives).
fn tagger_counts(mean: &[f64], encoder: &LiteEncoder, truth: &[&str]) -> [usize; 3] {
    let names = llark_music::Instrument::all().map(|i| i.name());
    let mut counts = [0usize; 3];
    for (name, &p) in names.zip(&mean[encoder.layout().instruments.clone()]) {
        let (named, plays) = (p > 0.5, truth.contains(&name));
        match (named, plays) {
            (true, true) => counts[0] += 1,
            (true, false) => counts[1] += 1,
            (false, true) => counts[2] += 1,
            (false, false) => {}
        }
    }
    counts
}

/// Reads the clips of a `clips.jsonl` file and prints the tempo figures (and the instrument
/// tagger's micro F1 when the clips list their instruments).
fn clips_eval(
    path: &std::path::Path,
    encoder: &LiteEncoder,
) -> Result<(), Box<dyn std::error::Error>> {
    let dir = path.parent().unwrap_or(std::path::Path::new("."));
    let mut hits = [0usize; 4];
    let mut tagged = [0usize; 3];
    let (mut key_score, mut keyed) = (0.0, 0usize);
    let mut count = 0usize;
    for line in std::fs::read_to_string(path)?
        .lines()
        .filter(|l| !l.trim().is_empty())
    {
        let clip: serde_json::Value = serde_json::from_str(line)?;
        let audio = clip["audio"].as_str().ok_or("a clip lacks \"audio\"")?;
        let tempo = clip["tempo_bpm"]
            .as_f64()
            .ok_or("a clip lacks \"tempo_bpm\"")?;
        let audio = llark_audio::load_resampled(dir.join(audio), encoder.config().sample_rate)?;
        let frames = encoder.encode_frames(audio.samples(), audio.sample_rate())?;
        let mean = clip_mean(&frames);
        if std::env::var_os("LITE_EVAL_PER_CLIP").is_some() {
            let salience = encoder.layout().tempo_salience.clone();
            let bpm = encoder.config().tempo_bin_bpm()[argmax(&mean, salience)];
            let digits = &mean[encoder.layout().tempo_digits.clone()];
            let spelt: usize = digits
                .chunks(10)
                .map(|group| (0..10).max_by(|&a, &b| group[a].total_cmp(&group[b])))
                .fold(0, |n, d| n * 10 + d.unwrap_or(0));
            println!(
                "{} truth {tempo} salience {bpm:.1} digits {spelt}",
                clip["id"]
            );
        }
        let found = tempo_hits(&mean, encoder, tempo);
        hits.iter_mut().zip(found).for_each(|(h, f)| *h += f);
        if let Some(key) = clip["key"].as_str().and_then(llark_music::Key::parse) {
            let truth = usize::from(key.tonic().index())
                + if key.mode() == llark_music::Mode::Minor {
                    12
                } else {
                    0
                };
            key_score += mirex(argmax(&mean, encoder.layout().key_posterior.clone()), truth);
            keyed += 1;
        }
        if let Some(list) = clip["instruments"].as_array() {
            let truth: Vec<&str> = list.iter().filter_map(|v| v.as_str()).collect();
            let found = tagger_counts(&mean, encoder, &truth);
            tagged.iter_mut().zip(found).for_each(|(t, f)| *t += f);
        }
        count += 1;
    }
    let [tp, fp, fnn] = tagged;
    let f1 = 2.0 * tp as f64 / (2 * tp + fp + fnn).max(1) as f64;
    println!(
        "{count} clips: {} | key posterior MIREX {:.3} | instrument tagger micro F1 {f1:.3}",
        tempo_summary(&hits, count),
        key_score / keyed.max(1) as f64
    );
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let encoder = LiteEncoder::new(LiteConfig::default())?;
    if let Some(clips) = std::env::args().nth(1).filter(|a| a.ends_with(".jsonl")) {
        return clips_eval(std::path::Path::new(&clips), &encoder);
    }
    let mut args = std::env::args().skip(1);
    let count: usize = args.next().map(|a| a.parse()).transpose()?.unwrap_or(100);
    let seed: u64 = args.next().map(|a| a.parse()).transpose()?.unwrap_or(0);
    let mut csv = args.next().map(std::fs::File::create).transpose()?;
    let layout = encoder.layout().clone();
    let config = SynthConfig::default();
    let mut hits = [0usize; 4];
    let (mut exact, mut score) = (0usize, 0.0);
    let (mut audio_seconds, mut encode_seconds) = (0.0, 0.0);
    for clip_seed in clip_seeds(seed, count) {
        let piece = generate(clip_seed, &config)?;
        let start = Instant::now();
        let frames = encoder.encode_frames(piece.audio.samples(), piece.audio.sample_rate())?;
        encode_seconds += start.elapsed().as_secs_f64();
        audio_seconds += piece.metadata.duration;
        let tempo = piece.metadata.tempo_bpm;
        let mean = clip_mean(&frames);
        let found = tempo_hits(&mean, &encoder, tempo);
        hits.iter_mut().zip(found).for_each(|(h, f)| *h += f);
        let key = piece.metadata.parsed_key().ok_or("unparsable key")?;
        let truth = usize::from(key.tonic()) + if key.mode() == Mode::Minor { 12 } else { 0 };
        let estimate = argmax(&mean, layout.key_correlation.clone());
        exact += usize::from(estimate == truth);
        score += mirex(estimate, truth);
        if let Some(file) = csv.as_mut() {
            let names: Vec<&str> = piece
                .metadata
                .instruments
                .iter()
                .map(|i| i.name())
                .collect();
            let values: Vec<String> = mean.iter().map(|v| v.to_string()).collect();
            writeln!(
                file,
                "{tempo},{truth},{},{}",
                names.join("|"),
                values.join(",")
            )?;
        }
    }
    let n = count.max(1) as f64;
    println!(
        "{count} clips (seed {seed}): {} | key exact {:.3} MIREX {:.3} | {:.0} s of audio encoded per second",
        tempo_summary(&hits, count),
        exact as f64 / n,
        score / n,
        audio_seconds / encode_seconds.max(1e-9),
    );
    Ok(())
}
