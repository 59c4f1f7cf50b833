//! Renders music through a SoundFont: a `.mid` file, or pieces from the seeded composer.
//!
//! ```sh
//! # A MIDI file with the shipped training font:
//! cargo run --release --example render_midi -- --midi piece.mid --out piece.wav
//! # Five composed pieces of 20 s with their facts (JSON) and MIDI files beside them:
//! cargo run --release --example render_midi -- --compose 5 --seconds 20 --out-dir composed
//! ```

use std::path::PathBuf;

use clap::Parser;
use llark_audio::{write_wav, WavFormat};
use llark_midi::compose::{compose, ComposeConfig};
use llark_midi::{read_midi, shipped, write_midi, RenderOptions, SoundFont, TRAINING_SOUNDFONT};

#[derive(Parser)]
#[command(about = "Render MIDI or composed pieces through a SoundFont")]
struct Args {
    /// The SoundFont (default: the shipped TimGM6mb).
    #[arg(long)]
    soundfont: Option<PathBuf>,
    /// A MIDI file to render.
    #[arg(long, conflicts_with = "compose")]
    midi: Option<PathBuf>,
    /// The WAV file written for `--midi`.
    #[arg(long, default_value = "out.wav")]
    out: PathBuf,
    /// Compose this many pieces (seeds 0, 1, ...).
    #[arg(long)]
    compose: Option<u64>,
    /// Length of each composed piece in seconds.
    #[arg(long, default_value_t = 10.0)]
    seconds: f64,
    /// Where composed pieces go.
    #[arg(long, default_value = "composed")]
    out_dir: PathBuf,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let font = SoundFont::load(
        args.soundfont
            .clone()
            .unwrap_or_else(|| shipped(TRAINING_SOUNDFONT)),
    )?;
    let options = RenderOptions {
        tail_seconds: 1.0,
        ..RenderOptions::default()
    };
    if let Some(path) = &args.midi {
        let file = read_midi(path)?;
        let start = std::time::Instant::now();
        let mut audio = font.render(&file.performance, &options)?;
        audio.peak_normalise()?;
        write_wav(&args.out, &audio, WavFormat::Pcm16)?;
        println!(
            "{}: {:.1} s rendered in {:.2} s -> {}",
            path.display(),
            audio.duration_seconds(),
            start.elapsed().as_secs_f64(),
            args.out.display()
        );
    }
    if let Some(count) = args.compose {
        std::fs::create_dir_all(&args.out_dir)?;
        let config = ComposeConfig {
            duration: args.seconds,
            ..ComposeConfig::default()
        };
        for seed in 0..count {
            let piece = compose(seed, &config)?;
            let start = std::time::Instant::now();
            let mut audio = font.render(&piece.performance, &RenderOptions::default())?;
            let render_seconds = start.elapsed().as_secs_f64();
            audio.peak_normalise()?;
            let stem = args.out_dir.join(format!("piece-{seed:04}"));
            write_wav(stem.with_extension("wav"), &audio, WavFormat::Pcm16)?;
            let metre = piece
                .facts
                .time_signature
                .split_once('/')
                .unwrap_or(("4", "4"));
            write_midi(
                stem.with_extension("mid"),
                &piece.performance,
                piece.quarter_bpm,
                (metre.0.parse()?, metre.1.parse()?),
            )?;
            std::fs::write(
                stem.with_extension("json"),
                serde_json::to_string_pretty(&piece.facts)?,
            )?;
            println!(
                "{seed}: {} ({render_seconds:.2} s to render)",
                piece.facts.caption
            );
        }
    }
    Ok(())
}
