//! How well the lightweight encoder's features carry tempo and key on `llark-audio`'s synthetic
//! clips, read off without any training: the argmax of the clip-mean tempogram and key-correlation
//! blocks against the generator's ground truth.
//!
//! ```text
//! cargo run --release -p llark-encoder --example lite_synth_eval -- [COUNT] [SEED] [CSV]
//! ```
//!
//! Prints tempo ACC1 / ACC2 (4 % tolerance; ACC2 also accepts 2×, ½×, 3×, ⅓×), the share of exact
//! keys, the MIREX key score and the encoding speed. With `CSV`, also writes one line per clip:
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

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let count: usize = args.next().map(|a| a.parse()).transpose()?.unwrap_or(100);
    let seed: u64 = args.next().map(|a| a.parse()).transpose()?.unwrap_or(0);
    let mut csv = args.next().map(std::fs::File::create).transpose()?;
    let encoder = LiteEncoder::new(LiteConfig::default())?;
    let (layout, bpm) = (encoder.layout().clone(), encoder.config().tempo_bin_bpm());
    let config = SynthConfig::default();
    let (mut acc1, mut acc2, mut exact, mut score) = (0usize, 0usize, 0usize, 0.0);
    let (mut audio_seconds, mut encode_seconds) = (0.0, 0.0);
    for clip_seed in clip_seeds(seed, count) {
        let piece = generate(clip_seed, &config)?;
        let start = Instant::now();
        let frames = encoder.encode_frames(piece.audio.samples(), piece.audio.sample_rate())?;
        encode_seconds += start.elapsed().as_secs_f64();
        audio_seconds += piece.metadata.duration;
        let tempo = piece.metadata.tempo_bpm;
        let mean = clip_mean(&frames);
        let found = bpm[argmax(&mean, layout.tempo.clone())];
        let near = |t: f64| (found - t).abs() <= 0.04 * t;
        acc1 += usize::from(near(tempo));
        acc2 += usize::from(
            [1.0, 2.0, 0.5, 3.0, 1.0 / 3.0]
                .iter()
                .any(|m| near(tempo * m)),
        );
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
        "{count} clips (seed {seed}): tempo ACC1 {:.3} ACC2 {:.3} | key exact {:.3} MIREX {:.3} | {:.0} s of audio encoded per second",
        acc1 as f64 / n,
        acc2 as f64 / n,
        exact as f64 / n,
        score / n,
        audio_seconds / encode_seconds.max(1e-9),
    );
    Ok(())
}
