//! `Llark` as a trainable model (a tiny random 2-layer Llama + linear projector): it learns
//! through `llark_train`, its export loads back, its policies freeze exactly the part they name;
//! and the `train.json` runner (`llark::training::TrainRun`) end to end. The trainer's own
//! behaviour (resume, accumulation, NaN stop, interrupted checkpoints) is tested in llark-train on
//! a tiny model of its own.

use std::collections::HashMap;
use std::path::Path;

use burn::backend::{Autodiff, Flex};
use burn::tensor::TensorData;
use llark::{Llark, LlarkConfig};
use llark_data::{AudioSpan, TaskFamily, TokenizedExample};
use llark_lm::{Llama, LlamaConfig};
use llark_projector::{Projector, ProjectorKind};
use llark_train::{
    AdamWOptions, CheckpointOptions, InMemoryAudio, ParamGroup, ScheduleKind, Silent, TrainConfig,
    TrainData, TrainPolicy, Trainer, Warmup,
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
        max_audio_seconds: None,
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

/// `n` examples: `<s> <audio_start> patch x3 <audio_end> q`, then an answer of 4 to 6 tokens
/// that only the clip's audio identifies, then `</s>`; labels on the answer and `</s>` only.
/// Task families cycle.
fn data(n: usize) -> TrainData<InMemoryAudio> {
    const PROMPT: [u32; 7] = [1, START, PATCH, PATCH, PATCH, END, 5];
    let mut rng = 7u64;
    let mut draw = move |below: u64| lcg(&mut rng) % below;
    let mut audio = InMemoryAudio::new(WIDTH);
    let examples = (0..n)
        .map(|i| {
            let answer: Vec<u32> = (0..4 + i % 3).map(|_| 3 + draw(55) as u32).collect();
            let input_ids: Vec<u32> = PROMPT.iter().chain(&answer).chain(&[2]).copied().collect();
            let labels = input_ids
                .iter()
                .enumerate()
                .map(|(k, &t)| if k < PROMPT.len() { -100 } else { i64::from(t) })
                .collect();
            let id = format!("clip-{i}");
            let frames = (0..FRAMES * WIDTH)
                .map(|_| draw(2000) as f32 / 1000.0 - 1.0)
                .collect();
            audio.insert(id.clone(), frames).unwrap();
            TokenizedExample {
                id,
                input_ids,
                labels,
                audio_spans: vec![AudioSpan {
                    start: 1,
                    frames: FRAMES,
                }],
                task: Some(TaskFamily::ALL[i % 3]),
            }
        })
        .collect();
    TrainData::new(examples, audio, 0).unwrap()
}

/// Full-batch training of LM + projector: all 8 examples in one micro-batch, AdamW at 1e-2
/// decaying linearly to 0 without warmup, no task mix, checkpoints only at the end.
fn config(steps: usize) -> TrainConfig {
    TrainConfig {
        optimizer: AdamWOptions {
            learning_rate: 1e-2,
            ..AdamWOptions::default()
        },
        schedule: ScheduleKind::Linear,
        warmup: Warmup::default(),
        micro_batch_size: 8,
        grad_accum_steps: 1,
        max_steps: Some(steps),
        task_mix: None,
        checkpoint: CheckpointOptions {
            every: 0,
            keep_last: 1,
        },
        progress_bar: false,
        ..TrainConfig::llark()
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
fn llark_learns_eight_examples_and_its_final_directory_loads_back() {
    let steps = 60;
    let dir = tempfile::tempdir().unwrap();
    let mut t = Trainer::new(tiny_llark(11), data(8), config(steps), dir.path()).unwrap();
    let summary = t.run().unwrap();
    let reference = losses(&summary.history);
    assert_eq!(reference.len(), steps);
    let last = *reference.last().unwrap();
    println!("loss {:.4} -> {last:.5} in {steps} steps", reference[0]);
    assert!(last < 0.05, "final loss {last}");
    let exported =
        Llark::<B>::from_pretrained(dir.path().join("final"), &Default::default()).unwrap();
    assert_eq!(weights(&exported), weights(t.model()));
}

#[test]
fn llark_policies_freeze_exactly_the_projector_or_the_lm() {
    let initial = weights(&tiny_llark(21));
    // Per parameter after a 3-step run under `policy`: its name, its group, whether it changed.
    let changes = |policy: TrainPolicy| {
        let dir = tempfile::tempdir().unwrap();
        let setup = TrainConfig {
            policy,
            ..config(3)
        };
        let mut trainer = Trainer::new(tiny_llark(21), data(8), setup, dir.path()).unwrap();
        assert_eq!(trainer.run().unwrap().history.len(), 3);
        let trained = weights(trainer.model());
        assert_eq!(trained.len(), initial.len());
        initial
            .iter()
            .zip(trained)
            .map(|((name, before), (_, after))| {
                let group = if name.contains("mm_projector") {
                    ParamGroup::Projector
                } else {
                    ParamGroup::Lm
                };
                (name.clone(), group, *before != after)
            })
            .collect::<Vec<_>>()
    };
    // (policy, projector trained, LM trained)
    for (policy, projector, lm) in [
        (TrainPolicy::ProjectorOnly, true, false),
        (TrainPolicy::LmOnly, false, true),
        (TrainPolicy::LmAndProjector, true, true),
    ] {
        for (name, group, changed) in changes(policy) {
            let trained = match group {
                ParamGroup::Projector => projector,
                ParamGroup::Lm | ParamGroup::Adapter => lm,
            };
            assert_eq!(policy.trains(group), trained, "{policy:?}: {group:?}");
            assert_eq!(changed, trained, "{policy:?}: {name} (trained: {trained})");
        }
    }
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
    let tokenizer_path = root.join("llark-data/tests/fixtures/llama2-tokenizer/tokenizer.json");
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
        .run::<B>(
            &Default::default(),
            |l| lines.push(l.to_string()),
            &mut Silent,
        )
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
        .run::<B>(&Default::default(), |_| {}, &mut Silent)
        .unwrap();
    assert_eq!(summary.steps, 1);
    std::fs::write(
        d.join("bad.json"),
        stage2.replace("\"masking\"", "\"maskng\""),
    )
    .unwrap();
    let err = TrainRun::from_file(d.join("bad.json")).unwrap_err();
    assert!(err.to_string().contains("maskng"), "{err}");
    assert!(matches!(err, llark::LlarkError::Json { .. }), "{err:?}");
    std::fs::write(
        d.join("both.json"),
        stage2.replace("\"llark\"", "\"base_llama\": \"base\", \"llark\""),
    )
    .unwrap();
    let err = TrainRun::from_file(d.join("both.json"))
        .unwrap()
        .run::<B>(&Default::default(), |_| {}, &mut Silent)
        .unwrap_err();
    assert!(matches!(err, llark::LlarkError::StartingModel), "{err:?}");
    // A maximum length of 0 is refused when the file is read, not by a panic mid-training.
    let zero: serde_json::Value = serde_json::from_str(stage2).unwrap();
    let mut zero = zero.as_object().unwrap().clone();
    zero.insert("max_len".into(), 0.into());
    std::fs::write(d.join("zero.json"), serde_json::to_string(&zero).unwrap()).unwrap();
    let err = TrainRun::from_file(d.join("zero.json")).unwrap_err();
    assert!(
        matches!(&err, llark::LlarkError::Config { .. }) && err.to_string().contains("max_len"),
        "{err}"
    );

    // Stage 3: LoRA on stage 1's model, adapters and projector trained, a merged export.
    let stage3 = r#"{"llark": "stage1/final", "tokenizer": "stage1/final/tokenizer.json",
        "records": ["demo-captioning.jsonl", "demo-reasoning.jsonl", "demo-mir.jsonl"],
        "encodings": "enc", "output": "stage3", "export_merged": true,
        "training": {"max_steps": 2, "micro_batch_size": 3, "grad_accum_steps": 1,
                     "progress_bar": false, "optimizer": {"learning_rate": 0.01, "beta1": 0.9,
                     "beta2": 0.999, "eps": 1e-8, "weight_decay": 0.0},
                     "lora": {"r": 4, "lora_alpha": 16, "lora_dropout": 0.05,
                              "target_modules": ["q_proj", "v_proj", "down_proj"]}}}"#;
    std::fs::write(d.join("stage3.json"), stage3).unwrap();
    let mut lines = Vec::new();
    TrainRun::from_file(d.join("stage3.json"))
        .unwrap()
        .run::<B>(
            &Default::default(),
            |l| lines.push(l.to_string()),
            &mut Silent,
        )
        .unwrap();
    let final_dir = d.join("stage3/final");
    for file in [
        "adapter_config.json",
        "adapter_model.safetensors",
        "tokenizer.json",
    ] {
        assert!(final_dir.join(file).is_file(), "{file}");
    }
    let adapted = Llark::<Flex>::from_pretrained(&final_dir, &Default::default()).unwrap();
    assert_eq!(adapted.lm.adapters().len(), 3);
    // The base weights are stage 1's; the adapters trained (B left zero), the projector too.
    let stage1_lm = after.lm.to_hf_tensors();
    for ((name, before), (_, now)) in stage1_lm.iter().zip(adapted.lm.to_hf_tensors()) {
        assert_eq!(before.as_bytes(), now.as_bytes(), "{name}");
    }
    assert!(adapted
        .lm
        .adapters()
        .iter()
        .all(|(_, _, a)| a.lora_b.val().abs().max().into_scalar() > 0.0));
    assert_ne!(
        adapted.projector.to_torch_weights()[0].1.as_bytes(),
        after.projector.to_torch_weights()[0].1.as_bytes()
    );
    assert!(
        lines.iter().any(|l| l.contains("merged model written")),
        "{lines:?}"
    );
    let merged =
        Llark::<Flex>::from_pretrained(d.join("stage3/final-merged"), &Default::default()).unwrap();
    assert!(merged.lm.lora_config().is_none());
    assert!(!d.join("stage3/final-merged/adapter_config.json").exists());
    let ids = vec![vec![1u32, 3, 9, 27, 81, 5, 7, 200]];
    let logits = |m: &Llark<Flex>| {
        m.forward(&ids, &[vec![]], None)
            .unwrap()
            .into_data()
            .to_vec::<f32>()
            .unwrap()
    };
    let (a, m) = (logits(&adapted), logits(&merged));
    let err = a
        .iter()
        .zip(&m)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0f32, f32::max);
    assert!(err < 1e-5, "merged logits differ by {err}");
    // `export_merged` without adapters, or adapters under projector-only, are refused.
    let refused = |text: String| {
        TrainRun::from_file({
            let p = d.join("refused.json");
            std::fs::write(&p, text).unwrap();
            p
        })
    };
    assert!(
        refused(stage2.replace("\"masking\"", "\"export_merged\": true, \"masking\"")).is_err()
    );
    let err = refused(stage3.replace(
        "\"max_steps\": 2",
        "\"max_steps\": 2, \"policy\": \"projector-only\"",
    ))
    .unwrap_err();
    assert!(err.to_string().contains("lora"), "{err}");
    let err = refused(stage3.replace("\"r\": 4", "\"r\": 4, \"use_dora\": true")).unwrap_err();
    assert!(err.to_string().contains("use_dora"), "{err}");
    let err = refused(stage3.replace("\"r\": 4", "\"r\": 4, \"lora_aplha\": 8")).unwrap_err();
    assert!(err.to_string().contains("lora_aplha"), "{err}");
}

/// LoRA through the trainer: only the adapters and the projector move, and a run stopped at a
/// checkpoint and resumed computes bit for bit what the uninterrupted one computes, dropout
/// masks included.
#[test]
fn lora_trains_adapters_and_projector_and_resumes_exactly() {
    use llark_lm::{LoraConfig, TargetModule};
    let lora = LoraConfig::new(
        4,
        8.0,
        &[
            TargetModule::QProj,
            TargetModule::VProj,
            TargetModule::DownProj,
        ],
    )
    .with_dropout(0.1);
    let model = || {
        <B as burn::tensor::backend::Backend>::seed(&Default::default(), 5);
        tiny_llark(31).with_lora(&lora).unwrap()
    };
    let setup = TrainConfig {
        lora: Some(lora.clone()),
        checkpoint: CheckpointOptions {
            every: 3,
            keep_last: 2,
        },
        ..config(6)
    };
    let whole = tempfile::tempdir().unwrap();
    let mut t = Trainer::new(model(), data(8), setup.clone(), whole.path()).unwrap();
    let reference = losses(&t.run().unwrap().history);
    let trained = t.into_model();

    let split = tempfile::tempdir().unwrap();
    let mut first = Trainer::new(model(), data(8), setup.clone(), split.path()).unwrap();
    first.run_until(3).unwrap();
    drop(first);
    let mut resumed = Trainer::resume(model(), data(8), setup.clone(), split.path()).unwrap();
    assert_eq!(resumed.step_count(), 3);
    let history = losses(&resumed.run().unwrap().history);
    assert_eq!(history, reference, "resumed losses");
    let adapters = |m: &Llark<B>| -> Vec<Vec<u8>> {
        m.lm.adapter_tensors()
            .unwrap()
            .into_iter()
            .map(|(_, d)| d.as_bytes().to_vec())
            .collect()
    };
    assert_eq!(adapters(resumed.model()), adapters(&trained));
    assert_eq!(weights(resumed.model()), weights(&trained));

    // The base is untouched; the projector and the adapters moved.
    let initial = model();
    let (before, after) = (weights(&initial), weights(&trained));
    for ((name, b), (_, a)) in before.iter().zip(&after) {
        assert_eq!(name.contains("mm_projector"), b != a, "{name}");
    }
    for (b, a) in adapters(&initial).iter().zip(adapters(&trained)) {
        assert_ne!(b, &a);
    }
    // A model without the run's adapters is refused.
    let err = Trainer::new(
        tiny_llark(31),
        data(8),
        setup,
        tempfile::tempdir().unwrap().path(),
    )
    .err()
    .unwrap();
    assert!(err.to_string().contains("adapters"), "{err}");
}
