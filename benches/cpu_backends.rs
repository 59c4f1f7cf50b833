//! Compares the CPU backends on the two workloads that dominate LLark on a CPU: a dense matmul
//! (projections, MLPs) and one attention head group at LM-prefill size.
//!
//! `cargo bench --bench cpu_backends --features ndarray` measures burn-flex and burn-ndarray side by side.

use burn::tensor::{activation::softmax, backend::Backend, Distribution, Tensor};
use criterion::{criterion_group, criterion_main, Criterion};

fn matmul<B: Backend>(c: &mut Criterion, name: &str, device: &B::Device) {
    let a = Tensor::<B, 2>::random([512, 1024], Distribution::Default, device);
    let b = Tensor::<B, 2>::random([1024, 1024], Distribution::Default, device);
    c.bench_function(&format!("{name}/matmul_512x1024x1024"), |bench| {
        bench.iter(|| {
            let out = a.clone().matmul(b.clone());
            B::sync(device).expect("backend sync");
            out
        })
    });
}

fn attention<B: Backend>(c: &mut Criterion, name: &str, device: &B::Device) {
    // 12 heads, 256 tokens, head dim 64: one prefill attention of a 150M-parameter Llama layer.
    let q = Tensor::<B, 4>::random([1, 12, 256, 64], Distribution::Default, device);
    let k = Tensor::<B, 4>::random([1, 12, 256, 64], Distribution::Default, device);
    let v = Tensor::<B, 4>::random([1, 12, 256, 64], Distribution::Default, device);
    c.bench_function(&format!("{name}/attention_12x256x64"), |bench| {
        bench.iter(|| {
            let scores = q.clone().matmul(k.clone().swap_dims(2, 3)).div_scalar(8.0);
            let out = softmax(scores, 3).matmul(v.clone());
            B::sync(device).expect("backend sync");
            out
        })
    });
}

fn backends(c: &mut Criterion) {
    #[cfg(feature = "flex")]
    {
        let device = Default::default();
        matmul::<burn::backend::Flex>(c, "flex", &device);
        attention::<burn::backend::Flex>(c, "flex", &device);
    }
    #[cfg(feature = "ndarray")]
    {
        let device = Default::default();
        matmul::<burn::backend::NdArray>(c, "ndarray", &device);
        attention::<burn::backend::NdArray>(c, "ndarray", &device);
    }
    let _ = c;
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20).measurement_time(std::time::Duration::from_secs(4));
    targets = backends
}
criterion_main!(benches);
