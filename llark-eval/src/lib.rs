//! LLark's evaluation: turning free-text answers into the numbers of the paper's table.
//!
//! LLark answers in free text; its evaluation notebooks parse the answers (regexes for key and
//! BPM, substring matching for genre and instruments) and score them against dataset labels.
//! This crate reproduces that code path, quirks included, and aggregates results into an
//! [`EvalTable`] (task, dataset, metric, value, n, CI) that serialises to JSON.
//!
//! | task | dataset | parsing | metric |
//! |---|---|---|---|
//! | key | GiantSteps-Key | [`parse_key`] → [`map_key_to_giantsteps`] → one of [`GIANTSTEPS_KEYS`] | mean MIREX weighted score ([`weighted_score`], mir_eval 0.8.2) |
//! | tempo | GiantSteps-Tempo | [`parse_tempo`] (first number) | ACC1 / ACC2 ([`tempo_accuracy`]) |
//! | genre | GTZAN, MedleyDB | [`normalise_genre_text`] | label substring ([`genre_in_text`]); Acc@1 with a pluggable [`TextEmbedder`] |
//! | instrument ID | MedleyDB | [`MEDLEYDB_INSTRUMENT_MAPPING`], [`medleydb_instrument_in_response`] | mean per-track F1 ([`medleydb_f1`]) |
//! | instrument ID | MusicNet | [`musicnet_instrument_name`], case-sensitive substrings | pooled F1 ([`musicnet_counts`]) |
//!
//! # Usage
//!
//! ```
//! use llark_eval::{evaluate, metric, EvalConfig, Reference, Task};
//!
//! let rows = vec![
//!     (Task::Key, "The key of this song is F# minor.", Reference::Key("Gb minor".into())),
//!     (Task::Tempo, "The tempo is 70 BPM.", Reference::Bpm(140.0)),
//! ];
//! let table = evaluate(rows, &EvalConfig::default()).unwrap();
//! assert_eq!(table.get(Task::Key, metric::MIREX).unwrap().value, Some(1.0));
//! assert_eq!(table.get(Task::Tempo, metric::ACC2).unwrap().value, Some(1.0));
//! println!("{}", table.to_json_pretty().unwrap());
//! ```
//!
//! [`Evaluator`] is the streaming form (push rows as they are generated, then
//! [`Evaluator::finish`] or [`Evaluator::finish_with_embedder`]); [`Reference::parse`] reads
//! textual labels; [`Task::default_prompt`] gives the question to ask per task and
//! [`Task::baseline_answer`] LLark's constant baseline answers. Joining answers with labels
//! uses LLark's id rules ([`giantsteps_track_id`], [`medleydb_track_id`], [`crop_start_end`]);
//! MedleyDB instrument references come from activation tables
//! ([`medleydb_active_instruments`]); [`majority_key_baseline`] is the key baseline.
//!
//! # Metrics and modes
//!
//! * **Key.** The answer's first `"<token> major|minor"` (case-sensitive; `-sharp`/` sharp`/
//!   `sharp` → `#`, `-flat` → `b`, but not `" flat"`) is mapped to flat spelling and scored
//!   only if it is one of the 24 GiantSteps keys; anything else scores 0 and stays in the
//!   denominator. The weighted score follows mir_eval: 1.0 same key, 0.5 estimate a fifth
//!   *above* (directional), 0.3 relative, 0.2 parallel, else 0; mir_eval's label validation
//!   (no `Cb`/`Fb`/`E#`/`B#`, case-sensitive mode) gives typed [`EvalError::MalformedKey`]s.
//! * **Tempo.** The first number in the answer; ACC1 accepts the reference, ACC2 the
//!   reference ×1, ×2, ×½, ×3, ×⅓, each within 4 %. [`TempoFormula::MirEval`] (default)
//!   tests `|c − e| / c ≤ 0.04`, inclusive at the exact boundary, as mir_eval writes it;
//!   [`TempoFormula::Madmom`] tests `|1 − e/c| ≤ 0.04`, which rounding makes exclusive at most
//!   exact boundaries. References of 0 BPM are dropped ([`EvalRow::skipped`]); answers without
//!   a number are misses.
//! * **Genre.** `_map_fn` ([`normalise_genre_text`]) then label-substring containment: the
//!   deterministic "true genre text in output" metric. LLark's table value, Acc@1 by cosine
//!   distance between text embeddings of the answer and of each label, needs an embedding
//!   model LLark never released; it is computed when a [`TextEmbedder`] is supplied, with
//!   LLark's Clopper–Pearson interval ([`clopper_pearson`], n = 1000 as in the notebooks).
//! * **Instruments, MedleyDB.** LLark's raw-label table, sentence `" no "` filter and
//!   per-raw-label TP/FP/FN, mean of per-track F1, 0/0 tracks skipped. One mode only (the
//!   released code has no bug to correct).
//! * **Instruments, MusicNet.** [`InstrumentF1Mode::Faithful`] (default) keeps the released
//!   notebook's behaviour: case-sensitive matching on the raw answer, duplicated instruments
//!   counted twice, and only the *last* row's false negatives kept (`fn =` for `fn +=`), which
//!   makes the score depend on row order. [`InstrumentF1Mode::Corrected`] lower-cases the
//!   answer, deduplicates instruments and sums false negatives.
//! * **Intervals.** Instrument F1 gets LLark's percentile bootstrap (1000 resamples, 5–95 %
//!   quantiles, [`bootstrap_ci`]), seeded for reproducibility where LLark used no seed.
//!   As in the notebook, a MedleyDB track drawn several times in a resample counts once
//!   ([`medleydb_resample_f1`]); a MusicNet resample keeps duplicates and its drawn order.
//!   Key and tempo have no interval, as in LLark.
//!
//! # Reconstructions and deviations
//!
//! LLark's `m2t/evaluation/utils.py` was never released, so these are decisions rather than
//! ports: the sharp→flat map and the 24-key validity filter, `strip_completion` (remove
//! `</s>` and `###`, strip), the ACC1/ACC2 functions (factors confirmed by the notebook's
//! plot; tolerance 4 %), and `acc_at_k` (stable argsort, ties to the lower label index).
//! Deliberate differences from the Python code: a malformed key *reference* is always an
//! error (the notebook only validates it when the answer is a valid key); a first number with
//! several dots (`1.2.3`) parses to `None` where Python raises; numbers are ASCII digits only;
//! the Acc@1 label set is [`GTZAN_GENRES`] for GTZAN and the distinct references for MedleyDB
//! (LLark read both from unreleased files). Python's `\w`, `\s`, `str.split()` and
//! `str.strip()` are emulated on the full Unicode range.
//!
//! # Fidelity
//!
//! `tests/eval_golden.rs` and `tests/eval_aggregate.rs` check every row of the
//! reference fixtures in `tests/fixtures/eval/`:
//!
//! * 52 key pairs: mir_eval 0.8.2 weighted score (or `ValueError`) and the LLark pipeline
//!   score, all exact;
//! * 48 tempo pairs: ACC1/ACC2 under mir_eval 0.8.2 and madmom 0.16.1, the first ACC2 factor,
//!   and where the two formulas disagree, all exact;
//! * 26 answer texts: LLark's `key_parse_fn`, `tempo_parse_fn` and `_map_fn` outputs, key
//!   validity, the resulting key/tempo scores and GTZAN substring hits, all exact;
//! * 5 MedleyDB and 2 × 3 MusicNet instrument examples from LLark's notebook functions
//!   (TP/FP/FN exact, F1 to 1e-15), LLark's 67-entry MedleyDB table, and the lookup of all 82
//!   MedleyDB v1 stem labels;
//! * 19 constant-prediction baselines over the real GiantSteps labels (604 keys, 664 tempi
//!   of which 661 scored) through [`evaluate`]: key MIREX to 1e-12, ACC1/ACC2 to the 6
//!   printed decimals, both tempo formulas;
//! * 72 Clopper–Pearson intervals against scipy's `beta.ppf`, to 1e-10.

#![warn(missing_docs)]

mod error;
pub mod genre;
pub mod ids;
pub mod instruments;
pub mod key;
mod pytext;
pub mod report;
pub mod stats;
pub mod tempo;

pub use error::EvalError;
pub use genre::{
    accuracy_at_k, cosine_distances, genre_accuracy_at_k, genre_in_text, genres_in_text,
    gtzan_genre_from_id, normalise_genre_text, strip_completion, TextEmbedder, GTZAN_GENRES,
};
pub use ids::{crop_start_end, giantsteps_track_id, medleydb_track_id};
pub use instruments::{
    medleydb_active_instruments, medleydb_f1, medleydb_instrument_in_response,
    medleydb_resample_f1, medleydb_search_string, medleydb_track_counts, musicnet_counts,
    musicnet_counts_with_vocabulary, musicnet_instrument_name, musicnet_vocabulary,
    InstrumentCounts, InstrumentF1Mode, MeanF1, MEDLEYDB_ACTIVATION_THRESHOLD,
    MEDLEYDB_BASELINE_ANSWER, MEDLEYDB_INSTRUMENT_MAPPING, MUSICNET_BASELINE_ANSWER,
    MUSICNET_EXTRA_INSTRUMENTS,
};
pub use key::{
    is_valid_giantsteps_key, judge_key_answer, key_score, majority_key_baseline,
    map_key_to_giantsteps, parse_key, pipeline_key_score, weighted_score, KeyJudgement,
    GIANTSTEPS_KEYS,
};
pub use llark_music::{KeyLabel, KeyLabelError, KeyLabelProblem};
pub use report::{evaluate, metric, EvalConfig, EvalRow, EvalTable, Evaluator, Reference, Task};
pub use stats::{
    beta_ppf, bootstrap_ci, clopper_pearson, regularized_incomplete_beta, BootstrapConfig,
    ConfidenceInterval,
};
pub use tempo::{
    parse_tempo, tempo_accuracy, tempo_hit_factor, Acc, TempoFactor, TempoFormula, TEMPO_TOLERANCE,
};
