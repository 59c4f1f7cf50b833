//! The notes of each role over the chord timeline: melody, harmony textures, bass and drums.
//! Times here are in beats (the beat a listener taps); the composer converts them to seconds.

use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::ensemble::Texture;
use super::harmony::Chord;

/// A note in beats, before timing.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct BeatNote {
    pub key: i32,
    pub start: f64,
    pub length: f64,
    pub velocity: f64,
}

/// One chord of the timeline.
#[derive(Debug, Clone, Copy)]
pub(super) struct Slot {
    /// Start, in beats.
    pub start: f64,
    /// Length, in beats.
    pub length: f64,
    pub chord: Chord,
    /// The loudness here, as a MIDI velocity before accents.
    pub level: f64,
    /// Whether the slot is the last of its phrase (the melody rests on a long note).
    pub phrase_end: bool,
}

/// The metre as the composer needs it.
#[derive(Debug, Clone, Copy)]
pub(super) struct Metre {
    /// Tapped beats per bar (2 for 6/8).
    pub beats_per_bar: usize,
    /// Subdivisions per beat (2 for simple metres, 3 for compound).
    pub subdivisions: usize,
}

/// The MIDI key of pitch class `pc` nearest to `target`, within `range` when possible.
fn nearest(pc: i32, target: i32, range: (i32, i32)) -> i32 {
    let mut best = i32::MAX;
    let mut pick = target;
    for octave in -1..=11 {
        let key = pc.rem_euclid(12) + 12 * octave;
        let outside = if key < range.0 {
            range.0 - key
        } else if key > range.1 {
            key - range.1
        } else {
            0
        };
        let cost = (key - target).abs() + 24 * outside;
        if cost < best {
            best = cost;
            pick = key;
        }
    }
    pick
}

/// The voicing of `chord` in `voices` voices closest to `previous` (smooth voice leading):
/// every chord tone is kept, the root doubled when there are more voices than tones.
pub(super) fn voice_lead(chord: &Chord, previous: &[i32], range: (i32, i32)) -> Vec<i32> {
    let mut pcs = chord.pitch_classes();
    while pcs.len() < previous.len() {
        pcs.push(pcs[0]);
    }
    pcs.truncate(previous.len().max(1));
    let mut best: Option<(i32, Vec<i32>)> = None;
    permute(&mut pcs.clone(), 0, &mut |order| {
        let voicing: Vec<i32> = order
            .iter()
            .zip(previous)
            .map(|(&pc, &prev)| nearest(pc, prev, range))
            .collect();
        let cost: i32 = voicing
            .iter()
            .zip(previous)
            .map(|(a, b)| (a - b).abs())
            .sum();
        if best.as_ref().is_none_or(|b| cost < b.0) {
            best = Some((cost, voicing));
        }
    });
    let mut voicing = best.map(|b| b.1).unwrap_or_default();
    voicing.sort_unstable();
    voicing
}

fn permute(items: &mut Vec<i32>, k: usize, visit: &mut dyn FnMut(&[i32])) {
    if k == items.len() {
        visit(items);
        return;
    }
    for i in k..items.len() {
        items.swap(k, i);
        permute(items, k + 1, visit);
        items.swap(k, i);
    }
}

/// A harmony part over the timeline in the given texture.
pub(super) fn harmony(
    slots: &[Slot],
    texture: Texture,
    metre: Metre,
    range: (i32, i32),
    rng: &mut ChaCha8Rng,
) -> Vec<BeatNote> {
    let middle = (range.0 + range.1) / 2;
    let mut voicing = vec![middle - 5, middle, middle + 4];
    let sub = 1.0 / metre.subdivisions as f64;
    let mut out = Vec::new();
    for (index, slot) in slots.iter().enumerate() {
        voicing = voice_lead(&slot.chord, &voicing, range);
        // The final chord is held (the fermata), whatever the texture.
        let texture = if index + 1 == slots.len() {
            Texture::Sustained
        } else {
            texture
        };
        let level = slot.level - 10.0;
        let mut push = |key: i32, start: f64, length: f64, accent: f64| {
            out.push(BeatNote {
                key,
                start,
                length,
                velocity: level + accent,
            })
        };
        let beats = slot.length.round().max(1.0) as usize;
        match texture {
            Texture::Sustained => {
                for &key in &voicing {
                    push(key, slot.start, slot.length, 0.0);
                }
            }
            Texture::Block | Texture::Strum => {
                let strum = texture == Texture::Strum;
                for beat in 0..beats {
                    let start = slot.start + beat as f64;
                    let accent = if beat == 0 { 6.0 } else { 0.0 };
                    for (k, &key) in voicing.iter().enumerate() {
                        let offset = if strum { 0.02 * k as f64 } else { 0.0 };
                        push(key, start + offset, 0.9 - offset, accent);
                    }
                    if strum && rng.random_bool(0.4) {
                        // An upstroke on the off-beat.
                        for (k, &key) in voicing.iter().rev().enumerate() {
                            let offset = 0.02 * k as f64;
                            push(key, start + 0.5 + offset, 0.45 - offset, -8.0);
                        }
                    }
                }
            }
            Texture::Alberti | Texture::Arpeggio => {
                let pattern: Vec<usize> = if texture == Texture::Alberti {
                    vec![0, 2, 1, 2]
                } else {
                    let mut up: Vec<usize> = (0..voicing.len()).collect();
                    up.extend((1..voicing.len().saturating_sub(1)).rev());
                    up
                };
                let steps = (slot.length / sub).round() as usize;
                for step in 0..steps {
                    let index = pattern[step % pattern.len()].min(voicing.len() - 1);
                    let accent = if step % metre.subdivisions == 0 {
                        4.0
                    } else {
                        0.0
                    };
                    push(
                        voicing[index],
                        slot.start + step as f64 * sub,
                        sub * 1.5,
                        accent,
                    );
                }
            }
            Texture::AfterBeat => {
                for beat in 0..beats {
                    let in_bar = (slot.start + beat as f64).round() as usize % metre.beats_per_bar;
                    if metre.subdivisions == 3 {
                        // 6/8: the chord on the second and third eighth of each beat.
                        for s in 1..3 {
                            for &key in &voicing {
                                push(
                                    key,
                                    slot.start + beat as f64 + s as f64 * sub,
                                    sub * 0.9,
                                    0.0,
                                );
                            }
                        }
                    } else if in_bar != 0 {
                        for &key in &voicing {
                            push(key, slot.start + beat as f64, 0.6, 0.0);
                        }
                    }
                }
            }
        }
    }
    out
}

/// The bass: the root on each chord, the fifth half-way through long chords; a walking line
/// (a note every beat, approaching the next root by step) when `walking`.
pub(super) fn bass(slots: &[Slot], range: (i32, i32), walking: bool) -> Vec<BeatNote> {
    let mut out = Vec::new();
    let mut last = (range.0 + range.1) / 2 - 4;
    for (index, slot) in slots.iter().enumerate() {
        let root = nearest(slot.chord.root(), last, range);
        let beats = slot.length.round().max(1.0) as usize;
        let level = slot.level - 4.0;
        if walking && beats >= 2 && !slot.phrase_end {
            let next_root = slots
                .get(index + 1)
                .map(|s| nearest(s.chord.root(), root, range))
                .unwrap_or(root);
            let tones = slot.chord.pitch_classes();
            for beat in 0..beats {
                let key = if beat == 0 {
                    root
                } else if beat + 1 == beats {
                    // A chromatic approach to the next root.
                    next_root + if next_root > root { -1 } else { 1 }
                } else {
                    nearest(tones[beat % tones.len()], root + 3, range)
                };
                out.push(BeatNote {
                    key,
                    start: slot.start + beat as f64,
                    length: 0.95,
                    velocity: level + if beat == 0 { 6.0 } else { 0.0 },
                });
            }
        } else if beats >= 2 && !slot.phrase_end {
            let half = (beats / 2) as f64;
            let fifth = nearest(slot.chord.pitch_classes()[2], root + 5, range);
            out.push(BeatNote {
                key: root,
                start: slot.start,
                length: half * 0.95,
                velocity: level + 6.0,
            });
            out.push(BeatNote {
                key: fifth,
                start: slot.start + half,
                length: (slot.length - half) * 0.95,
                velocity: level,
            });
        } else {
            let last = index + 1 == slots.len();
            out.push(BeatNote {
                key: root,
                start: slot.start,
                length: slot.length * if last { 1.0 } else { 0.97 },
                velocity: level + 6.0,
            });
        }
        last = root;
    }
    out
}

/// General MIDI drum keys.
const KICK: i32 = 36;
const SNARE: i32 = 38;
const CLOSED_HAT: i32 = 42;
const PEDAL_HAT: i32 = 44;
const RIDE: i32 = 51;
const CRASH: i32 = 49;

/// A drum part: kick on the strong beats, snare on the back beats, hats or ride on the
/// subdivisions, a crash at each section start.
pub(super) fn drums(
    slots: &[Slot],
    metre: Metre,
    swing: bool,
    section_starts: &[f64],
    end: f64,
) -> Vec<BeatNote> {
    let level_at = |t: f64| {
        slots
            .iter()
            .rev()
            .find(|s| s.start <= t)
            .map(|s| s.level)
            .unwrap_or(70.0)
    };
    let mut out = Vec::new();
    let mut hit = |key, start: f64, velocity: f64| {
        if start < end {
            out.push(BeatNote {
                key,
                start,
                length: 0.1,
                velocity,
            })
        }
    };
    let beats = end.floor() as usize;
    for beat in 0..beats {
        let t = beat as f64;
        let level = level_at(t);
        let in_bar = beat % metre.beats_per_bar;
        let strong = in_bar == 0 || (metre.beats_per_bar == 4 && in_bar == 2);
        let back = match metre.beats_per_bar {
            4 => in_bar % 2 == 1,
            2 => in_bar == 1,
            _ => false,
        };
        if strong {
            hit(KICK, t, level + 4.0);
        }
        if back || (metre.beats_per_bar == 3 && in_bar > 0 && !swing) {
            hit(
                SNARE,
                t,
                level - if metre.beats_per_bar == 3 { 14.0 } else { 0.0 },
            );
        }
        if swing {
            hit(RIDE, t, level - 8.0);
            hit(RIDE, t + 2.0 / 3.0, level - 16.0);
            if back {
                hit(PEDAL_HAT, t, level - 10.0);
            }
        } else {
            for s in 0..metre.subdivisions {
                hit(
                    CLOSED_HAT,
                    t + s as f64 / metre.subdivisions as f64,
                    level - 12.0,
                );
            }
        }
    }
    for &start in section_starts {
        hit(CRASH, start, level_at(start));
    }
    out
}

/// The rhythm of one bar of melody, in subdivisions: varied note values that fill the bar.
fn bar_rhythm(metre: Metre, rng: &mut ChaCha8Rng) -> Vec<usize> {
    let mut out = Vec::new();
    let mut beat = 0;
    while beat < metre.beats_per_bar {
        let left = metre.beats_per_bar - beat;
        if metre.subdivisions == 3 {
            let cell: &[usize] = match rng.random_range(0..4) {
                0 => &[3],
                1 => &[2, 1],
                _ => &[1, 1, 1],
            };
            out.extend_from_slice(cell);
            beat += 1;
        } else if left >= 2 && rng.random_bool(0.25) {
            // A half note, or a dotted quarter and an eighth.
            if rng.random_bool(0.5) {
                out.push(4);
            } else {
                out.extend_from_slice(&[3, 1]);
            }
            beat += 2;
        } else {
            if rng.random_bool(0.5) {
                out.push(2);
            } else {
                out.extend_from_slice(&[1, 1]);
            }
            beat += 1;
        }
    }
    out
}

/// A melody over the slots: chord tones on the beats, scale steps between them, a long note
/// at each phrase end, within `range`.
pub(super) fn melody(
    slots: &[Slot],
    metre: Metre,
    range: (i32, i32),
    rng: &mut ChaCha8Rng,
) -> Vec<BeatNote> {
    let sub = 1.0 / metre.subdivisions as f64;
    let bar = metre.beats_per_bar as f64;
    let mut out = Vec::new();
    let mut current = (range.0 + range.1) / 2;
    let centre = current;
    for slot in slots {
        let first_bar = (slot.start / bar).floor();
        let bars = (slot.length / bar).ceil().max(1.0) as usize;
        let tones = slot.chord.pitch_classes();
        let scale = slot.chord.key_scale();
        if slot.phrase_end {
            // The cadence note: the nearest chord tone, held.
            let pc = if slot.chord.degree == 0 {
                tones[0]
            } else {
                tones[rng.random_range(0..2)]
            };
            current = nearest(pc, current, range);
            let last = std::ptr::eq(slot, &slots[slots.len() - 1]);
            out.push(BeatNote {
                key: current,
                start: slot.start,
                length: slot.length * if last { 1.0 } else { 0.95 },
                velocity: slot.level + 6.0,
            });
            continue;
        }
        let mut t = slot.start;
        let end = slot.start + slot.length;
        for _ in 0..bars {
            for units in bar_rhythm(metre, rng) {
                if t >= end - 1e-9 {
                    break;
                }
                let length = (units as f64 * sub).min(end - t);
                let on_beat = ((t - first_bar * bar) / 1.0).fract().abs() < 1e-6;
                // Drift back to the middle of the range.
                let direction =
                    if current > centre + 5 || (current >= centre - 5 && rng.random_bool(0.5)) {
                        -1
                    } else {
                        1
                    };
                current = if on_beat {
                    let target = current + direction * rng.random_range(0..=4);
                    let pc = tones[rng.random_range(0..tones.len())];
                    nearest(pc, target, range)
                } else {
                    step(current, direction, &scale, range)
                };
                out.push(BeatNote {
                    key: current,
                    start: t,
                    length: length * 0.92,
                    velocity: slot.level + 8.0 + if on_beat { 4.0 } else { 0.0 },
                });
                t += length;
            }
        }
    }
    out
}

/// The next scale tone above (`direction` 1) or below (-1) `key`, kept in `range`.
fn step(key: i32, direction: i32, scale: &[i32], range: (i32, i32)) -> i32 {
    let mut next = key;
    for _ in 0..3 {
        next += direction;
        if scale.contains(&next.rem_euclid(12)) {
            break;
        }
    }
    if next < range.0 || next > range.1 {
        step(key, -direction, scale, (range.0 - 12, range.1 + 12))
    } else {
        next
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use llark_music::Mode;

    #[test]
    fn voice_leading_moves_each_voice_as_little_as_possible() {
        let c = Chord {
            tonic: 0,
            mode: Mode::Major,
            degree: 0,
            seventh: false,
        };
        let f = Chord { degree: 3, ..c };
        let first = voice_lead(&c, &[60, 64, 67], (48, 79));
        assert_eq!(first, vec![60, 64, 67]);
        // C-E-G to F: C stays, E -> F, G -> A.
        assert_eq!(voice_lead(&f, &first, (48, 79)), vec![60, 65, 69]);
    }

    #[test]
    fn nearest_prefers_the_range() {
        assert_eq!(nearest(0, 60, (48, 72)), 60);
        assert_eq!(nearest(0, 90, (48, 72)), 72);
        assert_eq!(nearest(11, 40, (48, 72)), 59);
    }
}
