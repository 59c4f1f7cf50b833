// Harness of the `npy_read` fuzz target (included by `fuzz_targets/npy_read.rs` and by
// `llark-data/tests/fuzz_corpus.rs`, which replays the corpus on stable).

/// Parses `data` as a `.npy` file with `llark_data::npy::parse_npy`. Either a typed error (the
/// reason) or an array whose values match its shape; never a panic.
pub fn run(data: &[u8]) {
    match llark_data::npy::parse_npy(data) {
        Ok(array) => {
            let count = array
                .shape
                .iter()
                .try_fold(1usize, |a, &d| a.checked_mul(d))
                .expect("a parsed shape has a representable element count");
            assert_eq!(
                array.data.len(),
                count,
                "shape {:?} with {} values",
                array.shape,
                array.data.len()
            );
        }
        Err(reason) => assert!(!reason.is_empty()),
    }
}
