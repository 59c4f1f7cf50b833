//! What the embedding tests share: the tiny Jukebox fixture encoder behind a front end.

use std::path::{Path, PathBuf};

use llark::backend::{default_device, DefaultBackend};
use llark::encoders::load_encoder;
use llark::AudioFrontEnd;

/// The front end the tests encode with.
pub type FrontEnd = AudioFrontEnd<DefaultBackend>;

/// The tiny Jukebox encoder's folder (a fixture of llark-encoder).
pub fn encoder_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../llark-encoder/tests/fixtures/jukebox-tiny")
}

/// The tiny Jukebox behind a front end pooling to `pool_fps` (`None`: unpooled).
pub fn front_end(pool_fps: Option<u32>) -> FrontEnd {
    let device = default_device();
    let encoder = load_encoder::<DefaultBackend>(encoder_dir(), &device).unwrap();
    AudioFrontEnd::new(encoder, pool_fps, &device).unwrap()
}
