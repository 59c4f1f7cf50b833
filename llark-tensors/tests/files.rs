//! Round trips per dtype, shards with an index, typed errors for corrupt or oversized headers,
//! and atomic writes.

use std::collections::BTreeMap;
use std::path::Path;

use llark_tensors::{
    read_single, write_bytes_atomic, write_file, write_shards, write_single, Dtype, FloatDtype,
    TensorBuf, TensorError, TensorFile, TensorSet, INDEX_FILE,
};

const VALUES: [f32; 6] = [0.0, 1.0, -2.5, 0.333_333_34, 1.0e-3, 65_504.0];

fn meta(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn files_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn float_round_trips_per_dtype() {
    let dir = tempfile::tempdir().unwrap();
    for (dtype, tol) in [
        (FloatDtype::F32, 0.0),
        (FloatDtype::F16, 1e-3),
        (FloatDtype::Bf16, 1e-2),
    ] {
        let path = dir.path().join(format!("{dtype:?}.safetensors"));
        let buf = TensorBuf::from_f32("x", &VALUES, vec![2, 3], dtype).unwrap();
        write_file(&path, [("x", &buf)], &meta(&[("format", "pt")])).unwrap();
        let file = TensorFile::open(&path).unwrap();
        assert_eq!(file.info("x").unwrap().dtype, dtype.dtype());
        assert_eq!(file.metadata()["format"], "pt");
        let (values, shape) = file.read_f32("x").unwrap();
        assert_eq!(shape, [2, 3]);
        for (a, b) in values.iter().zip(VALUES) {
            assert!(
                (a - b).abs() <= tol * b.abs().max(1.0),
                "{dtype:?}: {a} vs {b}"
            );
        }
        assert_eq!(file.raw("x").unwrap().bytes, buf.bytes());
    }
}

#[test]
fn f64_and_integer_dtypes_are_read() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mixed.safetensors");
    let f64s: Vec<u8> = [1.5f64, -2.0]
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    let i32s: Vec<u8> = [7i32, -3].iter().flat_map(|v| v.to_le_bytes()).collect();
    let tensors = [
        ("d", TensorBuf::new("d", Dtype::F64, vec![2], f64s).unwrap()),
        ("i", TensorBuf::new("i", Dtype::I32, vec![2], i32s).unwrap()),
        (
            "u",
            TensorBuf::new("u", Dtype::U8, vec![3], vec![0, 1, 255]).unwrap(),
        ),
        (
            "b",
            TensorBuf::new("b", Dtype::BOOL, vec![2], vec![0, 1]).unwrap(),
        ),
        (
            "l",
            TensorBuf::from_i64("l", &[i64::MAX, -1], vec![2]).unwrap(),
        ),
    ];
    write_file(
        &path,
        tensors.iter().map(|(n, b)| (*n, b)),
        &BTreeMap::new(),
    )
    .unwrap();
    let file = TensorFile::open(&path).unwrap();
    assert_eq!(file.names().collect::<Vec<_>>(), ["b", "d", "i", "l", "u"]);
    assert_eq!(file.read_f32("d").unwrap().0, [1.5, -2.0]);
    assert_eq!(file.read_i64("i").unwrap().0, [7, -3]);
    assert_eq!(file.read_i64("u").unwrap().0, [0, 1, 255]);
    assert_eq!(file.read_i64("b").unwrap().0, [0, 1]);
    assert_eq!(file.read_i64_shaped("l", &[2]).unwrap(), [i64::MAX, -1]);
    assert!(matches!(
        file.read_f32("i"),
        Err(TensorError::Dtype {
            dtype: Dtype::I32,
            ..
        })
    ));
    assert!(matches!(
        file.read_i64("d"),
        Err(TensorError::Dtype {
            dtype: Dtype::F64,
            ..
        })
    ));
    match file.read_f32_shaped("d", &[3]) {
        Err(TensorError::Shape {
            name,
            actual,
            expected,
            ..
        }) => assert_eq!((name.as_str(), actual, expected), ("d", vec![2], vec![3])),
        other => panic!("unexpected {other:?}"),
    }
    match file.read_f32("nope") {
        Err(e @ TensorError::NotFound { .. }) => {
            assert!(e.to_string().contains("mixed.safetensors"), "{e}")
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn single_tensor_files_keep_their_metadata() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("clip.safetensors");
    let m = meta(&[("clip", "a/b.wav"), ("encoder", "jukebox")]);
    write_single(&path, "encoding", &VALUES, vec![3, 2], FloatDtype::F16, &m).unwrap();
    let single = read_single(&path).unwrap();
    assert_eq!(single.name, "encoding");
    assert_eq!(single.shape, [3, 2]);
    assert_eq!(single.metadata, m);
    assert_eq!(single.values[5], 65_504.0);
    // A value past f16's range is an error when writing one f16 tensor.
    let err = write_single(&path, "e", &[1.0e6], vec![1], FloatDtype::F16, &m).unwrap_err();
    assert!(
        matches!(err, TensorError::Overflow { index: 0, .. }),
        "{err}"
    );
    // Two tensors are not a single-tensor file.
    let a = TensorBuf::from_f32("a", &[1.0], vec![1], FloatDtype::F32).unwrap();
    write_file(&path, [("a", &a), ("b", &a)], &m).unwrap();
    assert!(matches!(
        read_single(&path),
        Err(TensorError::Header { .. })
    ));
}

#[test]
fn shards_with_an_index_read_as_one_set() {
    let dir = tempfile::tempdir().unwrap();
    let tensors: Vec<(String, TensorBuf)> = (0..5)
        .map(|i| {
            let name = format!("layer.{i}.weight");
            let values: Vec<f32> = (0..8).map(|j| (i * 8 + j) as f32).collect();
            let buf = TensorBuf::from_f32(&name, &values, vec![2, 4], FloatDtype::Bf16).unwrap();
            (name, buf)
        })
        .collect();
    // 16 bytes per tensor, 40 per shard: two tensors per shard, three shards.
    let written = write_shards(
        dir.path(),
        "model",
        &tensors,
        40,
        &meta(&[("format", "pt")]),
    )
    .unwrap();
    assert_eq!(written.files.len(), 3);
    assert_eq!(written.total_size, 80);
    assert_eq!(written.index, dir.path().join(INDEX_FILE));
    assert_eq!(
        files_in(dir.path()),
        [
            "model-00001-of-00003.safetensors",
            "model-00002-of-00003.safetensors",
            "model-00003-of-00003.safetensors",
            INDEX_FILE,
        ]
    );
    for open in [TensorSet::open_dir, TensorSet::open] {
        let set = open(dir.path()).unwrap();
        assert_eq!(set.len(), 5);
        assert_eq!(set.files().len(), 3);
        let (values, shape) = set.read_f32("layer.4.weight").unwrap();
        assert_eq!(shape, [2, 4]);
        assert_eq!(values[7], 39.0);
        assert!(set
            .file_of("layer.4.weight")
            .unwrap()
            .path()
            .ends_with("model-00003-of-00003.safetensors"));
    }
    // An index naming a tensor that is not in its shard is an error naming the index.
    let index = std::fs::read_to_string(dir.path().join(INDEX_FILE)).unwrap();
    let moved = index.replacen("model-00003-of-00003", "model-00001-of-00003", 1);
    std::fs::write(dir.path().join(INDEX_FILE), moved).unwrap();
    assert!(matches!(
        TensorSet::open_dir(dir.path()),
        Err(TensorError::Index { .. })
    ));
    // Shard names must stay beside the index.
    let escaping = index.replacen("model-00001-of-00003", "../model-00001-of-00003", 1);
    std::fs::write(dir.path().join(INDEX_FILE), escaping).unwrap();
    assert!(matches!(
        TensorSet::open_dir(dir.path()),
        Err(TensorError::Index { .. })
    ));
}

#[test]
fn a_tensor_in_two_files_is_a_duplicate() {
    let dir = tempfile::tempdir().unwrap();
    let buf = TensorBuf::from_f32("w", &[1.0], vec![1], FloatDtype::F32).unwrap();
    let (a, b) = (
        dir.path().join("a.safetensors"),
        dir.path().join("b.safetensors"),
    );
    for p in [&a, &b] {
        write_file(p, [("w", &buf)], &BTreeMap::new()).unwrap();
    }
    assert!(matches!(
        TensorSet::open_files(&[a, b]),
        Err(TensorError::Duplicate { .. })
    ));
}

#[test]
fn corrupt_and_oversized_headers_are_typed_errors() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.safetensors");
    let cases: [(&str, Vec<u8>); 4] = [
        ("short", vec![1, 2, 3]),
        ("huge", u64::MAX.to_le_bytes().to_vec()),
        (
            "past the end",
            [100u64.to_le_bytes().to_vec(), b"{}".to_vec()].concat(),
        ),
        (
            "not json",
            [4u64.to_le_bytes().to_vec(), b"{{{{".to_vec()].concat(),
        ),
    ];
    for (what, bytes) in cases {
        std::fs::write(&path, bytes).unwrap();
        match TensorFile::open(&path) {
            Err(TensorError::Header { path: p, .. }) | Err(TensorError::Format { path: p, .. }) => {
                assert_eq!(p, path, "{what}")
            }
            other => panic!("{what}: unexpected {other:?}"),
        }
    }
    // A tensor whose data lies past the end of the file.
    let header = br#"{"x":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}"#;
    let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
    bytes.extend_from_slice(header);
    bytes.extend_from_slice(&[0; 8]);
    std::fs::write(&path, bytes).unwrap();
    assert!(TensorFile::open(&path).is_err());
    // Mismatched bytes never become a tensor to write.
    assert!(matches!(
        TensorBuf::new("x", Dtype::F32, vec![3], vec![0; 8]),
        Err(TensorError::Values { .. })
    ));
    assert!(matches!(
        TensorBuf::from_f32("x", &[1.0; 5], vec![2, 3], FloatDtype::F32),
        Err(TensorError::Values { .. })
    ));
}

#[test]
fn atomic_writes_leave_no_partial_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("w.safetensors");
    let good = TensorBuf::from_f32("w", &[1.0, 2.0], vec![2], FloatDtype::F32).unwrap();
    write_file(&path, [("w", &good)], &BTreeMap::new()).unwrap();
    let before = std::fs::read(&path).unwrap();
    // A failing write (a reserved name, a repeated name) leaves the old file and nothing else.
    assert!(write_file(&path, [("__metadata__", &good)], &BTreeMap::new()).is_err());
    assert!(write_file(&path, [("w", &good), ("w", &good)], &BTreeMap::new()).is_err());
    let failed = llark_tensors::write_atomic(&path, |tmp| {
        std::fs::write(tmp, b"half a file").unwrap();
        Err(TensorError::Values {
            name: "w".into(),
            reason: "interrupted".into(),
        })
    });
    assert!(failed.is_err());
    assert_eq!(std::fs::read(&path).unwrap(), before);
    assert_eq!(files_in(dir.path()), ["w.safetensors"]);
    write_bytes_atomic(dir.path().join("index.json"), b"{}").unwrap();
    assert_eq!(files_in(dir.path()), ["index.json", "w.safetensors"]);
}
