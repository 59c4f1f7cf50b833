//! Fuzz target `prompt_building`: the body is `harness/prompt_building.rs`, shared with the corpus replay test.
#![no_main]

mod harness {
    include!("../harness/prompt_building.rs");
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| harness::run(data));
