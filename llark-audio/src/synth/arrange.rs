//! The arrangement: the notes each instrument plays over the planned chords and beats.

use llark_music::Key;
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::genre::Genre;
use super::plan::Slot;
use super::theory::{scale_over, tonic_degree, Chord};
use super::voice::{Note, Sound, Timbre};

/// The musical role a pitched instrument plays.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Role {
    /// Triads: held (pad, organ) or struck on the beat.
    Chords,
    /// A scale melody, one note per beat (sometimes two beats with drums).
    Melody,
    /// Chord tones one per beat, an octave above the chords.
    Arpeggio,
    /// Chord roots.
    Bass,
}

/// Assigns roles: the chords go to the first of pad, organ, electric piano, guitar, lead; the
/// melody to the first other of lead, guitar, electric piano, organ; further harmonic
/// instruments play arpeggios; bass plays roots.
pub(super) fn assign_roles(instruments: &[Timbre]) -> Vec<(Timbre, Role)> {
    use Timbre::*;
    let has = |i: &Timbre| instruments.contains(i);
    let chords = [SynthPad, Organ, ElectricPiano, Guitar, SynthLead]
        .into_iter()
        .find(has);
    let melody = [SynthLead, Guitar, ElectricPiano, Organ]
        .into_iter()
        .find(|i| has(i) && Some(*i) != chords);
    instruments
        .iter()
        .filter(|&&i| i != Drums)
        .map(|&i| {
            let role = if i == Bass {
                Role::Bass
            } else if Some(i) == chords {
                Role::Chords
            } else if Some(i) == melody {
                Role::Melody
            } else {
                Role::Arpeggio
            };
            (i, role)
        })
        .collect()
}

/// The MIDI note of pitch class `pc` in the octave starting at MIDI note `low`.
fn in_octave_from(pc: u8, low: i32) -> f64 {
    f64::from(low + (i32::from(pc) - low).rem_euclid(12))
}

/// Turns the plan (key, beats, chords, style) into the notes of each part.
pub(super) struct Arranger<'a> {
    pub key: Key,
    pub beat: f64,
    pub sr: f64,
    pub beats: &'a [f64],
    pub slots: &'a [Slot],
    pub drums: bool,
    pub has_bass: bool,
    pub genre: Genre,
}

impl Arranger<'_> {
    /// A note from `start` for `seconds` (both in seconds).
    fn note(&self, start: f64, seconds: f64, sound: Sound, velocity: f32) -> Note {
        Note {
            start: (start * self.sr).round() as usize,
            len: (seconds * self.sr).round().max(1.0) as usize,
            sound,
            velocity,
        }
    }

    /// The chord sounding at `t` seconds.
    fn chord_at(&self, t: f64) -> Chord {
        self.slots
            .iter()
            .rev()
            .find(|s| s.start <= t + 1e-9)
            .or(self.slots.first())
            .map_or(tonic_degree(self.key).chord_in(self.key), |s| s.chord)
    }

    /// Seconds from `t` to the end of the chord sounding at `t`.
    fn until_chord_end(&self, t: f64) -> f64 {
        self.slots
            .iter()
            .find(|s| s.start <= t + 1e-9 && t < s.end)
            .map_or(self.beat, |s| s.end - t)
    }

    /// The fraction of a beat a melody or arpeggio note sounds: shorter without drums, so
    /// that every beat starts after an audible gap.
    fn articulation(&self) -> f64 {
        if self.drums {
            0.85
        } else {
            0.7
        }
    }

    /// A small random velocity change around `base`.
    fn velocity(base: f32, rng: &mut ChaCha8Rng) -> f32 {
        base * rng.random_range(0.85..=1.0)
    }

    /// The chord tones of `chord` voiced from G3 up (root position), with the root an octave
    /// below when `low_root`.
    fn voicing(chord: Chord, low_root: bool) -> Vec<f64> {
        let root = in_octave_from(chord.root, 55);
        let [_, third, fifth] = chord.pitch_classes();
        let mut notes = vec![
            root,
            root + f64::from((third + 12 - chord.root) % 12),
            root + f64::from((fifth + 12 - chord.root) % 12),
        ];
        if low_root {
            notes.push(root - 12.0);
        }
        notes
    }

    /// The notes of one pitched part.
    pub(super) fn part(&self, instrument: Timbre, role: Role, rng: &mut ChaCha8Rng) -> Vec<Note> {
        match role {
            Role::Chords => self.chords(instrument, rng),
            Role::Melody => self.melody(rng),
            Role::Arpeggio => self.arpeggio(rng),
            Role::Bass => self.bass(rng),
        }
    }

    /// Triads: held for the whole chord by pad and organ, struck on the beats by the others
    /// (every beat without drums, every other beat with drums).
    fn chords(&self, instrument: Timbre, rng: &mut ChaCha8Rng) -> Vec<Note> {
        let held = matches!(instrument, Timbre::SynthPad | Timbre::Organ);
        let base = if held { 0.22 } else { 0.28 };
        let mut notes = Vec::new();
        if held {
            for slot in self.slots {
                let v = Self::velocity(base, rng);
                for midi in Self::voicing(slot.chord, !self.has_bass) {
                    notes.push(self.note(
                        slot.start,
                        (slot.end - slot.start) - 0.02,
                        Sound::Pitch(midi),
                        v,
                    ));
                }
            }
            return notes;
        }
        let step = if self.drums { 2 } else { 1 };
        for (k, &t) in self.beats.iter().enumerate().step_by(step) {
            let chord = self.chord_at(t);
            let v = Self::velocity(base, rng);
            let length = (self.beat * step as f64 * 0.92).min(self.until_chord_end(t));
            for midi in Self::voicing(chord, !self.has_bass && k % 2 == 0) {
                notes.push(self.note(t, length, Sound::Pitch(midi), v));
            }
        }
        notes
    }

    /// A scale melody around the tonic from G4 up: chord tones on the strong beats, steps in
    /// between; it starts and ends on the tonic. One note per beat, or a two-beat note now and
    /// then when drums keep the pulse.
    fn melody(&self, rng: &mut ChaCha8Rng) -> Vec<Note> {
        let anchor = in_octave_from(self.key.tonic().index(), 67);
        let pitch = |degree: i32, chord: Chord| {
            let scale = scale_over(self.key, chord);
            let octave = degree.div_euclid(7);
            let step = scale[degree.rem_euclid(7) as usize];
            anchor + f64::from(12 * octave) + f64::from(step)
        };
        let is_chord_tone = |degree: i32, chord: Chord| {
            let pc = (pitch(degree, chord) as i32).rem_euclid(12) as u8;
            chord.pitch_classes().contains(&pc)
        };
        let mut notes = Vec::new();
        let mut degree = 0i32;
        let last = self.beats.len().saturating_sub(1);
        let mut k = 0;
        while k < self.beats.len() {
            let t = self.beats[k];
            let chord = self.chord_at(t);
            if k == 0 || k == last {
                degree = if degree > 3 { 7 } else { 0 };
            } else if k % 2 == 0 {
                // Nearest chord tone, searching outwards (upwards first half of the time).
                let up_first = rng.random_bool(0.5);
                degree = (0..=3)
                    .flat_map(|d| if up_first { [d, -d] } else { [-d, d] })
                    .map(|d| degree + d)
                    .find(|&d| (-3..=9).contains(&d) && is_chord_tone(d, chord))
                    .unwrap_or(0);
            } else {
                const STEPS: [i32; 6] = [-2, -1, -1, 1, 1, 2];
                degree = (degree + STEPS[rng.random_range(0..STEPS.len())]).clamp(-3, 9);
            }
            let beats = if self.drums && k % 2 == 0 && k + 1 < last && rng.random_bool(0.25) {
                2
            } else {
                1
            };
            let length = if k == last {
                self.until_chord_end(t)
            } else {
                self.beat * beats as f64 * self.articulation()
            };
            notes.push(self.note(
                t,
                length,
                Sound::Pitch(pitch(degree, chord)),
                Self::velocity(0.4, rng),
            ));
            k += beats;
        }
        notes
    }

    /// Chord tones one per beat (root, third, fifth, third) an octave above the chords.
    fn arpeggio(&self, rng: &mut ChaCha8Rng) -> Vec<Note> {
        const PATTERN: [usize; 4] = [0, 1, 2, 1];
        self.beats
            .iter()
            .enumerate()
            .map(|(k, &t)| {
                let tones = Self::voicing(self.chord_at(t), false);
                let midi = tones[PATTERN[k % PATTERN.len()]] + 12.0;
                let length = (self.beat * self.articulation()).min(self.until_chord_end(t));
                self.note(t, length, Sound::Pitch(midi), Self::velocity(0.22, rng))
            })
            .collect()
    }

    /// Chord roots from C2 up: on every beat without drums and in rock and electronic, on
    /// beats 1 and 3 otherwise.
    fn bass(&self, rng: &mut ChaCha8Rng) -> Vec<Note> {
        let every_beat = !self.drums || matches!(self.genre, Genre::Rock | Genre::Electronic);
        let step = if every_beat { 1 } else { 2 };
        self.beats
            .iter()
            .step_by(step)
            .map(|&t| {
                let midi = in_octave_from(self.chord_at(t).root, 36);
                let length = (self.beat * step as f64 * 0.9).min(self.until_chord_end(t));
                self.note(t, length, Sound::Pitch(midi), Self::velocity(0.5, rng))
            })
            .collect()
    }

    /// The drum pattern of the genre: electronic has a kick on every beat and off-beat hats;
    /// rock has kick on 1 and 3, snare on 2 and 4 and eighth-note hats; the others the same
    /// with hats on the beats. The kick settles on the tonic between C1 and B1.
    pub(super) fn drums(&self, rng: &mut ChaCha8Rng) -> Vec<Note> {
        let kick = Sound::Kick(in_octave_from(self.key.tonic().index(), 24));
        let mut notes = Vec::new();
        let half = 0.5 * self.beat;
        for (k, &t) in self.beats.iter().enumerate() {
            let position = k % 4;
            if self.genre == Genre::Electronic || position % 2 == 0 {
                notes.push(self.note(t, half, kick, Self::velocity(0.9, rng)));
            }
            if position % 2 == 1 {
                notes.push(self.note(t, half, Sound::Snare, Self::velocity(0.6, rng)));
            }
            match self.genre {
                Genre::Electronic => {
                    notes.push(self.note(t + half, half, Sound::Hat, Self::velocity(0.45, rng)));
                }
                Genre::Rock => {
                    notes.push(self.note(t, half, Sound::Hat, Self::velocity(0.4, rng)));
                    notes.push(self.note(t + half, half, Sound::Hat, Self::velocity(0.25, rng)));
                }
                _ => notes.push(self.note(t, half, Sound::Hat, Self::velocity(0.35, rng))),
            }
        }
        notes
    }
}
