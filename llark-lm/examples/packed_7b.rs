//! A Llama-2-7B-shaped model on the CPU with its weight matrices kept packed: how much memory a
//! load takes against the bytes stored, and how fast it decodes against the read-bandwidth
//! bound measured in the same run.
//!
//! Writes a random-weight bf16 checkpoint of the 7B shape (13.5 GB, in `--dir`, default a folder
//! under the system's temporary directory; kept for later runs and never committed), converts it
//! to int8 with [`llark_lm::quantize_checkpoint`] when int8 is asked for, then loads each dtype in
//! a child process (so that its peak resident memory, `VmHWM`, is its own) and times a 16-token
//! prefill and `--tokens` decoding steps. The read bandwidth is probed before the children run
//! and again in each child right after it decodes; the bound is the higher of the two, as the
//! machine's bandwidth varies from minute to minute.
//!
//! ```text
//! cargo run --release -p llark-lm --example packed_7b -- [--dtypes bf16,int8] [--tokens 8] [--dir DIR]
//! ```
//!
//! Needs about 21 GB of disk for both checkpoints and 15 GB of memory for the bf16 load.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use burn::backend::Flex;
use burn::tensor::{Int, Tensor, TensorData};
use llark_kernels::probe;
use llark_lm::{quantize_checkpoint, tensor_specs, Llama, LlamaConfig, LoadOptions, WeightDtype};
use llark_tensors::{write_shards_streaming, Dtype, TensorBuf};

type B = Flex;

const PROMPT: usize = 16;
const SHARD_BYTES: u64 = 2 << 30;

fn status_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

/// A bf16 tensor of uniform values in [-0.02, 0.02) from a xorshift stream (norms: ones).
fn random_bf16(name: &str, shape: &[usize], seed: u64) -> TensorBuf {
    let n: usize = shape.iter().product();
    let mut bytes = Vec::with_capacity(n * 2);
    if name.ends_with("norm.weight") {
        for _ in 0..n {
            bytes.extend_from_slice(&half::bf16::from_f32(1.0).to_bits().to_le_bytes());
        }
    } else {
        let mut s = seed | 1;
        for _ in 0..n {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            let u = (s >> 40) as f32 / (1u64 << 24) as f32;
            let bits = half::bf16::from_f32((u * 2.0 - 1.0) * 0.02).to_bits();
            bytes.extend_from_slice(&bits.to_le_bytes());
        }
    }
    TensorBuf::new(name, Dtype::BF16, shape.to_vec(), bytes).expect("sized buffer")
}

/// Writes the random bf16 checkpoint unless `dir` already holds one.
fn write_checkpoint(dir: &Path, config: &LlamaConfig) {
    if dir.join("config.json").exists() {
        println!("reusing {}", dir.display());
        return;
    }
    std::fs::create_dir_all(dir).expect("checkpoint folder");
    let specs = tensor_specs(config);
    let plan: Vec<(String, u64)> = specs
        .iter()
        .map(|(n, s)| (n.clone(), s.iter().product::<usize>() as u64 * 2))
        .collect();
    let shapes: BTreeMap<&str, &Vec<usize>> = specs.iter().map(|(n, s)| (n.as_str(), s)).collect();
    let start = Instant::now();
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    write_shards_streaming(dir, "model", &plan, SHARD_BYTES, &BTreeMap::new(), |name| {
        seed = seed.wrapping_add(0x2545_f491_4f6c_dd1d);
        Ok(random_bf16(name, shapes[name], seed))
    })
    .expect("write shards");
    std::fs::write(
        dir.join("config.json"),
        serde_json::to_string_pretty(config).expect("config json"),
    )
    .expect("config.json");
    println!(
        "wrote {} in {:.0} s",
        dir.display(),
        start.elapsed().as_secs_f64()
    );
}

fn stored_bytes(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok())
                .filter(|e| e.path().extension().is_some_and(|x| x == "safetensors"))
                .filter_map(|e| e.metadata().ok())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}

/// The child: load, prefill, decode; prints one `key=value` line.
fn child(dir: &Path, dtype: WeightDtype, tokens: usize) {
    let device = Default::default();
    let start = Instant::now();
    let model =
        Llama::<B>::from_pretrained_with(dir, &LoadOptions::strict().with_dtype(dtype), &device)
            .expect("load");
    let load_s = start.elapsed().as_secs_f64();
    let load_peak = status_kib("VmHWM:") * 1024;
    let read_per_token: usize = model
        .layers
        .iter()
        .flat_map(|l| {
            [
                &l.self_attn.q_proj,
                &l.self_attn.k_proj,
                &l.self_attn.v_proj,
                &l.self_attn.o_proj,
                &l.mlp.gate_proj,
                &l.mlp.up_proj,
                &l.mlp.down_proj,
            ]
        })
        .map(|p| {
            p.packed
                .as_ref()
                .map_or(p.shape()[0] * p.shape()[1] * 4, |w| w.stored_bytes())
        })
        .sum::<usize>()
        + model.packed_head.as_ref().map_or(0, |h| h.stored_bytes());
    let vocab = model.vocab_size() as i64;
    let ids = |n: usize, offset: usize| -> Tensor<B, 2, Int> {
        let v: Vec<i64> = (offset..offset + n)
            .map(|i| (i as i64 * 7919 + 13) % vocab)
            .collect();
        Tensor::from_data(TensorData::new(v, [1, n]), &device)
    };
    let mut cache = model.new_cache(1, PROMPT + tokens + 1);
    let start = Instant::now();
    let _ = model
        .forward(ids(PROMPT, 0), None, Some(&mut cache))
        .expect("prefill")
        .into_data();
    let prefill_s = start.elapsed().as_secs_f64();
    let start = Instant::now();
    for t in 0..tokens {
        let _ = model
            .forward(ids(1, PROMPT + t), None, Some(&mut cache))
            .expect("decode")
            .into_data();
    }
    let decode_s = start.elapsed().as_secs_f64();
    let run_peak = status_kib("VmHWM:") * 1024;
    let bandwidth = probe::read_bandwidth(1 << 30, llark_kernels::threads(), 5);
    println!(
        "result load_s={load_s:.1} load_peak={load_peak} run_peak={run_peak} read_per_token={read_per_token} prefill_tok_s={:.2} decode_tok_s={:.3} bandwidth={bandwidth:.0}",
        PROMPT as f64 / prefill_s,
        tokens as f64 / decode_s
    );
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let arg = |flag: &str| {
        args.iter()
            .position(|a| a == flag)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let tokens: usize = arg("--tokens").and_then(|t| t.parse().ok()).unwrap_or(8);
    if let Some(dir) = arg("--child") {
        let dtype = arg("--dtype")
            .and_then(|d| d.parse().ok())
            .unwrap_or(WeightDtype::Bf16);
        return child(Path::new(&dir), dtype, tokens);
    }
    let root = arg("--dir")
        .map(PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("llark-packed-7b"));
    let dtypes: Vec<WeightDtype> = arg("--dtypes")
        .unwrap_or_else(|| "bf16,int8".into())
        .split(',')
        .map(|d| d.parse().expect("dtype: f32, bf16, f16 or int8"))
        .collect();
    let threads = llark_kernels::threads();
    let bandwidth = probe::read_bandwidth(1 << 30, threads, 5);
    println!(
        "threads {threads}, read bandwidth {:.1} GB/s",
        bandwidth / 1e9
    );
    let config = LlamaConfig::llama2_7b();
    let bf16_dir = root.join("bf16");
    write_checkpoint(&bf16_dir, &config);
    println!("| dtype | stored GB | load peak RSS GB | peak / stored | load s | prefill tok/s | decode tok/s | probe after GB/s | bound tok/s | of bound |");
    println!("|---|---|---|---|---|---|---|---|---|---|");
    for dtype in dtypes {
        let dir = if dtype == WeightDtype::Int8 {
            let dir = root.join("int8");
            if !dir.join("config.json").exists() {
                let start = Instant::now();
                quantize_checkpoint(&bf16_dir, &dir, 64, &LoadOptions::strict()).expect("quantise");
                eprintln!("quantised in {:.0} s", start.elapsed().as_secs_f64());
            }
            dir
        } else {
            bf16_dir.clone()
        };
        let out = Command::new(std::env::current_exe().expect("own path"))
            .args([
                "--child",
                &dir.to_string_lossy(),
                "--dtype",
                dtype.name(),
                "--tokens",
                &tokens.to_string(),
            ])
            .output()
            .expect("child");
        let text = String::from_utf8_lossy(&out.stdout);
        let Some(line) = text.lines().find(|l| l.starts_with("result ")) else {
            println!(
                "| {dtype} | child failed: {} |",
                String::from_utf8_lossy(&out.stderr).trim()
            );
            continue;
        };
        let field = |k: &str| -> f64 {
            line.split_whitespace()
                .find_map(|kv| kv.strip_prefix(&format!("{k}=")))
                .and_then(|v| v.parse().ok())
                .unwrap_or(f64::NAN)
        };
        let stored = stored_bytes(&dir) as f64;
        let bound = bandwidth.max(field("bandwidth")) / field("read_per_token");
        println!(
            "| {dtype} | {:.2} | {:.2} | {:.2} | {:.0} | {:.1} | {:.2} | {:.1} | {:.2} | {:.0} % |",
            stored / 1e9,
            field("load_peak") / 1e9,
            field("load_peak") / stored,
            field("load_s"),
            field("prefill_tok_s"),
            field("decode_tok_s"),
            field("bandwidth") / 1e9,
            bound,
            100.0 * field("decode_tok_s") / bound
        );
    }
}
