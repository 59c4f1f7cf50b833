//! Fuzz target `safetensors_header`: the body is `harness/safetensors_header.rs`, shared with the corpus replay test.
#![no_main]

mod harness {
    include!("../harness/safetensors_header.rs");
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| harness::run(data));
