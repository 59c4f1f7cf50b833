//! The generator's style vocabulary, derived from instrumentation and tempo.

use serde::{Deserialize, Serialize};

use super::voice::Timbre;

/// The fixed style vocabulary, derived from instrumentation and tempo (see [`Genre::derive`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Genre {
    /// Synth pad or lead without drums, below 110 BPM.
    Ambient,
    /// Organ or electric piano (no guitar, no synths) without drums.
    Classical,
    /// Guitar without drums.
    Folk,
    /// Drums with guitar or organ at 100 BPM or more (and no synths).
    Rock,
    /// Drums with a synth lead or pad at 115 BPM or more; or synths without drums from 110 BPM.
    Electronic,
    /// Any other piece with drums.
    Pop,
}

impl Genre {
    /// Every genre, in vocabulary order.
    pub const ALL: [Genre; 6] = [
        Genre::Ambient,
        Genre::Classical,
        Genre::Folk,
        Genre::Rock,
        Genre::Electronic,
        Genre::Pop,
    ];

    /// The lower-case name (`"electronic"`).
    pub fn name(self) -> &'static str {
        match self {
            Genre::Ambient => "ambient",
            Genre::Classical => "classical",
            Genre::Folk => "folk",
            Genre::Rock => "rock",
            Genre::Electronic => "electronic",
            Genre::Pop => "pop",
        }
    }

    /// The genre of a piece with these instruments at this tempo. The first rule that matches:
    ///
    /// 1. drums, a synth (lead or pad), tempo >= 115 -> electronic
    /// 2. drums, guitar or organ, no synth, tempo >= 100 -> rock
    /// 3. drums -> pop
    /// 4. guitar -> folk
    /// 5. a synth, tempo < 110 -> ambient
    /// 6. a synth -> electronic
    /// 7. otherwise (organ, electric piano, bass) -> classical
    pub fn derive(instruments: &[Timbre], tempo_bpm: f64) -> Genre {
        let has = |i| instruments.contains(&i);
        let synth = has(Timbre::SynthLead) || has(Timbre::SynthPad);
        if has(Timbre::Drums) {
            if synth && tempo_bpm >= 115.0 {
                Genre::Electronic
            } else if (has(Timbre::Guitar) || has(Timbre::Organ)) && !synth && tempo_bpm >= 100.0 {
                Genre::Rock
            } else {
                Genre::Pop
            }
        } else if has(Timbre::Guitar) {
            Genre::Folk
        } else if synth && tempo_bpm < 110.0 {
            Genre::Ambient
        } else if synth {
            Genre::Electronic
        } else {
            Genre::Classical
        }
    }
}
