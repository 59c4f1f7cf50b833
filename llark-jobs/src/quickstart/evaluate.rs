//! The quickstart's held-out evaluation with LLark's answer parsing and metrics, and the
//! per-clip answers.

use std::collections::BTreeSet;

use burn::tensor::backend::Backend;
use llark::eval::{
    judge_key_answer, musicnet_counts_with_vocabulary, parse_tempo, tempo_accuracy, Acc,
    InstrumentF1Mode, TempoFormula,
};
use llark::music::Instrument;
use llark::Pipeline;
use serde::{Deserialize, Serialize};

use super::data::Encoded;
use super::{INSTRUMENT_QUESTION, KEY_QUESTION, TEMPO_QUESTION};
use crate::error::Result;
use crate::progress::bar;

/// The scores on one held-out set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SetReport {
    /// `"composed"` or `"real"`.
    pub name: String,
    /// The SoundFonts its clips were rendered with.
    pub soundfonts: Vec<String>,
    /// Clips evaluated.
    pub n_clips: usize,
    /// Tempo ACC1 (within 4%), mir_eval's inclusive form.
    pub tempo_acc1: f64,
    /// Tempo ACC2 (within 4% of the tempo or of 2x, 1/2x, 3x, 1/3x).
    pub tempo_acc2: f64,
    /// Mean MIREX weighted key score.
    pub key_mirex: f64,
    /// Micro-averaged instrument F1 (LLark's corrected mode) over the instrument vocabulary.
    pub instrument_f1: f64,
}

/// Asks the three evaluation questions about every clip, scores the answers, and appends one
/// JSON line per clip (questions, answers, truth) to `answers`.
pub(super) fn evaluate<B: Backend>(
    pipeline: &Pipeline<B>,
    name: &str,
    clips: &[Encoded<B>],
    progress: bool,
    answers: &mut String,
) -> Result<SetReport> {
    let bar = bar(clips.len(), progress, name);
    let (mut acc1, mut acc2, mut key) = (0usize, 0usize, 0.0f64);
    let mut instrument_rows: Vec<(String, Vec<String>)> = Vec::with_capacity(clips.len());
    let mut fonts = BTreeSet::new();
    for clip in clips {
        let audio = &clip.encodings;
        let truth = &clip.truth;
        fonts.insert(truth.soundfont.clone());
        let tempo_answer = pipeline.ask(audio, TEMPO_QUESTION, None)?;
        let estimate = parse_tempo(&tempo_answer);
        let clip_acc1 =
            tempo_accuracy(truth.tempo_bpm, estimate, Acc::Acc1, TempoFormula::MirEval)?;
        let clip_acc2 =
            tempo_accuracy(truth.tempo_bpm, estimate, Acc::Acc2, TempoFormula::MirEval)?;
        acc1 += usize::from(clip_acc1);
        acc2 += usize::from(clip_acc2);
        let key_answer = pipeline.ask(audio, KEY_QUESTION, None)?;
        let key_score = judge_key_answer(&truth.key, &key_answer)?.score;
        key += key_score;
        let instrument_answer = pipeline.ask(audio, INSTRUMENT_QUESTION, None)?;
        let line = serde_json::json!({
            "set": name,
            "id": clip.id,
            "tempo": {"question": TEMPO_QUESTION, "answer": tempo_answer, "estimate": estimate,
                      "acc1": clip_acc1, "acc2": clip_acc2},
            "key": {"question": KEY_QUESTION, "answer": key_answer, "mirex": key_score},
            "instruments": {"question": INSTRUMENT_QUESTION, "answer": instrument_answer},
            "truth": truth,
        });
        answers.push_str(&line.to_string());
        answers.push('\n');
        instrument_rows.push((instrument_answer, truth.instruments.clone()));
        bar.inc(1);
    }
    bar.finish_and_clear();
    let n = clips.len().max(1) as f64;
    let vocabulary: BTreeSet<String> = Instrument::all().map(|i| i.name().to_owned()).collect();
    let rows: Vec<(&str, &[String])> = instrument_rows
        .iter()
        .map(|(answer, truth)| (answer.as_str(), truth.as_slice()))
        .collect();
    let counts = musicnet_counts_with_vocabulary(&rows, &vocabulary, InstrumentF1Mode::Corrected);
    Ok(SetReport {
        name: name.to_owned(),
        soundfonts: fonts.into_iter().collect(),
        n_clips: clips.len(),
        tempo_acc1: acc1 as f64 / n,
        tempo_acc2: acc2 as f64 / n,
        key_mirex: key / n,
        instrument_f1: counts.f1().unwrap_or(0.0),
    })
}

pub(super) fn print_table(report: &SetReport) {
    println!(
        "  {} ({} held-out clips, {}):",
        report.name,
        report.n_clips,
        report.soundfonts.join(", ")
    );
    println!("  | task | metric | value |");
    println!("  |---|---|---|");
    println!("  | tempo | ACC1 | {:.3} |", report.tempo_acc1);
    println!("  | tempo | ACC2 | {:.3} |", report.tempo_acc2);
    println!("  | key | MIREX weighted score | {:.3} |", report.key_mirex);
    println!("  | instruments | F1 | {:.3} |", report.instrument_f1);
}
