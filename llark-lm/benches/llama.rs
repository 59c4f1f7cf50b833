//! Prefill (256 tokens) and decode (64 tokens after a 256-token prefix, and after a 768-token
//! prefix to show that a step only pays for attention over the longer cache) of a ~150M-parameter
//! Llama with a 32,004-token vocabulary and random weights, on the CPU backend (burn-flex), with
//! f32 weights and with packed bf16 / int8 weights (`llark-kernels`).
//! `tools/reference/llama_bench.py` runs transformers on the same configuration and inputs.
//!
//! Run with `cargo bench -p llark-lm --bench llama`.

use burn::backend::flex::FlexDevice;
use burn::backend::Flex;
use burn::tensor::{Int, Tensor, TensorData};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use llark_lm::{Llama, LlamaConfig, WeightDtype};

type B = Flex;

const PREFILL: usize = 256;
const DECODE: usize = 64;
const LONG_PREFIX: usize = 768;

fn bench_config() -> LlamaConfig {
    LlamaConfig {
        vocab_size: 32004,
        hidden_size: 768,
        intermediate_size: 2048,
        num_hidden_layers: 14,
        num_attention_heads: 12,
        num_key_value_heads: Some(12),
        max_position_embeddings: 1024,
        ..LlamaConfig::llama2_7b()
    }
}

/// Deterministic token ids, identical to the Python script: `(i * 7919 + 13) % vocab`.
fn token_ids(n: usize, offset: usize, vocab: usize) -> Vec<i64> {
    (offset..offset + n)
        .map(|i| ((i * 7919 + 13) % vocab) as i64)
        .collect()
}

fn ids_tensor(ids: Vec<i64>, device: &FlexDevice) -> Tensor<B, 2, Int> {
    let n = ids.len();
    Tensor::from_data(TensorData::new(ids, [1, n]), device)
}

type Group<'a> = criterion::BenchmarkGroup<'a, criterion::measurement::WallTime>;

/// One forward pass over the 256-token prompt with a fresh cache (logits of every position).
fn bench_prefill(group: &mut Group<'_>, name: &str, model: &Llama<B>, device: &FlexDevice) {
    let prompt = token_ids(PREFILL, 0, model.vocab_size());
    group.throughput(Throughput::Elements(PREFILL as u64));
    group.bench_function(name, |b| {
        b.iter(|| {
            let mut cache = model.new_cache(1, PREFILL + DECODE);
            model
                .forward(ids_tensor(prompt.clone(), device), None, Some(&mut cache))
                .expect("forward")
                .into_data()
        })
    });
}

/// 64 single-token steps after a `prefix`-token prompt, reading the logits back as generation
/// does.
fn bench_decode(
    group: &mut Group<'_>,
    name: &str,
    model: &Llama<B>,
    prefix: usize,
    device: &FlexDevice,
) {
    let vocab = model.vocab_size();
    let mut prefilled = model.new_cache(1, prefix + DECODE);
    model
        .forward(
            ids_tensor(token_ids(prefix, 0, vocab), device),
            None,
            Some(&mut prefilled),
        )
        .expect("prefill");
    let decode_ids = token_ids(DECODE, prefix, vocab);
    group.throughput(Throughput::Elements(DECODE as u64));
    group.bench_function(name, |b| {
        b.iter_batched(
            || prefilled.clone(),
            |mut cache| {
                for &id in &decode_ids {
                    let logits = model
                        .forward(ids_tensor(vec![id], device), None, Some(&mut cache))
                        .expect("decode step");
                    let _ = logits.into_data();
                }
                cache
            },
            BatchSize::LargeInput,
        )
    });
}

fn benches(c: &mut Criterion) {
    let device = Default::default();
    let model = Llama::<B>::random(bench_config(), 0.02, 0, &device).expect("valid bench config");

    let mut group = c.benchmark_group("llama-150m");
    group.sample_size(10);
    group.warm_up_time(std::time::Duration::from_secs(1));
    group.measurement_time(std::time::Duration::from_secs(20));
    bench_prefill(&mut group, "prefill_256", &model, &device);
    bench_decode(&mut group, "decode_64", &model, PREFILL, &device);
    let long = format!("decode_64_after_{LONG_PREFIX}");
    bench_decode(&mut group, &long, &model, LONG_PREFIX, &device);
    group.finish();

    // The weight matrices kept packed (host CPU kernels reading them directly).
    let mut group = c.benchmark_group("llama-150m-packed");
    group.sample_size(10);
    group.warm_up_time(std::time::Duration::from_secs(1));
    group.measurement_time(std::time::Duration::from_secs(15));
    for dtype in [WeightDtype::Bf16, WeightDtype::Int8] {
        let model = Llama::<B>::random_with(bench_config(), 0.02, 0, dtype, &device)
            .expect("valid bench config");
        bench_prefill(&mut group, &format!("prefill_256_{dtype}"), &model, &device);
        bench_decode(
            &mut group,
            &format!("decode_64_{dtype}"),
            &model,
            PREFILL,
            &device,
        );
    }
    group.finish();
}

criterion_group!(llama, benches);
criterion_main!(llama);
