//! A clip's metadata, the input of instruction generation, and the facts read from it.
//!
//! [`ClipMetadata`] has the shape of the per-clip annotations LLark feeds its instruction
//! generator: tempo, key, downbeats and chords from the audio analysis, plus whatever the source
//! dataset provides (instruments, genres, tags, a caption). LLark's own field names are accepted
//! as aliases (`tempo_in_beats_per_minute_madmom`, `downbeats_madmom`); fields this crate does
//! not know are kept in `extra` and shown to a language-model generator unchanged.
//!
//! [`ClipMetadata::facts`] turns the metadata into [`ClipFacts`]: the values normalised and
//! formatted the way the answers quote them (`"120"` BPM, `"A minor"`, `"4/4"`). A field that is
//! missing, empty or unreadable gives no fact, so no question is ever asked about it.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};

/// One downbeat-tracker output: a beat time and its position in the bar (1 = downbeat).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Downbeat {
    /// Time of the beat, in seconds from the start of the clip.
    pub time: f64,
    /// Position of the beat in its bar, from 1; the largest number is the beats per bar.
    pub beat_number: u32,
}

/// One time-stamped chord.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChordSpan {
    /// Start, in seconds (alias `time`, as `llark_audio::synth` writes it).
    #[serde(alias = "time")]
    pub start_time: f64,
    /// End, in seconds.
    pub end_time: f64,
    /// The chord label (`"A minor"`, `"Amajor"`, `"A:min"`, `"no chord"`, ...).
    pub chord: String,
}

/// The metadata of one clip, as fed to instruction generation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClipMetadata {
    /// Clip identifier (becomes the record id).
    pub id: String,
    /// Path of the clip's audio file.
    #[serde(default, alias = "audio_path", skip_serializing_if = "Option::is_none")]
    pub audio: Option<String>,
    /// Name of the source dataset (selects a dataset-specific prompt when one is registered).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dataset: Option<String>,
    /// Clip length in seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<f64>,
    /// Tempo in beats per minute.
    #[serde(
        default,
        alias = "tempo_in_beats_per_minute_madmom",
        alias = "bpm",
        alias = "tempo_bpm",
        skip_serializing_if = "Option::is_none"
    )]
    pub tempo: Option<f64>,
    /// Key, e.g. `"A minor"` (also read: `"A:min"`, `"Amin"`, `"F sharp major"`, `"E-flat minor"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// Explicit time signature, e.g. `"3/4"` (otherwise derived from `downbeats`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_signature: Option<String>,
    /// Beats with their position in the bar.
    #[serde(
        default,
        alias = "downbeats_madmom",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub downbeats: Vec<Downbeat>,
    /// Time-stamped chords, in time order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub chords: Vec<ChordSpan>,
    /// Instruments heard in the clip (a string or a list of strings).
    #[serde(
        default,
        deserialize_with = "string_or_list",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub instruments: Vec<String>,
    /// Genre labels (a string or a list of strings; alias `genre`).
    #[serde(
        default,
        alias = "genre",
        deserialize_with = "string_or_list",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub genres: Vec<String>,
    /// Style and mood tags (a string or a list of strings; alias `style`).
    #[serde(
        default,
        alias = "style",
        deserialize_with = "string_or_list",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub tags: Vec<String>,
    /// A free-text caption or description of the clip (alias `description`).
    #[serde(
        default,
        alias = "description",
        skip_serializing_if = "Option::is_none"
    )]
    pub caption: Option<String>,
    /// Any other fields, kept as they are.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

fn string_or_list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
        Null(()),
    }
    Ok(match OneOrMany::deserialize(d)? {
        OneOrMany::One(s) => vec![s],
        OneOrMany::Many(v) => v,
        OneOrMany::Null(()) => Vec::new(),
    })
}

impl ClipMetadata {
    /// Metadata with only an id; every other field empty.
    pub fn new(id: impl Into<String>) -> Self {
        ClipMetadata {
            id: id.into(),
            audio: None,
            dataset: None,
            duration: None,
            tempo: None,
            key: None,
            time_signature: None,
            downbeats: Vec::new(),
            chords: Vec::new(),
            instruments: Vec::new(),
            genres: Vec::new(),
            tags: Vec::new(),
            caption: None,
            extra: Map::new(),
        }
    }

    /// The metadata as shown to a language model: every field except `id`, `audio`, `dataset`
    /// and `duration` (identifiers and file facts are not questions about the music).
    pub fn prompt_value(&self) -> Value {
        let mut value = serde_json::to_value(self).unwrap_or(Value::Null);
        if let Value::Object(map) = &mut value {
            for k in ["id", "audio", "dataset", "duration"] {
                map.remove(k);
            }
        }
        value
    }

    /// The usable facts of this clip, normalised and formatted for answers.
    pub fn facts(&self) -> ClipFacts {
        ClipFacts::from_metadata(self)
    }
}

/// Errors of reading a metadata JSON file.
#[derive(Debug, thiserror::Error)]
pub enum MetadataError {
    /// The file could not be read.
    #[error("cannot read metadata file {path}: {source}")]
    Io {
        /// The file.
        path: std::path::PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not one metadata object or a list of them.
    #[error("metadata file {path} is not a clip object or a list of clip objects: {source}")]
    Json {
        /// The file.
        path: std::path::PathBuf,
        /// The serde error (with line and column).
        source: serde_json::Error,
    },
}

/// Reads a JSON file holding one clip's metadata or a list of them. (JSON Lines files are read
/// with [`JsonlReader`](crate::JsonlReader), one clip per line.)
pub fn read_metadata_json(
    path: impl AsRef<std::path::Path>,
) -> Result<Vec<ClipMetadata>, MetadataError> {
    let path = path.as_ref();
    let text = std::fs::read_to_string(path).map_err(|source| MetadataError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    // Parse as a generic value first so that a malformed clip's error keeps its position.
    let value: Value = serde_json::from_str(&text).map_err(|source| MetadataError::Json {
        path: path.to_path_buf(),
        source,
    })?;
    let json_err = |source| MetadataError::Json {
        path: path.to_path_buf(),
        source,
    };
    if value.is_array() {
        serde_json::from_value(value).map_err(json_err)
    } else {
        serde_json::from_value(value)
            .map(|m| vec![m])
            .map_err(json_err)
    }
}

/// Major or minor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Mode {
    /// Major.
    Major,
    /// Minor.
    Minor,
}

impl Mode {
    /// `"major"` or `"minor"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Major => "major",
            Mode::Minor => "minor",
        }
    }
}

/// A key (or a major/minor triad): tonic spelled `A`..`G` plus `#` or `b`, and a mode.
///
/// Displayed as `"<Tonic> <major|minor>"` (`"F# minor"`, `"Eb major"`), the form LLark's key
/// parsing reads back from an answer.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MusicalKey {
    /// Tonic: an upper-case letter and an optional `#` or `b`.
    pub tonic: String,
    /// Mode.
    pub mode: Mode,
}

impl MusicalKey {
    /// Reads a key or triad label: `"A minor"`, `"a minor"`, `"A:min"`, `"Amin"`, `"Am"`,
    /// `"Aminor"`, `"F sharp major"`, `"E-flat minor"`, `"G♯ minor"`, `"C:maj"`.
    /// A bare tonic, other chord qualities and double accidentals give `None`.
    pub fn parse(label: &str) -> Option<MusicalKey> {
        let mut s = label
            .trim()
            .to_lowercase()
            .replace('♯', "#")
            .replace('♭', "b");
        for (from, to) in [
            ("-sharp", "#"),
            (" sharp", "#"),
            ("sharp", "#"),
            ("-flat", "b"),
            (" flat", "b"),
        ] {
            s = s.replace(from, to);
        }
        let compact: String = s
            .chars()
            .filter(|c| !c.is_whitespace() && *c != ':')
            .collect();
        let mut chars = compact.chars();
        let letter = chars.next().filter(|c| ('a'..='g').contains(c))?;
        let rest: String = chars.collect();
        let (accidental, quality) = match rest.chars().next() {
            Some('#') => ("#", &rest[1..]),
            // `b` is a flat unless it is the whole quality (never: qualities start with `m`).
            Some('b') => ("b", &rest[1..]),
            _ => ("", rest.as_str()),
        };
        let mode = match quality {
            "major" | "maj" => Mode::Major,
            "minor" | "min" | "m" => Mode::Minor,
            _ => return None,
        };
        Some(MusicalKey {
            tonic: format!("{}{accidental}", letter.to_ascii_uppercase()),
            mode,
        })
    }
}

impl fmt::Display for MusicalKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.tonic, self.mode.as_str())
    }
}

/// Formats a tempo for an answer: rounded to 0.1 BPM, without a trailing `.0`
/// (`120.0` -> `"120"`, `128.43` -> `"128.4"`). `None` for a non-finite or non-positive tempo.
pub fn format_bpm(bpm: f64) -> Option<String> {
    if !bpm.is_finite() || bpm <= 0.0 {
        return None;
    }
    let s = format!("{:.1}", (bpm * 10.0).round() / 10.0);
    Some(s.strip_suffix(".0").map(str::to_string).unwrap_or(s))
}

/// A word for the pace of a tempo (`slow`, `moderate`, `fairly fast`, `fast`).
pub fn pace_word(bpm: f64) -> &'static str {
    match bpm {
        b if b < 76.0 => "slow",
        b if b < 108.0 => "moderate",
        b if b < 140.0 => "fairly fast",
        _ => "fast",
    }
}

/// Joins items as English prose: `a`, `a and b`, `a, b and c`.
pub fn join_words(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
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
    Some(MusicalKey::parse(t).map_or_else(|| t.to_string(), |k| k.to_string()))
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
    pub key: Option<MusicalKey>,
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
        if let Some(k) = m.key.as_deref().and_then(MusicalKey::parse) {
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
        let (n, d) = ts.trim().split_once('/')?;
        let (n, d) = (n.trim().parse::<u32>().ok()?, d.trim().parse::<u32>().ok()?);
        return (n > 0 && [1, 2, 4, 8, 16, 32].contains(&d)).then_some((n, d));
    }
    let beats = m.downbeats.iter().map(|d| d.beat_number).max()?;
    (beats >= 2).then_some((beats, 4))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_in_many_spellings() {
        for (label, want) in [
            ("A minor", "A minor"),
            ("a minor", "A minor"),
            ("A:min", "A minor"),
            ("Amin", "A minor"),
            ("Am", "A minor"),
            ("Aminor", "A minor"),
            ("F sharp major", "F# major"),
            ("E-flat minor", "Eb minor"),
            ("G♯ minor", "G# minor"),
            ("Bb:maj", "Bb major"),
            ("bbminor", "Bb minor"),
        ] {
            assert_eq!(
                MusicalKey::parse(label).unwrap().to_string(),
                want,
                "{label}"
            );
        }
        for bad in ["A", "H minor", "C##  major", "A:7", "", "minor"] {
            assert_eq!(MusicalKey::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn bpm_formatting() {
        assert_eq!(format_bpm(120.0).as_deref(), Some("120"));
        assert_eq!(format_bpm(128.43).as_deref(), Some("128.4"));
        assert_eq!(format_bpm(99.96).as_deref(), Some("100"));
        assert_eq!(format_bpm(0.0), None);
        assert_eq!(format_bpm(f64::NAN), None);
    }

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
    fn llark_field_names_are_read_and_unknown_fields_kept() {
        let m: ClipMetadata = serde_json::from_str(
            r#"{"id":"c1","audio_path":"c1.wav","tempo_in_beats_per_minute_madmom":128.4,
                "key":"F# minor","downbeats_madmom":[{"time":0.5,"beat_number":1},{"time":1.0,"beat_number":2},{"time":1.5,"beat_number":3}],
                "chords":[{"start_time":0.0,"end_time":2.0,"chord":"Aminor"},{"start_time":2.0,"end_time":2.5,"chord":"no chord"},{"start_time":2.5,"end_time":3.0,"chord":"C:maj"}],
                "genre":"jazz","instruments":["Piano"],"track.language_code":"en"}"#,
        )
        .unwrap();
        assert_eq!(m.audio.as_deref(), Some("c1.wav"));
        assert_eq!(m.genres, ["jazz"]);
        assert_eq!(m.extra["track.language_code"], "en");
        let f = m.facts();
        assert_eq!(f.get("tempo"), Some("128.4"));
        assert_eq!(f.get("time_signature"), Some("3/4"));
        assert_eq!(f.get("chords"), Some("A minor and C major"));
        assert_eq!(f.get("main_chord"), Some("A minor"));
        assert_eq!(f.get("first_downbeat"), Some("0.5"));
        assert!(m.prompt_value().get("id").is_none());
    }

    #[test]
    fn synthetic_music_metadata_is_read() {
        // The field names `llark_audio::synth` writes.
        let m: ClipMetadata = serde_json::from_str(
            r#"{"id":"synth-000001","audio":"synth-000001.wav","duration":10.0,"tempo_bpm":96.0,
                "key":"Eb major","time_signature":"4/4",
                "chords":[{"time":0.0,"end_time":2.5,"chord":"Eb:maj"},{"time":2.5,"end_time":5.0,"chord":"Bb:maj"}],
                "instruments":["organ","bass"],"genre":"pop"}"#,
        )
        .unwrap();
        assert_eq!(m.tempo, Some(96.0));
        assert_eq!(m.chords.len(), 2);
        assert_eq!(m.chords[1].start_time, 2.5);
        assert!(!m.extra.contains_key("tempo_bpm"));
    }
}
