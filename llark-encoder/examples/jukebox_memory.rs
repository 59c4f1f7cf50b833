//! Peak memory of one Jukebox encode at the real width and context (4800 wide, n_ctx 8192, a 25 s
//! clip) with random weights and a few layers, resident or streamed.
//!
//! ```text
//! cargo run --release -p llark-encoder --example jukebox_memory -- write DIR LAYERS
//! cargo run --release -p llark-encoder --example jukebox_memory -- run DIR LAYERS [--stream]
//! ```
//!
//! `write` stores random weights of the 5B configuration cut to LAYERS layers (Conv1D matrices in
//! f16, as in the real checkpoint); `run` loads them in a fresh process, encodes one clip and prints
//! the peak resident set (Linux `VmHWM`, which counts touched pages of the mapped file too) and the
//! anonymous and file-backed resident memory at the end. The crate README extrapolates to 36 layers.

use std::path::PathBuf;

use burn::backend::Flex;
use llark_encoder::jukebox::synthetic::write_random_weights;
use llark_encoder::{Jukebox, JukeboxConfig, JukeboxOptions};

fn status_mb(key: &str) -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with(key)).and_then(|l| {
                l.split_whitespace()
                    .nth(1)
                    .and_then(|kb| kb.parse::<f64>().ok())
            })
        })
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: jukebox_memory (write|run) DIR LAYERS [--stream]";
    if args.len() < 3 || args.iter().any(|a| a == "--help" || a == "-h") {
        println!("{usage}");
        return Ok(());
    }
    let dir = PathBuf::from(&args[1]);
    let layers: usize = args[2].parse()?;
    let config = JukeboxConfig::jukebox_5b().with_depth(layers);
    let (vq, pr) = (dir.join("vqvae.safetensors"), dir.join("prior.safetensors"));
    match args[0].as_str() {
        "write" => {
            std::fs::create_dir_all(&dir)?;
            write_random_weights(&config, &vq, &pr, 1, true)?;
            println!("wrote {}", dir.display());
        }
        "run" => {
            let stream = args.iter().any(|a| a == "--stream");
            let options = JukeboxOptions {
                stream_layers: stream,
            };
            let model = Jukebox::<Flex>::load(config, &vq, &pr, options, &Default::default())?;
            let loaded = status_mb("VmHWM:");
            let audio: Vec<f32> = (0..1_102_500).map(|i| (i as f32 * 0.01).sin()).collect();
            let start = std::time::Instant::now();
            let frames = model.encode_frames(&audio, 44_100)?;
            println!(
                "layers {layers} stream {stream}: {}x{} frames in {:.1} s; peak RSS after load {loaded:.0} MB, \
                 after encode {:.0} MB; at the end anon {:.0} MB, file {:.0} MB",
                frames.frames,
                frames.width,
                start.elapsed().as_secs_f64(),
                status_mb("VmHWM:"),
                status_mb("RssAnon:"),
                status_mb("RssFile:"),
            );
        }
        _ => println!("{usage}"),
    }
    Ok(())
}
