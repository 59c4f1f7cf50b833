//! Standard MIDI files (`.mid`) read into a [`Performance`] and written from one.
//!
//! Reading follows every tempo change (from any track) to place notes in seconds, pairs each
//! note-on with the next note-off of the same key on the same channel (a note-on of velocity 0
//! is a note-off), ends notes still held at the end of their track, and takes each channel's
//! first program change (program 0, piano, when there is none). Formats 0 and 1 are read, with
//! metrical or SMPTE timing; format 2 (independent sequences) is refused.

use std::collections::{HashMap, VecDeque};
use std::path::Path;

use midly::num::{u15, u24, u28, u4, u7};
use midly::{Format, Header, MetaMessage, MidiMessage, Smf, Timing, TrackEvent, TrackEventKind};

use crate::error::{MidiError, Result};
use crate::performance::{Note, Performance, CHANNELS, DRUM_CHANNEL, MAX_NOTES, MAX_SECONDS};

/// The largest `.mid` file read, in bytes.
pub const MAX_MIDI_BYTES: u64 = 16 << 20;
/// Ticks per quarter note in written files.
pub const WRITTEN_TICKS_PER_QUARTER: u16 = 480;

/// A time signature from a file: `numerator / denominator` from `time` seconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TimeSignature {
    /// Seconds from the start.
    pub time: f64,
    /// Beats per bar as written (the 6 of 6/8).
    pub numerator: u8,
    /// The written beat unit (the 8 of 6/8).
    pub denominator: u8,
}

/// A tempo change from a file: `quarter_bpm` quarter notes per minute from `time` seconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TempoChange {
    /// Seconds from the start.
    pub time: f64,
    /// Quarter notes per minute.
    pub quarter_bpm: f64,
}

/// What a MIDI file holds: the performance and the tempo and metre it states.
#[derive(Debug, Clone, PartialEq)]
pub struct MidiFile {
    /// The notes in seconds and each channel's program.
    pub performance: Performance,
    /// Every tempo change, in time order (the first at 0 s: 120 quarter notes per minute
    /// when the file states none).
    pub tempi: Vec<TempoChange>,
    /// Every time signature, in time order (possibly none).
    pub time_signatures: Vec<TimeSignature>,
}

/// Reads a `.mid` file.
pub fn read_midi(path: impl AsRef<Path>) -> Result<MidiFile> {
    let path = path.as_ref();
    let io = |source| MidiError::Io {
        path: path.to_path_buf(),
        source,
    };
    let bytes = std::fs::metadata(path).map_err(io)?.len();
    if bytes > MAX_MIDI_BYTES {
        return Err(MidiError::TooLarge {
            origin: path.display().to_string(),
            bytes,
            limit: MAX_MIDI_BYTES,
        });
    }
    let data = std::fs::read(path).map_err(io)?;
    parse_midi(&data, &path.display().to_string())
}

/// Parses the bytes of a `.mid` file; `origin` names it in errors.
pub fn parse_midi(data: &[u8], origin: &str) -> Result<MidiFile> {
    let fail = |detail: String| MidiError::Midi {
        origin: origin.to_owned(),
        detail,
    };
    if data.len() as u64 > MAX_MIDI_BYTES {
        return Err(MidiError::TooLarge {
            origin: origin.to_owned(),
            bytes: data.len() as u64,
            limit: MAX_MIDI_BYTES,
        });
    }
    let smf = Smf::parse(data).map_err(|e| fail(e.to_string()))?;
    if smf.header.format == Format::Sequential {
        return Err(fail(
            "format 2 (independent sequences) is not played; convert it to format 1".into(),
        ));
    }
    let clock = Clock::new(smf.header.timing, &smf.tracks);
    let mut programs = [None; CHANNELS];
    let mut notes = Vec::new();
    let mut time_signatures = Vec::new();
    for track in &smf.tracks {
        let mut tick: u64 = 0;
        // Held notes per (channel, key): onset seconds and velocity, oldest first (a map, so
        // that a file of many empty tracks costs nothing per track).
        let mut held: HashMap<(u8, u8), VecDeque<(f64, u8)>> = HashMap::new();
        for event in track {
            tick += u64::from(event.delta.as_int());
            let now = clock.seconds(tick);
            if now > MAX_SECONDS {
                return Err(fail(format!(
                    "events after {MAX_SECONDS} s (tick {tick}) are beyond what is played"
                )));
            }
            match event.kind {
                TrackEventKind::Midi { channel, message } => {
                    let channel = channel.as_int();
                    match message {
                        MidiMessage::ProgramChange { program } => {
                            let slot = &mut programs[usize::from(channel)];
                            if slot.is_none() && channel != DRUM_CHANNEL {
                                *slot = Some(program.as_int());
                            }
                        }
                        MidiMessage::NoteOn { key, vel } if vel.as_int() > 0 => {
                            held.entry((channel, key.as_int()))
                                .or_default()
                                .push_back((now, vel.as_int()));
                        }
                        MidiMessage::NoteOn { key, .. } | MidiMessage::NoteOff { key, .. } => {
                            let onset = held
                                .get_mut(&(channel, key.as_int()))
                                .and_then(VecDeque::pop_front);
                            if let Some((start, velocity)) = onset {
                                push_note(&mut notes, channel, key.as_int(), velocity, start, now)
                                    .map_err(&fail)?;
                            }
                        }
                        _ => {}
                    }
                }
                TrackEventKind::Meta(MetaMessage::TimeSignature(numerator, power, _, _))
                    if power <= 6 && numerator > 0 =>
                {
                    time_signatures.push(TimeSignature {
                        time: now,
                        numerator,
                        denominator: 1 << power,
                    });
                }
                _ => {}
            }
        }
        let end = clock.seconds(tick);
        // Notes still held end with their track, in a fixed order.
        let mut open: Vec<_> = held.into_iter().collect();
        open.sort_by_key(|entry| entry.0);
        for ((channel, key), onsets) in open {
            for (start, velocity) in onsets {
                push_note(&mut notes, channel, key, velocity, start, end).map_err(&fail)?;
            }
        }
    }
    for channel in (0..CHANNELS as u8).filter(|&c| c != DRUM_CHANNEL) {
        if notes.iter().any(|n| n.channel == channel) {
            programs[usize::from(channel)].get_or_insert(0);
        }
    }
    time_signatures.sort_by(|a, b| a.time.total_cmp(&b.time));
    let duration = notes.iter().map(|n| n.end).fold(0.0, f64::max);
    let performance = Performance {
        notes,
        programs,
        duration,
    };
    performance.validate().map_err(|e| fail(e.to_string()))?;
    Ok(MidiFile {
        performance,
        tempi: clock.tempo_changes(),
        time_signatures,
    })
}

/// Adds a note with positive length (zero-length notes are dropped: nothing sounds).
fn push_note(
    notes: &mut Vec<Note>,
    channel: u8,
    key: u8,
    velocity: u8,
    start: f64,
    end: f64,
) -> std::result::Result<(), String> {
    if end > start {
        if notes.len() >= MAX_NOTES {
            return Err(format!("more than {MAX_NOTES} notes"));
        }
        notes.push(Note {
            channel,
            key,
            velocity,
            start,
            end,
        });
    }
    Ok(())
}

/// Tick to seconds: the tempo map of every track, merged.
struct Clock {
    /// `(tick, seconds at that tick, seconds per tick from there)`, by tick.
    segments: Vec<(u64, f64, f64)>,
    /// Ticks per quarter note (metrical timing) for reporting tempi.
    ticks_per_quarter: Option<f64>,
}

impl Clock {
    fn new(timing: Timing, tracks: &[Vec<TrackEvent<'_>>]) -> Clock {
        match timing {
            Timing::Timecode(fps, subframes) => {
                let per_second = f64::from(fps.as_f32()) * f64::from(subframes.max(1));
                Clock {
                    segments: vec![(0, 0.0, 1.0 / per_second)],
                    ticks_per_quarter: None,
                }
            }
            Timing::Metrical(ticks) => {
                let per_quarter = f64::from(ticks.as_int().max(1));
                let mut changes: Vec<(u64, u32)> = Vec::new();
                for track in tracks {
                    let mut tick = 0u64;
                    for event in track {
                        tick += u64::from(event.delta.as_int());
                        if let TrackEventKind::Meta(MetaMessage::Tempo(micros)) = event.kind {
                            changes.push((tick, micros.as_int().max(1)));
                        }
                    }
                }
                changes.sort_by_key(|c| c.0);
                let mut segments = vec![(0u64, 0.0, 0.5 / per_quarter)];
                for (tick, micros) in changes {
                    let &(last_tick, last_seconds, per_tick) =
                        segments.last().unwrap_or(&(0, 0.0, 0.0));
                    let seconds = last_seconds + (tick - last_tick) as f64 * per_tick;
                    let per_tick = f64::from(micros) * 1e-6 / per_quarter;
                    if tick == last_tick {
                        segments.pop();
                    }
                    segments.push((tick, seconds, per_tick));
                }
                Clock {
                    segments,
                    ticks_per_quarter: Some(per_quarter),
                }
            }
        }
    }

    fn seconds(&self, tick: u64) -> f64 {
        let index = self
            .segments
            .partition_point(|s| s.0 <= tick)
            .saturating_sub(1);
        let (start, seconds, per_tick) = self.segments[index];
        seconds + (tick - start) as f64 * per_tick
    }

    fn tempo_changes(&self) -> Vec<TempoChange> {
        let per_quarter = self.ticks_per_quarter.unwrap_or(0.0);
        self.segments
            .iter()
            .map(|&(_, time, per_tick)| TempoChange {
                time,
                quarter_bpm: if per_quarter > 0.0 {
                    60.0 / (per_tick * per_quarter)
                } else {
                    120.0
                },
            })
            .collect()
    }
}

/// The bytes of a format-0 `.mid` file that plays `performance` at a constant `quarter_bpm`
/// (which only sets how seconds map to beats in the file: the notes keep their times) with
/// `time_signature` (`(numerator, denominator)`, the denominator a power of two).
pub fn midi_bytes(
    performance: &Performance,
    quarter_bpm: f64,
    time_signature: (u8, u8),
) -> Result<Vec<u8>> {
    performance.validate()?;
    let (numerator, denominator) = time_signature;
    if !(quarter_bpm.is_finite() && (4.0..=1000.0).contains(&quarter_bpm)) {
        return Err(MidiError::InvalidArgument {
            name: "quarter_bpm",
            detail: format!("{quarter_bpm} is not within [4, 1000]"),
        });
    }
    if numerator == 0 || !denominator.is_power_of_two() || denominator > 64 {
        return Err(MidiError::InvalidArgument {
            name: "time_signature",
            detail: format!("{numerator}/{denominator}"),
        });
    }
    let ticks_per_second = quarter_bpm / 60.0 * f64::from(WRITTEN_TICKS_PER_QUARTER);
    let tick = |seconds: f64| (seconds * ticks_per_second).round() as u64;
    // (tick, order, event): at one tick, releases come before onsets.
    let mut timed: Vec<(u64, u8, TrackEventKind<'static>)> = Vec::new();
    let micros = (60e6 / quarter_bpm).round() as u32;
    timed.push((
        0,
        0,
        TrackEventKind::Meta(MetaMessage::Tempo(u24::new(micros))),
    ));
    timed.push((
        0,
        0,
        TrackEventKind::Meta(MetaMessage::TimeSignature(
            numerator,
            denominator.trailing_zeros() as u8,
            24,
            8,
        )),
    ));
    for (channel, program) in performance.programs.iter().enumerate() {
        if let Some(program) = program {
            timed.push((
                0,
                1,
                TrackEventKind::Midi {
                    channel: u4::new(channel as u8),
                    message: MidiMessage::ProgramChange {
                        program: u7::new(*program),
                    },
                },
            ));
        }
    }
    for note in &performance.notes {
        let channel = u4::new(note.channel);
        let key = u7::new(note.key);
        let (on, off) = (tick(note.start), tick(note.end).max(tick(note.start) + 1));
        timed.push((
            on,
            3,
            TrackEventKind::Midi {
                channel,
                message: MidiMessage::NoteOn {
                    key,
                    vel: u7::new(note.velocity),
                },
            },
        ));
        timed.push((
            off,
            2,
            TrackEventKind::Midi {
                channel,
                message: MidiMessage::NoteOff {
                    key,
                    vel: u7::new(64),
                },
            },
        ));
    }
    timed.sort_by_key(|t| (t.0, t.1));
    let mut track = Vec::with_capacity(timed.len() + 1);
    let mut last = 0u64;
    for (at, _, kind) in timed {
        track.push(TrackEvent {
            delta: u28::new((at - last).min(u64::from(u28::max_value().as_int())) as u32),
            kind,
        });
        last = at;
    }
    let end = tick(performance.duration).saturating_sub(last);
    track.push(TrackEvent {
        delta: u28::new(end.min(u64::from(u28::max_value().as_int())) as u32),
        kind: TrackEventKind::Meta(MetaMessage::EndOfTrack),
    });
    let mut smf = Smf::new(Header::new(
        Format::SingleTrack,
        Timing::Metrical(u15::new(WRITTEN_TICKS_PER_QUARTER)),
    ));
    smf.tracks.push(track);
    let mut bytes = Vec::new();
    smf.write_std(&mut bytes).map_err(|e| MidiError::Render {
        detail: format!("encoding the MIDI file: {e}"),
    })?;
    Ok(bytes)
}

/// Writes [`midi_bytes`] to `path` atomically.
pub fn write_midi(
    path: impl AsRef<Path>,
    performance: &Performance,
    quarter_bpm: f64,
    time_signature: (u8, u8),
) -> Result<()> {
    let bytes = midi_bytes(performance, quarter_bpm, time_signature)?;
    llark_tensors::write_bytes_atomic(path, &bytes)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn performance() -> Performance {
        let mut programs = [None; CHANNELS];
        programs[0] = Some(40);
        programs[1] = Some(42);
        let note = |channel, key, start, end| Note {
            channel,
            key,
            velocity: 90,
            start,
            end,
        };
        Performance {
            notes: vec![
                note(0, 76, 0.0, 0.5),
                note(0, 76, 0.5, 1.0),
                note(1, 48, 0.0, 1.0),
                note(DRUM_CHANNEL, 42, 0.25, 0.3),
            ],
            programs,
            duration: 1.5,
        }
    }

    #[test]
    fn a_written_file_reads_back_to_the_same_notes() {
        let original = performance();
        let bytes = midi_bytes(&original, 100.0, (6, 8)).unwrap();
        let file = parse_midi(&bytes, "memory").unwrap();
        let mut read = file.performance.notes.clone();
        let mut expected = original.notes.clone();
        for list in [&mut read, &mut expected] {
            list.sort_by(|a, b| {
                (a.channel, a.start.to_bits()).cmp(&(b.channel, b.start.to_bits()))
            });
        }
        assert_eq!(read.len(), expected.len());
        for (r, e) in read.iter().zip(&expected) {
            assert_eq!(
                (r.channel, r.key, r.velocity),
                (e.channel, e.key, e.velocity)
            );
            assert!(
                (r.start - e.start).abs() < 2e-3 && (r.end - e.end).abs() < 2e-3,
                "{r:?} {e:?}"
            );
        }
        assert_eq!(file.performance.programs, original.programs);
        assert!((file.tempi[0].quarter_bpm - 100.0).abs() < 1e-3);
        assert_eq!(
            (
                file.time_signatures[0].numerator,
                file.time_signatures[0].denominator
            ),
            (6, 8)
        );
        // Writing is deterministic.
        assert_eq!(bytes, midi_bytes(&original, 100.0, (6, 8)).unwrap());
    }

    #[test]
    fn tempo_changes_move_later_notes() {
        // Two quarter notes at 120 qpm, then a change to 60 qpm: the third starts at 1 s and
        // lasts 1 s.
        let tpq = 96u16;
        let on = |key| TrackEventKind::Midi {
            channel: u4::new(0),
            message: MidiMessage::NoteOn {
                key: u7::new(key),
                vel: u7::new(100),
            },
        };
        let off = |key| TrackEventKind::Midi {
            channel: u4::new(0),
            message: MidiMessage::NoteOn {
                key: u7::new(key),
                vel: u7::new(0),
            },
        };
        let event = |delta: u32, kind| TrackEvent {
            delta: u28::new(delta),
            kind,
        };
        let q = u32::from(tpq);
        let track = vec![
            event(0, on(60)),
            event(q, off(60)),
            event(0, on(62)),
            event(q, off(62)),
            event(
                0,
                TrackEventKind::Meta(MetaMessage::Tempo(u24::new(1_000_000))),
            ),
            event(0, on(64)),
            event(q, off(64)),
        ];
        let mut smf = Smf::new(Header::new(
            Format::SingleTrack,
            Timing::Metrical(u15::new(tpq)),
        ));
        smf.tracks.push(track);
        let mut bytes = Vec::new();
        smf.write_std(&mut bytes).unwrap();
        let file = parse_midi(&bytes, "memory").unwrap();
        let notes = &file.performance.notes;
        assert_eq!(notes.len(), 3);
        assert!((notes[2].start - 1.0).abs() < 1e-9 && (notes[2].end - 2.0).abs() < 1e-9);
        assert_eq!(file.performance.programs[0], Some(0));
        assert_eq!(file.tempi.len(), 2);
        assert!((file.tempi[1].quarter_bpm - 60.0).abs() < 1e-9);
    }

    #[test]
    fn malformed_files_are_refused_with_their_origin() {
        for data in [&b""[..], b"MThd", b"RIFF\0\0\0\0WAVE", &[0xFF; 64]] {
            let message = parse_midi(data, "bad.mid").unwrap_err().to_string();
            assert!(message.contains("bad.mid"), "{message}");
        }
        let mut truncated = midi_bytes(&performance(), 120.0, (4, 4)).unwrap();
        truncated.truncate(truncated.len() / 2);
        // midly reads a truncated track leniently or refuses it; it never panics.
        let _ = parse_midi(&truncated, "short.mid");
    }

    #[test]
    fn writing_refuses_bad_arguments() {
        assert!(midi_bytes(&performance(), 0.0, (4, 4)).is_err());
        assert!(midi_bytes(&performance(), 120.0, (4, 3)).is_err());
        assert!(midi_bytes(&performance(), 120.0, (0, 4)).is_err());
    }
}
