//! Fuzz target `audio_decode`: the body is `harness/audio_decode.rs`, shared with the corpus replay test.
#![no_main]

mod harness {
    include!("../harness/audio_decode.rs");
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| harness::run(data));
