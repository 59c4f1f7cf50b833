//! llark-encoder.
