//! Small emulations of the Python string operations the reference notebooks rely on.
//!
//! LLark's evaluation code runs on Python `str`, whose notion of whitespace (`str.isspace`,
//! `re`'s `\s`) and of word characters (`re`'s `\w`) differ slightly from Rust's. The helpers
//! here pin the Python behaviour down so that the ports of the notebook functions agree with
//! the reference on every input, not only on ASCII.

/// Regex class source matching Python 3's `re` `\s` on `str` patterns: Unicode `White_Space`
/// plus the information separators U+001C–U+001F, which Python counts as whitespace.
pub(crate) const PY_SPACE_CLASS: &str = r"[\s\x1C-\x1F]";

/// Regex class body (no brackets) matching Python 3's `re` `\w` on `str` patterns:
/// `str.isalnum()` (letters and every numeric character) or `_`.
pub(crate) const PY_WORD_CLASS_BODY: &str = r"\p{L}\p{N}_";

// Whether `c` is whitespace for Python's `str.isspace` / `str.split()` / `str.strip()`.
pub(crate) use llark_music::is_python_whitespace as is_py_space;

/// Python's `s.strip()` with no argument.
pub(crate) fn py_strip(s: &str) -> &str {
    s.trim_matches(is_py_space)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_whitespace_includes_information_separators() {
        assert!(is_py_space('\u{1C}'));
        assert!(is_py_space('\u{A0}'));
        assert!(!is_py_space('x'));
        assert_eq!(py_strip("\u{1F} C major \n"), "C major");
    }
}
