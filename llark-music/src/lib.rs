//! LLark's music vocabulary, in one place for the synthesiser (`llark_audio::synth`), the
//! instruction generator (`llark_data::instruct`) and evaluation (`llark_eval`).
//!
//! | module | what |
//! |---|---|
//! | [`pitch`] | [`PitchClass`] (C = 0 ... B = 11) and its sharp or flat [`Spelling`] |
//! | [`key`] | [`Mode`] and [`Key`]: madmom's spelling, the lenient metadata parser, mir_eval's spelling |
//! | [`mir_eval`] | [`KeyLabel`]: mir_eval's strict label validation (incl. mode `other` and `X`), typed [`KeyLabelError`] |
//! | [`tempo`] | [`format_bpm`] (how answers quote a tempo) and [`pace_word`] |
//! | [`prose`] | [`join_words`] (`a, b and c`) |
//! | [`instrument`] | [`Instrument`], a listener-facing instrument vocabulary, and its [`InstrumentFamily`] |
//! | [`timed`] | time-stamped [`ChordSpan`] and [`Beat`], as analysis tools and the synthesiser write them |
//!
//! ```
//! use llark_music::{format_bpm, Instrument, InstrumentFamily, Key, KeyLabel, Mode};
//!
//! // The metadata parser reads many spellings; Display keeps the tonic's spelling.
//! let key = Key::parse("E-flat minor").unwrap();
//! assert_eq!(key.to_string(), "Eb minor");
//! // madmom spells that key with sharps, mir_eval (GiantSteps) with flats.
//! assert_eq!(key.madmom().to_string(), "D# minor");
//! assert_eq!(key.mir_eval_name(), "Eb minor");
//! assert_eq!(Key::new(6, Mode::Major).to_string(), "F# major");
//!
//! // mir_eval's strict validation names the problem.
//! assert_eq!(KeyLabel::parse_mir_eval("X").unwrap(), KeyLabel::Uncategorised);
//! assert!(KeyLabel::parse_mir_eval("Cb major").is_err());
//!
//! assert_eq!(format_bpm(128.43).as_deref(), Some("128.4"));
//! assert_eq!(Instrument::parse("Electric Piano"), Some(Instrument::ElectricPiano));
//! assert_eq!(Instrument::Cello.family(), InstrumentFamily::Strings);
//! ```

#![warn(missing_docs)]

pub mod instrument;
pub mod key;
pub mod mir_eval;
pub mod pitch;
pub mod prose;
pub mod tempo;
pub mod timed;

pub use instrument::{Instrument, InstrumentFamily};
pub use key::madmom_spelling;
pub use key::{Key, Mode};
pub use mir_eval::{is_python_whitespace, KeyLabel, KeyLabelError, KeyLabelProblem};
pub use pitch::{PitchClass, Spelling, FLAT_NAMES, SHARP_NAMES};
pub use prose::join_words;
pub use tempo::{format_bpm, pace_word};
pub use timed::{Beat, ChordSpan};
