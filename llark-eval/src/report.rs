//! Aggregation: (task, answer, reference) rows in, a paper-style results table out.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::EvalError;
use crate::genre::{genre_accuracy_at_k, genre_in_text, TextEmbedder, GTZAN_GENRES};
use crate::instruments::{
    medleydb_resample_f1, medleydb_track_counts, musicnet_counts, musicnet_instrument_name,
    InstrumentCounts, InstrumentF1Mode,
};
use crate::key::judge_key_answer;
use crate::stats::{bootstrap_ci, clopper_pearson, BootstrapConfig, ConfidenceInterval};
use crate::tempo::{parse_tempo, tempo_accuracy, Acc, TempoFormula};
use llark_music::KeyLabel;

/// An evaluation task of LLark's paper table (task + dataset).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Task {
    /// Key estimation on GiantSteps-Key (MIREX weighted score).
    Key,
    /// Tempo estimation on GiantSteps-Tempo (ACC1, ACC2).
    Tempo,
    /// Genre classification on GTZAN.
    GenreGtzan,
    /// Genre classification on MedleyDB.
    GenreMedleyDb,
    /// Instrument identification on MedleyDB (mean per-track F1).
    InstrumentsMedleyDb,
    /// Instrument identification on MusicNet (pooled F1).
    InstrumentsMusicNet,
}

impl Task {
    /// Every task, in table order.
    pub const ALL: [Task; 6] = [
        Task::Key,
        Task::Tempo,
        Task::GenreGtzan,
        Task::GenreMedleyDb,
        Task::InstrumentsMedleyDb,
        Task::InstrumentsMusicNet,
    ];

    /// The task column of the table: `key`, `tempo`, `genre` or `instrument ID`.
    pub fn name(self) -> &'static str {
        match self {
            Task::Key => "key",
            Task::Tempo => "tempo",
            Task::GenreGtzan | Task::GenreMedleyDb => "genre",
            Task::InstrumentsMedleyDb | Task::InstrumentsMusicNet => "instrument ID",
        }
    }

    /// The dataset column of the table.
    pub fn dataset(self) -> &'static str {
        match self {
            Task::Key => "GiantSteps-Key",
            Task::Tempo => "GiantSteps-Tempo",
            Task::GenreGtzan => "GTZAN",
            Task::GenreMedleyDb | Task::InstrumentsMedleyDb => "MedleyDB",
            Task::InstrumentsMusicNet => "MusicNet",
        }
    }

    /// The default question asked at inference. Only the instrument prompt is LLark's own
    /// (verified for MusicNet); the others are best guesses (see [`Task::prompt_is_verified`]).
    pub fn default_prompt(self) -> &'static str {
        match self {
            Task::Key => "What is the key of this song?",
            Task::Tempo => "What is the approximate tempo of the clip in beats per minute (BPM)?",
            Task::GenreGtzan | Task::GenreMedleyDb => "What genre is this song?",
            Task::InstrumentsMedleyDb | Task::InstrumentsMusicNet => {
                "What instruments do you hear in the provided audio?"
            }
        }
    }

    /// Whether [`Task::default_prompt`] is verified against LLark's released code.
    pub fn prompt_is_verified(self) -> bool {
        self == Task::InstrumentsMusicNet
    }

    /// The constant answer of LLark's baseline for the task, where it has one (instrument
    /// tasks; the key baseline is the majority class, see
    /// [`majority_key_baseline`](crate::key::majority_key_baseline)).
    pub fn baseline_answer(self) -> Option<&'static str> {
        match self {
            Task::InstrumentsMedleyDb => Some(crate::instruments::MEDLEYDB_BASELINE_ANSWER),
            Task::InstrumentsMusicNet => Some(crate::instruments::MUSICNET_BASELINE_ANSWER),
            _ => None,
        }
    }

    /// The kind of [`Reference`] the task needs.
    pub fn reference_kind(self) -> &'static str {
        match self {
            Task::Key => "key",
            Task::Tempo => "BPM",
            Task::GenreGtzan | Task::GenreMedleyDb => "genre",
            Task::InstrumentsMedleyDb | Task::InstrumentsMusicNet => "instrument list",
        }
    }
}

impl fmt::Display for Task {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.name(), self.dataset())
    }
}

/// A reference label.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Reference {
    /// A key in mir_eval notation, e.g. `F minor`.
    Key(String),
    /// A tempo in BPM. Values of 0 mark "no tempo" and are dropped, as LLark does.
    Bpm(f64),
    /// A genre label (GTZAN: one of [`GTZAN_GENRES`]; MedleyDB: its metadata genre).
    Genre(String),
    /// Instruments: MedleyDB raw labels active in the crop, or MusicNet instrument names
    /// (normalised with [`musicnet_instrument_name`] during evaluation).
    Instruments(Vec<String>),
}

impl Reference {
    /// The kind of reference, as named in errors.
    pub fn kind(&self) -> &'static str {
        match self {
            Reference::Key(_) => "key",
            Reference::Bpm(_) => "BPM",
            Reference::Genre(_) => "genre",
            Reference::Instruments(_) => "instrument list",
        }
    }

    /// Parses a textual reference label for `task`: a mir_eval key string, a number of BPM,
    /// a genre name, or `;`-separated instrument names.
    pub fn parse(task: Task, label: &str) -> Result<Reference, EvalError> {
        let label = label.trim();
        match task {
            Task::Key => {
                KeyLabel::parse_mir_eval(label)?;
                Ok(Reference::Key(label.to_owned()))
            }
            Task::Tempo => label.parse::<f64>().map(Reference::Bpm).map_err(|_| {
                EvalError::MalformedTempoLabel {
                    text: label.to_owned(),
                }
            }),
            Task::GenreGtzan | Task::GenreMedleyDb => {
                if label.is_empty() {
                    Err(EvalError::EmptyLabel { what: "genre" })
                } else {
                    Ok(Reference::Genre(label.to_owned()))
                }
            }
            Task::InstrumentsMedleyDb | Task::InstrumentsMusicNet => Ok(Reference::Instruments(
                label
                    .split(';')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect(),
            )),
        }
    }
}

/// Evaluation settings.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct EvalConfig {
    /// Tempo window test (default: mir_eval's inclusive form).
    pub tempo_formula: TempoFormula,
    /// MusicNet F1 mode (default: LLark-faithful).
    pub musicnet_mode: InstrumentF1Mode,
    /// Bootstrap CIs for instrument F1 (`None`: no CI). Default: LLark's 1000 resamples,
    /// 5–95 % quantiles, seed 0.
    pub bootstrap: Option<BootstrapConfig>,
    /// `n` passed to Clopper–Pearson for genre Acc@1 (LLark hard-codes 1000); `None` uses
    /// the real number of rows.
    pub clopper_pearson_trials: Option<usize>,
    /// Clopper–Pearson α (LLark: 0.05).
    pub clopper_pearson_alpha: f64,
}

impl Default for EvalConfig {
    fn default() -> Self {
        Self {
            tempo_formula: TempoFormula::default(),
            musicnet_mode: InstrumentF1Mode::default(),
            bootstrap: Some(BootstrapConfig::default()),
            clopper_pearson_trials: Some(1000),
            clopper_pearson_alpha: 0.05,
        }
    }
}

/// One line of the results table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvalRow {
    /// Task column (`key`, `tempo`, `genre`, `instrument ID`).
    pub task: String,
    /// Dataset column.
    pub dataset: String,
    /// Metric name.
    pub metric: String,
    /// Metric value; `None` when undefined (nothing could be scored).
    pub value: Option<f64>,
    /// Rows (tracks) in the metric's denominator.
    pub n: usize,
    /// Rows whose answer yielded no usable prediction (scored as misses, still in `n`).
    pub unusable_answers: usize,
    /// Rows left out of `n` by the protocol (tempo reference 0; MedleyDB 0/0 tracks).
    pub skipped: usize,
    /// Confidence interval, where LLark reports one.
    pub ci: Option<ConfidenceInterval>,
    /// How the value was computed (modes, reconstructions).
    pub note: String,
}

/// The results table: one [`EvalRow`] per (task, metric), in paper order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct EvalTable {
    /// The rows.
    pub rows: Vec<EvalRow>,
}

impl EvalTable {
    /// The row of `task` (by [`Task::name`] and [`Task::dataset`]) and `metric`, if present.
    pub fn get(&self, task: Task, metric: &str) -> Option<&EvalRow> {
        self.rows
            .iter()
            .find(|r| r.task == task.name() && r.dataset == task.dataset() && r.metric == metric)
    }

    /// Pretty-printed JSON.
    pub fn to_json_pretty(&self) -> Result<String, serde_json::Error> {
        serde_json::to_string_pretty(self)
    }

    /// A Markdown table like the paper's (task, dataset, metric, value, n, CI).
    pub fn to_markdown(&self) -> String {
        let mut out = String::from("| task | dataset | metric | value | n | 90/95% CI |\n");
        out.push_str("|---|---|---|---|---|---|\n");
        for r in &self.rows {
            let value = r
                .value
                .map_or_else(|| "n/a".to_owned(), |v| format!("{v:.4}"));
            let ci =
                r.ci.map_or_else(String::new, |c| format!("[{:.4}, {:.4}]", c.lower, c.upper));
            out.push_str(&format!(
                "| {} | {} | {} | {} | {} | {} |\n",
                r.task, r.dataset, r.metric, value, r.n, ci
            ));
        }
        out
    }
}

/// Metric names used in the table.
pub mod metric {
    /// Key: mean MIREX weighted score.
    pub const MIREX: &str = "MIREX weighted score";
    /// Tempo ACC1.
    pub const ACC1: &str = "ACC1";
    /// Tempo ACC2.
    pub const ACC2: &str = "ACC2";
    /// Genre: substring metric ("true genre text in LLark output").
    pub const GENRE_IN_TEXT: &str = "true genre in text";
    /// Genre: embedding nearest-label accuracy.
    pub const ACC_AT_1: &str = "accuracy@1";
    /// Instrument F1.
    pub const F1: &str = "F1";
}

/// Streaming accumulator behind [`evaluate`]: push rows one by one, then finish.
#[derive(Debug, Clone, Default)]
pub struct Evaluator {
    config: EvalConfig,
    rows_seen: usize,
    key_scores: Vec<f64>,
    key_unusable: usize,
    tempo: Vec<(f64, Option<f64>)>,
    tempo_skipped: usize,
    genre_gtzan: Vec<(String, String)>,
    genre_medleydb: Vec<(String, String)>,
    instruments_medleydb: Vec<(String, Vec<String>)>,
    instruments_musicnet: Vec<(String, Vec<String>)>,
}

impl Evaluator {
    /// A new, empty evaluator.
    pub fn new(config: EvalConfig) -> Self {
        Self {
            config,
            ..Self::default()
        }
    }

    /// Adds one row: the model's free-text answer and the reference label. Errors name the
    /// 0-based row index.
    pub fn push(
        &mut self,
        task: Task,
        answer: &str,
        reference: Reference,
    ) -> Result<(), EvalError> {
        let row = self.rows_seen;
        self.rows_seen += 1;
        self.push_inner(task, answer, reference)
            .map_err(|e| EvalError::Row {
                row,
                source: Box::new(e),
            })
    }

    /// Checks a reference label for `task` the way [`Self::push`] would, without an answer and
    /// without adding a row: run it over every label before generating any answer, so that a
    /// bad label is found (and named) before the model runs.
    pub fn check_reference(task: Task, reference: &Reference) -> Result<(), EvalError> {
        Evaluator::default().push_inner(task, "", reference.clone())
    }

    fn push_inner(
        &mut self,
        task: Task,
        answer: &str,
        reference: Reference,
    ) -> Result<(), EvalError> {
        let mismatch = |r: &Reference| EvalError::ReferenceKind {
            task: task.name(),
            expected: task.reference_kind(),
            found: r.kind(),
        };
        match (task, reference) {
            (Task::Key, Reference::Key(k)) => {
                let judgement = judge_key_answer(&k, answer)?;
                if !judgement.valid {
                    self.key_unusable += 1;
                }
                self.key_scores.push(judgement.score);
            }
            (Task::Tempo, Reference::Bpm(bpm)) => {
                if !bpm.is_finite() || bpm < 0.0 {
                    return Err(EvalError::InvalidReferenceTempo { value: bpm });
                }
                if bpm == 0.0 {
                    self.tempo_skipped += 1;
                } else {
                    self.tempo.push((bpm, parse_tempo(answer)));
                }
            }
            (Task::GenreGtzan, Reference::Genre(g)) => {
                if !GTZAN_GENRES.contains(&g.as_str()) {
                    return Err(EvalError::UnknownGtzanGenre(g));
                }
                self.genre_gtzan.push((answer.to_owned(), g));
            }
            (Task::GenreMedleyDb, Reference::Genre(g)) => {
                if g.trim().is_empty() {
                    return Err(EvalError::EmptyLabel { what: "genre" });
                }
                self.genre_medleydb.push((answer.to_owned(), g));
            }
            (Task::InstrumentsMedleyDb, Reference::Instruments(list)) => {
                self.instruments_medleydb.push((answer.to_owned(), list));
            }
            (Task::InstrumentsMusicNet, Reference::Instruments(list)) => {
                let names = list.iter().map(|n| musicnet_instrument_name(n)).collect();
                self.instruments_musicnet.push((answer.to_owned(), names));
            }
            (_, other) => return Err(mismatch(&other)),
        }
        Ok(())
    }

    /// The table without genre Acc@1 (which needs a text embedder).
    pub fn finish(self) -> EvalTable {
        let mut table = EvalTable::default();
        self.key_row(&mut table);
        self.tempo_rows(&mut table);
        for (task, rows) in [
            (Task::GenreGtzan, &self.genre_gtzan),
            (Task::GenreMedleyDb, &self.genre_medleydb),
        ] {
            if !rows.is_empty() {
                table.rows.push(genre_in_text_row(task, rows));
            }
        }
        self.instrument_rows(&mut table);
        table
    }

    /// The table with genre Acc@1 computed with `embedder` (cosine distance to the label
    /// names; GTZAN labels: [`GTZAN_GENRES`]; MedleyDB labels: the distinct references,
    /// sorted), and Clopper–Pearson intervals as configured.
    pub fn finish_with_embedder(self, embedder: &dyn TextEmbedder) -> Result<EvalTable, EvalError> {
        let mut acc_rows = Vec::new();
        for (task, rows) in [
            (Task::GenreGtzan, &self.genre_gtzan),
            (Task::GenreMedleyDb, &self.genre_medleydb),
        ] {
            if rows.is_empty() {
                continue;
            }
            let labels: Vec<&str> = match task {
                Task::GenreGtzan => GTZAN_GENRES.to_vec(),
                _ => {
                    let mut l: Vec<&str> = rows.iter().map(|(_, g)| g.as_str()).collect();
                    l.sort_unstable();
                    l.dedup();
                    l
                }
            };
            let truth = rows
                .iter()
                .map(|(_, g)| {
                    labels
                        .iter()
                        .position(|l| l == g)
                        .ok_or_else(|| EvalError::UnknownGtzanGenre(g.clone()))
                })
                .collect::<Result<Vec<_>, _>>()?;
            let answers: Vec<&str> = rows.iter().map(|(a, _)| a.as_str()).collect();
            let acc = genre_accuracy_at_k(embedder, &answers, &labels, &truth, 1)?;
            let trials = self.config.clopper_pearson_trials.unwrap_or(rows.len());
            let ci = clopper_pearson(acc, trials, self.config.clopper_pearson_alpha)?;
            acc_rows.push(EvalRow {
                task: task.name().into(),
                dataset: task.dataset().into(),
                metric: metric::ACC_AT_1.into(),
                value: Some(acc),
                n: rows.len(),
                unusable_answers: 0,
                skipped: 0,
                ci: Some(ci),
                note: format!(
                    "cosine nearest label over {} labels; Clopper-Pearson with n = {trials}",
                    labels.len()
                ),
            });
        }
        let mut table = self.finish();
        for row in acc_rows {
            let at = table
                .rows
                .iter()
                .position(|r| r.task == row.task && r.dataset == row.dataset)
                .unwrap_or(table.rows.len());
            table.rows.insert(at, row);
        }
        Ok(table)
    }

    fn key_row(&self, table: &mut EvalTable) {
        if self.key_scores.is_empty() {
            return;
        }
        table.rows.push(EvalRow {
            task: Task::Key.name().into(),
            dataset: Task::Key.dataset().into(),
            metric: metric::MIREX.into(),
            value: mean(&self.key_scores),
            n: self.key_scores.len(),
            unusable_answers: self.key_unusable,
            skipped: 0,
            ci: None,
            note: "mir_eval 0.8.2 weighted score; answers without a valid GiantSteps key score 0"
                .into(),
        });
    }

    fn tempo_rows(&self, table: &mut EvalTable) {
        if self.tempo.is_empty() && self.tempo_skipped == 0 {
            return;
        }
        let formula = self.config.tempo_formula;
        let unusable = self.tempo.iter().filter(|(_, e)| e.is_none()).count();
        for (acc, name) in [(Acc::Acc1, metric::ACC1), (Acc::Acc2, metric::ACC2)] {
            let hits: Vec<f64> = self
                .tempo
                .iter()
                .map(|&(r, e)| {
                    // References were checked to be finite and > 0 on push.
                    let hit = tempo_accuracy(r, e, acc, formula).unwrap_or(false);
                    f64::from(u8::from(hit))
                })
                .collect();
            table.rows.push(EvalRow {
                task: Task::Tempo.name().into(),
                dataset: Task::Tempo.dataset().into(),
                metric: name.into(),
                value: mean(&hits),
                n: hits.len(),
                unusable_answers: unusable,
                skipped: self.tempo_skipped,
                ci: None,
                note: format!("first number in the answer; 4% window, {formula:?} formula"),
            });
        }
    }

    fn instrument_rows(&self, table: &mut EvalTable) {
        let bootstrap = self.config.bootstrap;
        if !self.instruments_medleydb.is_empty() {
            let rows = &self.instruments_medleydb;
            let f1s: Vec<Option<f64>> = rows
                .iter()
                .map(|(a, act)| medleydb_track_counts(act, a).f1())
                .collect();
            let scored: Vec<f64> = f1s.iter().flatten().copied().collect();
            let ci = bootstrap
                .and_then(|b| bootstrap_ci(rows.len(), &b, |idx| medleydb_resample_f1(&f1s, idx)));
            table.rows.push(EvalRow {
                task: Task::InstrumentsMedleyDb.name().into(),
                dataset: Task::InstrumentsMedleyDb.dataset().into(),
                metric: metric::F1.into(),
                value: mean(&scored),
                n: scored.len(),
                unusable_answers: 0,
                skipped: rows.len() - scored.len(),
                ci,
                note: "mean of per-track F1 over raw MedleyDB labels; 0/0 tracks skipped".into(),
            });
        }
        if !self.instruments_musicnet.is_empty() {
            let mode = self.config.musicnet_mode;
            let rows: Vec<(&str, &[String])> = self
                .instruments_musicnet
                .iter()
                .map(|(a, l)| (a.as_str(), l.as_slice()))
                .collect();
            let counts: InstrumentCounts = musicnet_counts(&rows, mode);
            let ci = bootstrap.and_then(|b| {
                bootstrap_ci(rows.len(), &b, |idx| {
                    let sample: Vec<(&str, &[String])> = idx.iter().map(|&i| rows[i]).collect();
                    musicnet_counts(&sample, mode).f1()
                })
            });
            table.rows.push(EvalRow {
                task: Task::InstrumentsMusicNet.name().into(),
                dataset: Task::InstrumentsMusicNet.dataset().into(),
                metric: metric::F1.into(),
                value: counts.f1(),
                n: rows.len(),
                unusable_answers: 0,
                skipped: 0,
                ci,
                note: format!("pooled F1, {mode:?} mode"),
            });
        }
    }
}

fn genre_in_text_row(task: Task, rows: &[(String, String)]) -> EvalRow {
    let hits: Vec<f64> = rows
        .iter()
        .map(|(a, g)| f64::from(u8::from(genre_in_text(g, a))))
        .collect();
    EvalRow {
        task: task.name().into(),
        dataset: task.dataset().into(),
        metric: metric::GENRE_IN_TEXT.into(),
        value: mean(&hits),
        n: rows.len(),
        unusable_answers: 0,
        skipped: 0,
        ci: None,
        note: "label is a substring of the normalised answer".into(),
    }
}

fn mean(values: &[f64]) -> Option<f64> {
    (!values.is_empty()).then(|| values.iter().sum::<f64>() / values.len() as f64)
}

/// Evaluates `(task, answer, reference)` rows into the results table (no genre Acc@1; use
/// [`Evaluator::finish_with_embedder`] for that). Errors name the 0-based row at fault.
pub fn evaluate<I, P>(rows: I, config: &EvalConfig) -> Result<EvalTable, EvalError>
where
    I: IntoIterator<Item = (Task, P, Reference)>,
    P: AsRef<str>,
{
    let mut evaluator = Evaluator::new(*config);
    for (task, answer, reference) in rows {
        evaluator.push(task, answer.as_ref(), reference)?;
    }
    Ok(evaluator.finish())
}
