//! Instrument identification (MedleyDB, MusicNet): LLark's string matching and F1.

use std::collections::BTreeSet;
use std::sync::LazyLock;

use regex::Regex;
use serde::{Deserialize, Serialize};

use crate::error::EvalError;
use crate::pytext::py_strip;

/// LLark's `medleydb_instruments_mapping`, verbatim and in its order: raw MedleyDB instrument
/// label → the string searched for in the answer (`None`: the label is ignored). Raw labels
/// missing from this table are ignored too.
pub const MEDLEYDB_INSTRUMENT_MAPPING: [(&str, Option<&str>); 67] = [
    ("Main System", None),
    ("acoustic guitar", Some("guitar")),
    ("alto saxophone", Some("saxophone")),
    ("auxiliary percussion", Some("drum")),
    ("bamboo flute", Some("flute")),
    ("baritone saxophone", Some("saxophone")),
    ("bass clarinet", Some("clarinet")),
    ("bass drum", Some("drum")),
    ("bassoon", Some("bassoon")),
    ("brass section", None),
    ("cello", Some("cello")),
    ("cello section", Some("cello")),
    ("chimes", None),
    ("claps", None),
    ("clarinet", Some("clarinet")),
    ("clarinet section", Some("clarinet")),
    ("clean electric guitar", Some("guitar")),
    ("cymbal", Some("drum")),
    ("darbuka", None),
    ("distorted electric guitar", Some("guitar")),
    ("dizi", Some("flute")),
    ("double bass", Some("bass")),
    ("drum machine", Some("drum")),
    ("drum set", Some("drum")),
    ("electric bass", Some("bass")),
    ("electric piano", Some("piano")),
    ("erhu", None),
    ("female singer", Some("vocals")),
    ("flute", Some("flute")),
    ("flute section", Some("flute")),
    ("french horn", Some("horn")),
    ("fx/processed sound", None),
    ("gu", None),
    ("guzheng", None),
    ("harp", Some("harp")),
    ("horn section", Some("horn")),
    ("kick drum", Some("drum")),
    ("lap steel guitar", Some("guitar")),
    ("liuqin", None),
    ("male singer", Some("vocals")),
    ("mandolin", Some("guitar")),
    ("oboe", Some("oboe")),
    ("oud", None),
    ("piano", Some("piano")),
    ("piccolo", Some("flute")),
    ("sampler", None),
    ("shaker", None),
    ("snare drum", Some("drum")),
    ("soprano saxophone", Some("saxophone")),
    ("string section", None),
    ("synthesizer", Some("synthesizer")),
    ("tabla", None),
    ("tack piano", Some("piano")),
    ("tambourine", None),
    ("tenor saxophone", Some("saxophone")),
    ("timpani", None),
    ("trumpet", Some("trumpet")),
    ("trumpet section", Some("trumpet")),
    ("tuba", Some("tuba")),
    ("vibraphone", None),
    ("viola", Some("viola")),
    ("viola section", Some("viola")),
    ("violin", Some("violin")),
    ("violin section", Some("violin")),
    ("vocalists", Some("vocals")),
    ("yangqin", None),
    ("zhongruan", None),
];

/// The constant answer of LLark's MedleyDB instrument baseline.
pub const MEDLEYDB_BASELINE_ANSWER: &str = "drum set electric bass vocals piano guitar";

/// The constant answer of LLark's MusicNet instrument baseline.
pub const MUSICNET_BASELINE_ANSWER: &str = "piano";

/// Activation confidence above which a stem counts as active.
pub const MEDLEYDB_ACTIVATION_THRESHOLD: f64 = 0.5;

/// Active raw instrument labels of a MedleyDB crop, as LLark's `load_medleydb_instruments`:
/// read the activation-confidence table (`<id>_ACTIVATION_CONF.lab`, CSV with header
/// `time,S01,S02,…`), rename stem columns to their instrument (`stem_instruments`: stem id →
/// `stems.Sxx.instrument` of the track metadata; unknown stems keep their id), keep the
/// frames with `start ≤ time ≤ end`, and return, in column order, every column with at
/// least one kept confidence > 0.5. Two stems with the same instrument give the label twice
/// (harmless: matching works per distinct raw label).
pub fn medleydb_active_instruments(
    activation_csv: &str,
    stem_instruments: &[(&str, &str)],
    start: f64,
    end: f64,
) -> Result<Vec<String>, EvalError> {
    let bad = |line: usize, reason: String| EvalError::MalformedActivations { line, reason };
    let mut lines = activation_csv
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty());
    let (_, header) = lines
        .next()
        .ok_or_else(|| bad(1, "empty table (no header)".into()))?;
    let columns: Vec<&str> = header.split(',').map(str::trim).skip(1).collect();
    let mut active = vec![false; columns.len()];
    for (i, line) in lines {
        let fields: Vec<&str> = line.split(',').map(str::trim).collect();
        if fields.len() != columns.len() + 1 {
            return Err(bad(
                i + 1,
                format!(
                    "{} fields where the header has {}",
                    fields.len(),
                    columns.len() + 1
                ),
            ));
        }
        let number = |s: &str| {
            s.parse::<f64>()
                .map_err(|_| bad(i + 1, format!("{s:?} is not a number")))
        };
        let time = number(fields[0])?;
        let in_crop = time >= start && time <= end;
        if !in_crop {
            continue;
        }
        for (flag, value) in active.iter_mut().zip(&fields[1..]) {
            // An empty cell is NaN in pandas and never exceeds the threshold.
            if !value.is_empty() && number(value)? > MEDLEYDB_ACTIVATION_THRESHOLD {
                *flag = true;
            }
        }
    }
    Ok(columns
        .iter()
        .zip(active)
        .filter(|(_, on)| *on)
        .map(|(stem, _)| {
            stem_instruments
                .iter()
                .find(|(s, _)| s == stem)
                .map_or(*stem, |(_, inst)| *inst)
                .to_owned()
        })
        .collect())
}

/// The string searched for a raw MedleyDB label, or `None` if the label is ignored (mapped to
/// `None`, or absent from [`MEDLEYDB_INSTRUMENT_MAPPING`]).
pub fn medleydb_search_string(raw_label: &str) -> Option<&'static str> {
    MEDLEYDB_INSTRUMENT_MAPPING
        .iter()
        .find(|(raw, _)| *raw == raw_label)
        .and_then(|(_, mapped)| *mapped)
}

/// LLark's `medleydb_instrument_in_response` for an already mapped search string: split the
/// answer on `"."`, drop every sentence containing `" no "` (case-sensitive, spaces needed),
/// and test `search in sentence.lower()` on the rest (plain substring: `bass` hits
/// "bassoon", `harp` hits "sharp", `vocals` misses "vocal").
pub fn medleydb_instrument_in_response(search: &str, response: &str) -> bool {
    response
        .split('.')
        .filter(|s| !s.contains(" no "))
        .any(|s| s.to_lowercase().contains(search))
}

/// True-positive, false-positive and false-negative counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct InstrumentCounts {
    /// True positives.
    pub tp: usize,
    /// False positives.
    pub fp: usize,
    /// False negatives.
    pub fn_: usize,
}

impl InstrumentCounts {
    /// `2TP / (2TP + FP + FN)`, or `None` when the denominator is 0.
    pub fn f1(&self) -> Option<f64> {
        let denominator = 2 * self.tp + self.fp + self.fn_;
        (denominator > 0).then(|| 2.0 * self.tp as f64 / denominator as f64)
    }
}

/// LLark's per-track MedleyDB counts, per **raw** label of [`MEDLEYDB_INSTRUMENT_MAPPING`]
/// with a search string: an active label mentioned is a TP, an active label not mentioned an
/// FN, an inactive label mentioned an FP (so "guitar" with only `acoustic guitar` active
/// adds 4 FP, one per other guitar label). `active` holds the raw labels active in the crop;
/// duplicates and unmapped labels do not count.
pub fn medleydb_track_counts<S: AsRef<str>>(active: &[S], response: &str) -> InstrumentCounts {
    let mut counts = InstrumentCounts::default();
    for (raw, mapped) in MEDLEYDB_INSTRUMENT_MAPPING {
        let Some(search) = mapped else { continue };
        let is_active = active.iter().any(|a| a.as_ref() == raw);
        let mentioned = medleydb_instrument_in_response(search, response);
        match (is_active, mentioned) {
            (true, true) => counts.tp += 1,
            (true, false) => counts.fn_ += 1,
            (false, true) => counts.fp += 1,
            (false, false) => {}
        }
    }
    counts
}

/// Result of a mean-of-tracks F1.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct MeanF1 {
    /// Mean of the per-track F1 over the scored tracks (`None` if no track could be scored).
    pub f1: Option<f64>,
    /// Tracks scored.
    pub scored: usize,
    /// Tracks skipped because F1 was 0/0 (no mapped active label and nothing mentioned).
    pub skipped: usize,
}

/// LLark's MedleyDB instrument F1: the mean of the per-track F1 of
/// [`medleydb_track_counts`], skipping 0/0 tracks (not counting them as 0).
pub fn medleydb_f1<'a, I, S>(tracks: I) -> MeanF1
where
    I: IntoIterator<Item = (&'a str, &'a [S])>,
    S: AsRef<str> + 'a,
{
    let mut sum = 0.0;
    let (mut scored, mut skipped) = (0usize, 0usize);
    for (response, active) in tracks {
        match medleydb_track_counts(active, response).f1() {
            Some(f1) => {
                sum += f1;
                scored += 1;
            }
            None => skipped += 1,
        }
    }
    MeanF1 {
        f1: (scored > 0).then(|| sum / scored as f64),
        scored,
        skipped,
    }
}

/// The MedleyDB F1 of one bootstrap resample, as LLark's notebook computes it: per-track
/// scores are stored in a dict keyed by track id, so a track drawn several times counts
/// **once**; the result is the mean over the distinct drawn tracks with a defined F1.
/// `per_track[i]` is track `i`'s F1 (`None` for 0/0), `sample` the drawn track indices.
pub fn medleydb_resample_f1(per_track: &[Option<f64>], sample: &[usize]) -> Option<f64> {
    let distinct: BTreeSet<usize> = sample.iter().copied().collect();
    let scores: Vec<f64> = distinct
        .into_iter()
        .filter_map(|i| per_track.get(i).copied().flatten())
        .collect();
    (!scores.is_empty()).then(|| scores.iter().sum::<f64>() / scores.len() as f64)
}

/// Which MusicNet F1 to compute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub enum InstrumentF1Mode {
    /// LLark's notebook as released: case-sensitive substring matching on the raw answer,
    /// duplicated instruments counted twice, and `fn = …` instead of `fn += …`, so only the
    /// last row's false negatives survive (the result depends on row order). The default.
    #[default]
    Faithful,
    /// The evident intent: the answer is lower-cased, each row's instruments are
    /// deduplicated, and false negatives are summed over all rows.
    Corrected,
}

/// Python's `\d` on `str` (Unicode decimal digits).
static DIGITS: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\d").expect("static digit regex compiles"));

/// LLark's `parse_instruments_fn` on one MusicNet instrument name:
/// `re.sub("\d", "", name).strip().lower()` ("Violin 2" → "violin").
pub fn musicnet_instrument_name(name: &str) -> String {
    py_strip(&DIGITS.replace_all(name, "")).to_lowercase()
}

/// The instruments LLark adds to the MusicNet vocabulary.
pub const MUSICNET_EXTRA_INSTRUMENTS: [&str; 5] =
    ["fiddle", "guitar", "double bass", "banjo", "mandolin"];

/// LLark's MusicNet vocabulary: every (already normalised) instrument of the evaluation set
/// plus [`MUSICNET_EXTRA_INSTRUMENTS`]. It depends on the data.
pub fn musicnet_vocabulary<'a, I, S>(instrument_lists: I) -> BTreeSet<String>
where
    I: IntoIterator<Item = &'a [S]>,
    S: AsRef<str> + 'a,
{
    instrument_lists
        .into_iter()
        .flat_map(|l| l.iter().map(|s| s.as_ref().to_owned()))
        .chain(MUSICNET_EXTRA_INSTRUMENTS.iter().map(|s| (*s).to_owned()))
        .collect()
}

/// LLark's pooled (micro) MusicNet F1 over `(answer, normalised instruments)` rows, with the
/// vocabulary computed from the rows themselves ([`musicnet_vocabulary`]).
/// Returns the pooled counts; their [`InstrumentCounts::f1`] is the score.
pub fn musicnet_counts<'a, S>(
    rows: &[(&'a str, &'a [S])],
    mode: InstrumentF1Mode,
) -> InstrumentCounts
where
    S: AsRef<str> + 'a,
{
    let vocabulary = musicnet_vocabulary(rows.iter().map(|(_, l)| *l));
    musicnet_counts_with_vocabulary(rows, &vocabulary, mode)
}

/// [`musicnet_counts`] with an explicit vocabulary.
///
/// Per row, `tp += #{x in instruments : x in answer}`; `fp += #{x in vocabulary, x not in
/// instruments : x in answer}`; and `fn = #{x in instruments : x not in answer}` in
/// [`InstrumentF1Mode::Faithful`] (last row only) or `fn +=` in
/// [`InstrumentF1Mode::Corrected`]. See [`InstrumentF1Mode`] for the other differences.
pub fn musicnet_counts_with_vocabulary<'a, S>(
    rows: &[(&'a str, &'a [S])],
    vocabulary: &BTreeSet<String>,
    mode: InstrumentF1Mode,
) -> InstrumentCounts
where
    S: AsRef<str> + 'a,
{
    let mut counts = InstrumentCounts::default();
    for (answer, instruments) in rows {
        let (answer, instruments): (String, Vec<&str>) = match mode {
            InstrumentF1Mode::Faithful => (
                (*answer).to_owned(),
                instruments.iter().map(AsRef::as_ref).collect(),
            ),
            InstrumentF1Mode::Corrected => {
                let mut seen = BTreeSet::new();
                (
                    answer.to_lowercase(),
                    instruments
                        .iter()
                        .map(AsRef::as_ref)
                        .filter(|x| seen.insert(*x))
                        .collect(),
                )
            }
        };
        let row_tp = instruments.iter().filter(|x| answer.contains(**x)).count();
        let row_fn = instruments.len() - row_tp;
        let row_fp = vocabulary
            .iter()
            .filter(|x| !instruments.contains(&x.as_str()) && answer.contains(x.as_str()))
            .count();
        counts.tp += row_tp;
        counts.fp += row_fp;
        counts.fn_ = match mode {
            InstrumentF1Mode::Faithful => row_fn,
            InstrumentF1Mode::Corrected => counts.fn_ + row_fn,
        };
    }
    counts
}
