//! Helpers shared by the integration tests.
#![allow(dead_code)]

use llark_data::instruct::ClipMetadata;
use serde_json::{json, Value};

/// madmom's key labels (the spellings LLark's training keys have).
pub const KEYS: [&str; 24] = [
    "A major", "Bb major", "B major", "C major", "Db major", "D major", "Eb major", "E major",
    "F major", "F# major", "G major", "Ab major", "A minor", "Bb minor", "B minor", "C minor",
    "C# minor", "D minor", "D# minor", "E minor", "F minor", "F# minor", "G minor", "G# minor",
];

pub const TEMPOS: [f64; 6] = [60.0, 87.5, 99.96, 120.0, 128.4, 174.04];

/// Clip `i` with every fact LLark's generator uses (keys and tempos cycle).
pub fn full_clip(i: usize) -> ClipMetadata {
    let key = KEYS[i % KEYS.len()];
    let tempo = TEMPOS[i % TEMPOS.len()];
    let beats = 3 + (i % 2) as u32;
    let downbeats: Vec<Value> = (0..8)
        .map(|b| json!({"time": 0.4 + 0.5 * b as f64, "beat_number": 1 + (b as u32 % beats)}))
        .collect();
    serde_json::from_value(json!({
        "id": format!("clip-{i:03}"),
        "audio": format!("audio/clip-{i:03}.wav"),
        "tempo_in_beats_per_minute_madmom": tempo,
        "key": key,
        "downbeats_madmom": downbeats,
        "chords": [
            {"start_time": 0.0, "end_time": 2.0, "chord": "Aminor"},
            {"start_time": 2.0, "end_time": 5.0, "chord": "Fmajor"},
            {"start_time": 5.0, "end_time": 6.0, "chord": "no chord"},
            {"start_time": 6.0, "end_time": 8.0, "chord": "Cmajor"}
        ],
        "instruments": ["Piano", "Violin 2", "cello", "90s drum machine"],
        "genres": ["80s pop", "neo-soul"],
        "tags": ["warm", "minor-key mood"],
        "caption": "A warm ballad with piano and strings, recorded in 2019.",
        "track.genre_top": "Pop"
    }))
    .unwrap()
}
