//! llark-train.
