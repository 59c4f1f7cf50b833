//! Ensembles: who plays, in which role and register, and the style word a listener would use.

use rand::Rng;
use rand_chacha::ChaCha8Rng;

/// What a part plays.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Role {
    /// The tune.
    Melody,
    /// Chords: the pattern is the texture's.
    Harmony(Texture),
    /// The bass line.
    Bass,
    /// General MIDI drums on channel 10.
    Drums,
}

/// How a harmony part sounds its chords.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Texture {
    /// One chord held through its slot.
    Sustained,
    /// A chord struck on every beat.
    Block,
    /// Low, high, middle, high: the classical broken chord.
    Alberti,
    /// The chord broken upwards, one note per subdivision.
    Arpeggio,
    /// Off the downbeat: the bass on one, chords after it (waltz, march).
    AfterBeat,
    /// Guitar strokes: the chord's notes a few milliseconds apart.
    Strum,
}

/// One part of an ensemble: General MIDI program choices, role and register.
#[derive(Debug, Clone, Copy)]
pub(super) struct PartSpec {
    /// Programs to draw from (one is drawn per piece).
    pub programs: &'static [u8],
    /// What the part plays.
    pub role: Role,
    /// Lowest and highest MIDI key the part plays.
    pub range: (i32, i32),
}

/// An ensemble: its parts and the style words that fit it.
pub(super) struct EnsembleSpec {
    /// The style word (`"chamber"`, `"jazz"`).
    pub style: &'static str,
    /// The parts.
    pub parts: &'static [PartSpec],
    /// Whether it sounds best slow, fast or anywhere: `(lowest, highest)` tapped BPM.
    pub tempo: (f64, f64),
}

use Role::*;
use Texture::*;

const fn part(programs: &'static [u8], role: Role, range: (i32, i32)) -> PartSpec {
    PartSpec {
        programs,
        role,
        range,
    }
}

const PIANO: &[u8] = &[0, 1];
const KEYS: &[u8] = &[0, 1, 4, 5, 6];
const STRINGS: &[u8] = &[48, 49];
const HARMONY_SYNTH: &[u8] = &[88, 89, 90, 91, 94, 95];
const LEAD_SYNTH: &[u8] = &[80, 81, 82, 84, 87];
const ELECTRIC_GUITAR: &[u8] = &[26, 27, 28, 29, 30];
const ACOUSTIC_GUITAR: &[u8] = &[24, 25];
const ELECTRIC_BASS: &[u8] = &[33, 34, 35];
const WINDS: &[u8] = &[73, 68, 71, 72];
const BRASS_LEAD: &[u8] = &[56, 60];
const REEDS: &[u8] = &[64, 65, 66, 71];

/// Every ensemble the composer writes for.
pub(super) const ENSEMBLES: &[EnsembleSpec] = &[
    EnsembleSpec {
        style: "classical",
        parts: &[
            part(PIANO, Melody, (60, 88)),
            part(PIANO, Harmony(Alberti), (48, 67)),
            part(PIANO, Bass, (33, 52)),
        ],
        tempo: (40.0, 208.0),
    },
    EnsembleSpec {
        style: "chamber",
        parts: &[
            part(&[40], Melody, (62, 91)),
            part(&[40, 41], Harmony(Sustained), (55, 74)),
            part(&[41], Harmony(Block), (48, 67)),
            part(&[42], Bass, (36, 57)),
        ],
        tempo: (40.0, 180.0),
    },
    EnsembleSpec {
        style: "chamber",
        parts: &[
            part(WINDS, Melody, (62, 91)),
            part(&[71, 68, 60], Harmony(Arpeggio), (53, 72)),
            part(&[70], Bass, (36, 57)),
        ],
        tempo: (50.0, 168.0),
    },
    EnsembleSpec {
        style: "orchestral",
        parts: &[
            part(&[40, 73, 68, 56], Melody, (62, 91)),
            part(STRINGS, Harmony(Sustained), (52, 76)),
            part(&[46, 0], Harmony(Arpeggio), (48, 79)),
            part(&[43, 42], Bass, (28, 50)),
        ],
        tempo: (40.0, 160.0),
    },
    EnsembleSpec {
        style: "brass",
        parts: &[
            part(BRASS_LEAD, Melody, (58, 82)),
            part(&[61, 60, 57], Harmony(Block), (50, 70)),
            part(&[58, 57], Bass, (33, 53)),
        ],
        tempo: (60.0, 150.0),
    },
    EnsembleSpec {
        style: "choral",
        parts: &[
            part(&[52, 53], Melody, (60, 79)),
            part(&[52, 53], Harmony(Sustained), (50, 69)),
            part(&[52, 19], Bass, (40, 57)),
        ],
        tempo: (40.0, 120.0),
    },
    EnsembleSpec {
        style: "sacred",
        parts: &[
            part(&[19, 20], Melody, (60, 84)),
            part(&[19, 16], Harmony(Sustained), (50, 70)),
            part(&[19], Bass, (31, 50)),
        ],
        tempo: (40.0, 110.0),
    },
    EnsembleSpec {
        style: "jazz",
        parts: &[
            part(REEDS, Melody, (58, 84)),
            part(&[0, 4, 11], Harmony(AfterBeat), (52, 72)),
            part(&[32], Bass, (28, 50)),
            part(&[], Drums, (0, 0)),
        ],
        tempo: (70.0, 208.0),
    },
    EnsembleSpec {
        style: "pop",
        parts: &[
            part(&[80, 81, 73, 11, 26], Melody, (62, 86)),
            part(KEYS, Harmony(Block), (52, 72)),
            part(ELECTRIC_BASS, Bass, (28, 50)),
            part(&[], Drums, (0, 0)),
        ],
        tempo: (70.0, 150.0),
    },
    EnsembleSpec {
        style: "rock",
        parts: &[
            part(ELECTRIC_GUITAR, Melody, (60, 84)),
            part(&[29, 30], Harmony(Strum), (45, 67)),
            part(ELECTRIC_BASS, Bass, (28, 50)),
            part(&[], Drums, (0, 0)),
        ],
        tempo: (90.0, 190.0),
    },
    EnsembleSpec {
        style: "folk",
        parts: &[
            part(&[40, 110, 73, 21, 105, 22], Melody, (62, 88)),
            part(ACOUSTIC_GUITAR, Harmony(Strum), (48, 67)),
            part(&[32, 21], Bass, (31, 52)),
        ],
        tempo: (60.0, 190.0),
    },
    EnsembleSpec {
        style: "electronic",
        parts: &[
            part(LEAD_SYNTH, Melody, (62, 86)),
            part(HARMONY_SYNTH, Harmony(Sustained), (52, 74)),
            part(&[38, 39], Bass, (28, 48)),
            part(&[], Drums, (0, 0)),
        ],
        tempo: (90.0, 180.0),
    },
    EnsembleSpec {
        style: "ambient",
        parts: &[
            part(&[11, 12, 46, 8], Melody, (64, 88)),
            part(HARMONY_SYNTH, Harmony(Sustained), (50, 74)),
            part(&[0, 48], Harmony(Arpeggio), (48, 72)),
        ],
        tempo: (40.0, 90.0),
    },
];

/// The ensemble of a piece: drawn among those whose tempo range holds `tempo`, or any when
/// none does.
pub(super) fn draw_ensemble(rng: &mut ChaCha8Rng, tempo: f64) -> &'static EnsembleSpec {
    let fitting: Vec<&EnsembleSpec> = ENSEMBLES
        .iter()
        .filter(|e| e.tempo.0 <= tempo && tempo <= e.tempo.1)
        .collect();
    if fitting.is_empty() {
        &ENSEMBLES[rng.random_range(0..ENSEMBLES.len())]
    } else {
        fitting[rng.random_range(0..fitting.len())]
    }
}
