//! Answers about audio of any length.
//!
//! A model answers about as much audio as it was trained on ([`crate::LlarkConfig::max_audio_seconds`]).
//! Longer audio is never fed whole (that would put more frames in the prompt than the model
//! ever saw, and past a point more than its context holds): it is normalised once over the whole
//! track, cut into windows of the trained length without overlap (a last window shorter than
//! [`MIN_LAST_WINDOW_SECONDS`] joins the one before it unless it is the only one), each window
//! is asked the question, and the answers are combined by what they say:
//!
//! | the windows' answers | combined answer |
//! |---|---|
//! | at least half name a key | the key named over the most seconds of music (the first answer naming it) |
//! | else at least half give a tempo | the answer whose tempo is the median of the windows' |
//! | else at least half name instruments | `"I can hear …"` with every instrument named in windows covering at least half the track |
//! | otherwise | the answer given over the most seconds |
//!
//! [`TrackAnswer::windows`] keeps every window's answer, so nothing is hidden.

use std::path::Path;

use burn::tensor::backend::Backend;
use llark_audio::Audio;
use llark_eval::{parse_key, parse_tempo};
use llark_music::{join_words, Instrument};
use serde::Serialize;

use crate::error::{LlarkError, Result};
use crate::frontend::WindowPlan;
use crate::pipeline::Pipeline;

/// A last window shorter than this (seconds) is joined to the one before it.
pub const MIN_LAST_WINDOW_SECONDS: f64 = 5.0;

/// How the answer about a whole track was formed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Combination {
    /// The audio fitted in one window: the model's own answer.
    Whole,
    /// The key named over the most seconds.
    KeyVote,
    /// The median tempo.
    TempoMedian,
    /// The instruments named over at least half the track.
    InstrumentMajority,
    /// The answer given over the most seconds.
    MostCommon,
}

/// One window's answer.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WindowAnswer {
    /// Start in seconds.
    pub start_seconds: f64,
    /// Length in seconds.
    pub duration_seconds: f64,
    /// The model's answer about this window.
    pub answer: String,
}

/// The answer about a whole track.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TrackAnswer {
    /// The combined answer.
    pub text: String,
    /// How it was formed.
    pub combination: Combination,
    /// Every window's answer, in time order.
    pub windows: Vec<WindowAnswer>,
}

/// The sample ranges a track of `len` samples at `rate` Hz is answered over, windows of
/// `window_seconds` (see the module documentation).
pub fn track_windows(
    len: usize,
    rate: u32,
    window_seconds: f64,
) -> Result<Vec<std::ops::Range<usize>>> {
    let mut ranges = WindowPlan::new(window_seconds, window_seconds)?.ranges(len, rate);
    let short = (MIN_LAST_WINDOW_SECONDS * f64::from(rate)) as usize;
    if ranges.len() > 1 && ranges.last().is_some_and(|r| r.len() < short) {
        if let Some(last) = ranges.pop() {
            if let Some(previous) = ranges.last_mut() {
                previous.end = last.end;
            }
        }
    }
    Ok(ranges)
}

/// The instruments an answer names (whole words, longest names first so that "electric
/// piano" is not also "piano").
fn named_instruments(answer: &str, vocabulary: &[Instrument]) -> Vec<Instrument> {
    let mut text = format!(
        " {} ",
        answer.to_lowercase().replace([',', '.', ';', ':'], " ")
    );
    let mut by_length = vocabulary.to_vec();
    by_length.sort_by_key(|i| std::cmp::Reverse(i.name().len()));
    let mut found = Vec::new();
    for instrument in by_length {
        let needle = format!(" {} ", instrument.name());
        if text.contains(&needle) {
            found.push(instrument);
            text = text.replace(&needle, " ");
        }
    }
    found.sort();
    found
}

/// Combines the windows' answers (see the module documentation).
pub fn combine_answers(windows: &[WindowAnswer]) -> (String, Combination) {
    let total: f64 = windows.iter().map(|w| w.duration_seconds).sum();
    let half = windows.len().div_ceil(2);
    let weight_of = |pick: &dyn Fn(&WindowAnswer) -> bool| -> f64 {
        windows
            .iter()
            .filter(|w| pick(w))
            .map(|w| w.duration_seconds)
            .sum()
    };
    // Keys.
    let keys: Vec<Option<String>> = windows.iter().map(|w| parse_key(&w.answer)).collect();
    if keys.iter().flatten().count() >= half {
        let mut best: Option<(f64, &String)> = None;
        for key in keys.iter().flatten() {
            let weight: f64 = windows
                .iter()
                .zip(&keys)
                .filter(|(_, k)| k.as_ref() == Some(key))
                .map(|(w, _)| w.duration_seconds)
                .sum();
            if best.is_none_or(|(b, _)| weight > b) {
                best = Some((weight, key));
            }
        }
        if let Some((_, key)) = best {
            let index = keys
                .iter()
                .position(|k| k.as_ref() == Some(key))
                .unwrap_or(0);
            return (windows[index].answer.clone(), Combination::KeyVote);
        }
    }
    // Tempi.
    let tempi: Vec<(usize, f64)> = windows
        .iter()
        .enumerate()
        .filter_map(|(i, w)| {
            parse_tempo(&w.answer)
                .filter(|t| t.is_finite())
                .map(|t| (i, t))
        })
        .collect();
    if tempi.len() >= half && !tempi.is_empty() {
        let mut sorted: Vec<f64> = tempi.iter().map(|t| t.1).collect();
        sorted.sort_by(f64::total_cmp);
        let median = sorted[(sorted.len() - 1) / 2];
        let index = tempi
            .iter()
            .find(|t| t.1 == median)
            .map(|t| t.0)
            .unwrap_or(0);
        return (windows[index].answer.clone(), Combination::TempoMedian);
    }
    // Instruments.
    let vocabulary: Vec<Instrument> = Instrument::all().collect();
    let named: Vec<Vec<Instrument>> = windows
        .iter()
        .map(|w| named_instruments(&w.answer, &vocabulary))
        .collect();
    if named.iter().filter(|n| !n.is_empty()).count() >= half {
        let mut kept: Vec<Instrument> = named.iter().flatten().copied().collect();
        kept.sort();
        kept.dedup();
        kept.retain(|i| {
            let weight: f64 = windows
                .iter()
                .zip(&named)
                .filter(|(_, n)| n.contains(i))
                .map(|(w, _)| w.duration_seconds)
                .sum();
            2.0 * weight >= total
        });
        if !kept.is_empty() {
            let names: Vec<&str> = kept.iter().map(|i| i.name()).collect();
            return (
                format!("I can hear {}.", join_words(&names)),
                Combination::InstrumentMajority,
            );
        }
    }
    // Anything else.
    let mut best: Option<(f64, usize)> = None;
    for (i, w) in windows.iter().enumerate() {
        let weight = weight_of(&|other| other.answer == w.answer);
        if best.is_none_or(|(b, _)| weight > b) {
            best = Some((weight, i));
        }
    }
    let index = best.map(|b| b.1).unwrap_or(0);
    (
        windows
            .get(index)
            .map(|w| w.answer.clone())
            .unwrap_or_default(),
        Combination::MostCommon,
    )
}

impl<B: Backend> Pipeline<B> {
    /// The longest audio the model answers about in one piece, in seconds (from its
    /// configuration; `None`: not recorded, so any length is fed whole as in LLark, where the
    /// encoder's own input bound applies).
    pub fn max_audio_seconds(&self) -> Option<f64> {
        self.model().config().max_audio_seconds
    }

    /// Answers `question` about audio of any length (any rate; resampled and normalised over
    /// the whole track first): in one piece when it fits [`Self::max_audio_seconds`], else
    /// window by window, combined as the [module](crate::track) describes.
    pub fn ask_audio(&self, audio: &Audio, question: &str) -> Result<TrackAnswer> {
        let front_end = self.front_end().ok_or(LlarkError::NoEncoder)?;
        let prepared = front_end.prepare(audio)?;
        let rate = prepared.sample_rate();
        let ranges = match self.max_audio_seconds() {
            Some(seconds) if prepared.duration_seconds() > seconds => {
                track_windows(prepared.len(), rate, seconds)?
            }
            _ => std::iter::once(0..prepared.len()).collect(),
        };
        let mut windows = Vec::with_capacity(ranges.len());
        for window in front_end.encode_ranges(&prepared, ranges)? {
            windows.push(WindowAnswer {
                start_seconds: window.start_seconds,
                duration_seconds: window.duration_seconds,
                answer: self.ask(&window.encodings, question, None)?,
            });
        }
        let (text, combination) = if windows.len() == 1 {
            (windows[0].answer.clone(), Combination::Whole)
        } else {
            combine_answers(&windows)
        };
        Ok(TrackAnswer {
            text,
            combination,
            windows,
        })
    }

    /// [`Self::ask_audio`] on a file (decoded, mixed to mono).
    pub fn ask_file(&self, path: impl AsRef<Path>, question: &str) -> Result<TrackAnswer> {
        let path = path.as_ref();
        let audio = llark_audio::load(path).map_err(|source| LlarkError::InFile {
            path: path.to_path_buf(),
            source: Box::new(source.into()),
        })?;
        self.ask_audio(&audio, question)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn windows(answers: &[(&str, f64)]) -> Vec<WindowAnswer> {
        let mut start = 0.0;
        answers
            .iter()
            .map(|&(answer, duration)| {
                let w = WindowAnswer {
                    start_seconds: start,
                    duration_seconds: duration,
                    answer: answer.to_owned(),
                };
                start += duration;
                w
            })
            .collect()
    }

    #[test]
    fn keys_are_voted_by_seconds() {
        let (text, how) = combine_answers(&windows(&[
            ("This piece is in G major.", 10.0),
            ("The key is D major.", 24.0),
            ("This piece is in G major.", 10.0),
            ("It is in the key of D major.", 5.0),
        ]));
        assert_eq!(how, Combination::KeyVote);
        assert_eq!(text, "The key is D major.");
    }

    #[test]
    fn tempi_take_the_median() {
        let (text, how) = combine_answers(&windows(&[
            ("The tempo is about 120 BPM.", 24.0),
            ("About 60 BPM.", 24.0),
            ("The tempo is about 122 BPM.", 24.0),
        ]));
        assert_eq!(how, Combination::TempoMedian);
        assert_eq!(text, "The tempo is about 120 BPM.");
    }

    #[test]
    fn instruments_heard_over_half_the_track_are_kept() {
        let (text, how) = combine_answers(&windows(&[
            ("I can hear electric piano and drums.", 20.0),
            ("The instruments are electric piano, bass and drums.", 20.0),
            ("I can hear piano.", 10.0),
        ]));
        assert_eq!(how, Combination::InstrumentMajority);
        assert_eq!(text, "I can hear electric piano and drums.");
    }

    #[test]
    fn other_answers_take_the_most_common() {
        let (text, how) = combine_answers(&windows(&[
            ("It sounds calm.", 10.0),
            ("It sounds lively.", 24.0),
            ("It sounds calm.", 20.0),
        ]));
        assert_eq!(
            (text.as_str(), how),
            ("It sounds calm.", Combination::MostCommon)
        );
    }

    #[test]
    fn a_short_last_window_joins_the_one_before() {
        let rate = 10;
        // 24 s windows over 50 s: 24 + 24 + 2 -> 24 + 26.
        let ranges = track_windows(500, rate, 24.0).unwrap();
        assert_eq!(ranges, vec![0..240, 240..500]);
        assert_eq!(track_windows(100, rate, 24.0).unwrap(), vec![0..100]);
        assert_eq!(track_windows(540, rate, 24.0).unwrap().len(), 3);
        assert!(track_windows(100, rate, 0.0).is_err());
    }
}
