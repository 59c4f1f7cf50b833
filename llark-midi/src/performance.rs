//! A performance: timed notes on the sixteen MIDI channels and each channel's program.

use llark_music::Instrument;

use crate::error::{MidiError, Result};

/// The MIDI channel General MIDI reserves for drums (channel 10, index 9).
pub const DRUM_CHANNEL: u8 = 9;
/// The number of MIDI channels.
pub const CHANNELS: usize = 16;
/// The most notes a [`Performance`] holds (about an hour of dense music).
pub const MAX_NOTES: usize = 2_000_000;
/// The longest [`Performance`], in seconds.
pub const MAX_SECONDS: f64 = 3600.0;

/// One note: a key held on a channel from `start` to `end` seconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Note {
    /// MIDI channel, 0-15 ([`DRUM_CHANNEL`] plays General MIDI drums).
    pub channel: u8,
    /// MIDI key, 0-127 (60 is middle C; on the drum channel, the drum sound).
    pub key: u8,
    /// Velocity 1-127: how hard the note is struck.
    pub velocity: u8,
    /// Onset, in seconds from the start.
    pub start: f64,
    /// Release, in seconds from the start (after `start`).
    pub end: f64,
}

/// Timed notes and the program (General MIDI instrument, 0-127) of each channel.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Performance {
    /// The notes, in any order.
    pub notes: Vec<Note>,
    /// The program of each channel; `None` for a channel that plays nothing or the drums.
    pub programs: [Option<u8>; CHANNELS],
    /// Length in seconds (at least the last release).
    pub duration: f64,
}

impl Performance {
    /// Checks every note and the duration, naming the first fault.
    pub fn validate(&self) -> Result<()> {
        let invalid = |detail: String| {
            Err(MidiError::InvalidArgument {
                name: "performance",
                detail,
            })
        };
        if self.notes.len() > MAX_NOTES {
            return invalid(format!(
                "{} notes; at most {MAX_NOTES} are played",
                self.notes.len()
            ));
        }
        if !(self.duration.is_finite() && (0.0..=MAX_SECONDS).contains(&self.duration)) {
            return invalid(format!(
                "a duration of {} s is not within [0, {MAX_SECONDS}]",
                self.duration
            ));
        }
        if let Some(program) = self.programs.iter().flatten().find(|p| **p > 127) {
            return invalid(format!("program {program} is not a MIDI program (0-127)"));
        }
        for (index, note) in self.notes.iter().enumerate() {
            let fault = if usize::from(note.channel) >= CHANNELS {
                Some("its channel is not 0-15")
            } else if note.key > 127 {
                Some("its key is not 0-127")
            } else if !(1..=127).contains(&note.velocity) {
                Some("its velocity is not 1-127")
            } else if !(note.start.is_finite() && note.end.is_finite()) {
                Some("its times are not finite")
            } else if note.start < 0.0 || note.end <= note.start {
                Some("it does not start at or after 0 and end after its start")
            } else if note.end > self.duration + 1e-9 {
                Some("it ends after the performance")
            } else {
                None
            };
            if let Some(fault) = fault {
                return invalid(format!("note {index} ({note:?}): {fault}"));
            }
        }
        Ok(())
    }

    /// The channels that play at least one note, in order.
    pub fn active_channels(&self) -> Vec<u8> {
        let mut used = [false; CHANNELS];
        for note in &self.notes {
            if let Some(slot) = used.get_mut(usize::from(note.channel)) {
                *slot = true;
            }
        }
        (0..CHANNELS as u8)
            .filter(|&c| used[usize::from(c)])
            .collect()
    }

    /// The instruments a listener hears: each sounding channel's program by its listener name
    /// ([`crate::program_instrument`]; sound effects have none), and drums for the drum
    /// channel; in vocabulary order, without duplicates.
    pub fn instruments(&self) -> Vec<Instrument> {
        let mut heard: Vec<Instrument> = self
            .active_channels()
            .into_iter()
            .filter_map(|c| match c {
                DRUM_CHANNEL => Some(Instrument::Drums),
                _ => self.programs[usize::from(c)].and_then(crate::gm::program_instrument),
            })
            .collect();
        heard.sort();
        heard.dedup();
        heard
    }

    /// Every pitched note moved by `semitones` (drums unchanged). Notes pushed outside the MIDI
    /// range move by octaves back into it, so no note is lost.
    pub fn transposed(&self, semitones: i32) -> Performance {
        let mut out = self.clone();
        for note in out.notes.iter_mut().filter(|n| n.channel != DRUM_CHANNEL) {
            let mut key = i32::from(note.key) + semitones;
            while key > 127 {
                key -= 12;
            }
            while key < 0 {
                key += 12;
            }
            note.key = key as u8;
        }
        out
    }

    /// The same music played `factor` times faster (a factor of 1.1 raises the tempo by 10 %).
    pub fn faster(&self, factor: f64) -> Result<Performance> {
        if !(factor.is_finite() && factor > 0.0) {
            return Err(MidiError::InvalidArgument {
                name: "factor",
                detail: format!("{factor} is not a positive speed factor"),
            });
        }
        let mut out = self.clone();
        for note in &mut out.notes {
            note.start /= factor;
            note.end /= factor;
        }
        out.duration /= factor;
        Ok(out)
    }

    /// The part from `start` to `start + duration` seconds, times shifted to begin at 0: notes
    /// sounding at the cut are shortened to the window.
    pub fn window(&self, start: f64, duration: f64) -> Result<Performance> {
        if !(start.is_finite() && duration.is_finite() && start >= 0.0 && duration > 0.0) {
            return Err(MidiError::InvalidArgument {
                name: "window",
                detail: format!("start {start} s, duration {duration} s"),
            });
        }
        let end = start + duration;
        let notes = self
            .notes
            .iter()
            .filter(|n| n.end > start && n.start < end)
            .map(|n| Note {
                start: (n.start - start).max(0.0),
                end: n.end.min(end) - start,
                ..*n
            })
            .filter(|n| n.end > n.start)
            .collect();
        Ok(Performance {
            notes,
            programs: self.programs,
            duration: duration.min((self.duration - start).max(0.0)),
        })
    }

    /// Puts `program` on every pitched channel that plays `from`.
    pub fn substitute(&mut self, from: u8, program: u8) {
        for slot in self.programs.iter_mut().flatten() {
            if *slot == from {
                *slot = program;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn note(channel: u8, key: u8, start: f64, end: f64) -> Note {
        Note {
            channel,
            key,
            velocity: 80,
            start,
            end,
        }
    }

    fn sample() -> Performance {
        let mut programs = [None; CHANNELS];
        programs[0] = Some(0);
        Performance {
            notes: vec![
                note(0, 60, 0.0, 1.0),
                note(0, 125, 1.0, 2.0),
                note(DRUM_CHANNEL, 36, 0.0, 0.1),
            ],
            programs,
            duration: 2.0,
        }
    }

    #[test]
    fn transposing_keeps_drums_and_folds_into_range() {
        let up = sample().transposed(5);
        assert_eq!(up.notes[0].key, 65);
        assert_eq!(up.notes[1].key, 118);
        assert_eq!(up.notes[2].key, 36);
        assert_eq!(sample().transposed(-61).notes[0].key, 11);
    }

    #[test]
    fn windows_cut_notes_at_their_edges() {
        let w = sample().window(0.5, 1.0).unwrap();
        assert_eq!(w.notes.len(), 2);
        assert_eq!((w.notes[0].start, w.notes[0].end), (0.0, 0.5));
        assert_eq!((w.notes[1].start, w.notes[1].end), (0.5, 1.0));
        assert_eq!(w.duration, 1.0);
        w.validate().unwrap();
    }

    #[test]
    fn instruments_are_the_sounding_channels() {
        let mut p = sample();
        p.programs[3] = Some(42); // a cello that never plays
        assert_eq!(p.instruments(), vec![Instrument::Piano, Instrument::Drums]);
        p.programs[0] = Some(122); // a sound effect has no name
        assert_eq!(p.instruments(), vec![Instrument::Drums]);
    }

    #[test]
    fn faster_scales_every_time() {
        let f = sample().faster(2.0).unwrap();
        assert_eq!(f.duration, 1.0);
        assert_eq!(f.notes[1].start, 0.5);
        assert!(sample().faster(0.0).is_err());
        assert!(sample().faster(f64::NAN).is_err());
    }

    #[test]
    fn validation_names_the_faulty_note() {
        let mut bad = sample();
        bad.notes[1].end = 0.5;
        let message = bad.validate().unwrap_err().to_string();
        assert!(message.contains("note 1"), "{message}");
        let mut late = sample();
        late.notes[0].end = 3.0;
        assert!(late
            .validate()
            .unwrap_err()
            .to_string()
            .contains("ends after"));
        let mut loud = sample();
        loud.notes[0].velocity = 0;
        assert!(loud.validate().is_err());
        sample().validate().unwrap();
    }
}
