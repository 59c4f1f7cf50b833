//! Training a tiny `Llark` (random 2-layer Llama + linear projector) with `llark_train`:
//! learning, exact resume, accumulation, freezing policies, NaN handling, interrupted
//! checkpoints, and the records + encoding-store path.

use std::collections::HashMap;
use std::path::Path;

use burn::backend::{Autodiff, Flex};
use burn::module::Module;
use burn::tensor::{Tensor, TensorData};
use llark::{Llark, LlarkConfig};
use llark_data::{collate, AudioSpan, TaskFamily, TokenizedExample};
use llark_lm::{Llama, LlamaConfig};
use llark_projector::{Projector, ProjectorKind};
use llark_train::{
    accumulate_gradients, AccumulationNorm, AdamWOptions, CheckpointOptions, InMemoryAudio,
    ScheduleKind, TaskMix, TrainConfig, TrainData, TrainError, TrainPolicy, Trainer, Warmup,
};

type B = Autodiff<Flex>;

const VOCAB: usize = 64;
const WIDTH: usize = 8;
const FRAMES: usize = 3;
const START: u32 = 61;
const END: u32 = 62;
const PATCH: u32 = 63;

fn tiny_llark(seed: u64) -> Llark<B> {
    let device = Default::default();
    let llama = LlamaConfig::from_json_str(&format!(
        r#"{{"vocab_size": {VOCAB}, "hidden_size": 32, "intermediate_size": 64,
            "num_hidden_layers": 2, "num_attention_heads": 4, "max_position_embeddings": 64,
            "bos_token_id": 1, "eos_token_id": 2, "pad_token_id": 0}}"#
    ))
    .unwrap();
    let lm = Llama::<B>::random(llama.clone(), 0.1, seed, &device).unwrap();
    let config = LlarkConfig {
        llama,
        mm_hidden_size: WIDTH,
        mm_projector_type: ProjectorKind::Linear,
        audio_start_token_id: START,
        audio_end_token_id: END,
        audio_patch_token_id: PATCH,
        audio_pool_fps: None,
        extra: Default::default(),
    };
    // Seeded projector weights (burn's own initialisation draws from an unseeded generator).
    let mut state = seed;
    let mut values = |n: usize| -> Vec<f32> {
        (0..n)
            .map(|_| ((lcg(&mut state) % 2000) as f32 / 1000.0 - 1.0) * 0.3)
            .collect()
    };
    let weights = HashMap::from([
        (
            "model.mm_projector.weight".to_string(),
            TensorData::new(values(32 * WIDTH), [32, WIDTH]),
        ),
        (
            "model.mm_projector.bias".to_string(),
            TensorData::new(values(32), [32]),
        ),
    ]);
    let projector = Projector::from_torch_weights(&config.projector(), &weights, &device).unwrap();
    Llark::new(config, projector, lm).unwrap()
}

/// Deterministic pseudo-random numbers (a tiny LCG) for the synthetic data.
fn lcg(state: &mut u64) -> u64 {
    *state = state
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    *state >> 33
}

/// `n` examples: `<s> <audio_start> patch x3 <audio_end> q` then an answer of `answer_len(i)`
/// tokens that only the audio identifies; labels on the answer only. Families cycle.
fn examples(
    n: usize,
    answer_len: impl Fn(usize) -> usize,
) -> (Vec<TokenizedExample>, InMemoryAudio) {
    let mut rng = 7u64;
    let mut audio = InMemoryAudio::new(WIDTH);
    let mut out = Vec::new();
    for i in 0..n {
        let mut ids = vec![1, START, PATCH, PATCH, PATCH, END, 5];
        let prefix = ids.len();
        for _ in 0..answer_len(i) {
            ids.push(3 + (lcg(&mut rng) % 55) as u32);
        }
        ids.push(2);
        let mut labels: Vec<i64> = ids.iter().map(|&t| i64::from(t)).collect();
        labels[..prefix].fill(-100);
        let id = format!("clip-{i}");
        let values = (0..FRAMES * WIDTH)
            .map(|_| (lcg(&mut rng) % 2000) as f32 / 1000.0 - 1.0)
            .collect();
        audio.insert(id.clone(), values).unwrap();
        out.push(TokenizedExample {
            id,
            input_ids: ids,
            labels,
            audio_spans: vec![AudioSpan {
                start: 1,
                frames: FRAMES,
            }],
            task: Some(TaskFamily::ALL[i % 3]),
        });
    }
    (out, audio)
}

fn data(n: usize) -> TrainData<InMemoryAudio> {
    let (ex, audio) = examples(n, |i| 4 + i % 3);
    TrainData::new(ex, audio, 0).unwrap()
}

fn config(steps: usize) -> TrainConfig {
    TrainConfig {
        policy: TrainPolicy::LmAndProjector,
        optimizer: AdamWOptions {
            learning_rate: 1e-2,
            ..AdamWOptions::default()
        },
        schedule: ScheduleKind::Cosine,
        warmup: Warmup {
            ratio: 0.05,
            steps: 0,
        },
        micro_batch_size: 4,
        grad_accum_steps: 2,
        accumulation: AccumulationNorm::MeanOfMicroBatches,
        max_grad_norm: Some(1.0),
        max_steps: Some(steps),
        epochs: None,
        seed: 3,
        task_mix: Some(TaskMix::LLARK),
        pad_to_multiple_of: 1,
        checkpoint: CheckpointOptions {
            every: steps / 2,
            keep_last: 2,
        },
        progress_bar: false,
        plot_every: 0,
    }
}

fn losses(t: &[llark_train::StepMetrics]) -> Vec<f64> {
    t.iter().map(|m| m.loss).collect()
}

fn weights(model: &Llark<B>) -> Vec<(String, Vec<u8>)> {
    let mut all = model.lm.to_hf_tensors();
    all.extend(model.projector.to_torch_weights());
    all.into_iter()
        .map(|(n, d)| (n, d.as_bytes().to_vec()))
        .collect()
}

#[test]
fn learns_eight_examples_and_a_resumed_run_reproduces_the_losses() {
    let steps = 60;
    let initial = tiny_llark(11);
    let whole_dir = tempfile::tempdir().unwrap();
    let mut whole =
        Trainer::new(initial.clone(), data(8), config(steps), whole_dir.path()).unwrap();
    let summary = whole.run().unwrap();
    let reference = losses(&summary.history);
    assert_eq!(reference.len(), steps);
    let last = *reference.last().unwrap();
    println!("loss {:.4} -> {last:.5} in {steps} steps", reference[0]);
    assert!(last < 0.05, "final loss {last}");
    assert!(whole_dir.path().join("metrics.jsonl").is_file());
    assert!(whole_dir.path().join("training_curve.png").is_file());
    let exported =
        Llark::<B>::from_pretrained(whole_dir.path().join("final"), &Default::default()).unwrap();
    assert_eq!(weights(&exported), weights(whole.model()));

    // Stopped after half the steps, then resumed from the checkpoint by a new trainer.
    let dir = tempfile::tempdir().unwrap();
    let mut first = Trainer::new(initial.clone(), data(8), config(steps), dir.path()).unwrap();
    first.run_until(steps / 2).unwrap();
    drop(first);
    let mut second = Trainer::resume(tiny_llark(99), data(8), config(steps), dir.path()).unwrap();
    assert_eq!(second.step_count(), steps / 2);
    let resumed = losses(&second.run().unwrap().history);
    let diff = reference
        .iter()
        .zip(&resumed)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f64::max);
    println!("resume: max loss difference {diff:e}");
    assert_eq!(resumed.len(), steps);
    assert!(diff <= 1e-6, "max difference {diff}");
    let metrics = std::fs::read_to_string(dir.path().join("metrics.jsonl")).unwrap();
    assert_eq!(metrics.lines().count(), steps);
}

fn grads_of(
    model: &Llark<B>,
    batches: Vec<Vec<TokenizedExample>>,
    audio: &InMemoryAudio,
    norm: AccumulationNorm,
) -> Vec<Vec<f32>> {
    use burn::module::{ModuleVisitor, Param};
    use llark_train::AudioSource;
    let device = Default::default();
    let micro = batches
        .iter()
        .map(|ex| {
            let batch = collate(ex, 0, 1).unwrap();
            let (values, shape) = audio.gather(&batch).unwrap();
            (
                batch,
                Tensor::<B, 2>::from_data(TensorData::new(values, shape), &device),
            )
        })
        .collect();
    let grads = accumulate_gradients(model, micro, norm).unwrap().grads;
    struct Collect<'a>(&'a burn::optim::GradientsParams, Vec<Vec<f32>>);
    impl ModuleVisitor<B> for Collect<'_> {
        fn visit_float<const D: usize>(&mut self, p: &Param<Tensor<B, D>>) {
            if let Some(g) = self.0.get::<Flex, D>(p.id) {
                self.1.push(g.into_data().to_vec().unwrap());
            }
        }
    }
    let mut c = Collect(&grads, Vec::new());
    model.visit(&mut c);
    c.1
}

fn max_diff(a: &[Vec<f32>], b: &[Vec<f32>]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .flat_map(|(x, y)| x.iter().zip(y).map(|(p, q)| (p - q).abs()))
        .fold(0.0, f32::max)
}

#[test]
fn accumulating_micro_batches_gives_the_gradient_of_one_large_batch() {
    let model = tiny_llark(5);
    // Unequal lengths: token weighting equals the large batch exactly.
    let (ex, audio) = examples(8, |i| 2 + i);
    let big = grads_of(
        &model,
        vec![ex.clone()],
        &audio,
        AccumulationNorm::TokenWeighted,
    );
    let chunks: Vec<Vec<TokenizedExample>> = ex.chunks(2).map(<[_]>::to_vec).collect();
    let acc = grads_of(
        &model,
        chunks.clone(),
        &audio,
        AccumulationNorm::TokenWeighted,
    );
    let d_token = max_diff(&big, &acc);
    // transformers' normalisation (mean of micro-batch means) differs when the counts differ ...
    let hf = grads_of(&model, chunks, &audio, AccumulationNorm::MeanOfMicroBatches);
    assert!(max_diff(&big, &hf) > 1e-4);
    // ... and equals the large batch when every micro-batch has the same number of labels.
    let (ex, audio) = examples(8, |_| 5);
    let big = grads_of(
        &model,
        vec![ex.clone()],
        &audio,
        AccumulationNorm::MeanOfMicroBatches,
    );
    let acc = grads_of(
        &model,
        ex.chunks(2).map(<[_]>::to_vec).collect(),
        &audio,
        AccumulationNorm::MeanOfMicroBatches,
    );
    let d_mean = max_diff(&big, &acc);
    println!("accumulation: token-weighted max diff {d_token:e}, mean-of-means (equal counts) {d_mean:e}");
    assert!(d_token <= 1e-5 && d_mean <= 1e-5, "{d_token} {d_mean}");

    // The same through the trainer: 4 x 2 accumulated vs 1 x 8, three steps. Adam divides each
    // gradient element by its own magnitude, so elements whose gradient is at rounding level move
    // by about +-lr either way; a large eps makes the update proportional to the gradient, so the
    // comparison sees the accumulation rather than the sign of rounding noise.
    let run = |micro: usize, accum: usize| {
        let cfg = TrainConfig {
            optimizer: AdamWOptions {
                learning_rate: 1e-2,
                eps: 1.0,
                ..AdamWOptions::default()
            },
            micro_batch_size: micro,
            grad_accum_steps: accum,
            accumulation: AccumulationNorm::TokenWeighted,
            task_mix: None,
            ..config(3)
        };
        let dir = tempfile::tempdir().unwrap();
        let (ex, audio) = examples(8, |i| 2 + i);
        let mut t = Trainer::new(
            model.clone(),
            TrainData::new(ex, audio, 0).unwrap(),
            cfg,
            dir.path(),
        )
        .unwrap();
        t.run_until(3).unwrap();
        t.into_model()
    };
    let (a, b) = (run(2, 4), run(8, 1));
    let worst = weights(&a)
        .iter()
        .zip(weights(&b))
        .flat_map(|((_, x), (_, y))| {
            let x: Vec<f32> = x
                .chunks(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect();
            let y: Vec<f32> = y
                .chunks(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect();
            x.into_iter()
                .zip(y)
                .map(|(p, q)| (p - q).abs())
                .collect::<Vec<_>>()
        })
        .fold(0.0, f32::max);
    println!("accumulation: parameters after 3 steps differ by {worst:e}");
    assert!(worst <= 1e-5, "{worst}");
}

#[test]
fn frozen_parameters_stay_bit_identical_under_each_policy() {
    for policy in [
        TrainPolicy::ProjectorOnly,
        TrainPolicy::LmOnly,
        TrainPolicy::LmAndProjector,
    ] {
        let model = tiny_llark(21);
        let before = weights(&model);
        let dir = tempfile::tempdir().unwrap();
        let cfg = TrainConfig {
            policy,
            ..config(3)
        };
        let mut t = Trainer::new(model, data(8), cfg, dir.path()).unwrap();
        t.run_until(3).unwrap();
        let after = weights(t.model());
        for ((name, b), (_, a)) in before.iter().zip(&after) {
            let projector = name.contains("mm_projector");
            let trained = policy.trains(if projector {
                llark_train::ParamGroup::Projector
            } else {
                llark_train::ParamGroup::Lm
            });
            if trained {
                assert_ne!(a, b, "{policy:?}: {name} did not change");
            } else {
                assert_eq!(a, b, "{policy:?}: frozen {name} changed");
            }
        }
    }
}

fn read_all(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect();
    files.sort();
    files
}

#[test]
fn a_nan_loss_stops_training_and_keeps_the_last_good_checkpoint() {
    let steps = 8;
    let dir = tempfile::tempdir().unwrap();
    let initial = tiny_llark(31);
    let mut t = Trainer::new(initial.clone(), data(8), config(steps), dir.path()).unwrap();
    t.run_until(4).unwrap();
    let good = t.last_checkpoint().unwrap().to_path_buf();
    assert!(good.ends_with("step-00000004"));
    let saved = read_all(&good);
    drop(t);

    // The same run, but one clip's encodings turned to NaN.
    let (ex, mut audio) = examples(8, |i| 4 + i % 3);
    for i in 0..8 {
        audio
            .insert(format!("clip-{i}"), vec![f32::NAN; FRAMES * WIDTH])
            .unwrap();
    }
    let bad = TrainData::new(ex, audio, 0).unwrap();
    let mut t = Trainer::resume(initial.clone(), bad, config(steps), dir.path()).unwrap();
    let before = weights(t.model());
    let err = t.run().unwrap_err();
    let text = err.to_string();
    println!("{text}");
    assert!(
        matches!(
            err,
            TrainError::NonFinite {
                what: "loss",
                step: 4,
                ..
            }
        ),
        "{text}"
    );
    assert!(
        text.contains("step-00000004") && text.contains("clip-"),
        "{text}"
    );
    assert_eq!(
        weights(t.model()),
        before,
        "a NaN step must not update the model"
    );
    drop(t);
    assert_eq!(read_all(&good), saved);

    // Resuming with good data continues from the good checkpoint.
    let mut t = Trainer::resume(initial, data(8), config(steps), dir.path()).unwrap();
    assert_eq!(t.step_count(), 4);
    assert_eq!(t.run().unwrap().steps, steps);
}

#[test]
fn an_interrupted_checkpoint_write_never_replaces_the_good_one() {
    let steps = 6;
    let initial = tiny_llark(41);
    let reference_dir = tempfile::tempdir().unwrap();
    let cfg = || TrainConfig {
        checkpoint: CheckpointOptions {
            every: 2,
            keep_last: 3,
        },
        ..config(steps)
    };
    let reference = losses(
        &Trainer::new(initial.clone(), data(8), cfg(), reference_dir.path())
            .unwrap()
            .run()
            .unwrap()
            .history,
    );

    let dir = tempfile::tempdir().unwrap();
    let mut t = Trainer::new(initial.clone(), data(8), cfg(), dir.path()).unwrap();
    t.run_until(4).unwrap();
    drop(t);
    let ckpts = dir.path().join("checkpoints");
    // Killed between writing the temporary directory and the rename: a whole copy of the
    // step-4 files under step 6's temporary name ...
    let whole = ckpts.join("step-00000006.partial");
    std::fs::create_dir_all(&whole).unwrap();
    for (name, bytes) in read_all(&ckpts.join("step-00000004")) {
        std::fs::write(whole.join(name), bytes).unwrap();
    }
    // ... and killed mid-write: a truncated model file and no state.
    let torn = ckpts.join("step-00000008.partial");
    std::fs::create_dir_all(&torn).unwrap();
    let model = std::fs::read(ckpts.join("step-00000004/model.mpk")).unwrap();
    std::fs::write(torn.join("model.mpk"), &model[..model.len() / 3]).unwrap();

    let mut t = Trainer::resume(initial, data(8), cfg(), dir.path()).unwrap();
    assert_eq!(t.step_count(), 4);
    assert!(!whole.exists() && !torn.exists());
    let resumed = losses(&t.run().unwrap().history);
    let diff = reference
        .iter()
        .zip(&resumed)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f64::max);
    assert!(diff <= 1e-6, "{diff}");
    let kept: Vec<String> = std::fs::read_dir(&ckpts)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(kept.len(), 3, "{kept:?}");
}

#[test]
fn resuming_with_another_configuration_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut t = Trainer::new(tiny_llark(1), data(8), config(4), dir.path()).unwrap();
    t.run_until(2).unwrap();
    let other = TrainConfig {
        seed: 4,
        ..config(4)
    };
    let err = Trainer::resume(tiny_llark(1), data(8), other, dir.path())
        .err()
        .unwrap();
    assert!(err.to_string().contains("another configuration"), "{err}");
    let err = Trainer::new(tiny_llark(1), data(8), config(4), dir.path())
        .err()
        .unwrap();
    assert!(err.to_string().contains("already holds"), "{err}");
    let err = Trainer::resume(tiny_llark(1), data(7), config(4), dir.path())
        .err()
        .unwrap();
    assert!(err.to_string().contains("examples"), "{err}");
}

/// Writes a tiny base Llama directory (Hugging Face layout) with vocabulary `vocab`.
fn write_base_llama(dir: &Path, vocab: usize) {
    let config = LlamaConfig::from_json_str(&format!(
        r#"{{"vocab_size": {vocab}, "hidden_size": 16, "intermediate_size": 32,
            "num_hidden_layers": 1, "num_attention_heads": 2, "max_position_embeddings": 256,
            "bos_token_id": 1, "eos_token_id": 2}}"#
    ))
    .unwrap();
    let lm = Llama::<Flex>::random(config.clone(), 0.1, 0, &Default::default()).unwrap();
    std::fs::create_dir_all(dir).unwrap();
    llark_lm::write_safetensors(
        dir.join("model.safetensors"),
        &lm.to_hf_tensors(),
        llark_lm::SaveDtype::F32,
    )
    .unwrap();
    std::fs::write(
        dir.join("config.json"),
        serde_json::to_string(&config).unwrap(),
    )
    .unwrap();
}

#[test]
fn train_json_runs_both_stages_from_records_and_an_encoding_store() {
    use llark::training::TrainRun;
    use llark_data::{EncodingStoreWriter, ExampleEncoder, LlarkTokenizer, StoreOptions};
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let tokenizer_path =
        root.join("llark-data/tests/fixtures/llama2-tokenizer/tokenizer.json");
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::copy(&tokenizer_path, d.join("tokenizer.json")).unwrap();
    write_base_llama(&d.join("base"), 256);
    let mut writer =
        EncodingStoreWriter::create(d.join("enc"), WIDTH, StoreOptions::default()).unwrap();
    for (i, task) in ["captioning", "reasoning", "mir"].iter().enumerate() {
        let values: Vec<f32> = (0..FRAMES * WIDTH)
            .map(|j| ((i * 31 + j) % 17) as f32 / 17.0)
            .collect();
        writer.add(&format!("clip-{i}"), &values, FRAMES).unwrap();
        // No `task` field: the family comes from the file name.
        std::fs::write(
            d.join(format!("demo-{task}.jsonl")),
            format!(
                r#"{{"id": "clip-{i}", "response": [{{"question": "What key?", "answer": "E minor."}}, {{"question": "Tempo?", "answer": "120 BPM."}}]}}"#
            ) + "\n",
        )
        .unwrap();
    }
    writer.finish().unwrap();

    // The records as the trainer reads them.
    let tokenizer = LlarkTokenizer::from_file(&tokenizer_path).unwrap();
    let store = llark_data::EncodingStore::open(d.join("enc")).unwrap();
    let examples = llark_train::load_llark_records(
        &d.join("demo-mir.jsonl"),
        &ExampleEncoder::new(&tokenizer),
        0,
        Some(&store),
    )
    .unwrap();
    assert_eq!(examples.len(), 2);
    assert!(examples
        .iter()
        .all(|e| e.task == Some(TaskFamily::Mir) && e.audio_spans[0].frames == FRAMES));

    // Stage 1: projector only, from the base Llama.
    std::fs::write(
        d.join("stage1.json"),
        r#"{"base_llama": "base", "tokenizer": "tokenizer.json",
            "records": ["demo-captioning.jsonl", "demo-reasoning.jsonl", "demo-mir.jsonl"],
            "encodings": "enc", "output": "stage1",
            "training": {"policy": "projector-only", "max_steps": 2, "micro_batch_size": 2,
                         "grad_accum_steps": 1, "progress_bar": false,
                         "checkpoint": {"every": 1, "keep_last": 1}}}"#,
    )
    .unwrap();
    let stage1 = TrainRun::from_file(d.join("stage1.json")).unwrap();
    let mut lines = Vec::new();
    let summary = stage1
        .run::<B>(&Default::default(), |l| lines.push(l.to_string()))
        .unwrap();
    assert_eq!(summary.steps, 2);
    assert!(
        lines[0].starts_with("6 examples from 3 record files"),
        "{lines:?}"
    );
    assert!(summary
        .history
        .iter()
        .all(|m| m.loss.is_finite() && m.tokens > 0));
    let base = Llama::<Flex>::from_pretrained(d.join("base"), &Default::default()).unwrap();
    let after =
        Llark::<Flex>::from_pretrained(d.join("stage1/final"), &Default::default()).unwrap();
    let (b, a) = (base.to_hf_tensors(), after.lm.to_hf_tensors());
    // The frozen LM is the base model (the grown vocabulary rows aside).
    let layer = |t: &[(String, TensorData)]| {
        t.iter()
            .find(|(n, _)| n.contains("layers.0.mlp.up_proj"))
            .unwrap()
            .1
            .clone()
    };
    assert_eq!(layer(&b).as_bytes(), layer(&a).as_bytes());
    assert_eq!(
        std::fs::read_dir(d.join("stage1/checkpoints"))
            .unwrap()
            .count(),
        1
    );

    // Stage 2: LM + projector from stage 1's model; unknown fields are refused.
    let stage2 = r#"{"llark": "stage1/final", "tokenizer": "stage1/final/tokenizer.json",
        "records": ["demo-captioning.jsonl", "demo-reasoning.jsonl", "demo-mir.jsonl"],
        "encodings": "enc", "output": "stage2", "masking": "assistant-only",
        "training": {"max_steps": 1, "micro_batch_size": 3, "grad_accum_steps": 2, "progress_bar": false}}"#;
    std::fs::write(d.join("stage2.json"), stage2).unwrap();
    let summary = TrainRun::from_file(d.join("stage2.json"))
        .unwrap()
        .run::<B>(&Default::default(), |_| {})
        .unwrap();
    assert_eq!(summary.steps, 1);
    std::fs::write(
        d.join("bad.json"),
        stage2.replace("\"masking\"", "\"maskng\""),
    )
    .unwrap();
    let err = TrainRun::from_file(d.join("bad.json")).unwrap_err();
    assert!(err.to_string().contains("maskng"), "{err}");
}
