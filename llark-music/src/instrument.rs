//! Instruments as a listener names them, and their families.
//!
//! The names are the lower-case words answers and captions use (`"electric piano"`,
//! `"synth pad"`); the synthesiser's seven timbres are seven of them (`guitar`,
//! `electric piano`, `organ`, `synth lead`, `synth pad`, `bass`, `drums`).

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The family an instrument belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum InstrumentFamily {
    /// Piano, organ, harpsichord, accordion.
    Keyboard,
    /// Guitars, banjo, mandolin.
    Guitar,
    /// Bass instruments of the rhythm section.
    Bass,
    /// Bowed and plucked orchestral strings.
    Strings,
    /// Singing voices.
    Voice,
    /// Brass.
    Brass,
    /// Woodwinds.
    Woodwind,
    /// Drums and pitched percussion.
    Percussion,
    /// Synthesisers.
    Synth,
}

impl InstrumentFamily {
    /// The lower-case name (`"woodwind"`).
    pub fn name(self) -> &'static str {
        match self {
            InstrumentFamily::Keyboard => "keyboard",
            InstrumentFamily::Guitar => "guitar",
            InstrumentFamily::Bass => "bass",
            InstrumentFamily::Strings => "strings",
            InstrumentFamily::Voice => "voice",
            InstrumentFamily::Brass => "brass",
            InstrumentFamily::Woodwind => "woodwind",
            InstrumentFamily::Percussion => "percussion",
            InstrumentFamily::Synth => "synth",
        }
    }
}

impl fmt::Display for InstrumentFamily {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An instrument, by the name a listener gives it. Serialised as [`Instrument::name`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Instrument {
    /// `"piano"` (keyboard).
    Piano,
    /// `"electric piano"` (keyboard).
    ElectricPiano,
    /// `"organ"` (keyboard).
    Organ,
    /// `"harpsichord"` (keyboard).
    Harpsichord,
    /// `"accordion"` (keyboard).
    Accordion,
    /// `"acoustic guitar"` (guitar).
    AcousticGuitar,
    /// `"electric guitar"` (guitar).
    ElectricGuitar,
    /// `"guitar"` (guitar).
    Guitar,
    /// `"banjo"` (guitar).
    Banjo,
    /// `"mandolin"` (guitar).
    Mandolin,
    /// `"bass"` (bass).
    Bass,
    /// `"electric bass"` (bass).
    ElectricBass,
    /// `"double bass"` (bass).
    DoubleBass,
    /// `"violin"` (strings).
    Violin,
    /// `"viola"` (strings).
    Viola,
    /// `"cello"` (strings).
    Cello,
    /// `"string ensemble"` (strings).
    StringEnsemble,
    /// `"harp"` (strings).
    Harp,
    /// `"vocals"` (voice).
    Vocals,
    /// `"choir"` (voice).
    Choir,
    /// `"trumpet"` (brass).
    Trumpet,
    /// `"trombone"` (brass).
    Trombone,
    /// `"horn"` (brass).
    Horn,
    /// `"tuba"` (brass).
    Tuba,
    /// `"brass section"` (brass).
    BrassSection,
    /// `"flute"` (woodwind).
    Flute,
    /// `"clarinet"` (woodwind).
    Clarinet,
    /// `"oboe"` (woodwind).
    Oboe,
    /// `"bassoon"` (woodwind).
    Bassoon,
    /// `"saxophone"` (woodwind).
    Saxophone,
    /// `"drums"` (percussion).
    Drums,
    /// `"vibraphone"` (percussion).
    Vibraphone,
    /// `"mallets"` (percussion).
    Mallets,
    /// `"timpani"` (percussion).
    Timpani,
    /// `"synth lead"` (synth).
    SynthLead,
    /// `"synth pad"` (synth).
    SynthPad,
    /// `"synthesizer"` (synth).
    Synthesizer,
}

use Instrument as I;
use InstrumentFamily as F;

/// Every instrument with its name, family and the other names [`Instrument::parse`] reads.
const TABLE: [(Instrument, &str, InstrumentFamily, &[&str]); 37] = [
    (
        I::Piano,
        "piano",
        F::Keyboard,
        &["acoustic piano", "grand piano"],
    ),
    (
        I::ElectricPiano,
        "electric piano",
        F::Keyboard,
        &["rhodes", "e-piano"],
    ),
    (
        I::Organ,
        "organ",
        F::Keyboard,
        &["hammond organ", "pipe organ"],
    ),
    (I::Harpsichord, "harpsichord", F::Keyboard, &[]),
    (I::Accordion, "accordion", F::Keyboard, &[]),
    (I::AcousticGuitar, "acoustic guitar", F::Guitar, &[]),
    (
        I::ElectricGuitar,
        "electric guitar",
        F::Guitar,
        &["clean electric guitar", "distorted electric guitar"],
    ),
    (I::Guitar, "guitar", F::Guitar, &[]),
    (I::Banjo, "banjo", F::Guitar, &[]),
    (I::Mandolin, "mandolin", F::Guitar, &[]),
    (I::Bass, "bass", F::Bass, &["bass guitar"]),
    (I::ElectricBass, "electric bass", F::Bass, &[]),
    (
        I::DoubleBass,
        "double bass",
        F::Bass,
        &["upright bass", "contrabass"],
    ),
    (I::Violin, "violin", F::Strings, &["fiddle"]),
    (I::Viola, "viola", F::Strings, &[]),
    (I::Cello, "cello", F::Strings, &["violoncello"]),
    (
        I::StringEnsemble,
        "string ensemble",
        F::Strings,
        &["strings", "string section"],
    ),
    (I::Harp, "harp", F::Strings, &[]),
    (
        I::Vocals,
        "vocals",
        F::Voice,
        &["voice", "vocal", "singer", "singing"],
    ),
    (I::Choir, "choir", F::Voice, &["vocalists"]),
    (I::Trumpet, "trumpet", F::Brass, &[]),
    (I::Trombone, "trombone", F::Brass, &[]),
    (I::Horn, "horn", F::Brass, &["french horn"]),
    (I::Tuba, "tuba", F::Brass, &[]),
    (I::BrassSection, "brass section", F::Brass, &["brass"]),
    (I::Flute, "flute", F::Woodwind, &["piccolo"]),
    (I::Clarinet, "clarinet", F::Woodwind, &[]),
    (I::Oboe, "oboe", F::Woodwind, &[]),
    (I::Bassoon, "bassoon", F::Woodwind, &[]),
    (I::Saxophone, "saxophone", F::Woodwind, &["sax"]),
    (
        I::Drums,
        "drums",
        F::Percussion,
        &["drum", "drum set", "drum kit", "drum machine"],
    ),
    (I::Vibraphone, "vibraphone", F::Percussion, &["vibes"]),
    (
        I::Mallets,
        "mallets",
        F::Percussion,
        &["marimba", "xylophone", "glockenspiel"],
    ),
    (I::Timpani, "timpani", F::Percussion, &[]),
    (I::SynthLead, "synth lead", F::Synth, &["lead synth"]),
    (I::SynthPad, "synth pad", F::Synth, &["pad"]),
    (
        I::Synthesizer,
        "synthesizer",
        F::Synth,
        &["synth", "synthesiser"],
    ),
];

impl Instrument {
    /// Every instrument, in vocabulary order (grouped by family).
    pub const ALL: [Instrument; 37] = {
        let mut all = [Instrument::Piano; 37];
        let mut i = 0;
        while i < TABLE.len() {
            all[i] = TABLE[i].0;
            i += 1;
        }
        all
    };

    fn entry(
        self,
    ) -> &'static (
        Instrument,
        &'static str,
        InstrumentFamily,
        &'static [&'static str],
    ) {
        // TABLE lists the variants in declaration order.
        &TABLE[self as usize]
    }

    /// The lower-case name (`"electric piano"`).
    pub fn name(self) -> &'static str {
        self.entry().1
    }

    /// The family (`Cello` -> strings).
    pub fn family(self) -> InstrumentFamily {
        self.entry().2
    }

    /// Reads a name: [`Instrument::name`] or a common other name (`"drum set"`, `"fiddle"`,
    /// `"synthesiser"`), case-insensitive, surrounding blanks and a trailing part number
    /// ignored (`"Violin 2"`).
    pub fn parse(name: &str) -> Option<Instrument> {
        let lower = name.trim().to_lowercase();
        let base = lower.trim_end_matches(|c: char| c.is_ascii_digit()).trim();
        TABLE
            .iter()
            .find(|(_, n, _, aliases)| *n == base || aliases.contains(&base))
            .map(|(i, ..)| *i)
    }

    /// Every instrument, in vocabulary order.
    pub fn all() -> impl Iterator<Item = Instrument> {
        TABLE.iter().map(|(i, ..)| *i)
    }

    /// The instruments of `family`, in vocabulary order.
    pub fn of_family(family: InstrumentFamily) -> impl Iterator<Item = Instrument> {
        TABLE
            .iter()
            .filter(move |(_, _, f, _)| *f == family)
            .map(|(i, ..)| *i)
    }
}

impl fmt::Display for Instrument {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl Serialize for Instrument {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.name())
    }
}

/// Read with [`Instrument::parse`].
impl<'de> Deserialize<'de> for Instrument {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = String::deserialize(deserializer)?;
        Instrument::parse(&name)
            .ok_or_else(|| serde::de::Error::custom(format!("unknown instrument {name:?}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_lists_every_family_s_instruments_once() {
        let all: Vec<Instrument> = Instrument::all().collect();
        assert_eq!(all.len(), 37);
        let by_family: usize = [
            InstrumentFamily::Keyboard,
            InstrumentFamily::Guitar,
            InstrumentFamily::Bass,
            InstrumentFamily::Strings,
            InstrumentFamily::Voice,
            InstrumentFamily::Brass,
            InstrumentFamily::Woodwind,
            InstrumentFamily::Percussion,
            InstrumentFamily::Synth,
        ]
        .into_iter()
        .map(|f| Instrument::of_family(f).count())
        .sum();
        assert_eq!(by_family, all.len());
        assert!(all.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn table_is_in_declaration_order_and_names_are_unique() {
        for (k, (instrument, name, ..)) in TABLE.iter().enumerate() {
            assert_eq!(*instrument as usize, k, "{name}");
            assert_eq!(Instrument::ALL[k], *instrument);
            assert_eq!(Instrument::parse(name), Some(*instrument));
        }
        let mut names: Vec<&str> = TABLE
            .iter()
            .flat_map(|(_, n, _, a)| std::iter::once(*n).chain(a.iter().copied()))
            .collect();
        let total = names.len();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), total, "a name or alias is used twice");
    }

    #[test]
    fn parse_and_families() {
        assert_eq!(Instrument::parse(" Violin 2 "), Some(Instrument::Violin));
        assert_eq!(Instrument::parse("Drum Set"), Some(Instrument::Drums));
        assert_eq!(
            Instrument::parse("synthesiser"),
            Some(Instrument::Synthesizer)
        );
        assert_eq!(Instrument::parse("kazoo"), None);
        assert_eq!(Instrument::Cello.family(), InstrumentFamily::Strings);
        assert_eq!(
            Instrument::ElectricPiano.family(),
            InstrumentFamily::Keyboard
        );
        assert_eq!(Instrument::SynthPad.family(), InstrumentFamily::Synth);
        assert_eq!(Instrument::Drums.family(), InstrumentFamily::Percussion);
        assert_eq!(Instrument::Choir.family(), InstrumentFamily::Voice);
        assert_eq!(Instrument::Saxophone.family(), InstrumentFamily::Woodwind);
        assert_eq!(Instrument::Horn.family(), InstrumentFamily::Brass);
        assert_eq!(Instrument::DoubleBass.family(), InstrumentFamily::Bass);
        assert_eq!(
            Instrument::of_family(InstrumentFamily::Guitar).collect::<Vec<_>>(),
            [
                Instrument::AcousticGuitar,
                Instrument::ElectricGuitar,
                Instrument::Guitar,
                Instrument::Banjo,
                Instrument::Mandolin
            ]
        );
    }

    #[test]
    fn the_synthesisers_names_are_in_the_vocabulary() {
        for name in [
            "guitar",
            "electric piano",
            "organ",
            "synth lead",
            "synth pad",
            "bass",
            "drums",
        ] {
            assert_eq!(Instrument::parse(name).map(Instrument::name), Some(name));
        }
        let json = serde_json::to_string(&Instrument::SynthLead).unwrap();
        assert_eq!(json, "\"synth lead\"");
        assert_eq!(
            serde_json::from_str::<Instrument>("\"Electric Piano\"").unwrap(),
            Instrument::ElectricPiano
        );
    }
}
