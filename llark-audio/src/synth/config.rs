//! What to generate: the configuration of the generator and its limits.

use llark_music::{Key, Mode};

use super::voice::Timbre;
use crate::error::{AudioError, Result};
use crate::llark::LLARK_SAMPLE_RATE;

/// The longest piece [`generate`](super::generate) accepts, in seconds.
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
    pub instruments: Option<Vec<Timbre>>,
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
        if let Some(key) = self.key.filter(|k| k.mode() == Mode::Other) {
            return invalid(
                "key",
                format!("{key} is neither major nor minor; the generator plays only those"),
            );
        }
        if let Some(list) = &self.instruments {
            if !list.iter().any(|i| Timbre::HARMONIC.contains(i)) {
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
