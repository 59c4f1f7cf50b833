//! The quickstart's held-out evaluation with LLark's answer parsing and metrics.

use std::collections::BTreeSet;

use burn::tensor::backend::Backend;
use llark::audio::synth;
use llark::eval::{
    judge_key_answer, musicnet_counts_with_vocabulary, parse_tempo, tempo_accuracy, Acc,
    InstrumentF1Mode, TempoFormula,
};
use llark::Pipeline;

use super::{HeldOut, QuickstartReport, INSTRUMENT_QUESTION, KEY_QUESTION, TEMPO_QUESTION};
use crate::error::Result;
use crate::progress::bar;

/// Asks the three evaluation questions about every held-out clip and scores the answers.
pub(super) fn evaluate<B: Backend>(
    pipeline: &Pipeline<B>,
    clips: &[HeldOut<B>],
    progress: bool,
) -> Result<QuickstartReport> {
    let bar = bar(clips.len(), progress, "evaluation");
    let (mut acc1, mut acc2, mut key) = (0usize, 0usize, 0.0f64);
    let mut instrument_rows: Vec<(String, Vec<String>)> = Vec::with_capacity(clips.len());
    for clip in clips {
        let audio = &clip.encodings;
        let tempo_answer = pipeline.ask(audio, TEMPO_QUESTION, None)?;
        let estimate = parse_tempo(&tempo_answer);
        let reference = clip.meta.tempo_bpm;
        acc1 += tempo_accuracy(reference, estimate, Acc::Acc1, TempoFormula::MirEval)? as usize;
        acc2 += tempo_accuracy(reference, estimate, Acc::Acc2, TempoFormula::MirEval)? as usize;
        let key_answer = pipeline.ask(audio, KEY_QUESTION, None)?;
        key += judge_key_answer(&clip.meta.key, &key_answer)?.score;
        let instrument_answer = pipeline.ask(audio, INSTRUMENT_QUESTION, None)?;
        let truth = clip.meta.instruments.iter().map(|i| i.name().to_owned());
        instrument_rows.push((instrument_answer, truth.collect()));
        bar.inc(1);
    }
    bar.finish_and_clear();
    let n = clips.len().max(1) as f64;
    // LLark's pooled instrument F1 (corrected mode: case-insensitive, false negatives summed)
    // over the synthesiser's instrument names.
    let vocabulary: BTreeSet<String> = synth::Timbre::ALL
        .iter()
        .map(|i| i.name().to_owned())
        .collect();
    let rows: Vec<(&str, &[String])> = instrument_rows
        .iter()
        .map(|(answer, truth)| (answer.as_str(), truth.as_slice()))
        .collect();
    let counts = musicnet_counts_with_vocabulary(&rows, &vocabulary, InstrumentF1Mode::Corrected);
    let f1 = counts.f1().unwrap_or(0.0);
    Ok(QuickstartReport {
        n_clips: clips.len(),
        tempo_acc1: acc1 as f64 / n,
        tempo_acc2: acc2 as f64 / n,
        key_mirex: key / n,
        instrument_f1: f1,
    })
}

pub(super) fn print_table(report: &QuickstartReport) {
    println!("  | task | metric | value |");
    println!("  |---|---|---|");
    println!("  | tempo | ACC1 | {:.3} |", report.tempo_acc1);
    println!("  | tempo | ACC2 | {:.3} |", report.tempo_acc2);
    println!("  | key | MIREX weighted score | {:.3} |", report.key_mirex);
    println!("  | instruments | F1 | {:.3} |", report.instrument_f1);
    println!("  ({} held-out clips)", report.n_clips);
}
