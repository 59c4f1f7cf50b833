//! llark-audio.
