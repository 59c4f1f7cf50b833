//! Fuzz target `store_index`: the body is `harness/store_index.rs`, shared with the corpus replay test.
#![no_main]

mod harness {
    include!("../harness/store_index.rs");
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| harness::run(data));
