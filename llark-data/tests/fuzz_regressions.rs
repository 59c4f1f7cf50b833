//! Inputs on which a fuzz target (`fuzz/`) found a panic or a wrong result, each kept under
//! `tests/fixtures/fuzz/` and checked for the typed error that replaced it.

use llark_data::npy::parse_npy;

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!(
        "{}/tests/fixtures/fuzz/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

/// `npy_read`: a shape of 2^61 `<f8` elements has a representable element count but a byte
/// count of 2^64. The multiplication overflowed (a panic with overflow checks; without them the
/// size wrapped to 0 and the empty payload was accepted as 2^61 values).
#[test]
fn npy_byte_count_overflow_is_a_format_error() {
    let err = parse_npy(&fixture("npy-size-overflow.npy")).unwrap_err();
    assert!(err.contains("overflows"), "{err}");
}
