//! Functional harmony: phrases of four bars that move tonic → predominant → dominant → tonic,
//! half cadences ending antecedent phrases, authentic cadences ending sections, and a middle
//! section in a closely related key (the dominant of a major key, the relative major of a minor
//! one) that returns home.

use llark_music::{Key, Mode};
use rand::Rng;
use rand_chacha::ChaCha8Rng;

/// Semitones of the major scale's degrees.
const MAJOR: [i32; 7] = [0, 2, 4, 5, 7, 9, 11];
/// Semitones of the natural minor scale's degrees (the dominant chords raise the seventh).
const MINOR: [i32; 7] = [0, 2, 3, 5, 7, 8, 10];

/// A chord: a scale degree (0 = I) in a local key, with an added seventh or not.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Chord {
    /// Tonic pitch class of the local key (0-11).
    pub tonic: i32,
    /// Mode of the local key.
    pub mode: Mode,
    /// Scale degree of the root, 0-6.
    pub degree: usize,
    /// Whether the chord has a seventh.
    pub seventh: bool,
}

impl Chord {
    fn scale(&self, step: usize) -> i32 {
        let scale = if self.mode == Mode::Minor {
            MINOR
        } else {
            MAJOR
        };
        let mut pc = scale[step % 7];
        // The leading tone of minor is raised in dominant chords (V, vii°).
        if self.mode == Mode::Minor && step % 7 == 6 && matches!(self.degree, 4 | 6) {
            pc = 11;
        }
        (self.tonic + pc).rem_euclid(12)
    }

    /// The chord's pitch classes, root first (three, or four with the seventh).
    pub fn pitch_classes(&self) -> Vec<i32> {
        let count = if self.seventh { 4 } else { 3 };
        (0..count)
            .map(|k| self.scale(self.degree + 2 * k))
            .collect()
    }

    /// The root's pitch class.
    pub fn root(&self) -> i32 {
        self.scale(self.degree)
    }

    /// The scale of the chord's key, as pitch classes (for melodic steps).
    pub fn key_scale(&self) -> Vec<i32> {
        (0..7)
            .map(|step| {
                let scale = if self.mode == Mode::Minor {
                    MINOR
                } else {
                    MAJOR
                };
                let raise = self.mode == Mode::Minor && step == 6 && matches!(self.degree, 4 | 6);
                (self.tonic + if raise { 11 } else { scale[step] }).rem_euclid(12)
            })
            .collect()
    }

    /// Harte/madmom shorthand with the home key's spelling (`"A:min"`, `"G:7"`, `"B:dim"`).
    pub fn label(&self, home: Key) -> String {
        let pcs = self.pitch_classes();
        let third = (pcs[1] - pcs[0]).rem_euclid(12);
        let fifth = (pcs[2] - pcs[0]).rem_euclid(12);
        let quality = match (
            third,
            fifth,
            pcs.get(3).map(|s| (s - pcs[0]).rem_euclid(12)),
        ) {
            (4, 7, None) => "maj",
            (3, 7, None) => "min",
            (3, 6, None) => "dim",
            (4, 8, None) => "aug",
            (4, 7, Some(10)) => "7",
            (4, 7, Some(11)) => "maj7",
            (3, 7, Some(10)) => "min7",
            (3, 6, Some(10)) => "hdim7",
            (3, 6, Some(9)) => "dim7",
            _ => "maj",
        };
        let root = llark_music::PitchClass::new(pcs[0] as u8);
        format!("{}:{quality}", home.spell(root))
    }
}

/// What a phrase ends on.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Cadence {
    /// Ends on V: the phrase asks a question.
    Half,
    /// V → I: the phrase answers it.
    Authentic,
}

/// The next degree after `degree` in a functional progression (tonic → predominant →
/// dominant → tonic, with the usual side steps).
fn next_degree(degree: usize, rng: &mut ChaCha8Rng) -> usize {
    let choices: &[(usize, u32)] = match degree {
        0 => &[(3, 4), (1, 3), (5, 3), (4, 2), (2, 1)],
        5 => &[(1, 4), (3, 4), (4, 1)],
        3 => &[(4, 5), (1, 2), (0, 2)],
        1 => &[(4, 6), (6, 1)],
        2 => &[(5, 3), (3, 2)],
        4 => &[(0, 5), (5, 2)],
        _ => &[(0, 1)],
    };
    let total: u32 = choices.iter().map(|c| c.1).sum();
    let mut pick = rng.random_range(0..total);
    for &(next, weight) in choices {
        if pick < weight {
            return next;
        }
        pick -= weight;
    }
    0
}

/// The chords of one phrase, `bars * per_bar` slots: it opens on I, wanders functionally and
/// ends with `cadence`.
pub(super) fn phrase(
    tonic: i32,
    mode: Mode,
    bars: usize,
    per_bar: usize,
    cadence: Cadence,
    rng: &mut ChaCha8Rng,
) -> Vec<Chord> {
    let slots = (bars * per_bar).max(2);
    let mut degrees = if slots > 2 { vec![0usize] } else { Vec::new() };
    while degrees.len() < slots - 2 {
        let last = degrees[degrees.len() - 1];
        degrees.push(next_degree(last, rng));
    }
    match cadence {
        Cadence::Half => {
            // Predominant, then the dominant held.
            degrees.push(if rng.random_bool(0.5) { 1 } else { 3 });
            degrees.push(4);
        }
        Cadence::Authentic => {
            degrees.push(4);
            degrees.push(0);
        }
    }
    degrees.truncate(slots);
    degrees
        .into_iter()
        .enumerate()
        .map(|(k, degree)| Chord {
            tonic,
            mode,
            degree,
            // Dominants before a resolution often carry their seventh.
            seventh: degree == 4 && k + 1 < slots && rng.random_bool(0.5),
        })
        .collect()
}

/// The tonic (pitch class) and mode of the contrasting section's key.
pub(super) fn related_key(tonic: i32, mode: Mode) -> (i32, Mode) {
    match mode {
        Mode::Minor => ((tonic + 3).rem_euclid(12), Mode::Major),
        _ => ((tonic + 7).rem_euclid(12), Mode::Major),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn chords_are_spelled_as_harmony_books_spell_them() {
        let c = |degree, seventh| Chord {
            tonic: 0,
            mode: Mode::Major,
            degree,
            seventh,
        };
        let home = Key::new(0, Mode::Major);
        assert_eq!(c(0, false).pitch_classes(), vec![0, 4, 7]);
        assert_eq!(c(4, true).label(home), "G:7");
        assert_eq!(c(1, false).label(home), "D:min");
        assert_eq!(c(6, false).label(home), "B:dim");
        let a_minor = Chord {
            tonic: 9,
            mode: Mode::Minor,
            degree: 4,
            seventh: false,
        };
        // E major in A minor: the raised leading tone G#.
        assert_eq!(a_minor.pitch_classes(), vec![4, 8, 11]);
    }

    #[test]
    fn phrases_open_on_the_tonic_and_end_on_their_cadence() {
        for seed in 0..50 {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            let half = phrase(2, Mode::Major, 4, 1, Cadence::Half, &mut rng);
            assert_eq!(half.len(), 4);
            assert_eq!(half[0].degree, 0);
            assert_eq!(half[3].degree, 4);
            let full = phrase(2, Mode::Minor, 4, 2, Cadence::Authentic, &mut rng);
            assert_eq!(full.len(), 8);
            assert_eq!((full[6].degree, full[7].degree), (4, 0));
        }
    }
}
