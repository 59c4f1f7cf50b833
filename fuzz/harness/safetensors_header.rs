// Harness of the `safetensors_header` fuzz target (included by
// `fuzz_targets/safetensors_header.rs` and by `llark-tensors/tests/fuzz_corpus.rs`, which replays
// the corpus on stable).

use llark_tensors::{is_float, TensorError, TensorFile};

/// Reads `data` as a safetensors file with [`TensorFile::from_bytes`], then reads every tensor
/// it lists as `f32`, as `i64` and as raw bytes, checking that each result matches the shape
/// and that the errors are the typed ones.
pub fn run(data: &[u8]) {
    let file = match TensorFile::from_bytes(data, "<fuzz>") {
        Ok(file) => file,
        Err(e) => {
            assert!(matches!(
                e,
                TensorError::Header { .. } | TensorError::Format { .. }
            ));
            return;
        }
    };
    let names: Vec<String> = file.names().map(str::to_string).collect();
    assert_eq!(names.len(), file.len());
    assert_eq!(file.is_empty(), names.is_empty());
    let _ = file.metadata();
    assert_eq!(file.only_tensor().is_ok(), names.len() == 1);
    let mut buffer = Vec::new();
    for name in &names {
        assert!(file.contains(name));
        let info = file.info(name).expect("a listed tensor has info").clone();
        let count = info
            .shape
            .iter()
            .try_fold(1usize, |a, &d| a.checked_mul(d))
            .expect("a validated shape has a representable element count");
        let raw = file.raw(name).expect("a listed tensor has bytes");
        assert_eq!(raw.shape, info.shape.as_slice());
        let bits = count
            .checked_mul(raw.dtype.bitsize())
            .expect("a validated size is representable");
        assert_eq!(
            raw.bytes.len() * 8,
            bits,
            "{name}: bytes match shape and dtype"
        );
        match file.read_f32(name) {
            Ok((values, shape)) => {
                assert!(is_float(info.dtype));
                assert_eq!(shape, info.shape);
                assert_eq!(values.len(), count);
            }
            Err(e) => {
                assert!(!is_float(info.dtype));
                assert!(matches!(e, TensorError::Dtype { .. }), "{e}");
            }
        }
        let float = file.check_float(name, &info.shape).is_ok();
        assert_eq!(float, is_float(info.dtype));
        assert_eq!(
            file.read_f32_into(name, Some(&info.shape), &mut buffer)
                .is_ok(),
            float
        );
        match file.read_i64(name) {
            Ok((values, shape)) => {
                assert_eq!(shape, info.shape);
                assert_eq!(values.len(), count);
            }
            Err(e) => assert!(matches!(e, TensorError::Dtype { .. }), "{e}"),
        }
        let mut wrong = info.shape.clone();
        wrong.push(1);
        assert!(matches!(
            file.check_shape(name, Some(&wrong)),
            Err(TensorError::Shape { .. })
        ));
        file.release(name);
    }
    assert!(matches!(
        file.raw("\u{0}not a tensor name\u{0}"),
        Err(TensorError::NotFound { .. }) | Ok(_)
    ));
}
