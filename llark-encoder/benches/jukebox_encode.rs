//! Jukebox encode throughput at the real sequence length (`n_ctx` 8192, 1,048,576 samples) with the
//! real VQ-VAE sizes and a reduced prior (width and depth from `JUKEBOX_BENCH_WIDTH` /
//! `JUKEBOX_BENCH_DEPTH`, default 512 and 3), random weights. The PyTorch counterpart is
//! `tools/reference/jukebox_bench.py`; see the crate README for the numbers.

use criterion::{criterion_group, criterion_main, Criterion};

use burn::backend::Flex;
use llark_encoder::jukebox::synthetic::write_random_weights;
use llark_encoder::{Jukebox, JukeboxConfig, JukeboxOptions};

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The benchmark configuration: real VQ-VAE and context, prior of the given width and depth.
fn bench_config() -> JukeboxConfig {
    let mut config = JukeboxConfig::jukebox_5b();
    config.prior.width = env_usize("JUKEBOX_BENCH_WIDTH", 512);
    config.prior.prior_depth = env_usize("JUKEBOX_BENCH_DEPTH", 3);
    config
}

fn bench(c: &mut Criterion) {
    let config = bench_config();
    let dir = tempfile::tempdir().expect("temp dir");
    let (vq, pr) = (
        dir.path().join("vqvae.safetensors"),
        dir.path().join("prior.safetensors"),
    );
    write_random_weights(&config, &vq, &pr, 7, true).expect("random weights");
    let device = Default::default();
    let model = Jukebox::<Flex>::load(config.clone(), &vq, &pr, JukeboxOptions::default(), &device)
        .expect("model");
    let n = config.window_samples();
    let audio: Vec<f32> = (0..n)
        .map(|i| {
            let t = i as f32 / 44_100.0;
            (2.0 * std::f32::consts::PI * 220.0 * t).sin() * 0.5
                + (2.0 * std::f32::consts::PI * 331.0 * t).sin() * 0.3
        })
        .collect();
    let window = model.prepare(&audio, 44_100).expect("window");
    let mut group = c.benchmark_group("jukebox");
    group.sample_size(10);
    group.bench_function(
        format!(
            "encode_n8192_w{}_d{}",
            config.prior.width, config.prior.prior_depth
        ),
        |b| b.iter(|| model.encode_frames(&audio, 44_100).expect("encode")),
    );
    group.bench_function("vqvae_codes_n8192", |b| {
        b.iter(|| model.window_codes(&window))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
