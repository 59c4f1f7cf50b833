//! Tempo wording: how answers and captions quote a tempo.

/// Formats a tempo for an answer or caption: rounded to 0.1 BPM, without a trailing `.0`
/// (`120.0` -> `"120"`, `128.43` -> `"128.4"`, `99.96` -> `"100"`). `None` for a non-finite
/// or non-positive tempo.
pub fn format_bpm(bpm: f64) -> Option<String> {
    if !bpm.is_finite() || bpm <= 0.0 {
        return None;
    }
    let s = format!("{:.1}", (bpm * 10.0).round() / 10.0);
    Some(s.strip_suffix(".0").map(str::to_string).unwrap_or(s))
}

/// A word for the pace of a tempo: `slow` below 76 BPM, `moderate` below 108, `fairly fast`
/// below 140, `fast` from there.
pub fn pace_word(bpm: f64) -> &'static str {
    match bpm {
        b if b < 76.0 => "slow",
        b if b < 108.0 => "moderate",
        b if b < 140.0 => "fairly fast",
        _ => "fast",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bpm_formatting() {
        assert_eq!(format_bpm(120.0).as_deref(), Some("120"));
        assert_eq!(format_bpm(128.43).as_deref(), Some("128.4"));
        assert_eq!(format_bpm(99.96).as_deref(), Some("100"));
        assert_eq!(format_bpm(0.5).as_deref(), Some("0.5"));
        assert_eq!(format_bpm(0.0), None);
        assert_eq!(format_bpm(-3.0), None);
        assert_eq!(format_bpm(f64::NAN), None);
        assert_eq!(format_bpm(f64::INFINITY), None);
    }

    #[test]
    fn pace_words() {
        assert_eq!(pace_word(60.0), "slow");
        assert_eq!(pace_word(76.0), "moderate");
        assert_eq!(pace_word(120.0), "fairly fast");
        assert_eq!(pace_word(140.0), "fast");
    }
}
