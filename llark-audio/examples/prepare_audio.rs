//! Prepares an audio file the way LLark's preprocessing does: decode (WAV, MP3, FLAC, OGG), mix
//! to mono, resample, crop to `[start, start + duration)`, peak-normalise, and write a mono
//! 32-bit float WAV.
//!
//! ```text
//! cargo run --release --example prepare_audio -- --input song.mp3 --output clip.wav \
//!     --start 30 --duration 25
//! ```
//!
//! The file is streamed: only the cropped part is held in memory.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use llark_audio::{
    write_wav, Audio, AudioError, AudioStream, Cropped, Resampled, WavFormat, LLARK_SAMPLE_RATE,
};

/// Command-line arguments.
#[derive(Debug, Parser)]
#[command(
    version,
    about = "Decode, mix to mono, resample, crop and peak-normalise an audio file into a mono 32-bit float WAV (LLark's preprocessing)."
)]
struct Args {
    /// Input audio file (WAV, MP3, FLAC or OGG/Vorbis).
    #[arg(long)]
    input: PathBuf,
    /// Output WAV file (mono, 32-bit float).
    #[arg(long)]
    output: PathBuf,
    /// Start of the crop in seconds.
    #[arg(long, default_value_t = 0.0, allow_negative_numbers = true)]
    start: f64,
    /// Length of the crop in seconds (default: to the end of the file).
    #[arg(long, allow_negative_numbers = true)]
    duration: Option<f64>,
    /// Output sample rate in Hz.
    #[arg(long, default_value_t = LLARK_SAMPLE_RATE)]
    sample_rate: u32,
}

fn run(args: &Args) -> Result<(), AudioError> {
    let stream = AudioStream::open(&args.input)?;
    let origin = stream.origin().to_owned();
    let channels = stream.channels();
    let native_rate = stream.sample_rate();
    let resampled = Resampled::new(stream, args.sample_rate)?;
    let mut clip = Cropped::new(resampled, args.start, args.duration)?;
    if !clip.seek_to_start()? {
        return Err(AudioError::InvalidArgument {
            name: "start",
            detail: format!("{} s is past the end of {origin}", args.start),
        });
    }
    let mut audio = Audio::from_source(clip)?;
    if audio.is_empty() {
        return Err(AudioError::Empty { origin });
    }
    let peak = audio.peak_normalise()?;
    write_wav(&args.output, &audio, WavFormat::Float32)?;
    eprintln!(
        "{origin}: {channels} channel(s) at {native_rate} Hz -> {} ({} samples, {:.3} s at {} Hz; peak {peak:.4} normalised to 1)",
        args.output.display(),
        audio.len(),
        audio.duration_seconds(),
        args.sample_rate,
    );
    Ok(())
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
