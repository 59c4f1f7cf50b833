//! The model's worker: one thread owns the [`Pipeline`] (built on that thread, so the backend's
//! tensors never cross threads) and answers queued [`ChatJob`]s, streaming text back over a
//! channel. Jobs waiting together with the same decoding options (up to `Limits::max_batch`)
//! are generated in one left-padded batch; greedy answers are those each job gets alone. A job
//! answered alone goes through a [`Chat`] about its clip, kept (with its KV cache) for the
//! next request about the same clip: a conversation that continues reuses the cache of
//! everything already processed, and its clip is not decoded or encoded again. The queue is bounded: a full queue is a 503, never an unbounded backlog.
//! A client that goes away, or a request past its deadline, stops its generation at the next
//! token, which frees the worker for the next request.

use std::collections::hash_map::RandomState;
use std::collections::VecDeque;
use std::hash::BuildHasher;
use std::io::Cursor;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, SyncSender, TrySendError};
use std::sync::Arc;
use std::time::Instant;

use burn::tensor::backend::Backend;
use burn::tensor::Tensor;
use llark::audio::{Audio, AudioStream, SampleSource};
use llark::lm::{GenerationConfig, LmError, StopReason};
use llark::{Answer, AnswerHooks, BatchHooks, Chat, LlarkError, Pipeline};
use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver, UnboundedSender};

use crate::api::Usage;
use crate::error::ApiError;
use crate::request::ChatJob;
use crate::Limits;

/// What the worker sends back about one job.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// New answer text.
    Text(String),
    /// The answer is complete.
    Done {
        /// `stop` or `length`.
        finish_reason: &'static str,
        /// Token counts.
        usage: Usage,
        /// The whole answer.
        text: String,
    },
    /// The job failed.
    Failed(ApiError),
}

struct Work {
    job: ChatJob,
    events: UnboundedSender<Event>,
    deadline: Instant,
}

/// Counts of what the worker did (shown by `GET /health`).
#[derive(Debug, Default)]
pub struct EngineStats {
    /// Requests answered to the end.
    pub answered: AtomicU64,
    /// Requests stopped early because the client went away or the deadline passed.
    pub cancelled: AtomicU64,
    /// Requests refused or failed on the worker.
    pub failed: AtomicU64,
    /// Generations run (each answers one or more requests together).
    pub batches: AtomicU64,
    /// Prompt positions taken from kept KV caches instead of being run again.
    pub reused_positions: AtomicU64,
}

/// A handle on the worker (cheap to clone; the worker stops when every handle is dropped).
#[derive(Clone)]
pub struct Engine {
    jobs: SyncSender<Work>,
    limits: Limits,
    stats: Arc<EngineStats>,
}

impl Engine {
    /// Starts the worker: `make` builds the pipeline (with an audio encoder) on the worker's
    /// thread; its error is returned here.
    pub fn start<B, F>(make: F, limits: Limits) -> Result<Engine, String>
    where
        B: Backend,
        F: FnOnce() -> Result<Pipeline<B>, LlarkError> + Send + 'static,
    {
        let (jobs, queue) = sync_channel::<Work>(limits.queue);
        let (ready_tx, ready_rx) = sync_channel::<Result<(), String>>(1);
        let worker_limits = limits.clone();
        let stats = Arc::new(EngineStats::default());
        let worker_stats = stats.clone();
        std::thread::Builder::new()
            .name("llark-model".into())
            .spawn(move || {
                let pipeline = match make() {
                    Ok(p) if p.front_end().is_some() => p,
                    Ok(_) => {
                        let _ = ready_tx.send(Err("the pipeline has no audio encoder".into()));
                        return;
                    }
                    Err(e) => {
                        let _ = ready_tx.send(Err(e.to_string()));
                        return;
                    }
                };
                let _ = ready_tx.send(Ok(()));
                let mut waiting: VecDeque<Work> = VecDeque::new();
                let mut conversations = Conversations::new(worker_limits.kept_conversations);
                loop {
                    let first = match waiting.pop_front() {
                        Some(work) => work,
                        None => match queue.recv() {
                            Ok(work) => work,
                            Err(_) => break,
                        },
                    };
                    waiting.extend(queue.try_iter());
                    let mut batch = vec![first];
                    let mut rest = VecDeque::new();
                    for work in waiting.drain(..) {
                        if batch.len() < worker_limits.max_batch
                            && compatible(&batch[0].job, &work.job)
                        {
                            batch.push(work);
                        } else {
                            rest.push_back(work);
                        }
                    }
                    waiting = rest;
                    let outcomes = if batch.len() == 1 {
                        vec![conversations.answer(
                            &pipeline,
                            &batch[0],
                            &worker_limits,
                            &worker_stats,
                        )]
                    } else {
                        answer_batch(&pipeline, &batch, &worker_limits)
                    };
                    for (work, outcome) in batch.iter().zip(outcomes) {
                        let counter = match outcome {
                            Ok(StopReason::Cancelled) => &worker_stats.cancelled,
                            Ok(_) => &worker_stats.answered,
                            Err(e) => {
                                let _ = work.events.send(Event::Failed(e));
                                &worker_stats.failed
                            }
                        };
                        counter.fetch_add(1, Ordering::Relaxed);
                    }
                    worker_stats.batches.fetch_add(1, Ordering::Relaxed);
                }
            })
            .map_err(|e| format!("cannot start the model thread: {e}"))?;
        ready_rx
            .recv()
            .map_err(|_| "the model thread stopped while starting".to_string())??;
        Ok(Engine {
            jobs,
            limits,
            stats,
        })
    }

    /// Queues a job; its events arrive on the returned channel (dropping it cancels the job).
    pub fn submit(&self, job: ChatJob) -> Result<UnboundedReceiver<Event>, ApiError> {
        let (events, rx) = unbounded_channel();
        let work = Work {
            job,
            events,
            deadline: Instant::now() + self.limits.timeout,
        };
        match self.jobs.try_send(work) {
            Ok(()) => Ok(rx),
            Err(TrySendError::Full(_)) => Err(ApiError::busy()),
            Err(TrySendError::Disconnected(_)) => {
                Err(ApiError::internal("the model thread has stopped"))
            }
        }
    }

    /// The server's limits.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// What the worker has done so far.
    pub fn stats(&self) -> &EngineStats {
        &self.stats
    }
}

/// Decodes and encodes a job's clip and checks its prompt; `None` when its client has gone.
fn prepare<B: Backend>(
    pipeline: &Pipeline<B>,
    work: &Work,
    limits: &Limits,
) -> Result<Option<(Tensor<B, 2>, GenerationConfig)>, ApiError> {
    if work.events.is_closed() {
        return Ok(None);
    }
    let frames = encode_clip(pipeline, &work.job, limits)?;
    let generation = check_prompt(pipeline, &work.job, limits)?;
    Ok(Some((frames, generation)))
}

/// The job's clip decoded, checked (not silent, not too long) and encoded.
fn encode_clip<B: Backend>(
    pipeline: &Pipeline<B>,
    job: &ChatJob,
    limits: &Limits,
) -> Result<Tensor<B, 2>, ApiError> {
    let front_end = pipeline
        .front_end()
        .ok_or_else(|| ApiError::internal("no audio encoder"))?;
    let audio = decode_clip(&job.audio, job.format.as_deref(), limits.max_audio_seconds)?;
    let audio = front_end.prepare(&audio).map_err(|e| audio_error(&e))?;
    if audio.samples().iter().all(|&s| s == 0.0) {
        return Err(ApiError::invalid("audio", "the audio is silent"));
    }
    front_end.encode(&audio).map_err(|e| audio_error(&e))
}

/// Checks the job's text against the prompt limit; returns its decoding options.
fn check_prompt<B: Backend>(
    pipeline: &Pipeline<B>,
    job: &ChatJob,
    limits: &Limits,
) -> Result<GenerationConfig, ApiError> {
    let text_tokens: usize = job
        .turns
        .iter()
        .map(|t| {
            pipeline
                .tokenizer()
                .encode(&t.value, false)
                .map_or(0, |ids| ids.len())
        })
        .sum();
    if text_tokens > limits.max_prompt_tokens {
        return Err(ApiError::invalid(
            "messages",
            format!(
                "{text_tokens} text tokens; this server allows {}",
                limits.max_prompt_tokens
            ),
        ));
    }
    Ok(GenerationConfig {
        max_new_tokens: job.max_tokens,
        do_sample: job.temperature.is_some_and(|t| t > 0.0),
        temperature: job.temperature.filter(|t| *t > 0.0).unwrap_or(1.0) as f32,
        top_p: job.top_p.map(|p| p as f32),
        seed: job.seed,
        stop_strings: job.stop.clone(),
        ..pipeline.generation().clone()
    })
}

/// Identifies a clip by its length and a hash keyed at random when the worker starts (so that
/// no client can make another clip collide with a cached one).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct ClipKey(usize, u64);

impl ClipKey {
    fn of(bytes: &[u8], hasher: &RandomState) -> Self {
        ClipKey(bytes.len(), hasher.hash_one(bytes))
    }
}

/// The conversations kept with their KV caches, newest first.
struct Conversations<'p, B: Backend> {
    chats: VecDeque<(ClipKey, Chat<'p, B>)>,
    hasher: RandomState,
    keep: usize,
}

impl<'p, B: Backend> Conversations<'p, B> {
    fn new(keep: usize) -> Self {
        Conversations {
            chats: VecDeque::new(),
            hasher: RandomState::new(),
            keep,
        }
    }

    /// Answers one job through a chat about its clip: a kept one (its cache reused as far as
    /// the tokens agree) or a new one, which is then kept.
    fn answer(
        &mut self,
        pipeline: &'p Pipeline<B>,
        work: &Work,
        limits: &Limits,
        stats: &EngineStats,
    ) -> Result<StopReason, ApiError> {
        if work.events.is_closed() {
            return Ok(StopReason::Cancelled);
        }
        let key = ClipKey::of(&work.job.audio, &self.hasher);
        let generation = check_prompt(pipeline, &work.job, limits)?;
        let mut chat = match self.chats.iter().position(|(k, _)| *k == key) {
            Some(i) => self.chats.remove(i).map(|(_, chat)| chat),
            None => None,
        }
        .map_or_else(
            || encode_clip(pipeline, &work.job, limits).map(|frames| pipeline.chat(frames)),
            Ok,
        )?;
        let mut on_text = |piece: &str| {
            if work.job.stream {
                let _ = work.events.send(Event::Text(piece.to_string()));
            }
        };
        let cancel = || work.events.is_closed() || Instant::now() > work.deadline;
        let hooks = AnswerHooks {
            on_text: Some(&mut on_text),
            cancel: Some(&cancel),
        };
        let answer = chat.answer(work.job.turns.clone(), &generation, hooks);
        stats
            .reused_positions
            .fetch_add(chat.reused_positions() as u64, Ordering::Relaxed);
        if self.keep > 0 {
            self.chats.push_front((key, chat));
            self.chats.truncate(self.keep);
        }
        finish(work, answer.map_err(|e| model_error(&e))?, limits)
    }
}

/// Sends a finished answer to its client; returns why it stopped, or the timeout error.
fn finish(work: &Work, answer: Answer, limits: &Limits) -> Result<StopReason, ApiError> {
    if answer.stop_reason == StopReason::Cancelled && Instant::now() > work.deadline {
        return Err(ApiError::timeout(limits.timeout.as_secs_f64()));
    }
    let finish_reason = match answer.stop_reason {
        StopReason::MaxTokens => "length",
        StopReason::Eos | StopReason::StopString | StopReason::Cancelled => "stop",
    };
    let _ = work.events.send(Event::Done {
        finish_reason,
        usage: Usage {
            prompt_tokens: answer.prompt_tokens,
            completion_tokens: answer.completion_tokens,
            total_tokens: answer.prompt_tokens + answer.completion_tokens,
        },
        text: answer.text,
    });
    Ok(answer.stop_reason)
}

/// Answers a batch of jobs with the same decoding options: each is prepared (a failure is
/// that job's alone), then the ready ones are generated together. Returns each job's outcome.
fn answer_batch<B: Backend>(
    pipeline: &Pipeline<B>,
    batch: &[Work],
    limits: &Limits,
) -> Vec<Result<StopReason, ApiError>> {
    let mut outcomes: Vec<Option<Result<StopReason, ApiError>>> = vec![None; batch.len()];
    let mut ready = Vec::new();
    let mut generation = None;
    for (i, work) in batch.iter().enumerate() {
        match prepare(pipeline, work, limits) {
            Ok(Some((frames, config))) => {
                generation.get_or_insert(config);
                ready.push((i, frames));
            }
            Ok(None) => outcomes[i] = Some(Ok(StopReason::Cancelled)),
            Err(e) => outcomes[i] = Some(Err(e)),
        }
    }
    if let Some(generation) = generation {
        let rows: Vec<usize> = ready.iter().map(|(i, _)| *i).collect();
        let requests: Vec<_> = ready
            .into_iter()
            .map(|(i, frames)| (frames, batch[i].job.turns.clone()))
            .collect();
        let mut on_text = |row: usize, piece: &str| {
            let work = &batch[rows[row]];
            if work.job.stream {
                let _ = work.events.send(Event::Text(piece.to_string()));
            }
        };
        // The batch stops early only when every client has gone or every deadline passed.
        let cancel = || {
            rows.iter().all(|&i| {
                let work = &batch[i];
                work.events.is_closed() || Instant::now() > work.deadline
            })
        };
        let hooks = BatchHooks {
            on_text: Some(&mut on_text),
            cancel: Some(&cancel),
        };
        match pipeline.answer_batch(&requests, &generation, hooks) {
            Ok(answers) => {
                for (row, answer) in answers.into_iter().enumerate() {
                    let i = rows[row];
                    outcomes[i] = Some(finish(&batch[i], answer, limits));
                }
            }
            Err(e) => {
                let error = model_error(&e);
                for &i in &rows {
                    outcomes[i] = Some(Err(error.clone()));
                }
            }
        }
    }
    outcomes
        .into_iter()
        .map(|o| o.unwrap_or(Ok(StopReason::Cancelled)))
        .collect()
}

/// Whether two jobs can share one generation (the same decoding options).
fn compatible(a: &ChatJob, b: &ChatJob) -> bool {
    a.max_tokens == b.max_tokens
        && a.temperature == b.temperature
        && a.top_p == b.top_p
        && a.stop == b.stop
        && a.seed == b.seed
}

/// Decodes a clip's bytes, refusing one longer than `max_seconds` while it is decoded (before it
/// is all in memory).
fn decode_clip(bytes: &[u8], format: Option<&str>, max_seconds: f64) -> Result<Audio, ApiError> {
    let name = format.map(|f| format!("clip.{f}"));
    let mut stream = AudioStream::from_reader(Cursor::new(bytes.to_vec()), name.as_deref())
        .map_err(|e| audio_error(&LlarkError::Audio(e)))?;
    let rate = stream.sample_rate();
    let max_samples = (max_seconds * f64::from(rate)).ceil() as usize;
    let mut samples = Vec::new();
    let mut buf = vec![0f32; 1 << 15];
    loop {
        let n = stream
            .read(&mut buf)
            .map_err(|e| audio_error(&LlarkError::Audio(e)))?;
        if n == 0 {
            break;
        }
        samples.extend_from_slice(&buf[..n]);
        if samples.len() > max_samples {
            return Err(ApiError::invalid(
                "audio",
                format!("the audio is longer than this server's limit of {max_seconds} s"),
            ));
        }
    }
    if samples.is_empty() {
        return Err(ApiError::invalid("audio", "the audio holds no samples"));
    }
    Audio::new(samples, rate).map_err(|e| audio_error(&LlarkError::Audio(e)))
}

fn audio_error(e: &LlarkError) -> ApiError {
    ApiError::invalid("audio", format!("the audio cannot be used: {e}"))
}

fn model_error(e: &LlarkError) -> ApiError {
    match e {
        LlarkError::Lm(LmError::PromptTooLong { .. })
        | LlarkError::Example(_)
        | LlarkError::NonFiniteEncoding { .. } => ApiError::invalid("messages", e.to_string()),
        other => ApiError::internal(other.to_string()),
    }
}
