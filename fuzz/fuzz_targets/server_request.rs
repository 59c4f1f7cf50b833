//! Fuzz target `server_request`: the body is `harness/server_request.rs`, shared with the corpus
//! replay test.
#![no_main]

mod harness {
    include!("../harness/server_request.rs");
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| harness::run(data));
