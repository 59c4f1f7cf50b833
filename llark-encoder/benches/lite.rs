//! Lightweight-encoder throughput on a 10 s, 44.1 kHz clip (chords, a bass line and clicks); the
//! crate README reports it as seconds of audio encoded per second.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};

use llark_encoder::{EncoderInfo, LiteConfig, LiteEncoder};

/// A deterministic 10 s test clip: a C major triad, a bass note and a click every half second.
fn clip(rate: u32, seconds: f64) -> Vec<f32> {
    let sr = f64::from(rate);
    let n = (sr * seconds) as usize;
    (0..n)
        .map(|i| {
            let t = i as f64 / sr;
            let tone: f64 = [261.63, 329.63, 392.0, 65.41]
                .iter()
                .map(|f| (std::f64::consts::TAU * f * t).sin() * 0.15)
                .sum();
            let since_click = t % 0.5;
            let click = (-since_click * 200.0).exp() * (std::f64::consts::TAU * 1500.0 * t).sin();
            (tone + 0.5 * click) as f32
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let encoder = LiteEncoder::new(LiteConfig::default()).expect("encoder");
    let rate = encoder.sample_rate();
    let seconds = 10.0;
    let audio = clip(rate, seconds);
    let mut group = c.benchmark_group("lite");
    group.throughput(Throughput::Elements(audio.len() as u64));
    group.bench_function("encode_10s", |b| {
        b.iter(|| encoder.encode_frames(&audio, rate).expect("encode"))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
