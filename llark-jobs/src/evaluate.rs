//! Evaluating a model on a labelled set: every clip's labels are checked before the model runs,
//! a clip that fails (a missing or corrupt file, non-finite encodings, a prompt beyond the
//! context) is named by line and id and left out while the others go on, and the table covers
//! the clips that were answered. [`EvalOptions::strict`] stops at the first problem instead.
//!
//! Each line of the labels file is one [`LabelledClip`]:
//! `{"id": "...", "audio": "clip.wav" | "encoding": "clip.npy", "start": 30.0, "duration": 23.78,
//!   "key": "F minor", "tempo": 128.0, "genre": "rock", "instruments": ["guitar", "drums"],
//!   "dataset": "gtzan" | "medleydb" | "musicnet"}`; paths are relative to the labels file.

use std::path::{Path, PathBuf};

use burn::tensor::backend::Backend;
use burn::tensor::Tensor;
use llark::data::{JsonlReader, JsonlWriter, OnError};
use llark::encoders::read_encoding_file;
use llark::eval::{EvalConfig, EvalTable, Evaluator, Reference, Task};
use llark::{LlarkError, Pipeline};
use serde::{Deserialize, Serialize};

use crate::error::{JobError, Result};

/// One labelled clip: its audio (a file, optionally cropped, or stored encodings) and the
/// references to score against.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LabelledClip {
    /// The clip's id.
    pub id: String,
    /// An audio file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audio: Option<String>,
    /// Stored pooled encodings (`.npy` or single-tensor `.safetensors`), instead of audio.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encoding: Option<String>,
    /// Where the clip starts in the audio file, in seconds (default 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start: Option<f64>,
    /// How long the clip is, in seconds (default: to the end of the file).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<f64>,
    /// Key reference (`"F minor"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// Tempo reference in BPM.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tempo: Option<f64>,
    /// Genre reference.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub genre: Option<String>,
    /// Instrument references.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instruments: Option<Vec<String>>,
    /// The dataset whose protocol scores the clip (`gtzan`, `medleydb`, `musicnet`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dataset: Option<String>,
}

impl LabelledClip {
    /// The tasks the clip's labels call for, with their references, each checked as the
    /// evaluator will check it.
    pub fn tasks(&self) -> std::result::Result<Vec<(Task, Reference)>, String> {
        match (&self.audio, &self.encoding) {
            (Some(_), None) | (None, Some(_)) => {}
            _ => return Err("give exactly one of `audio` and `encoding`".into()),
        }
        if self.encoding.is_some() && (self.start.is_some() || self.duration.is_some()) {
            return Err("`start` and `duration` crop audio files, not encodings".into());
        }
        for (name, value) in [("start", self.start), ("duration", self.duration)] {
            if let Some(v) = value.filter(|v| !(v.is_finite() && *v >= 0.0)) {
                return Err(format!("`{name}` is {v}, not a time in seconds"));
            }
        }
        let dataset = self.dataset.as_deref().map(str::to_ascii_lowercase);
        let mut tasks = Vec::new();
        if let Some(key) = &self.key {
            tasks.push((Task::Key, Reference::Key(key.clone())));
        }
        if let Some(bpm) = self.tempo {
            tasks.push((Task::Tempo, Reference::Bpm(bpm)));
        }
        if let Some(genre) = &self.genre {
            let task = match dataset.as_deref() {
                Some("medleydb") => Task::GenreMedleyDb,
                _ => Task::GenreGtzan,
            };
            tasks.push((task, Reference::Genre(genre.clone())));
        }
        if let Some(instruments) = &self.instruments {
            let task = match dataset.as_deref() {
                Some("musicnet") => Task::InstrumentsMusicNet,
                _ => Task::InstrumentsMedleyDb,
            };
            tasks.push((task, Reference::Instruments(instruments.clone())));
        }
        if tasks.is_empty() {
            return Err("no key, tempo, genre or instruments label".into());
        }
        for (task, reference) in &tasks {
            Evaluator::check_reference(*task, reference).map_err(|e| e.to_string())?;
        }
        Ok(tasks)
    }
}

/// A clip left out of the evaluation, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ClipFailure {
    /// 1-based line in the labels file.
    pub line: u64,
    /// The clip's id (empty when the line could not be read).
    pub id: String,
    /// What went wrong.
    pub reason: String,
}

impl std::fmt::Display for ClipFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.id.is_empty() {
            write!(f, "line {}: {}", self.line, self.reason)
        } else {
            write!(f, "line {} (clip {}): {}", self.line, self.id, self.reason)
        }
    }
}

/// A clip whose labels passed the checks, ready to be answered.
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedClip {
    /// 1-based line in the labels file.
    pub line: u64,
    /// The clip.
    pub clip: LabelledClip,
    /// Its tasks and references.
    pub tasks: Vec<(Task, Reference)>,
}

/// The labels file read and checked: the clips to answer and those refused.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct EvalPlan {
    /// Clips whose labels are usable.
    pub clips: Vec<PlannedClip>,
    /// Lines that cannot be read or whose labels cannot be scored.
    pub refused: Vec<ClipFailure>,
}

/// Reads a labels file (a UTF-8 byte-order mark is accepted) and checks every label before any
/// model runs. With `strict`, the first bad line is an error.
pub fn plan_evaluation(labels: &Path, strict: bool) -> Result<EvalPlan> {
    let mut reader = JsonlReader::<LabelledClip, _>::open(labels, OnError::Skip)?;
    let mut plan = EvalPlan::default();
    for item in reader.by_ref() {
        let numbered = item?;
        match numbered.value.tasks() {
            Ok(tasks) => plan.clips.push(PlannedClip {
                line: numbered.line,
                clip: numbered.value,
                tasks,
            }),
            Err(reason) => plan.refused.push(ClipFailure {
                line: numbered.line,
                id: numbered.value.id,
                reason,
            }),
        }
    }
    plan.refused
        .extend(reader.skipped().iter().map(|e| ClipFailure {
            line: e.line,
            id: String::new(),
            reason: e.reason.clone(),
        }));
    plan.refused.sort_by_key(|f| f.line);
    if strict {
        if let Some(first) = plan.refused.first() {
            return Err(JobError::Evaluation {
                path: labels.to_path_buf(),
                failure: first.to_string(),
            });
        }
    }
    if plan.clips.is_empty() {
        return Err(JobError::Evaluation {
            path: labels.to_path_buf(),
            failure: format!(
                "no usable labelled clip ({} lines refused)",
                plan.refused.len()
            ),
        });
    }
    Ok(plan)
}

/// The question asked for each task (LLark's by default).
#[derive(Debug, Clone, Default)]
pub struct Questions {
    /// For key labels.
    pub key: Option<String>,
    /// For tempo labels.
    pub tempo: Option<String>,
    /// For genre labels.
    pub genre: Option<String>,
    /// For instrument labels.
    pub instruments: Option<String>,
}

impl Questions {
    /// The question for `task`.
    pub fn for_task(&self, task: Task) -> String {
        let given = match task {
            Task::Key => &self.key,
            Task::Tempo => &self.tempo,
            Task::GenreGtzan | Task::GenreMedleyDb => &self.genre,
            Task::InstrumentsMedleyDb | Task::InstrumentsMusicNet => &self.instruments,
        };
        given
            .clone()
            .unwrap_or_else(|| task.default_prompt().to_string())
    }
}

/// How an evaluation runs.
#[derive(Debug, Clone, Default)]
pub struct EvalOptions {
    /// Questions per task.
    pub questions: Questions,
    /// Stop at the first clip that fails instead of leaving it out.
    pub strict: bool,
    /// Where to write every answer as JSON Lines (atomically, at the end).
    pub answers: Option<PathBuf>,
    /// Scoring options.
    pub config: EvalConfig,
}

/// One answered question, as written to the answers file.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClipAnswer {
    /// The clip's id.
    pub id: String,
    /// 1-based line in the labels file.
    pub line: u64,
    /// The task's name.
    pub task: &'static str,
    /// The dataset whose protocol scores it.
    pub dataset: &'static str,
    /// The question asked.
    pub question: String,
    /// The model's answer.
    pub answer: String,
    /// Windows the answer was combined from (1: the clip fitted the model's input).
    pub windows: usize,
    /// The reference label.
    pub reference: Reference,
}

/// What an evaluation produced.
#[derive(Debug, Clone)]
pub struct EvalOutcome {
    /// The table over the clips answered.
    pub table: EvalTable,
    /// Every answer.
    pub answers: Vec<ClipAnswer>,
    /// Clips left out: refused labels and clips that failed while being answered.
    pub failures: Vec<ClipFailure>,
    /// Clips answered.
    pub evaluated: usize,
}

/// Answers every planned clip and scores the answers; `base` resolves relative paths and
/// `on_clip` is called after each clip (for progress).
pub fn run_evaluation<B: Backend>(
    pipeline: &Pipeline<B>,
    base: &Path,
    plan: EvalPlan,
    options: &EvalOptions,
    mut on_clip: impl FnMut(&PlannedClip),
) -> Result<EvalOutcome> {
    let mut evaluator = Evaluator::new(options.config);
    let mut failures = plan.refused;
    let mut answers = Vec::new();
    let mut evaluated = 0;
    for planned in &plan.clips {
        match answer_clip(pipeline, base, planned, &options.questions) {
            Ok(clip_answers) => {
                for (task, a) in &clip_answers {
                    evaluator
                        .push(*task, &a.answer, a.reference.clone())
                        .map_err(|e| JobError::Evaluation {
                            path: base.to_path_buf(),
                            failure: format!("line {} (clip {}): {e}", planned.line, a.id),
                        })?;
                }
                answers.extend(clip_answers.into_iter().map(|(_, a)| a));
                evaluated += 1;
            }
            Err(e) => {
                let failure = ClipFailure {
                    line: planned.line,
                    id: planned.clip.id.clone(),
                    reason: e.to_string(),
                };
                if options.strict {
                    return Err(JobError::Evaluation {
                        path: base.to_path_buf(),
                        failure: failure.to_string(),
                    });
                }
                failures.push(failure);
            }
        }
        on_clip(planned);
    }
    failures.sort_by_key(|f| f.line);
    if let Some(path) = &options.answers {
        let mut writer = JsonlWriter::create(path)?;
        for a in &answers {
            writer.write(a)?;
        }
        writer.commit()?;
    }
    Ok(EvalOutcome {
        table: evaluator.finish(),
        answers,
        failures,
        evaluated,
    })
}

/// A clip as the model takes it: encodings, or a recording longer than the model was trained
/// on, answered window by window.
enum ClipInput<B: Backend> {
    Encoded(Tensor<B, 2>),
    Track(llark::audio::Audio),
}

/// The clip's audio as model input, then one answer per task.
fn answer_clip<B: Backend>(
    pipeline: &Pipeline<B>,
    base: &Path,
    planned: &PlannedClip,
    questions: &Questions,
) -> std::result::Result<Vec<(Task, ClipAnswer)>, LlarkError> {
    let clip = &planned.clip;
    let input = match (&clip.audio, &clip.encoding) {
        (Some(path), _) => {
            let path = base.join(path);
            let front_end = pipeline.front_end().ok_or(LlarkError::NoEncoder)?;
            let audio = match (clip.start, clip.duration) {
                (None, None) => front_end.load(&path)?,
                (start, duration) => front_end.load_crop(&path, start.unwrap_or(0.0), duration)?,
            };
            match pipeline.max_audio_seconds() {
                Some(limit) if audio.duration_seconds() > limit => ClipInput::Track(audio),
                _ => ClipInput::Encoded(front_end.encode(&audio)?),
            }
        }
        (None, Some(path)) => {
            let (values, shape) = read_encoding_file(base.join(path))?;
            ClipInput::Encoded(pipeline.encodings(values, shape)?)
        }
        (None, None) => return Err(LlarkError::NoEncoder),
    };
    planned
        .tasks
        .iter()
        .map(|(task, reference)| {
            let question = questions.for_task(*task);
            let (answer, windows) = match &input {
                ClipInput::Encoded(audio) => (pipeline.ask(audio, &question, None)?, 1),
                ClipInput::Track(audio) => {
                    let track = pipeline.ask_audio(audio, &question)?;
                    (track.text, track.windows.len())
                }
            };
            let row = ClipAnswer {
                id: clip.id.clone(),
                line: planned.line,
                task: task.name(),
                dataset: task.dataset(),
                question,
                answer,
                windows,
                reference: reference.clone(),
            };
            Ok((*task, row))
        })
        .collect()
}
