//! The synthesised instruments: one sound-making routine per timbre.
//!
//! Every routine adds one note into a buffer. The only randomness (pluck and drum noise, pad
//! phases) comes from the generator passed in, so the same generator state gives the same
//! samples.

use std::f64::consts::TAU;

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use llark_music::Instrument;

use super::theory::midi_to_hz;

/// The generator's seven timbres (sound-making routines), each heard as one
/// [`llark_music::Instrument`] and named after it; serialised as the lower-case names shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Timbre {
    /// `"guitar"`: a plucked string (Karplus-Strong).
    #[serde(rename = "guitar")]
    Guitar,
    /// `"electric piano"`: two-operator FM with a decaying modulation index.
    #[serde(rename = "electric piano")]
    ElectricPiano,
    /// `"organ"`: additive drawbar harmonics, sustained.
    #[serde(rename = "organ")]
    Organ,
    /// `"synth lead"`: a band-limited (PolyBLEP) square wave.
    #[serde(rename = "synth lead")]
    SynthLead,
    /// `"synth pad"`: three detuned band-limited saws, low-passed, with a slow attack.
    #[serde(rename = "synth pad")]
    SynthPad,
    /// `"bass"`: a low sine with a low-passed saw.
    #[serde(rename = "bass")]
    Bass,
    /// `"drums"`: kick (pitched sine sweep), snare (tone and noise) and hi-hat (high-passed
    /// noise).
    #[serde(rename = "drums")]
    Drums,
}

impl Timbre {
    /// Every instrument, in vocabulary order.
    pub const ALL: [Timbre; 7] = [
        Timbre::Guitar,
        Timbre::ElectricPiano,
        Timbre::Organ,
        Timbre::SynthLead,
        Timbre::SynthPad,
        Timbre::Bass,
        Timbre::Drums,
    ];

    /// The instruments that can carry the harmony (everything but bass and drums).
    pub const HARMONIC: [Timbre; 5] = [
        Timbre::Guitar,
        Timbre::ElectricPiano,
        Timbre::Organ,
        Timbre::SynthLead,
        Timbre::SynthPad,
    ];

    /// The instrument a listener hears.
    pub fn instrument(self) -> Instrument {
        match self {
            Timbre::Guitar => Instrument::Guitar,
            Timbre::ElectricPiano => Instrument::ElectricPiano,
            Timbre::Organ => Instrument::Organ,
            Timbre::SynthLead => Instrument::SynthLead,
            Timbre::SynthPad => Instrument::SynthPad,
            Timbre::Bass => Instrument::Bass,
            Timbre::Drums => Instrument::Drums,
        }
    }

    /// The timbre that plays `instrument`, if the generator has one.
    pub fn for_instrument(instrument: Instrument) -> Option<Timbre> {
        Timbre::ALL
            .into_iter()
            .find(|t| t.instrument() == instrument)
    }

    /// The name used in metadata and captions: the instrument's name (`"synth lead"`).
    pub fn name(self) -> &'static str {
        self.instrument().name()
    }

    /// Reads a name as [`Timbre::name`] writes it.
    pub fn from_name(name: &str) -> Option<Timbre> {
        Timbre::ALL.into_iter().find(|i| i.name() == name)
    }
}

/// What a note sounds: a pitch for the pitched instruments, or one of the drums.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Sound {
    /// A pitch (MIDI note number, fractional allowed).
    Pitch(f64),
    /// A kick drum whose sweep settles on this MIDI pitch (tuned to the key, as producers do).
    Kick(f64),
    /// A snare drum.
    Snare,
    /// A closed hi-hat.
    Hat,
}

/// One note of one instrument, in samples.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Note {
    /// First sample.
    pub start: usize,
    /// Gate length in samples (the release follows it).
    pub len: usize,
    /// Pitch or drum.
    pub sound: Sound,
    /// Amplitude scale.
    pub velocity: f32,
}

/// Adds `note` played by `instrument` into `out` (sample 0 of `out` is sample 0 of the piece).
/// The part of the note past the end of `out` is dropped.
pub(crate) fn render(
    instrument: Timbre,
    note: &Note,
    sample_rate: u32,
    rng: &mut ChaCha8Rng,
    out: &mut [f32],
) {
    let Some(out) = out.get_mut(note.start..) else {
        return;
    };
    let midi = match note.sound {
        Sound::Pitch(midi) | Sound::Kick(midi) => midi,
        Sound::Snare | Sound::Hat => 0.0,
    };
    let voice = Voice {
        sr: f64::from(sample_rate),
        freq: midi_to_hz(midi),
        gate: note.len,
        amp: f64::from(note.velocity),
    };
    let pitched = matches!(note.sound, Sound::Pitch(_));
    if pitched == (instrument == Timbre::Drums) {
        // A drum sound for a pitched instrument or the reverse: nothing to play.
        return;
    }
    match instrument {
        Timbre::Guitar => voice.pluck(rng, out),
        Timbre::ElectricPiano => voice.electric_piano(out),
        Timbre::Organ => voice.organ(out),
        Timbre::SynthLead => voice.square_lead(out),
        Timbre::SynthPad => voice.pad(rng, out),
        Timbre::Bass => voice.bass(out),
        Timbre::Drums => voice.drum(note.sound, rng, out),
    }
}

/// Attack-decay-sustain-release envelope, times in seconds; the release is linear to zero.
#[derive(Debug, Clone, Copy)]
struct Adsr {
    attack: f64,
    decay: f64,
    sustain: f64,
    release: f64,
}

impl Adsr {
    /// Level while the key is held, `t` seconds after the onset.
    fn held(&self, t: f64) -> f64 {
        if t < self.attack {
            t / self.attack
        } else {
            self.sustain + (1.0 - self.sustain) * (-(t - self.attack) / self.decay).exp()
        }
    }

    /// Level `t` seconds after the onset for a gate of `gate` seconds.
    fn level(&self, t: f64, gate: f64) -> f64 {
        if t < gate {
            self.held(t)
        } else {
            self.held(gate) * (1.0 - (t - gate) / self.release).max(0.0)
        }
    }
}

/// A sine oscillator by complex rotation (one multiply-add per sample, no `sin` call).
struct Rotor {
    re: f64,
    im: f64,
    cos: f64,
    sin: f64,
}

impl Rotor {
    fn new(freq: f64, sr: f64, phase: f64) -> Self {
        let w = TAU * freq / sr;
        Rotor {
            re: phase.cos(),
            im: phase.sin(),
            cos: w.cos(),
            sin: w.sin(),
        }
    }

    /// The current sine value; then advances one sample.
    fn next(&mut self) -> f64 {
        let value = self.im;
        let re = self.re * self.cos - self.im * self.sin;
        self.im = self.re * self.sin + self.im * self.cos;
        self.re = re;
        value
    }
}

/// A phase in cycles `[0, 1)` advancing by `freq / sr` per sample.
struct Phasor {
    t: f64,
    dt: f64,
}

impl Phasor {
    fn new(freq: f64, sr: f64, phase: f64) -> Self {
        Phasor {
            t: phase.rem_euclid(1.0),
            dt: (freq / sr).min(0.5),
        }
    }

    fn advance(&mut self) {
        self.t += self.dt;
        if self.t >= 1.0 {
            self.t -= 1.0;
        }
    }

    /// Band-limited sawtooth in `[-1, 1]` (PolyBLEP); then advances.
    fn saw(&mut self) -> f64 {
        let value = 2.0 * self.t - 1.0 - poly_blep(self.t, self.dt);
        self.advance();
        value
    }

    /// Band-limited square in `[-1, 1]` (PolyBLEP at both edges); then advances.
    fn square(&mut self) -> f64 {
        let naive = if self.t < 0.5 { 1.0 } else { -1.0 };
        let value =
            naive + poly_blep(self.t, self.dt) - poly_blep((self.t + 0.5).rem_euclid(1.0), self.dt);
        self.advance();
        value
    }
}

/// The polynomial band-limited step correction at phase `t` for a phase step `dt`.
fn poly_blep(t: f64, dt: f64) -> f64 {
    if t < dt {
        let x = t / dt;
        2.0 * x - x * x - 1.0
    } else if t > 1.0 - dt {
        let x = (t - 1.0) / dt;
        x * x + 2.0 * x + 1.0
    } else {
        0.0
    }
}

/// A one-pole low-pass filter.
struct OnePole {
    y: f64,
    a: f64,
}

impl OnePole {
    fn new(cutoff: f64, sr: f64) -> Self {
        OnePole {
            y: 0.0,
            a: 1.0 - (-TAU * cutoff / sr).exp(),
        }
    }

    fn process(&mut self, x: f64) -> f64 {
        self.y += self.a * (x - self.y);
        self.y
    }
}

/// Uniform noise in `[-1, 1)`.
fn noise(rng: &mut ChaCha8Rng) -> f64 {
    rng.random::<f64>() * 2.0 - 1.0
}

/// The parameters shared by every voice for one note.
struct Voice {
    sr: f64,
    freq: f64,
    gate: usize,
    amp: f64,
}

impl Voice {
    /// Seconds of sample `i`.
    fn t(&self, i: usize) -> f64 {
        i as f64 / self.sr
    }

    /// Gate length in seconds.
    fn gate_seconds(&self) -> f64 {
        self.gate as f64 / self.sr
    }

    /// Number of samples of the note with a release of `release` seconds, clipped to `out`.
    fn span(&self, release: f64, out: &[f32]) -> usize {
        (self.gate + (release * self.sr).ceil() as usize).min(out.len())
    }

    /// Adds `signal(i) * envelope(i) * amp` for the note's span.
    fn add(&self, out: &mut [f32], env: Adsr, mut signal: impl FnMut(usize, f64) -> f64) {
        let gate = self.gate_seconds();
        for i in 0..self.span(env.release, out) {
            let t = self.t(i);
            out[i] += (signal(i, t) * env.level(t, gate) * self.amp) as f32;
        }
    }

    /// Karplus-Strong plucked string: a noise burst circulating in a delay line of one period,
    /// through a two-point average (the string's losses) and a first-order all-pass that tunes
    /// the fractional part of the period.
    fn pluck(&self, rng: &mut ChaCha8Rng, out: &mut [f32]) {
        const T60: f64 = 1.6;
        let loop_delay = self.sr / self.freq - 0.5;
        let mut n = loop_delay.floor().max(2.0) as usize;
        let mut frac = loop_delay - n as f64;
        if frac < 0.1 && n > 2 {
            n -= 1;
            frac += 1.0;
        }
        let c = (1.0 - frac) / (1.0 + frac);
        let rho = 0.001f64.powf(1.0 / (self.freq * T60));
        let mut smooth = 0.0;
        let mut line: Vec<f64> = (0..n)
            .map(|_| {
                smooth = 0.5 * smooth + 0.5 * noise(rng);
                smooth
            })
            .collect();
        let mean = line.iter().sum::<f64>() / n as f64;
        line.iter_mut().for_each(|v| *v -= mean);
        let (mut idx, mut prev, mut ap_x, mut ap_y) = (0usize, 0.0f64, 0.0f64, 0.0f64);
        let env = Adsr {
            attack: 0.001,
            decay: 1.0,
            sustain: 1.0,
            release: 0.08,
        };
        self.add(out, env, |_, _| {
            let x = line[idx];
            let avg = 0.5 * (x + prev) * rho;
            prev = x;
            let y = c * avg + ap_x - c * ap_y;
            ap_x = avg;
            ap_y = y;
            line[idx] = y;
            idx = if idx + 1 == n { 0 } else { idx + 1 };
            1.6 * x
        });
    }

    /// Two-operator FM electric piano: carrier and modulator at the note frequency, with a
    /// modulation index that decays from bright to mellow.
    fn electric_piano(&self, out: &mut [f32]) {
        let env = Adsr {
            attack: 0.002,
            decay: 0.9,
            sustain: 0.25,
            release: 0.1,
        };
        let w = TAU * self.freq / self.sr;
        self.add(out, env, |i, t| {
            let index = 1.6 * (-t * 4.0).exp() + 0.25;
            let phase = w * i as f64;
            (phase + index * phase.sin()).sin()
        });
    }

    /// Drawbar organ: fixed-level harmonics (16', 8', 4', 2-2/3', 2', 1-1/3', 1'), sustained.
    fn organ(&self, out: &mut [f32]) {
        const DRAWBARS: [(f64, f64); 7] = [
            (0.5, 0.5),
            (1.0, 1.0),
            (2.0, 0.7),
            (3.0, 0.3),
            (4.0, 0.4),
            (6.0, 0.15),
            (8.0, 0.15),
        ];
        let mut partials: Vec<(Rotor, f64)> = DRAWBARS
            .iter()
            .filter(|(ratio, _)| self.freq * ratio < 0.45 * self.sr)
            .map(|&(ratio, level)| (Rotor::new(self.freq * ratio, self.sr, 0.0), level))
            .collect();
        let env = Adsr {
            attack: 0.006,
            decay: 1.0,
            sustain: 1.0,
            release: 0.05,
        };
        self.add(out, env, |_, _| {
            0.4 * partials.iter_mut().map(|(r, l)| *l * r.next()).sum::<f64>()
        });
    }

    /// Band-limited square lead, slightly low-passed.
    fn square_lead(&self, out: &mut [f32]) {
        let mut osc = Phasor::new(self.freq, self.sr, 0.0);
        let mut lp = OnePole::new(5000.0, self.sr);
        let env = Adsr {
            attack: 0.008,
            decay: 0.12,
            sustain: 0.7,
            release: 0.06,
        };
        self.add(out, env, |_, _| 0.45 * lp.process(osc.square()));
    }

    /// Three detuned band-limited saws (-9, 0, +9 cents) through two one-pole low-passes, with a
    /// slow attack and a long release.
    fn pad(&self, rng: &mut ChaCha8Rng, out: &mut [f32]) {
        let mut oscs: Vec<Phasor> = [-9.0f64, 0.0, 9.0]
            .iter()
            .map(|cents| {
                let f = self.freq * 2f64.powf(cents / 1200.0);
                Phasor::new(f, self.sr, rng.random::<f64>())
            })
            .collect();
        let (mut lp1, mut lp2) = (OnePole::new(1800.0, self.sr), OnePole::new(1800.0, self.sr));
        let env = Adsr {
            attack: (0.5 * self.gate_seconds()).clamp(0.01, 0.4),
            decay: 1.0,
            sustain: 1.0,
            release: 0.4,
        };
        self.add(out, env, |_, _| {
            let x = oscs.iter_mut().map(Phasor::saw).sum::<f64>() / 3.0;
            lp2.process(lp1.process(x))
        });
    }

    /// Bass: a sine at the fundamental plus a low-passed saw for definition.
    fn bass(&self, out: &mut [f32]) {
        let mut sine = Rotor::new(self.freq, self.sr, 0.0);
        let mut saw = Phasor::new(self.freq, self.sr, 0.0);
        let mut lp = OnePole::new(700.0, self.sr);
        let env = Adsr {
            attack: 0.004,
            decay: 0.3,
            sustain: 0.6,
            release: 0.05,
        };
        self.add(out, env, |_, _| sine.next() + 0.5 * lp.process(saw.saw()));
    }

    /// One drum hit; the gate is ignored. The kick is a sine sweeping down to the note's
    /// frequency, the snare a tone with bright noise, the hi-hat high-passed noise.
    fn drum(&self, sound: Sound, rng: &mut ChaCha8Rng, out: &mut [f32]) {
        let len = |seconds: f64| (seconds * self.sr) as usize;
        if let Sound::Kick(_) = sound {
            let mut phase = 0.0f64;
            for (i, s) in out.iter_mut().take(len(0.4)).enumerate() {
                let t = self.t(i);
                let freq = self.freq + 110.0 * (-t * 30.0).exp();
                phase += TAU * freq / self.sr;
                *s += (self.amp * phase.sin() * (-t * 8.0).exp()) as f32;
            }
        } else if sound == Sound::Snare {
            let mut tone = Rotor::new(190.0, self.sr, 0.0);
            let mut prev = 0.0;
            for (i, s) in out.iter_mut().take(len(0.25)).enumerate() {
                let t = self.t(i);
                let n = noise(rng);
                let bright = n - 0.5 * prev;
                prev = n;
                let v = 0.5 * tone.next() * (-t * 25.0).exp() + 0.6 * bright * (-t * 16.0).exp();
                *s += (self.amp * v) as f32;
            }
        } else {
            let (mut x1, mut y1) = (0.0, 0.0);
            for (i, s) in out.iter_mut().take(len(0.08)).enumerate() {
                let t = self.t(i);
                let n = noise(rng);
                // Two first differences: a steep high-pass that leaves the hiss.
                let d1 = n - x1;
                let d2 = d1 - y1;
                x1 = n;
                y1 = d1;
                *s += (self.amp * 0.35 * d2 * (-t * 55.0).exp()) as f32;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    /// Frequency of the strongest autocorrelation lag of `x` between `lo` and `hi` Hz.
    fn pitch(x: &[f32], sr: f64, lo: f64, hi: f64) -> f64 {
        let (min_lag, max_lag) = ((sr / hi) as usize, (sr / lo) as usize);
        let ac = |lag: usize| -> f64 {
            x.iter()
                .zip(&x[lag..])
                .map(|(a, b)| f64::from(*a) * f64::from(*b))
                .sum()
        };
        let best = (min_lag..=max_lag)
            .max_by(|&a, &b| ac(a).total_cmp(&ac(b)))
            .unwrap();
        // Parabolic interpolation around the peak.
        let (l, c, r) = (ac(best - 1), ac(best), ac(best + 1));
        let offset = 0.5 * (l - r) / (l - 2.0 * c + r);
        sr / (best as f64 + offset)
    }

    #[test]
    fn pitched_voices_sound_at_their_note() {
        let sr = 44_100u32;
        for instrument in Timbre::ALL {
            if instrument == Timbre::Drums {
                continue;
            }
            let notes: &[f64] = if instrument == Timbre::Bass {
                &[36.0, 41.0, 47.0]
            } else {
                &[55.0, 62.0, 69.0, 76.0, 83.0, 88.0]
            };
            for &midi in notes {
                let note = Note {
                    start: 0,
                    len: 16384,
                    sound: Sound::Pitch(midi),
                    velocity: 1.0,
                };
                let mut out = vec![0.0f32; 16384];
                let mut rng = ChaCha8Rng::seed_from_u64(1);
                render(instrument, &note, sr, &mut rng, &mut out);
                assert!(out.iter().all(|s| s.is_finite()), "{instrument:?}");
                let expected = midi_to_hz(midi);
                let f = pitch(&out[4096..], f64::from(sr), 0.75 * expected, 1.5 * expected);
                let cents = 1200.0 * (f / expected).log2();
                assert!(
                    cents.abs() < 10.0,
                    "{instrument:?} at MIDI {midi}: {f} Hz, expected {expected} Hz ({cents:+.1} cents)"
                );
            }
        }
    }

    #[test]
    fn names_round_trip() {
        for instrument in Timbre::ALL {
            assert_eq!(Timbre::from_name(instrument.name()), Some(instrument));
            let json = serde_json::to_string(&instrument).unwrap();
            assert_eq!(json, format!("\"{}\"", instrument.name()));
            assert_eq!(
                Timbre::for_instrument(instrument.instrument()),
                Some(instrument)
            );
        }
    }
}
