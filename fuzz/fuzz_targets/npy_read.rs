//! Fuzz target `npy_read`: the body is `harness/npy_read.rs`, shared with the corpus replay test.
#![no_main]

mod harness {
    include!("../harness/npy_read.rs");
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| harness::run(data));
