//! llark-data.
