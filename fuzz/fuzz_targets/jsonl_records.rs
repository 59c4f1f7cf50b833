//! Fuzz target `jsonl_records`: the body is `harness/jsonl_records.rs`, shared with the corpus replay test.
#![no_main]

mod harness {
    include!("../harness/jsonl_records.rs");
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| harness::run(data));
