//! Rendering a [`Performance`] to audio through a SoundFont (SF2) synthesizer.
//!
//! The synthesizer is `rustysynth` (pure Rust, SF2). Reading a SoundFont is bounded
//! ([`MAX_SOUNDFONT_BYTES`]) and a malformed file is a typed error, never a crash: the parser
//! runs behind an unwind guard because some malformed files make it panic.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use llark_audio::Audio;
use rustysynth::{SoundFont as Sf2, Synthesizer, SynthesizerSettings};

use crate::error::{MidiError, Result};
use crate::performance::{Performance, CHANNELS, DRUM_CHANNEL};

/// The largest SoundFont read, in bytes (1 GiB).
pub const MAX_SOUNDFONT_BYTES: u64 = 1 << 30;

/// The SoundFont this crate ships for training and demos: TimGM6mb (GPL-2, by Tim Brechbill;
/// see `assets/soundfonts/README.md`), relative to the workspace root.
pub const TRAINING_SOUNDFONT: &str = "assets/soundfonts/TimGM6mb.sf2";
/// A second shipped General MIDI SoundFont, csound's `sf_GMbank.sf2` (LGPL-2.1), kept out of
/// training so that held-out music sounds different from anything trained on.
pub const HELD_OUT_SOUNDFONT: &str = "assets/soundfonts/sf_GMbank.sf2";

/// The path of a shipped SoundFont (one of [`TRAINING_SOUNDFONT`], [`HELD_OUT_SOUNDFONT`]) in
/// this source tree.
pub fn shipped(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(relative)
}

/// How a performance is rendered.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RenderOptions {
    /// Output sample rate in Hz (16,000-192,000).
    pub sample_rate: u32,
    /// The synthesizer's reverb and chorus.
    pub effects: bool,
    /// Seconds rendered after the performance's end, so releases and reverb ring out.
    pub tail_seconds: f64,
    /// Every channel tuned this many cents away from concert pitch (A4 = 440 Hz), within
    /// [`MAX_DETUNE_CENTS`] either way: a band tuned a little sharp or flat. Sent as a pitch
    /// bend at the start (General MIDI's default bend range, two semitones).
    pub detune_cents: f64,
}

/// The largest [`RenderOptions::detune_cents`] either way: a semitone.
pub const MAX_DETUNE_CENTS: f64 = 100.0;

/// General MIDI's default pitch-bend range, cents either way.
const BEND_RANGE_CENTS: f64 = 200.0;

impl Default for RenderOptions {
    fn default() -> Self {
        RenderOptions {
            sample_rate: llark_audio::LLARK_SAMPLE_RATE,
            effects: true,
            tail_seconds: 0.0,
            detune_cents: 0.0,
        }
    }
}

/// A loaded SoundFont, cheap to clone.
#[derive(Clone)]
pub struct SoundFont {
    font: Arc<Sf2>,
    name: String,
}

impl std::fmt::Debug for SoundFont {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SoundFont")
            .field("name", &self.name)
            .field("presets", &self.font.get_presets().len())
            .finish()
    }
}

impl SoundFont {
    /// Reads an `.sf2` file.
    pub fn load(path: impl AsRef<Path>) -> Result<SoundFont> {
        let path = path.as_ref();
        let io = |source| MidiError::Io {
            path: path.to_path_buf(),
            source,
        };
        let bytes = std::fs::metadata(path).map_err(io)?.len();
        let origin = path.display().to_string();
        if bytes > MAX_SOUNDFONT_BYTES {
            return Err(MidiError::TooLarge {
                origin,
                bytes,
                limit: MAX_SOUNDFONT_BYTES,
            });
        }
        let data = std::fs::read(path).map_err(io)?;
        let name = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| origin.clone());
        Self::from_bytes(&data, &origin).map(|font| SoundFont { name, ..font })
    }

    /// Parses the bytes of an `.sf2` file; `origin` names it in errors.
    pub fn from_bytes(data: &[u8], origin: &str) -> Result<SoundFont> {
        let fail = |detail: String| MidiError::SoundFont {
            origin: origin.to_owned(),
            detail,
        };
        if data.len() as u64 > MAX_SOUNDFONT_BYTES {
            return Err(MidiError::TooLarge {
                origin: origin.to_owned(),
                bytes: data.len() as u64,
                limit: MAX_SOUNDFONT_BYTES,
            });
        }
        let parsed = catch_unwind(|| Sf2::new(&mut std::io::Cursor::new(data)))
            .map_err(|_| fail("the SoundFont parser rejected a malformed structure".into()))?
            .map_err(|e| fail(e.to_string()))?;
        if parsed.get_presets().is_empty() {
            return Err(fail("it has no presets".into()));
        }
        Ok(SoundFont {
            font: Arc::new(parsed),
            name: origin.to_owned(),
        })
    }

    /// The file's stem (`"TimGM6mb"`), or the origin given to [`Self::from_bytes`].
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether the font has a preset for General MIDI program `program` in bank 0.
    pub fn has_program(&self, program: u8) -> bool {
        self.font
            .get_presets()
            .iter()
            .any(|p| p.get_bank_number() == 0 && p.get_patch_number() == i32::from(program))
    }

    /// Renders `performance` to mono audio (the mean of the synthesizer's two channels),
    /// `performance.duration + options.tail_seconds` long, not normalised.
    pub fn render(&self, performance: &Performance, options: &RenderOptions) -> Result<Audio> {
        performance.validate()?;
        if !(options.tail_seconds.is_finite() && (0.0..=60.0).contains(&options.tail_seconds)) {
            return Err(MidiError::InvalidArgument {
                name: "tail_seconds",
                detail: format!("{} is not within [0, 60]", options.tail_seconds),
            });
        }
        if !(options.detune_cents.is_finite() && options.detune_cents.abs() <= MAX_DETUNE_CENTS) {
            return Err(MidiError::InvalidArgument {
                name: "detune_cents",
                detail: format!(
                    "{} is not within [-{MAX_DETUNE_CENTS}, {MAX_DETUNE_CENTS}]",
                    options.detune_cents
                ),
            });
        }
        let rate = options.sample_rate;
        let mut settings = SynthesizerSettings::new(rate as i32);
        settings.enable_reverb_and_chorus = options.effects;
        settings.maximum_polyphony = 128;
        let mut synth = Synthesizer::new(&self.font, &settings).map_err(|e| MidiError::Render {
            detail: e.to_string(),
        })?;
        let total =
            ((performance.duration + options.tail_seconds) * f64::from(rate)).round() as usize;
        let events = schedule(performance, rate);
        let samples = catch_unwind(AssertUnwindSafe(|| {
            play(
                &mut synth,
                performance,
                options.detune_cents,
                &events,
                total,
            )
        }))
        .map_err(|_| MidiError::Render {
            detail: format!("the synthesizer failed on a preset of {}", self.name),
        })?;
        Ok(Audio::new(samples, rate)?)
    }
}

/// A note-on (`velocity > 0`) or note-off at a sample position.
#[derive(Debug, Clone, Copy)]
struct Event {
    at: usize,
    channel: u8,
    key: u8,
    velocity: u8,
}

/// Every note's onset and release in sample positions, in time order (releases first at a tie,
/// so a repeated key sounds again).
fn schedule(performance: &Performance, rate: u32) -> Vec<Event> {
    let position = |t: f64| (t * f64::from(rate)).round() as usize;
    let mut events: Vec<Event> = performance
        .notes
        .iter()
        .flat_map(|n| {
            let on = position(n.start);
            let off = position(n.end).max(on + 1);
            [
                Event {
                    at: on,
                    channel: n.channel,
                    key: n.key,
                    velocity: n.velocity,
                },
                Event {
                    at: off,
                    channel: n.channel,
                    key: n.key,
                    velocity: 0,
                },
            ]
        })
        .collect();
    events.sort_by_key(|e| (e.at, e.velocity > 0));
    events
}

/// The 14-bit pitch-bend value (centre 8,192) that tunes a channel `cents` away, as the
/// message's two 7-bit data bytes (least significant first).
fn pitch_bend(cents: f64) -> (i32, i32) {
    let value = (8192.0 + cents / BEND_RANGE_CENTS * 8192.0)
        .round()
        .clamp(0.0, 16383.0) as i32;
    (value & 0x7F, value >> 7)
}

fn play(
    synth: &mut Synthesizer,
    performance: &Performance,
    detune_cents: f64,
    events: &[Event],
    total: usize,
) -> Vec<f32> {
    const PROGRAM_CHANGE: i32 = 0xC0;
    const PITCH_BEND: i32 = 0xE0;
    for channel in 0..CHANNELS {
        if channel != usize::from(DRUM_CHANNEL) {
            let program = performance.programs[channel].unwrap_or(0);
            synth.process_midi_message(channel as i32, PROGRAM_CHANGE, i32::from(program), 0);
        }
        if detune_cents != 0.0 {
            let (low, high) = pitch_bend(detune_cents);
            synth.process_midi_message(channel as i32, PITCH_BEND, low, high);
        }
    }
    let mut left = vec![0.0f32; total];
    let mut right = vec![0.0f32; total];
    let mut done = 0;
    for event in events.iter().chain(std::iter::once(&Event {
        at: total,
        channel: 0,
        key: 0,
        velocity: 0,
    })) {
        let at = event.at.min(total);
        if at > done {
            synth.render(&mut left[done..at], &mut right[done..at]);
            done = at;
        }
        if event.at >= total {
            break;
        }
        let (channel, key) = (i32::from(event.channel), i32::from(event.key));
        if event.velocity > 0 {
            synth.note_on(channel, key, i32::from(event.velocity));
        } else {
            synth.note_off(channel, key);
        }
    }
    left.iter()
        .zip(&right)
        .map(|(l, r)| 0.5 * (l + r))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::performance::Note;

    #[test]
    fn malformed_soundfonts_are_typed_errors() {
        for data in [&b""[..], b"RIFF\x04\0\0\0sfbk", &[0u8; 1000]] {
            let message = SoundFont::from_bytes(data, "bad.sf2")
                .unwrap_err()
                .to_string();
            assert!(message.contains("bad.sf2"), "{message}");
        }
        assert!(matches!(
            SoundFont::load("/nonexistent/font.sf2"),
            Err(MidiError::Io { .. })
        ));
    }

    #[test]
    fn pitch_bends_span_the_default_range() {
        assert_eq!(pitch_bend(0.0), (0, 64));
        assert_eq!(pitch_bend(-200.0), (0, 0));
        assert_eq!(pitch_bend(200.0), (127, 127));
        // +50 cents: a quarter of the upper range, 8192 + 2048.
        assert_eq!(pitch_bend(50.0), (10240 & 0x7F, 10240 >> 7));
    }

    #[test]
    fn events_are_in_time_order_with_releases_first() {
        let note = |key, start, end| Note {
            channel: 0,
            key,
            velocity: 100,
            start,
            end,
        };
        let performance = Performance {
            notes: vec![note(62, 0.5, 1.0), note(60, 0.0, 0.5)],
            programs: [None; CHANNELS],
            duration: 1.0,
        };
        let events = schedule(&performance, 1000);
        let order: Vec<(usize, u8, u8)> =
            events.iter().map(|e| (e.at, e.key, e.velocity)).collect();
        assert_eq!(
            order,
            vec![(0, 60, 100), (500, 60, 0), (500, 62, 100), (1000, 62, 0)]
        );
    }
}
