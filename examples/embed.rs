//! Encodes a corpus of audio files with an audio encoder and stores the frames for training.
//!
//! ```sh
//! cargo run --release --example embed -- --encoder DIR --input FILE_OR_DIR... --out OUT \
//!     [--dtype f16|f32] [--pool-fps N] [--shard i/n|auto] [--shard-count N] [--pack]
//! cargo run --release --example embed -- --merge --input FILE_OR_DIR... --out OUT [--dtype ...]
//! ```
//!
//! - `--encoder DIR`: an encoder directory (Jukebox: `config.json`, `vqvae.safetensors`,
//!   `prior.safetensors`).
//! - `--input`: audio files and folders (searched recursively for `.wav`, `.mp3`, `.flac`,
//!   `.ogg`), any number. Clips are sorted by id: the path relative to its folder without the
//!   extension (`rock/song01` for `DIR/rock/song01.mp3`), or the file stem for a file named
//!   directly.
//! - Each clip is loaded at the encoder's sample rate, peak-normalised, encoded (audio past the
//!   encoder's window is ignored: 2^20 samples, 23.8 s, for Jukebox) and, with `--pool-fps N`,
//!   mean-pooled to N frames per second (windows of `floor(frame_rate / N)` frames, an incomplete
//!   last window dropped; `0` gives one mean per clip).
//! - Each finished clip is written at once to `OUT/clips/<id>.safetensors` (tensor `encoding`
//!   `[frames, D]` in `--dtype`, default f32, with the encoder, frame rate, pooling and source
//!   path as metadata). Run the same command again after an interruption: clips whose file
//!   exists are skipped.
//! - `--shard i/n` encodes only the clips at positions `i, i + n, i + 2n, ...` of the sorted
//!   list, so `n` processes (sharing `OUT`, or copying their `OUT/clips` and `OUT/manifests`
//!   together) split a corpus. `--shard auto` takes `i/n` from a Slurm job array
//!   (`SLURM_ARRAY_TASK_ID - SLURM_ARRAY_TASK_MIN` of `SLURM_ARRAY_TASK_COUNT`) or a Kubernetes
//!   Indexed Job (`JOB_COMPLETION_INDEX` of `--shard-count N` or `LLARK_SHARD_COUNT`); see
//!   `deploy/`. Each shard ends by writing `OUT/manifests/shard-IIIII-of-NNNNN.json`, with the
//!   size and SHA-256 of every source and per-clip file.
//! - `--merge` (after every shard has run; no encoder needed) checks that the manifests cover
//!   the inputs exactly once with unchanged files, packs the encoding store `OUT/store` that the
//!   trainer reads (`llark_data::EncodingStore`) and writes `OUT/manifest.json`. A run of the
//!   whole corpus does this by itself once every clip has its file. `--pack` packs whatever is
//!   there, unverified, and rebuilds the store even if nothing changed.
//!
//! A file that cannot be read or encoded is reported with its path and the run goes on; the exit
//! status is non-zero if any clip failed. The backend is the `llark` package's default (see
//! `llark::backend`; `--features cuda` for an NVIDIA GPU).

mod common;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use indicatif::{ProgressBar, ProgressStyle};
use llark::backend::{backend_name, default_device, DefaultBackend};
use llark::encoders::load_encoder;
use llark::AudioFrontEnd;
use llark_jobs::embed::{
    embed, failure_message, find_clips, merge, parse_dtype, ClipOutcome, EmbedOptions, Progress,
    ShardSpec, MANIFEST_FILE,
};

/// Encode audio files into stored encoder frames (resumable, shardable) and pack them into an
/// encoding store.
#[derive(Debug, Parser)]
struct Args {
    /// Encoder directory (config.json and weights).
    #[arg(long, required_unless_present = "merge")]
    encoder: Option<PathBuf>,
    /// Audio files and folders (searched recursively for wav, mp3, flac, ogg).
    #[arg(long, num_args = 1.., required = true)]
    input: Vec<PathBuf>,
    /// Output folder: clips/<id>.safetensors per clip, store/ when packed.
    #[arg(long)]
    out: PathBuf,
    /// Element type of the stored frames: f16 or f32.
    #[arg(long, default_value = "f32", value_parser = parse_dtype)]
    dtype: llark::data::StoreDtype,
    /// Mean-pool the encoder frames to N frames per second (0: one mean per clip).
    #[arg(long)]
    pool_fps: Option<u32>,
    /// Encode only part i of n (clips at positions i, i + n, ... of the sorted list), or `auto`:
    /// the part a Slurm job array or Kubernetes Indexed Job gives this process.
    #[arg(long, default_value = "0/1")]
    shard: ShardSpec,
    /// The shard count for `--shard auto` in a Kubernetes Indexed Job (its `completions`;
    /// default: the LLARK_SHARD_COUNT variable).
    #[arg(long)]
    shard_count: Option<usize>,
    /// Verify the shards' manifests, pack the store and write OUT/manifest.json; encode nothing.
    #[arg(long, conflicts_with_all = ["pack", "encoder", "pool_fps"])]
    merge: bool,
    /// Pack the store at the end even if some clips are missing or nothing changed.
    #[arg(long)]
    pack: bool,
}

fn main() -> ExitCode {
    run(Args::parse()).unwrap_or_else(common::fail)
}

fn run(args: Args) -> llark_jobs::Result<ExitCode> {
    let clips = find_clips(&args.input)?;
    if clips.is_empty() {
        eprintln!("error: no audio files (wav, mp3, flac, ogg) in the inputs");
        return Ok(ExitCode::FAILURE);
    }
    if args.merge {
        let merged = merge(&args.out, &clips, args.dtype)?;
        eprintln!(
            "verified {} shards: {} clips, {} frames, each embedded once; store: {}; manifest: {}",
            merged.manifest.shards,
            merged.manifest.clip_count,
            merged.manifest.frames,
            args.out.join(llark_jobs::embed::STORE_DIR).display(),
            args.out.join(MANIFEST_FILE).display()
        );
        return Ok(ExitCode::SUCCESS);
    }
    let shard = args.shard.resolve(args.shard_count)?;
    let Some(encoder_dir) = &args.encoder else {
        eprintln!("error: --encoder DIR is needed to encode");
        return Ok(ExitCode::FAILURE);
    };
    let device = default_device();
    let encoder = load_encoder::<DefaultBackend>(encoder_dir, &device)?;
    let front_end = AudioFrontEnd::new(encoder, args.pool_fps, &device)?;
    let encoder = front_end.encoder();
    eprintln!(
        "{} clips in the inputs, shard {}; encoder {} ({} Hz in, {:.3} frames/s, width {}) on {}",
        clips.len(),
        shard,
        encoder.name(),
        encoder.sample_rate(),
        encoder.frame_rate(),
        encoder.width(),
        backend_name()
    );
    let options = EmbedOptions::new(&args.out)
        .with_dtype(args.dtype)
        .with_shard(shard)
        .with_pack(args.pack);

    let bar = ProgressBar::new(0);
    bar.set_style(
        ProgressStyle::with_template(
            "{elapsed_precise} [{wide_bar}] {pos}/{len} clips, ETA {eta} {msg}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    bar.enable_steady_tick(Duration::from_millis(500));
    let summary = embed(&front_end, &clips, &options, |event| match event {
        Progress::Started { clip, total, .. } => {
            bar.set_length(total as u64);
            bar.set_message(clip.path.display().to_string());
        }
        Progress::Finished { clip, outcome } => {
            if let ClipOutcome::Failed(error) = outcome {
                let message = failure_message(&clip.path, error);
                bar.suspend(|| eprintln!("failed: {message}"));
            }
            bar.inc(1);
        }
        Progress::Packing { clips } => {
            bar.set_message(format!("packing {clips} clips into the store"));
        }
    });
    bar.finish_and_clear();
    let summary = summary?;
    eprintln!("{}", summary.line());
    if summary.packed.is_some() {
        eprintln!(
            "store: {}",
            args.out.join(llark_jobs::embed::STORE_DIR).display()
        );
    }
    if summary.failed.is_empty() {
        Ok(ExitCode::SUCCESS)
    } else {
        eprintln!("failed clips:");
        for failure in &summary.failed {
            eprintln!("  {failure}");
        }
        Ok(ExitCode::FAILURE)
    }
}
