//! Seeded short pieces with ground truth: the drawing of key, tempo, instruments, style and
//! chords, the arrangement into notes, the rendering, and the metadata.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::theory::{
    tonic_degree, Chord, Degree, Key, Mode, MAJOR_PROGRESSIONS, MINOR_PROGRESSIONS,
};
use super::voice::{render, Instrument, Note, Sound};
use crate::audio::Audio;
use crate::error::{AudioError, Result};
use crate::llark::LLARK_SAMPLE_RATE;

/// The longest piece [`generate`] accepts, in seconds.
pub const MAX_DURATION_SECONDS: f64 = 600.0;
/// Tempi [`SynthConfig::tempo_range`] may span, in BPM.
pub const TEMPO_LIMITS: (f64, f64) = (30.0, 300.0);

/// What to generate. The defaults: 44.1 kHz, 10 s, tempo drawn from 60-180 BPM, key and
/// instruments drawn.
#[derive(Debug, Clone, PartialEq)]
pub struct SynthConfig {
    /// Sample rate in Hz.
    pub sample_rate: u32,
    /// Length of each piece in seconds (at most [`MAX_DURATION_SECONDS`]).
    pub duration: f64,
    /// Inclusive tempo range in BPM (within [`TEMPO_LIMITS`]). Whole-BPM tempi are drawn
    /// uniformly when the range holds a whole number; otherwise any tempo in the range.
    pub tempo_range: (f64, f64),
    /// A fixed key instead of a drawn one.
    pub key: Option<Key>,
    /// Fixed instruments instead of drawn ones; at least one of them must be able to carry the
    /// harmony (anything but bass and drums). Duplicates are ignored.
    pub instruments: Option<Vec<Instrument>>,
}

impl Default for SynthConfig {
    fn default() -> Self {
        SynthConfig {
            sample_rate: LLARK_SAMPLE_RATE,
            duration: 10.0,
            tempo_range: (60.0, 180.0),
            key: None,
            instruments: None,
        }
    }
}

impl SynthConfig {
    /// Checks every field, naming the one at fault.
    pub fn validate(&self) -> Result<()> {
        let invalid = |name, detail: String| Err(AudioError::InvalidArgument { name, detail });
        if self.sample_rate < 8000 {
            return Err(AudioError::InvalidSampleRate {
                rate: self.sample_rate,
                detail: "the generator needs at least 8000 Hz".into(),
            });
        }
        if !(self.duration.is_finite() && self.duration > 0.0)
            || self.duration > MAX_DURATION_SECONDS
        {
            return invalid(
                "duration",
                format!(
                    "{} s is not in (0, {MAX_DURATION_SECONDS}] seconds",
                    self.duration
                ),
            );
        }
        let (lo, hi) = self.tempo_range;
        let (min, max) = TEMPO_LIMITS;
        if !(lo.is_finite() && hi.is_finite() && min <= lo && lo <= hi && hi <= max) {
            return invalid(
                "tempo_range",
                format!("({lo}, {hi}) BPM is not an ordered range within [{min}, {max}]"),
            );
        }
        if let Some(list) = &self.instruments {
            if !list.iter().any(|i| Instrument::HARMONIC.contains(i)) {
                return invalid(
                    "instruments",
                    format!(
                        "{:?} has no instrument that can carry the harmony (anything but bass and drums)",
                        list.iter().map(|i| i.name()).collect::<Vec<_>>()
                    ),
                );
            }
        }
        Ok(())
    }
}

/// The fixed style vocabulary, derived from instrumentation and tempo (see [`Genre::derive`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Genre {
    /// Synth pad or lead without drums, below 110 BPM.
    Ambient,
    /// Organ or electric piano (no guitar, no synths) without drums.
    Classical,
    /// Guitar without drums.
    Folk,
    /// Drums with guitar or organ at 100 BPM or more (and no synths).
    Rock,
    /// Drums with a synth lead or pad at 115 BPM or more; or synths without drums from 110 BPM.
    Electronic,
    /// Any other piece with drums.
    Pop,
}

impl Genre {
    /// Every genre, in vocabulary order.
    pub const ALL: [Genre; 6] = [
        Genre::Ambient,
        Genre::Classical,
        Genre::Folk,
        Genre::Rock,
        Genre::Electronic,
        Genre::Pop,
    ];

    /// The lower-case name (`"electronic"`).
    pub fn name(self) -> &'static str {
        match self {
            Genre::Ambient => "ambient",
            Genre::Classical => "classical",
            Genre::Folk => "folk",
            Genre::Rock => "rock",
            Genre::Electronic => "electronic",
            Genre::Pop => "pop",
        }
    }

    /// The genre of a piece with these instruments at this tempo. The first rule that matches:
    ///
    /// 1. drums, a synth (lead or pad), tempo >= 115 -> electronic
    /// 2. drums, guitar or organ, no synth, tempo >= 100 -> rock
    /// 3. drums -> pop
    /// 4. guitar -> folk
    /// 5. a synth, tempo < 110 -> ambient
    /// 6. a synth -> electronic
    /// 7. otherwise (organ, electric piano, bass) -> classical
    pub fn derive(instruments: &[Instrument], tempo_bpm: f64) -> Genre {
        let has = |i| instruments.contains(&i);
        let synth = has(Instrument::SynthLead) || has(Instrument::SynthPad);
        if has(Instrument::Drums) {
            if synth && tempo_bpm >= 115.0 {
                Genre::Electronic
            } else if (has(Instrument::Guitar) || has(Instrument::Organ))
                && !synth
                && tempo_bpm >= 100.0
            {
                Genre::Rock
            } else {
                Genre::Pop
            }
        } else if has(Instrument::Guitar) {
            Genre::Folk
        } else if synth && tempo_bpm < 110.0 {
            Genre::Ambient
        } else if synth {
            Genre::Electronic
        } else {
            Genre::Classical
        }
    }
}

/// One chord of the ground truth: from `time` to `end_time` seconds, labelled in madmom/Harte
/// shorthand with the key's spelling (`"A:min"`, `"Eb:maj"`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChordEvent {
    /// Start in seconds (rounded to the millisecond).
    pub time: f64,
    /// End in seconds (rounded to the millisecond).
    pub end_time: f64,
    /// The chord label.
    pub chord: String,
}

/// One beat of the ground truth (madmom's downbeat format): its time and position in the bar.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Beat {
    /// Time in seconds (rounded to the millisecond).
    pub time: f64,
    /// Position in the 4/4 bar, 1 (downbeat) to 4.
    pub beat_number: u32,
}

/// The ground truth of one generated piece, in the shape of the per-clip metadata LLark feeds
/// its instruction generator.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PieceMetadata {
    /// Clip identifier.
    pub id: String,
    /// The audio file name (`"<id>.wav"`).
    pub audio: String,
    /// Length in seconds.
    pub duration: f64,
    /// Sample rate in Hz.
    pub sample_rate: u32,
    /// The seed the piece was generated from.
    pub seed: u64,
    /// Tempo in beats per minute (a whole number with the default range).
    pub tempo_bpm: f64,
    /// Key, `"<Tonic> <major|minor>"` with madmom's spelling (`"F# minor"`, `"Eb major"`).
    pub key: String,
    /// The key's tonic (`"F#"`).
    pub tonic: String,
    /// The key's mode.
    pub mode: Mode,
    /// Always `"4/4"`.
    pub time_signature: String,
    /// Instruments, in vocabulary order.
    pub instruments: Vec<Instrument>,
    /// The chord progression as roman numerals (`"I-V-vi-IV"`), cycled over the piece; the
    /// last chord of the piece is always the tonic.
    pub progression: String,
    /// The chords, in time order, covering the whole piece.
    pub chords: Vec<ChordEvent>,
    /// Every beat, with its position in the bar.
    pub downbeats: Vec<Beat>,
    /// One genre from the fixed vocabulary.
    pub genre: Vec<Genre>,
    /// Two tags: the tempo feel (`"slow"` below 90 BPM, `"mid-tempo"` up to 125, `"fast"`)
    /// and the mood (`"bright"` for major, `"melancholic"` for minor).
    pub tags: Vec<String>,
    /// One sentence built from the facts above.
    pub caption: String,
}

impl PieceMetadata {
    /// Renames the piece: sets `id` and the audio file name `"<id>.wav"`.
    pub fn set_id(&mut self, id: &str) {
        self.id = id.to_owned();
        self.audio = format!("{id}.wav");
    }

    /// The key as a [`Key`].
    pub fn parsed_key(&self) -> Option<Key> {
        Key::parse(&self.key)
    }
}

/// A generated piece: peak-normalised mono audio and its ground truth.
#[derive(Debug, Clone, PartialEq)]
pub struct Piece {
    /// The audio (peak exactly 1).
    pub audio: Audio,
    /// What the audio contains.
    pub metadata: PieceMetadata,
}

/// Generates the piece of `seed`: the same seed and configuration always give bit-identical
/// audio and metadata.
pub fn generate(seed: u64, config: &SynthConfig) -> Result<Piece> {
    let score = Score::plan(seed, config)?;
    let audio = score.render(seed)?;
    Ok(Piece {
        audio,
        metadata: score.metadata,
    })
}

/// The ground truth of the piece of `seed` without rendering it (cheap); equal to
/// `generate(seed, config)?.metadata`.
pub fn describe(seed: u64, config: &SynthConfig) -> Result<PieceMetadata> {
    Ok(Score::plan(seed, config)?.metadata)
}

/// The musical role a pitched instrument plays.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    /// Triads: held (pad, organ) or struck on the beat.
    Chords,
    /// A scale melody, one note per beat (sometimes two beats with drums).
    Melody,
    /// Chord tones one per beat, an octave above the chords.
    Arpeggio,
    /// Chord roots.
    Bass,
}

/// One chord of the arrangement, in seconds.
#[derive(Debug, Clone, Copy)]
struct Slot {
    start: f64,
    end: f64,
    chord: Chord,
}

/// A planned piece: metadata and every note, before rendering.
struct Score {
    metadata: PieceMetadata,
    sample_rate: u32,
    len: usize,
    parts: Vec<(Instrument, Vec<Note>)>,
}

/// Rounds seconds to the millisecond for the metadata.
fn millis(t: f64) -> f64 {
    (t * 1000.0).round() / 1000.0
}

/// Draws `count` distinct items of `pool` in draw order.
fn draw_distinct(
    rng: &mut ChaCha8Rng,
    pool: &mut Vec<Instrument>,
    count: usize,
) -> Vec<Instrument> {
    (0..count.min(pool.len()))
        .map(|_| pool.remove(rng.random_range(0..pool.len())))
        .collect()
}

/// The instruments a piece draws: drums with probability 1/2, two to four instruments in all,
/// the first pitched one able to carry the harmony.
fn draw_instruments(rng: &mut ChaCha8Rng) -> Vec<Instrument> {
    let drums = rng.random_bool(0.5);
    let total: usize = rng.random_range(2..=4);
    let pitched = total - usize::from(drums);
    let mut harmonic = Instrument::HARMONIC.to_vec();
    let mut chosen = draw_distinct(rng, &mut harmonic, 1);
    harmonic.push(Instrument::Bass);
    chosen.extend(draw_distinct(rng, &mut harmonic, pitched - 1));
    if drums {
        chosen.push(Instrument::Drums);
    }
    chosen
}

/// Assigns roles: the chords go to the first of pad, organ, electric piano, guitar, lead; the
/// melody to the first other of lead, guitar, electric piano, organ; further harmonic
/// instruments play arpeggios; bass plays roots.
fn assign_roles(instruments: &[Instrument]) -> Vec<(Instrument, Role)> {
    use Instrument::*;
    let has = |i: &Instrument| instruments.contains(i);
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

/// Joins names as "a, b and c".
fn join_names(names: &[&str]) -> String {
    match names {
        [] => String::new(),
        [one] => (*one).to_owned(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

/// A tempo for text: whole numbers without decimals, others with one.
fn format_bpm(bpm: f64) -> String {
    if bpm.fract() == 0.0 {
        format!("{bpm:.0}")
    } else {
        format!("{bpm:.1}")
    }
}

/// The MIDI note of pitch class `pc` in the octave starting at MIDI note `low`.
fn in_octave_from(pc: u8, low: i32) -> f64 {
    f64::from(low + (i32::from(pc) - low).rem_euclid(12))
}

impl Score {
    /// Draws everything about the piece of `seed` and arranges it into notes.
    fn plan(seed: u64, config: &SynthConfig) -> Result<Score> {
        config.validate()?;
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        // Everything is always drawn, in the same order, so that fixing one choice in the
        // configuration leaves the others as they would have been.
        let drawn_key = Key::all()[rng.random_range(0..24usize)];
        let (lo, hi) = config.tempo_range;
        let drawn_tempo = if lo.ceil() <= hi.floor() {
            f64::from(rng.random_range(lo.ceil() as u32..=hi.floor() as u32))
        } else {
            rng.random_range(lo..=hi)
        };
        let drawn_instruments = draw_instruments(&mut rng);
        let progression_index = rng.random_range(0..MAJOR_PROGRESSIONS.len());

        let key = config.key.unwrap_or(drawn_key);
        let tempo_bpm = drawn_tempo;
        let mut instruments = config.instruments.clone().unwrap_or(drawn_instruments);
        instruments.sort();
        instruments.dedup();
        let genre = Genre::derive(&instruments, tempo_bpm);
        let progression = match key.mode() {
            Mode::Major => MAJOR_PROGRESSIONS[progression_index],
            Mode::Minor => MINOR_PROGRESSIONS[progression_index],
        };

        let sr = f64::from(config.sample_rate);
        let len = (config.duration * sr).round().max(1.0) as usize;
        let duration = len as f64 / sr;
        let beat = 60.0 / tempo_bpm;
        let beats: Vec<f64> = (0..)
            .map(|k| f64::from(k) * beat)
            .take_while(|&t| t < duration)
            .collect();
        let slots = chord_slots(key, &progression, tempo_bpm, duration);
        let plan = Plan {
            key,
            tempo_bpm,
            instruments,
            genre,
            progression,
            slots,
            beats,
            duration,
        };

        let drums = plan.instruments.contains(&Instrument::Drums);
        let arranger = Arranger {
            key,
            beat,
            sr,
            beats: &plan.beats,
            slots: &plan.slots,
            drums,
            has_bass: plan.instruments.contains(&Instrument::Bass),
            genre,
        };
        let mut parts: Vec<(Instrument, Vec<Note>)> = assign_roles(&plan.instruments)
            .into_iter()
            .map(|(instrument, role)| (instrument, arranger.part(instrument, role, &mut rng)))
            .collect();
        if drums {
            parts.push((Instrument::Drums, arranger.drums(&mut rng)));
        }
        let metadata = plan.metadata(seed, config.sample_rate);
        Ok(Score {
            metadata,
            sample_rate: config.sample_rate,
            len,
            parts,
        })
    }

    /// Renders every note, fades out the last 10 ms and peak-normalises.
    fn render(&self, seed: u64) -> Result<Audio> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        rng.set_stream(1);
        let mut samples = vec![0.0f32; self.len];
        for (instrument, notes) in &self.parts {
            for note in notes {
                render(*instrument, note, self.sample_rate, &mut rng, &mut samples);
            }
        }
        let fade = ((f64::from(self.sample_rate) * 0.01) as usize).min(self.len);
        for (i, s) in samples[self.len - fade..].iter_mut().enumerate() {
            *s *= 1.0 - i as f32 / fade as f32;
        }
        let mut audio = Audio::new(samples, self.sample_rate)?;
        audio.peak_normalise()?;
        Ok(audio)
    }
}

/// The chords over time: two beats per chord below 90 BPM, a bar (four beats) otherwise; the
/// progression cycles, and the last chord (which runs to the end) is the tonic.
fn chord_slots(key: Key, progression: &[Degree; 4], tempo_bpm: f64, duration: f64) -> Vec<Slot> {
    let beats_per_chord = if tempo_bpm < 90.0 { 2.0 } else { 4.0 };
    let slot_seconds = beats_per_chord * 60.0 / tempo_bpm;
    let count = ((duration / slot_seconds).floor() as usize).max(1);
    (0..count)
        .map(|k| {
            let degree = if k + 1 == count {
                tonic_degree(key.mode())
            } else {
                progression[k % progression.len()]
            };
            Slot {
                start: k as f64 * slot_seconds,
                end: if k + 1 == count {
                    duration
                } else {
                    (k + 1) as f64 * slot_seconds
                },
                chord: key.chord(degree),
            }
        })
        .collect()
}

/// Everything drawn about a piece, before the arrangement into notes.
struct Plan {
    key: Key,
    tempo_bpm: f64,
    /// In vocabulary order, without duplicates.
    instruments: Vec<Instrument>,
    genre: Genre,
    progression: [Degree; 4],
    slots: Vec<Slot>,
    /// Beat times in seconds.
    beats: Vec<f64>,
    /// Seconds.
    duration: f64,
}

impl Plan {
    /// The ground truth of the planned piece.
    fn metadata(&self, seed: u64, sample_rate: u32) -> PieceMetadata {
        let Plan {
            key,
            tempo_bpm,
            ref instruments,
            genre,
            ref progression,
            ref slots,
            ref beats,
            duration,
        } = *self;
        let tempo_tag = if tempo_bpm < 90.0 {
            "slow"
        } else if tempo_bpm <= 125.0 {
            "mid-tempo"
        } else {
            "fast"
        };
        let mood = match key.mode() {
            Mode::Major => "bright",
            Mode::Minor => "melancholic",
        };
        let progression = progression
            .iter()
            .map(|d| d.numeral)
            .collect::<Vec<_>>()
            .join("-");
        let names: Vec<&str> = instruments.iter().map(|i| i.name()).collect();
        let caption = format!(
            "A {tempo_tag} {} piece in {key} at {} BPM, played on {}, built on a {progression} chord progression.",
            genre.name(),
            format_bpm(tempo_bpm),
            join_names(&names),
        );
        let id = format!("synth-{seed:016x}");
        PieceMetadata {
            audio: format!("{id}.wav"),
            id,
            duration,
            sample_rate,
            seed,
            tempo_bpm,
            key: key.name(),
            tonic: key.tonic_name().to_owned(),
            mode: key.mode(),
            time_signature: "4/4".to_owned(),
            instruments: instruments.to_vec(),
            progression,
            chords: slots
                .iter()
                .map(|s| ChordEvent {
                    time: millis(s.start),
                    end_time: millis(s.end),
                    chord: s.chord.label(key),
                })
                .collect(),
            downbeats: beats
                .iter()
                .enumerate()
                .map(|(k, &t)| Beat {
                    time: millis(t),
                    beat_number: (k % 4) as u32 + 1,
                })
                .collect(),
            genre: vec![genre],
            tags: vec![tempo_tag.to_owned(), mood.to_owned()],
            caption,
        }
    }
}

/// Turns the plan (key, beats, chords, style) into the notes of each part.
struct Arranger<'a> {
    key: Key,
    beat: f64,
    sr: f64,
    beats: &'a [f64],
    slots: &'a [Slot],
    drums: bool,
    has_bass: bool,
    genre: Genre,
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
            .map_or(self.key.chord(tonic_degree(self.key.mode())), |s| s.chord)
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
    fn part(&self, instrument: Instrument, role: Role, rng: &mut ChaCha8Rng) -> Vec<Note> {
        match role {
            Role::Chords => self.chords(instrument, rng),
            Role::Melody => self.melody(rng),
            Role::Arpeggio => self.arpeggio(rng),
            Role::Bass => self.bass(rng),
        }
    }

    /// Triads: held for the whole chord by pad and organ, struck on the beats by the others
    /// (every beat without drums, every other beat with drums).
    fn chords(&self, instrument: Instrument, rng: &mut ChaCha8Rng) -> Vec<Note> {
        let held = matches!(instrument, Instrument::SynthPad | Instrument::Organ);
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
        let anchor = in_octave_from(self.key.tonic(), 67);
        let pitch = |degree: i32, chord: Chord| {
            let scale = self.key.scale_over(chord);
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
    fn drums(&self, rng: &mut ChaCha8Rng) -> Vec<Note> {
        let kick = Sound::Kick(in_octave_from(self.key.tonic(), 24));
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
