//! The facts read from a clip's metadata, each formatted the way the answers quote it.
//!
//! [`ClipMetadata::facts`] turns the metadata into [`ClipFacts`]: the values normalised and
//! formatted the way the answers quote them (`"120"` BPM, `"A minor"`, `"4/4"`), with
//! [`llark_music`]'s wording (keys read by [`Key::parse`], [`format_bpm`], [`pace_word`],
//! [`join_words`]). A field that is missing, empty or unreadable gives no fact, so no question
//! is ever asked about it.

use std::collections::BTreeMap;

use llark_music::{format_bpm, join_words, pace_word, ChordSpan, Key};

use super::metadata::{parse_time_signature, ClipMetadata, MAX_BEATS_PER_BAR};

impl ClipMetadata {
    /// The usable facts of this clip, normalised and formatted for answers.
    pub fn facts(&self) -> ClipFacts {
        ClipFacts::from_metadata(self)
    }
}

fn number_word(n: usize) -> String {
    const WORDS: [&str; 11] = [
        "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
    ];
    WORDS
        .get(n)
        .map_or_else(|| n.to_string(), |w| w.to_string())
}

/// Instrument names as answers quote them: lower-case, a trailing part number removed
/// (`"Violin 2"` -> `"violin"`), blanks dropped, duplicates removed (first occurrence kept).
pub fn normalise_instruments(names: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for name in names {
        let lower = name.trim().to_lowercase();
        let base = lower.trim_end_matches(|c: char| c.is_ascii_digit()).trim();
        if !base.is_empty() && !out.iter().any(|o| o == base) {
            out.push(base.to_string());
        }
    }
    out
}

fn clean_labels(labels: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for l in labels {
        let t = l.trim();
        if !t.is_empty() && !out.iter().any(|o| o.eq_ignore_ascii_case(t)) {
            out.push(t.to_string());
        }
    }
    out
}

/// A chord label as answers quote it: `"A minor"` for major/minor triads in any spelling,
/// the trimmed label otherwise; `None` for "no chord" labels (`N`, `X`, `no chord`) and blanks.
pub fn chord_name(label: &str) -> Option<String> {
    let t = label.trim();
    if t.is_empty() || ["n", "x", "no chord", "none"].contains(&t.to_lowercase().as_str()) {
        return None;
    }
    Some(Key::parse(t).map_or_else(|| t.to_string(), |k| k.to_string()))
}

/// Most chords a progression answer lists before it says "and so on".
pub const MAX_LISTED_CHORDS: usize = 12;

/// Named facts of one clip, each formatted as the answers quote it.
///
/// Names: `tempo` (`"120"`), `pace`, `key` (`"A minor"`), `time_signature` (`"4/4"`),
/// `beats_per_bar`, `bar_seconds` (quarter-note meters with a tempo), `first_downbeat`,
/// `instruments` (prose list), `instrument_count` (a word), `genre` (prose list), `tags`
/// (prose list), `chords` (the progression), `first_chord`, `main_chord` (longest total time),
/// `caption`, `summary` (one sentence from the other facts). Per-item facts: `instrument_list`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ClipFacts {
    values: BTreeMap<&'static str, String>,
    /// The clip's instruments, normalised (one question may be asked per instrument).
    pub instrument_list: Vec<String>,
    /// The tempo as a number, when known.
    pub tempo_bpm: Option<f64>,
    /// The key, when known and readable.
    pub key: Option<Key>,
}

impl ClipFacts {
    fn from_metadata(m: &ClipMetadata) -> ClipFacts {
        let mut f = ClipFacts::default();
        let tempo = m.tempo.and_then(|t| format_bpm(t).map(|s| (t, s)));
        if let Some((t, s)) = &tempo {
            f.tempo_bpm = Some(*t);
            f.set("tempo", s.clone());
            f.set("pace", pace_word(*t).to_string());
        }
        if let Some(k) = m.key.as_deref().and_then(Key::parse) {
            f.set("key", k.to_string());
            f.key = Some(k);
        }
        if let Some((num, den)) = time_signature(m) {
            f.set("time_signature", format!("{num}/{den}"));
            f.set("beats_per_bar", num.to_string());
            if let (4, Some((t, _))) = (den, &tempo) {
                f.set("bar_seconds", format!("{:.1}", num as f64 * 60.0 / t));
            }
        }
        if let Some(d) = m
            .downbeats
            .iter()
            .find(|d| d.beat_number == 1 && d.time.is_finite() && d.time >= 0.0)
        {
            f.set("first_downbeat", format!("{:.1}", d.time));
        }
        f.instrument_list = normalise_instruments(&m.instruments);
        if !f.instrument_list.is_empty() {
            f.set("instruments", join_words(&f.instrument_list));
            f.set("instrument_count", number_word(f.instrument_list.len()));
        }
        let genres = clean_labels(&m.genres);
        if !genres.is_empty() {
            f.set("genre", join_words(&genres));
        }
        let tags = clean_labels(&m.tags);
        if !tags.is_empty() {
            f.set("tags", join_words(&tags));
        }
        f.set_chords(&m.chords);
        if let Some(c) = m
            .caption
            .as_deref()
            .map(str::trim)
            .filter(|c| !c.is_empty())
        {
            f.set("caption", c.to_string());
        }
        f.set_summary();
        f
    }

    fn set(&mut self, name: &'static str, value: String) {
        self.values.insert(name, value);
    }

    fn set_chords(&mut self, chords: &[ChordSpan]) {
        let mut progression: Vec<String> = Vec::new();
        let mut time_per_chord: Vec<(String, f64)> = Vec::new();
        for span in chords {
            let Some(name) = chord_name(&span.chord) else {
                continue;
            };
            if progression.last() != Some(&name) {
                progression.push(name.clone());
            }
            let length = span.end_time - span.start_time;
            if length.is_finite() && length > 0.0 {
                match time_per_chord.iter_mut().find(|(n, _)| *n == name) {
                    Some((_, total)) => *total += length,
                    None => time_per_chord.push((name, length)),
                }
            }
        }
        let Some(first) = progression.first().cloned() else {
            return;
        };
        self.set("first_chord", first);
        let listed = if progression.len() > MAX_LISTED_CHORDS {
            format!("{}, and so on", progression[..MAX_LISTED_CHORDS].join(", "))
        } else {
            join_words(&progression)
        };
        self.set("chords", listed);
        // The chord held longest in total; ties go to the one heard first.
        let mut main: Option<&(String, f64)> = None;
        for entry in &time_per_chord {
            if main.is_none_or(|m| entry.1 > m.1) {
                main = Some(entry);
            }
        }
        if let (Some((name, _)), true) = (main, time_per_chord.len() > 1) {
            self.set("main_chord", name.clone());
        }
    }

    /// One sentence from the other facts; the tempo comes first and the key second, so that
    /// an answer quoting it still reads back as the right tempo and key.
    fn set_summary(&mut self) {
        let mut lead: Vec<String> = Vec::new();
        if let Some(t) = self.get("tempo") {
            lead.push(format!("at about {t} BPM"));
        }
        if let Some(k) = self.get("key") {
            lead.push(format!("in {k}"));
        }
        if let Some(ts) = self.get("time_signature") {
            lead.push(format!("in {ts} time"));
        }
        let subject = match self.get("genre") {
            Some(g) => format!("this {g} piece"),
            None => "this piece".to_string(),
        };
        let tail = self
            .get("instruments")
            .map(|i| format!(" features {i}"))
            .unwrap_or_default();
        let known =
            lead.len() + usize::from(self.get("genre").is_some()) + usize::from(!tail.is_empty());
        if known < 2 {
            return;
        }
        let sentence = if lead.is_empty() {
            format!("{}{tail}.", capitalise(&subject))
        } else {
            let verb = if tail.is_empty() { " moves along" } else { "" };
            format!("{}, {subject}{verb}{tail}.", capitalise(&join_words(&lead)))
        };
        self.set("summary", sentence);
    }

    /// The fact called `name`, when the clip has it.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(String::as_str)
    }

    /// Names of the facts the clip has.
    pub fn names(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.values.keys().copied()
    }
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(first) => first.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

/// The time signature: the explicit field when it reads as `n/d`, else `max(beat_number)/4`
/// from the downbeats (LLark's reading of madmom's beat numbers), when that is at least 2.
fn time_signature(m: &ClipMetadata) -> Option<(u32, u32)> {
    if let Some(ts) = m.time_signature.as_deref() {
        return parse_time_signature(ts);
    }
    let beats = m.downbeats.iter().map(|d| d.beat_number).max()?;
    (2..=MAX_BEATS_PER_BAR)
        .contains(&beats)
        .then_some((beats, 4))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instruments_are_normalised() {
        let v: Vec<String> = ["Violin", "Violin 2", " Piano ", "", "cello"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(normalise_instruments(&v), ["violin", "piano", "cello"]);
        assert_eq!(
            join_words(&normalise_instruments(&v)),
            "violin, piano and cello"
        );
    }

    #[test]
    fn keys_and_chords_keep_the_spelling_written() {
        let m: ClipMetadata = serde_json::from_str(
            r#"{"id":"c","key":"E-flat minor","tempo":99.96,
                "chords":[{"start_time":0.0,"end_time":1.0,"chord":"Bb:maj"},{"start_time":1.0,"end_time":1.5,"chord":"N"}]}"#,
        )
        .unwrap();
        let f = m.facts();
        assert_eq!(f.get("key"), Some("Eb minor"));
        assert_eq!(f.get("tempo"), Some("100"));
        assert_eq!(f.get("pace"), Some("moderate"));
        assert_eq!(f.get("chords"), Some("Bb major"));
        assert_eq!(chord_name("no chord"), None);
        assert_eq!(chord_name(" A:7 ").as_deref(), Some("A:7"));
    }
}
