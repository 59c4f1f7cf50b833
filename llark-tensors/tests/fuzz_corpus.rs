//! Replays the corpus of the `safetensors_header` fuzz target (`fuzz/`) on stable: the harness is
//! the fuzz target's own body, `fuzz/harness/safetensors_header.rs`. `write_seeds` (ignored)
//! writes the target's seed inputs.

mod harness {
    include!("../../fuzz/harness/safetensors_header.rs");
}
mod replay {
    include!("../../fuzz/harness/replay.rs");
}

use std::collections::BTreeMap;

use llark_tensors::{write_file, write_single, FloatDtype, TensorBuf};

#[test]
fn safetensors_header_corpus_replays() {
    let n = replay::replay("safetensors_header", harness::run);
    assert!(n > 0);
}

#[test]
#[ignore = "writes fuzz/seeds/safetensors_header; run by hand"]
fn write_seeds() {
    let dir = tempfile::tempdir().unwrap();
    let meta = BTreeMap::from([("format".to_string(), "pt".to_string())]);
    let values: Vec<f32> = (0..6).map(|i| i as f32 * 0.5 - 1.0).collect();
    let mut seeds = Vec::new();
    for (name, dtype) in [
        ("f32", FloatDtype::F32),
        ("f16", FloatDtype::F16),
        ("bf16", FloatDtype::Bf16),
    ] {
        let path = dir.path().join(format!("{name}.safetensors"));
        write_single(&path, "w", &values, vec![2, 3], dtype, &meta).unwrap();
        seeds.push((
            format!("single-{name}.safetensors"),
            std::fs::read(&path).unwrap(),
        ));
    }
    let a = TensorBuf::from_f32("a", &values, vec![3, 2], FloatDtype::F32).unwrap();
    let b = TensorBuf::from_f32("b", &values[..2], vec![2], FloatDtype::Bf16).unwrap();
    let c = TensorBuf::from_i64("c", &[1, -2, 3], vec![3]).unwrap();
    let path = dir.path().join("mixed.safetensors");
    write_file(&path, [("a", &a), ("b", &b), ("c", &c)], &BTreeMap::new()).unwrap();
    seeds.push(("mixed.safetensors".into(), std::fs::read(&path).unwrap()));
    let seeds: Vec<(&str, Vec<u8>)> = seeds.iter().map(|(n, b)| (n.as_str(), b.clone())).collect();
    replay::write_seeds("safetensors_header", &seeds);
}
