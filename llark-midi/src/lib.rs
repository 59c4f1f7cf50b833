//! Music as note events, for training and testing LLark on real instruments and real
//! compositions: Standard MIDI files ([`read_midi`], [`write_midi`]), General MIDI programs as a
//! listener names them ([`program_instrument`]), and rendering through SoundFonts
//! ([`SoundFont`]).
//!
//! ```no_run
//! use llark_midi::{read_midi, RenderOptions, SoundFont};
//!
//! # fn main() -> Result<(), llark_midi::MidiError> {
//! let font = SoundFont::load("assets/soundfonts/TimGM6mb.sf2")?;
//! let file = read_midi("piece.mid")?;
//! let audio = font.render(&file.performance, &RenderOptions::default())?;
//! println!("{:.1} s", audio.duration_seconds());
//! # Ok(())
//! # }
//! ```
#![warn(missing_docs)]

pub mod compose;
pub mod corpus;
mod error;
mod gm;
mod performance;
mod smf;
mod soundfont;

pub use corpus::{shipped_corpus, Corpus, CorpusPart, CorpusPiece, COMPOSITIONS_DIR};
pub use error::{MidiError, Result};
pub use gm::{program_instrument, programs_of};
pub use performance::{Note, Performance, CHANNELS, DRUM_CHANNEL, MAX_NOTES, MAX_SECONDS};
pub use smf::{
    midi_bytes, parse_midi, read_midi, write_midi, MidiFile, TempoChange, TimeSignature,
    MAX_MIDI_BYTES, WRITTEN_TICKS_PER_QUARTER,
};
pub use soundfont::{
    shipped, RenderOptions, SoundFont, HELD_OUT_SOUNDFONT, MAX_DETUNE_CENTS, MAX_SOUNDFONT_BYTES,
    TRAINING_SOUNDFONT,
};
