//! Decode + resample of a 30 s, 48 kHz stereo file to 44.1 kHz mono: our `load_resampled`
//! against `librosa.load(path, sr=44100)` (timed by `tools/reference/audio_resample.py --timing`).
//!
//! `LLARK_AUDIO_BENCH_DIR=DIR cargo bench -p llark-audio --bench load` times the files the
//! Python script wrote to `DIR`; without it, a WAV of the same shape is generated.

use std::path::{Path, PathBuf};
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use llark_audio::{load_resampled, synth, LLARK_SAMPLE_RATE};

fn bench_files() -> (Option<tempfile::TempDir>, Vec<PathBuf>) {
    if let Ok(dir) = std::env::var("LLARK_AUDIO_BENCH_DIR") {
        let dir = Path::new(&dir);
        let files = ["music_30s_48k_stereo.wav", "music_30s_48k_stereo.mp3"]
            .iter()
            .map(|f| dir.join(f))
            .filter(|p| p.exists())
            .collect();
        return (None, files);
    }
    let tmp = tempfile::tempdir().expect("temporary directory");
    let path = tmp.path().join("music_30s_48k_stereo.wav");
    let mono = synth::music(48_000, 30.0, 7).expect("signal");
    let spec = hound::WavSpec {
        channels: 2,
        sample_rate: 48_000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut writer = hound::WavWriter::create(&path, spec).expect("bench file");
    for &s in mono.samples() {
        let v = (s * 32767.0) as i16;
        writer.write_sample(v).expect("write");
        writer.write_sample(v / 2).expect("write");
    }
    writer.finalize().expect("finalize");
    (Some(tmp), vec![path])
}

fn load_30s(c: &mut Criterion) {
    let (_keep, files) = bench_files();
    let mut group = c.benchmark_group("load_resampled_30s_48k_stereo");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(10));
    for path in files {
        let name = path
            .extension()
            .and_then(|e| e.to_str())
            .unwrap_or("file")
            .to_owned();
        group.bench_function(name, |b| {
            b.iter(|| load_resampled(&path, LLARK_SAMPLE_RATE).expect("load"))
        });
    }
    group.finish();
}

criterion_group!(benches, load_30s);
criterion_main!(benches);
