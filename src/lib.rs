//! LLark.
