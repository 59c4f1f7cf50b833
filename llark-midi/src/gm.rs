//! General MIDI programs as a listener names them.
//!
//! Every one of the 128 General MIDI programs maps to the [`Instrument`] a listener would name
//! (program 40, "Violin", is a violin; programs 80-87, the synth leads, are a synth lead), or to
//! nothing for the sound effects (programs 120-127). The drum channel is always
//! [`Instrument::Drums`].

use llark_music::Instrument;

use Instrument as I;
use I::*;

/// The listener's name of each General MIDI program, by program number.
const PROGRAM_NAMES: [Option<Instrument>; 128] = [
    // 0-7: pianos, harpsichord, clavinet.
    Some(Piano),
    Some(Piano),
    Some(Piano),
    Some(Piano),
    Some(ElectricPiano),
    Some(ElectricPiano),
    Some(Harpsichord),
    Some(ElectricPiano),
    // 8-15: chromatic percussion.
    Some(Mallets),
    Some(Mallets),
    Some(Mallets),
    Some(Vibraphone),
    Some(Mallets),
    Some(Mallets),
    Some(Mallets),
    Some(Mallets),
    // 16-23: organs, accordion, harmonica.
    Some(Organ),
    Some(Organ),
    Some(Organ),
    Some(Organ),
    Some(Organ),
    Some(Accordion),
    Some(Accordion),
    Some(Accordion),
    // 24-31: guitars.
    Some(AcousticGuitar),
    Some(AcousticGuitar),
    Some(ElectricGuitar),
    Some(ElectricGuitar),
    Some(ElectricGuitar),
    Some(ElectricGuitar),
    Some(ElectricGuitar),
    Some(ElectricGuitar),
    // 32-39: basses.
    Some(DoubleBass),
    Some(ElectricBass),
    Some(ElectricBass),
    Some(ElectricBass),
    Some(ElectricBass),
    Some(ElectricBass),
    Some(Bass),
    Some(Bass),
    // 40-47: solo strings, harp, timpani.
    Some(Violin),
    Some(Viola),
    Some(Cello),
    Some(DoubleBass),
    Some(StringEnsemble),
    Some(StringEnsemble),
    Some(Harp),
    Some(Timpani),
    // 48-55: ensembles and voices.
    Some(StringEnsemble),
    Some(StringEnsemble),
    Some(StringEnsemble),
    Some(StringEnsemble),
    Some(Choir),
    Some(Choir),
    Some(Choir),
    Some(StringEnsemble),
    // 56-63: brass.
    Some(Trumpet),
    Some(Trombone),
    Some(Tuba),
    Some(Trumpet),
    Some(Horn),
    Some(BrassSection),
    Some(BrassSection),
    Some(BrassSection),
    // 64-71: reeds.
    Some(Saxophone),
    Some(Saxophone),
    Some(Saxophone),
    Some(Saxophone),
    Some(Oboe),
    Some(Oboe),
    Some(Bassoon),
    Some(Clarinet),
    // 72-79: pipes.
    Some(Flute),
    Some(Flute),
    Some(Flute),
    Some(Flute),
    Some(Flute),
    Some(Flute),
    Some(Flute),
    Some(Flute),
    // 80-87: synth leads.
    Some(SynthLead),
    Some(SynthLead),
    Some(SynthLead),
    Some(SynthLead),
    Some(SynthLead),
    Some(SynthLead),
    Some(SynthLead),
    Some(SynthLead),
    // 88-95: synth pads.
    Some(SynthPad),
    Some(SynthPad),
    Some(SynthPad),
    Some(SynthPad),
    Some(SynthPad),
    Some(SynthPad),
    Some(SynthPad),
    Some(SynthPad),
    // 96-103: synth effects.
    Some(Synthesizer),
    Some(Synthesizer),
    Some(Synthesizer),
    Some(Synthesizer),
    Some(Synthesizer),
    Some(Synthesizer),
    Some(Synthesizer),
    Some(Synthesizer),
    // 104-111: ethnic instruments (sitar, banjo, shamisen, koto, kalimba, bagpipe, fiddle,
    // shanai).
    Some(Guitar),
    Some(Banjo),
    Some(Banjo),
    Some(Harp),
    Some(Mallets),
    Some(Oboe),
    Some(Violin),
    Some(Oboe),
    // 112-119: percussive (tinkle bell, agogo, steel drums, woodblock, taiko, melodic tom,
    // synth drum, reverse cymbal).
    Some(Mallets),
    Some(Drums),
    Some(Mallets),
    Some(Drums),
    Some(Drums),
    Some(Drums),
    Some(Drums),
    None,
    // 120-127: sound effects.
    None,
    None,
    None,
    None,
    None,
    None,
    None,
    None,
];

/// The instrument a listener hears in General MIDI program `program` (0-127); `None` for the
/// sound effects and for numbers above 127.
pub fn program_instrument(program: u8) -> Option<Instrument> {
    PROGRAM_NAMES.get(usize::from(program)).copied().flatten()
}

/// The General MIDI programs that sound as `instrument`, in program order (empty for
/// [`Instrument::Drums`], which is the drum channel, and for names no program has, such as
/// [`Instrument::Vocals`]).
pub fn programs_of(instrument: Instrument) -> Vec<u8> {
    if instrument == Instrument::Drums {
        return Vec::new();
    }
    (0..=127u8)
        .filter(|&p| program_instrument(p) == Some(instrument))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listeners_names_for_landmark_programs() {
        let cases = [
            (0, Piano),
            (6, Harpsichord),
            (11, Vibraphone),
            (19, Organ),
            (24, AcousticGuitar),
            (29, ElectricGuitar),
            (33, ElectricBass),
            (40, Violin),
            (41, Viola),
            (42, Cello),
            (43, DoubleBass),
            (46, Harp),
            (47, Timpani),
            (48, StringEnsemble),
            (52, Choir),
            (56, Trumpet),
            (57, Trombone),
            (58, Tuba),
            (60, Horn),
            (61, BrassSection),
            (65, Saxophone),
            (68, Oboe),
            (70, Bassoon),
            (71, Clarinet),
            (73, Flute),
            (81, SynthLead),
            (89, SynthPad),
            (105, Banjo),
        ];
        for (program, instrument) in cases {
            assert_eq!(program_instrument(program), Some(instrument), "{program}");
        }
        assert_eq!(program_instrument(122), None);
        assert_eq!(program_instrument(200), None);
    }

    #[test]
    fn programs_of_inverts_the_table() {
        assert_eq!(programs_of(Violin), vec![40, 110]);
        assert_eq!(programs_of(Cello), vec![42]);
        assert!(programs_of(Drums).is_empty());
        assert!(programs_of(Vocals).is_empty());
        for program in 0..=127u8 {
            if let Some(i) = program_instrument(program).filter(|i| *i != Drums) {
                assert!(programs_of(i).contains(&program));
            }
        }
    }
}
