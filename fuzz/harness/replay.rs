// Corpus replay for the stable tests (`*/tests/fuzz_corpus.rs` include this file): the inputs of
// a fuzz target, and where its seeds are written.

use std::path::PathBuf;

/// The fuzz directory (both includers live one level below the repository root).
pub fn fuzz_dir() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../fuzz"))
}

/// Every file of `fuzz/seeds/<target>/`, `fuzz/corpus/<target>/` and (when a local run left
/// crashers there) `fuzz/artifacts/<target>/`, sorted by path. Panics when there is none, so
/// that a replay never passes on an empty corpus.
pub fn inputs(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let mut files = Vec::new();
    for kind in ["seeds", "corpus", "artifacts"] {
        let dir = fuzz_dir().join(kind).join(target);
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries {
            let path = entry.expect("a directory entry").path();
            if path.is_file() {
                files.push(path);
            }
        }
    }
    files.sort();
    assert!(!files.is_empty(), "no corpus for fuzz target {target}");
    files
        .into_iter()
        .map(|path| {
            let bytes = std::fs::read(&path).expect("a corpus file");
            (path, bytes)
        })
        .collect()
}

/// Runs `harness` on every input of `target`, naming the file of the first panic.
pub fn replay(target: &str, harness: impl Fn(&[u8])) -> usize {
    let inputs = inputs(target);
    for (path, bytes) in &inputs {
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| harness(bytes)));
        if let Err(panic) = outcome {
            eprintln!("fuzz target {target} panics on {}", path.display());
            std::panic::resume_unwind(panic);
        }
    }
    inputs.len()
}

/// Writes seed inputs to `fuzz/seeds/<target>/` (used by the ignored `write_seeds` tests).
#[allow(dead_code)]
pub fn write_seeds(target: &str, seeds: &[(&str, Vec<u8>)]) {
    let dir = fuzz_dir().join("seeds").join(target);
    std::fs::create_dir_all(&dir).expect("create the seed directory");
    for (name, bytes) in seeds {
        std::fs::write(dir.join(name), bytes).expect("write a seed");
    }
}
