//! llark-projector.
