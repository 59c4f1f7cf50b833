//! Loading reads tensors from the memory map one at a time: the peak resident memory added while
//! loading stays within 1.2x the size of the loaded weights. The measurement runs in a child
//! process (this test binary re-executed) so that writing the checkpoint and other tests do not
//! count towards its peak.

use std::collections::HashMap;
use std::process::Command;

use burn::backend::Flex;
use burn::module::Module;
use llark_lm::{tensor_specs, Llama, LlamaConfig, WeightSource};
use llark_tensors::{write_file, Dtype, TensorBuf};

const CHILD_ENV: &str = "LLARK_LM_LOAD_MEMORY_DIR";

fn config() -> LlamaConfig {
    LlamaConfig {
        vocab_size: 4096,
        hidden_size: 256,
        intermediate_size: 1024,
        num_hidden_layers: 16,
        num_attention_heads: 4,
        num_key_value_heads: Some(4),
        ..LlamaConfig::llama2_7b()
    }
}

/// `VmRSS` and `VmHWM` of this process in bytes.
fn memory() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let field = |key: &str| -> u64 {
        let line = status.lines().find(|l| l.starts_with(key)).unwrap();
        line.split_whitespace()
            .nth(1)
            .unwrap()
            .parse::<u64>()
            .unwrap()
            * 1024
    };
    (field("VmRSS:"), field("VmHWM:"))
}

fn child(dir: &str) {
    let (rss_before, _) = memory();
    let model = Llama::<Flex>::from_pretrained(dir, &Default::default()).unwrap();
    let (_, peak) = memory();
    let weights = model.num_params() as u64 * 4;
    println!("MEASURED weights={weights} rss_before={rss_before} peak={peak}");
    drop(model);
}

#[test]
fn loading_peak_memory_is_within_1_2x_of_the_weights() {
    if let Ok(dir) = std::env::var(CHILD_ENV) {
        child(&dir);
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let config = config();
    // Write a random checkpoint (f32) in the Hugging Face layout.
    let mut rng = 0x2545_f491_4f6c_dd1du64;
    let mut buffers: HashMap<String, (Vec<u8>, Vec<usize>)> = HashMap::new();
    for (name, shape) in tensor_specs(&config) {
        let n: usize = shape.iter().product();
        let mut bytes = Vec::with_capacity(n * 4);
        for _ in 0..n {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            let v = ((rng >> 40) as f32 / (1u64 << 24) as f32 - 0.5) * 0.04;
            bytes.extend_from_slice(&v.to_le_bytes());
        }
        buffers.insert(name, (bytes, shape));
    }
    let bufs: Vec<(String, TensorBuf)> = buffers
        .into_iter()
        .map(|(n, (b, s))| {
            let buf = TensorBuf::new(&n, Dtype::F32, s, b).unwrap();
            (n, buf)
        })
        .collect();
    let files = bufs.iter().map(|(n, b)| (n.as_str(), b));
    write_file(
        dir.path().join("model.safetensors"),
        files,
        &Default::default(),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("config.json"),
        serde_json::to_string(&config).unwrap(),
    )
    .unwrap();
    drop(bufs);
    assert!(WeightSource::open_dir(dir.path()).is_ok());

    let output = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "loading_peak_memory_is_within_1_2x_of_the_weights",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, dir.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let line = stdout
        .lines()
        .find_map(|l| l.find("MEASURED").map(|i| &l[i..]))
        .unwrap_or_else(|| panic!("no measurement in {stdout}"));
    let value = |key: &str| -> f64 {
        line.split_whitespace()
            .find_map(|kv| kv.strip_prefix(&format!("{key}=")))
            .unwrap()
            .parse()
            .unwrap()
    };
    let (weights, before, peak) = (value("weights"), value("rss_before"), value("peak"));
    let added = peak - before;
    println!(
        "weights {weights} B, added peak {added} B, ratio {:.3}",
        added / weights
    );
    assert!(weights > 50e6);
    assert!(
        added <= 1.2 * weights,
        "peak grew by {added} B for {weights} B of weights"
    );
}
