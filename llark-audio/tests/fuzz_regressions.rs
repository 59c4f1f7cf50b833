//! Inputs on which the `audio_decode` fuzz target (`fuzz/`) found a crash, an out-of-memory or a
//! wrong result, each kept under `tests/fixtures/fuzz/` and checked for the outcome that
//! replaced it. A counting allocator records the largest single allocation, since the bugs were
//! allocations that a few header bytes could make gigabytes large.

use std::alloc::{GlobalAlloc, Layout, System};
use std::io::Cursor;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use llark_audio::{load_reader, AudioError};

struct Counting;

static LARGEST: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LARGEST.fetch_max(layout.size(), Ordering::Relaxed);
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        LARGEST.fetch_max(layout.size(), Ordering::Relaxed);
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` was allocated by `System` with `layout`.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LARGEST.fetch_max(new_size, Ordering::Relaxed);
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Tests that measure the largest allocation run one at a time.
static SERIAL: Mutex<()> = Mutex::new(());

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!(
        "{}/tests/fixtures/fuzz/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

/// Decodes `bytes` and returns the outcome with the largest single allocation made.
fn decode(bytes: Vec<u8>) -> (Result<usize, AudioError>, usize) {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    LARGEST.store(0, Ordering::Relaxed);
    let outcome = load_reader(Cursor::new(bytes)).map(|audio| audio.len());
    (outcome, LARGEST.load(Ordering::Relaxed))
}

/// A 615-byte FLAC file whose VORBIS_COMMENT block declares a comment of 3,036,808,192 bytes:
/// symphonia allocated that before reading it (an out-of-memory under the fuzzer's 2 GiB
/// limit). Tag blocks are now shown to symphonia as padding.
#[test]
fn flac_comment_length_does_not_allocate_it() {
    let (outcome, largest) = decode(fixture("flac-comment-length.flac"));
    assert!(largest < 16 << 20, "largest allocation {largest} bytes");
    match outcome {
        Ok(_) | Err(AudioError::Truncated { .. } | AudioError::Corrupt { .. }) => {}
        Err(e) => panic!("unexpected error: {e}"),
    }
}

/// The committed FLAC fixture (with its tags) still decodes to the same samples.
#[test]
fn flac_with_tags_decodes_as_before() {
    let bytes = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/tone.flac"
    ))
    .unwrap();
    let (outcome, _) = decode(bytes);
    assert!(outcome.unwrap() > 0);
}

/// 425 bytes of junk, then a RIFF/WAVE header: symphonia's probe searched through the junk, found
/// the header and panicked on its WAVE_FORMAT_EXTENSIBLE channel mask ("attempt to shift left
/// with overflow" in symphonia-format-riff's `fix_channel_mask`). Data that starts with no
/// known signature is now refused before symphonia sees it.
#[test]
fn riff_after_junk_is_unsupported() {
    let (outcome, _) = decode(fixture("riff-after-junk-channel-mask.wav"));
    assert!(
        matches!(outcome, Err(AudioError::Unsupported { .. })),
        "{outcome:?}"
    );
}

/// The same mask at offset 0: a WAVE_FORMAT_EXTENSIBLE file of two 64-bit float channels (which
/// hound leaves to symphonia) whose mask is bit 31 alone; symphonia's repair shifts by 32 and
/// panics. Refused as unsupported.
#[test]
fn extensible_mask_symphonia_cannot_repair_is_unsupported() {
    let (outcome, _) = decode(fixture("extensible-mask-bit31.wav"));
    match outcome {
        Err(AudioError::Unsupported { detail, .. }) => {
            assert!(detail.contains("channel mask"), "{detail}")
        }
        other => panic!("{other:?}"),
    }
}

/// A FLAC file whose first block is a SEEKTABLE and whose PICTURE block declares a 3.9 GB
/// field: the tag blocks were shown to symphonia as padding only when STREAMINFO came
/// first, and symphonia allocated the declared length. Blocks are now neutralised in any order.
#[test]
fn flac_picture_after_seektable_does_not_allocate_it() {
    let (outcome, largest) = decode(fixture("flac-picture-length-after-seektable.flac"));
    assert!(largest < 16 << 20, "largest allocation {largest} bytes");
    if let Err(e) = outcome {
        assert!(
            matches!(
                e,
                AudioError::Truncated { .. }
                    | AudioError::Corrupt { .. }
                    | AudioError::Unsupported { .. }
            ),
            "{e}"
        );
    }
}

/// Four bytes that pass for an MPEG frame sync (but are no marker symphonia knows), then a
/// RIFF/WAVE header with the unrepairable channel mask: the probe searched past the sync and
/// panicked as above. The mask check now looks where the probe would find the header.
#[test]
fn riff_after_an_mpeg_sync_is_checked_too() {
    let (outcome, _) = decode(fixture("riff-after-mpeg-sync-channel-mask.wav"));
    match outcome {
        Err(AudioError::Unsupported { detail, .. }) => {
            assert!(detail.contains("channel mask"), "{detail}")
        }
        other => panic!("{other:?}"),
    }
}

/// A WAV header (reached by symphonia) that declares 0 Hz: symphonia's `TimeBase::new` asserts
/// "TimeBase cannot have 0 numerator or denominator", a panic in release builds too. Refused
/// as corrupt before symphonia reads it.
#[test]
fn wav_with_a_zero_sample_rate_is_corrupt() {
    let (outcome, _) = decode(fixture("wav-zero-sample-rate.wav"));
    assert!(
        matches!(outcome, Err(AudioError::Corrupt { .. })),
        "{outcome:?}"
    );
}

/// A 425-byte float WAV at 8 kHz with finite samples up to 2.9e38: the resampler's filter
/// overflowed to infinity and rubato panicked ("Imaginary part of first value was non-zero").
/// Resampling now refuses samples beyond `MAX_RESAMPLE_MAGNITUDE`, naming the sample.
#[test]
fn samples_too_large_to_filter_are_refused_when_resampling() {
    let audio = load_reader(Cursor::new(fixture("resample-huge-samples.wav"))).unwrap();
    assert!(audio.samples().iter().all(|s| s.is_finite()));
    let err = audio.resample(44_100).unwrap_err();
    assert!(matches!(err, AudioError::Resample { .. }), "{err}");
    assert!(err.to_string().contains("too large"), "{err}");
}
