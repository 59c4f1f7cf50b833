//! Fuzz target `lm_config`: the body is `harness/lm_config.rs`, shared with the corpus replay test.
#![no_main]

mod harness {
    include!("../harness/lm_config.rs");
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| harness::run(data));
