//! English list wording shared by captions and answers.

/// Joins items as English prose: `a`, `a and b`, `a, b and c` (no Oxford comma).
pub fn join_words<S: AsRef<str>>(items: &[S]) -> String {
    match items {
        [] => String::new(),
        [one] => one.as_ref().to_owned(),
        [init @ .., last] => {
            let init: Vec<&str> = init.iter().map(AsRef::as_ref).collect();
            format!("{} and {}", init.join(", "), last.as_ref())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists() {
        assert_eq!(join_words::<&str>(&[]), "");
        assert_eq!(join_words(&["organ"]), "organ");
        assert_eq!(join_words(&["organ", "bass"]), "organ and bass");
        assert_eq!(
            join_words(&["a".to_string(), "b".to_string(), "c".to_string()]),
            "a, b and c"
        );
    }
}
