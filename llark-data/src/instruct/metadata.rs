//! A clip's metadata, the input of instruction generation.
//!
//! [`ClipMetadata`] has the shape of the per-clip annotations LLark feeds its instruction
//! generator: tempo, key, downbeats and chords from the audio analysis, plus whatever the source
//! dataset provides (instruments, genres, tags, a caption). LLark's own field names are accepted
//! as aliases (`tempo_in_beats_per_minute_madmom`, `downbeats_madmom`); fields this crate does
//! not know are kept in `extra` and shown to a language-model generator unchanged. Chords and
//! beats are [`llark_music`]'s time-stamped types. The facts read from the metadata are in
//! [`facts`](super::facts).

use llark_music::{Beat, ChordSpan};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};

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
    pub downbeats: Vec<Beat>,
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
}

/// The highest tempo accepted in metadata, in BPM (a listener's tap rate tops out far below).
pub const MAX_METADATA_BPM: f64 = 1000.0;
/// The most beats per bar accepted in a time signature.
pub const MAX_BEATS_PER_BAR: u32 = 32;

/// A metadata field whose value cannot be true of a clip.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("clip {clip}: field `{field}` {reason}")]
pub struct InvalidField {
    /// The clip id.
    pub clip: String,
    /// The field.
    pub field: &'static str,
    /// What is wrong with its value.
    pub reason: String,
}

impl ClipMetadata {
    /// Checks the fields that generation states as facts: a finite tempo in
    /// `(0, MAX_METADATA_BPM]`, a time signature `n/d` with `1 <= n <= MAX_BEATS_PER_BAR` and `d`
    /// a power of two up to 32, a finite non-negative duration, and finite beat and chord times.
    /// The first bad field is returned.
    pub fn validate(&self) -> Result<(), InvalidField> {
        let bad = |field: &'static str, reason: String| InvalidField {
            clip: self.id.clone(),
            field,
            reason,
        };
        if let Some(t) = self.tempo {
            if !(t.is_finite() && t > 0.0 && t <= MAX_METADATA_BPM) {
                return Err(bad(
                    "tempo",
                    format!("is {t}, not a tempo in (0, {MAX_METADATA_BPM}] BPM"),
                ));
            }
        }
        if let Some(ts) = &self.time_signature {
            if parse_time_signature(ts).is_none() {
                return Err(bad(
                    "time_signature",
                    format!(
                        "is {ts:?}, not n/d with 1 <= n <= {MAX_BEATS_PER_BAR} and d in 1, 2, 4, 8, 16, 32"
                    ),
                ));
            }
        }
        if let Some(d) = self.duration {
            if !(d.is_finite() && d >= 0.0) {
                return Err(bad("duration", format!("is {d}, not a length in seconds")));
            }
        }
        if let Some(b) = self.downbeats.iter().find(|b| !b.time.is_finite()) {
            return Err(bad("downbeats", format!("has a beat at time {}", b.time)));
        }
        if let Some(c) = self
            .chords
            .iter()
            .find(|c| !(c.start_time.is_finite() && c.end_time.is_finite()))
        {
            return Err(bad(
                "chords",
                format!("has a chord from {} to {}", c.start_time, c.end_time),
            ));
        }
        Ok(())
    }
}

/// Reads `n/d` as a time signature (see [`ClipMetadata::validate`] for the accepted range).
pub fn parse_time_signature(text: &str) -> Option<(u32, u32)> {
    let (n, d) = text.trim().split_once('/')?;
    let (n, d) = (n.trim().parse::<u32>().ok()?, d.trim().parse::<u32>().ok()?);
    ((1..=MAX_BEATS_PER_BAR).contains(&n) && [1, 2, 4, 8, 16, 32].contains(&d)).then_some((n, d))
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

#[cfg(test)]
mod tests {
    use super::*;

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
