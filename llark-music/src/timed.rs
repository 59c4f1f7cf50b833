//! Time-stamped annotations: chords and beats, as audio-analysis tools (madmom) and the
//! synthesiser write them.

use serde::{Deserialize, Serialize};

/// One time-stamped chord.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChordSpan {
    /// Start, in seconds (alias `time`, as older synthesiser files write it).
    #[serde(alias = "time")]
    pub start_time: f64,
    /// End, in seconds.
    pub end_time: f64,
    /// The chord label (`"A minor"`, `"Amajor"`, `"A:min"`, `"no chord"`, ...).
    pub chord: String,
}

/// One beat (madmom's downbeat format): its time and its position in the bar.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Beat {
    /// Time of the beat, in seconds from the start of the clip.
    pub time: f64,
    /// Position of the beat in its bar, from 1 (the downbeat); the largest number is the
    /// beats per bar.
    pub beat_number: u32,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_names_and_aliases() {
        let old: ChordSpan =
            serde_json::from_str(r#"{"time":0.5,"end_time":2.0,"chord":"A:min"}"#).unwrap();
        let new: ChordSpan =
            serde_json::from_str(r#"{"start_time":0.5,"end_time":2.0,"chord":"A:min"}"#).unwrap();
        assert_eq!(old, new);
        assert_eq!(
            serde_json::to_string(&new).unwrap(),
            r#"{"start_time":0.5,"end_time":2.0,"chord":"A:min"}"#
        );
        let beat: Beat = serde_json::from_str(r#"{"time":1.5,"beat_number":3}"#).unwrap();
        assert_eq!(beat.beat_number, 3);
    }
}
