//! llark-lm.
