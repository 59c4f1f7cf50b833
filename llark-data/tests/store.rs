//! The encoding store and the `.npy` reader (fixtures written by NumPy:
//! `tools/reference/npy_fixtures.py`).

use std::collections::BTreeMap;

use half::f16;
use llark_data::store::INDEX_FILE;
use llark_data::{
    read_npy, EncodingStore, EncodingStoreWriter, NpyDtype, NpyError, StoreDtype, StoreError,
    StoreOptions,
};
use serde::Deserialize;

const NPY: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/npy");

#[derive(Deserialize)]
struct Expected {
    shape: Vec<usize>,
    values: Vec<f32>,
}

fn expected() -> BTreeMap<String, Expected> {
    serde_json::from_str(&std::fs::read_to_string(format!("{NPY}/expected.json")).unwrap()).unwrap()
}

fn values(clip: usize, frames: usize, dim: usize) -> Vec<f32> {
    (0..frames * dim)
        .map(|i| (clip * 1000 + i) as f32 * 0.25 - 3.0)
        .collect()
}

#[test]
fn npy_files_read_as_numpy_reads_them() {
    let exp = expected();
    for (name, dtype) in [
        ("f16_3x4", NpyDtype::F16),
        ("f32_3x4", NpyDtype::F32),
        ("f64_3x4", NpyDtype::F64),
        ("f32_1x3x4", NpyDtype::F32),
        ("f32_v2", NpyDtype::F32),
    ] {
        let a = read_npy(format!("{NPY}/{name}.npy")).unwrap();
        assert_eq!(a.dtype, dtype, "{name}");
        assert_eq!(a.shape, exp[name].shape, "{name}");
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&a.data), bits(&exp[name].values), "{name}");
    }
    for (name, why) in [
        ("f32_big_endian", "unsupported dtype"),
        ("f32_fortran", "Fortran"),
        ("i32_3x4", "unsupported dtype"),
    ] {
        match read_npy(format!("{NPY}/{name}.npy")) {
            Err(NpyError::Format { path, reason }) => {
                assert!(path.ends_with(format!("{name}.npy")), "{path:?}");
                assert!(reason.contains(why), "{name}: {reason}");
            }
            other => panic!("{name}: {other:?}"),
        }
    }
}

#[test]
fn store_round_trips_across_shards() {
    let dir = tempfile::tempdir().unwrap();
    let dim = 6;
    let options = StoreOptions {
        dtype: StoreDtype::F32,
        max_shard_bytes: 300,
    };
    let mut w = EncodingStoreWriter::create(dir.path(), dim, options).unwrap();
    for clip in 0..7 {
        w.add(
            &format!("clip/{clip}"),
            &values(clip, clip + 1, dim),
            clip + 1,
        )
        .unwrap();
    }
    let index = w.finish().unwrap();
    assert!(index.shards.len() >= 3, "{} shards", index.shards.len());

    let store = EncodingStore::open(dir.path()).unwrap();
    store.verify_all().unwrap();
    assert_eq!(store.len(), 7);
    for clip in 0..7 {
        let (data, shape) = store.get(&format!("clip/{clip}")).unwrap();
        assert_eq!(shape, [clip + 1, dim]);
        assert_eq!(data, values(clip, clip + 1, dim));
    }
    assert!(matches!(store.get("nope"), Err(StoreError::NotFound(_))));
}

#[test]
fn f16_store_and_npy_import() {
    let dir = tempfile::tempdir().unwrap();
    let options = StoreOptions {
        dtype: StoreDtype::F16,
        ..StoreOptions::default()
    };
    let mut w = EncodingStoreWriter::create(dir.path(), 4, options).unwrap();
    w.import_npy("a", format!("{NPY}/f16_3x4.npy")).unwrap();
    w.import_npy("b", format!("{NPY}/f32_1x3x4.npy")).unwrap();
    let err = w
        .add("big", &[1e6, 0.0, 0.0, 0.0], 1)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("big") && err.contains("overflows f16"),
        "{err}"
    );
    let err = w
        .import_npy("c", format!("{NPY}/f32_fortran.npy"))
        .unwrap_err();
    assert!(err.to_string().contains("clip c"), "{err}");
    let err = w.add("a", &[0.0; 4], 1).unwrap_err().to_string();
    assert!(err.contains("already"), "{err}");
    w.finish().unwrap();

    let exp = expected();
    let store = EncodingStore::open(dir.path()).unwrap();
    let (a, shape) = store.get("a").unwrap();
    assert_eq!(shape, [3, 4]);
    assert_eq!(a, exp["f16_3x4"].values);
    let (b, _) = store.get("b").unwrap();
    let rounded: Vec<f32> = exp["f32_1x3x4"]
        .values
        .iter()
        .map(|&v| f16::from_f32(v).to_f32())
        .collect();
    assert_eq!(b, rounded);
}

fn small_store() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let mut w = EncodingStoreWriter::create(dir.path(), 3, StoreOptions::default()).unwrap();
    w.add("x", &values(0, 2, 3), 2).unwrap();
    w.add("y", &values(1, 4, 3), 4).unwrap();
    w.finish().unwrap();
    dir
}

fn shard_path(dir: &std::path::Path) -> std::path::PathBuf {
    dir.join("encodings-00000.safetensors")
}

#[test]
fn corrupted_data_is_caught_and_named() {
    let dir = small_store();
    let path = shard_path(dir.path());
    let mut bytes = std::fs::read(&path).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0x40;
    std::fs::write(&path, &bytes).unwrap();
    let store = EncodingStore::open(dir.path()).unwrap();
    let err = store.verify_all().unwrap_err().to_string();
    assert!(err.contains("checksum mismatch"), "{err}");
    let bad = ["x", "y"]
        .into_iter()
        .filter(|c| store.get(c).is_err())
        .collect::<Vec<_>>();
    assert_eq!(bad.len(), 1);
    assert!(store
        .get(bad[0])
        .unwrap_err()
        .to_string()
        .contains(&format!("clip {}", bad[0])));
}

#[test]
fn truncated_shard_and_inconsistent_index_fail_on_open() {
    let dir = small_store();
    let path = shard_path(dir.path());
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, &bytes[..bytes.len() - 4]).unwrap();
    match EncodingStore::open(dir.path()) {
        Err(StoreError::Shard { path: p, reason }) => {
            assert_eq!(p, path);
            assert!(reason.contains("bytes"), "{reason}");
        }
        other => panic!("{other:?}"),
    }

    let dir = small_store();
    let index_path = dir.path().join(INDEX_FILE);
    let text = std::fs::read_to_string(&index_path).unwrap();
    let mut index: serde_json::Value = serde_json::from_str(&text).unwrap();
    index["clips"]["y"]["frames"] = 5.into();
    std::fs::write(&index_path, index.to_string()).unwrap();
    match EncodingStore::open(dir.path()) {
        Err(StoreError::Clip { clip, reason }) => {
            assert_eq!(clip, "y");
            assert!(reason.contains("[4, 3]"), "{reason}");
        }
        other => panic!("{other:?}"),
    }

    let dir = small_store();
    assert!(matches!(
        EncodingStoreWriter::create(dir.path(), 3, StoreOptions::default()),
        Err(StoreError::AlreadyExists(_))
    ));
    std::fs::write(dir.path().join(INDEX_FILE), "{}").unwrap();
    assert!(matches!(
        EncodingStore::open(dir.path()),
        Err(StoreError::Index { .. })
    ));
}

#[test]
fn writer_checks_shapes() {
    let dir = tempfile::tempdir().unwrap();
    let mut w = EncodingStoreWriter::create(dir.path(), 3, StoreOptions::default()).unwrap();
    let err = w.add("odd", &[0.0; 5], 2).unwrap_err().to_string();
    assert!(
        err.contains("clip odd") && err.contains("5 values"),
        "{err}"
    );
    assert!(w.add("zero", &[], 0).is_err());
    assert!(w.add("__metadata__", &[0.0; 3], 1).is_err());
    assert!(w.add("", &[0.0; 3], 1).is_err());
    assert!(w.is_empty());
}

#[test]
fn gathers_batch_audio_in_span_order() {
    use llark_data::{collate, AudioSpan, TokenizedExample};
    let dir = small_store();
    let store = EncodingStore::open(dir.path()).unwrap();
    let example = |id: &str, frames: &[usize]| TokenizedExample {
        id: id.into(),
        input_ids: vec![1; 12],
        labels: vec![-100; 12],
        audio_spans: frames
            .iter()
            .enumerate()
            .map(|(k, &f)| AudioSpan {
                start: k * 6,
                frames: f,
            })
            .collect(),
        task: None,
    };
    let batch = collate(
        &[
            example("y", &[4]),
            example("text-only", &[]),
            example("x", &[2, 2]),
        ],
        0,
        1,
    )
    .unwrap();
    let (rows, shape) = store.gather_batch(&batch).unwrap();
    assert_eq!(shape, [8, 3]);
    let x = values(0, 2, 3);
    let want: Vec<f32> = [values(1, 4, 3), x.clone(), x].concat();
    assert_eq!(rows, want);

    let wrong = collate(&[example("x", &[3])], 0, 1).unwrap();
    let err = store.gather_batch(&wrong).unwrap_err().to_string();
    assert!(err.contains("clip x") && err.contains("3 frames"), "{err}");
}
