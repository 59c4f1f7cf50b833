//! The sampler (seeded shuffling, task mix, exact restore), checkpoint discovery, the metrics
//! log, the training curve and `train.json` parsing.

use std::collections::HashMap;

use llark_data::{TaskFamily, TokenizedExample};
use llark_train::{
    plot_curve, Checkpoints, MetricsLog, Sampler, StepMetrics, TaskMix, TrainConfig, TrainPolicy,
};

fn examples(families: &[(TaskFamily, usize)]) -> Vec<TokenizedExample> {
    let mut out = Vec::new();
    for &(family, n) in families {
        for i in 0..n {
            out.push(TokenizedExample {
                id: format!("{family}-{i}"),
                input_ids: vec![1, 2, 3],
                labels: vec![-100, 2, 3],
                audio_spans: vec![],
                task: Some(family),
            });
        }
    }
    out
}

#[test]
fn shuffling_visits_every_example_once_per_pass_and_depends_on_the_seed() {
    let ex = examples(&[(TaskFamily::Mir, 10)]);
    let mut s = Sampler::new(&ex, 7, None).unwrap();
    let first: Vec<usize> = s.take(10);
    let second: Vec<usize> = s.take(10);
    let mut sorted = first.clone();
    sorted.sort();
    assert_eq!(sorted, (0..10).collect::<Vec<_>>());
    let mut sorted2 = second.clone();
    sorted2.sort();
    assert_eq!(sorted2, (0..10).collect::<Vec<_>>());
    assert_ne!(first, second, "each pass is shuffled afresh");
    let again = Sampler::new(&ex, 7, None).unwrap().take(20);
    assert_eq!(again, [first.clone(), second].concat());
    assert_ne!(Sampler::new(&ex, 8, None).unwrap().take(10), first);
}

#[test]
fn task_mix_draws_families_with_the_given_probabilities() {
    let ex = examples(&[
        (TaskFamily::Captioning, 5),
        (TaskFamily::Reasoning, 7),
        (TaskFamily::Mir, 11),
    ]);
    let mut s = Sampler::new(&ex, 1, Some(&TaskMix::LLARK)).unwrap();
    let n = 40_000;
    let mut counts: HashMap<TaskFamily, usize> = HashMap::new();
    for i in s.take(n) {
        *counts.entry(ex[i].task.unwrap()).or_default() += 1;
    }
    for (family, p) in [
        (TaskFamily::Captioning, 0.15),
        (TaskFamily::Reasoning, 0.55),
        (TaskFamily::Mir, 0.30),
    ] {
        let freq = counts[&family] as f64 / n as f64;
        // 5 standard deviations of a binomial proportion.
        let tol = 5.0 * (p * (1.0 - p) / n as f64).sqrt();
        assert!((freq - p).abs() < tol, "{family}: {freq} vs {p}");
    }
}

#[test]
fn task_mix_needs_families() {
    let mut ex = examples(&[(TaskFamily::Mir, 3), (TaskFamily::Reasoning, 3)]);
    let err = Sampler::new(&ex, 1, Some(&TaskMix::LLARK)).unwrap_err();
    assert!(err.to_string().contains("captioning"), "{err}");
    ex[0].task = None;
    let mix = TaskMix {
        captioning: 0.0,
        reasoning: 1.0,
        mir: 1.0,
    };
    let err = Sampler::new(&ex, 1, Some(&mix)).unwrap_err();
    assert!(err.to_string().contains("mir-0"), "{err}");
}

#[test]
fn a_restored_sampler_continues_the_same_stream() {
    let ex = examples(&[
        (TaskFamily::Captioning, 3),
        (TaskFamily::Reasoning, 4),
        (TaskFamily::Mir, 5),
    ]);
    for mix in [None, Some(TaskMix::LLARK)] {
        let mut whole = Sampler::new(&ex, 3, mix.as_ref()).unwrap();
        let all = whole.take(57);
        let mut first = Sampler::new(&ex, 3, mix.as_ref()).unwrap();
        let head = first.take(23);
        let state = serde_json::to_string(&first.state()).unwrap();
        let mut second = Sampler::new(&ex, 3, mix.as_ref()).unwrap();
        second
            .restore(&serde_json::from_str(&state).unwrap())
            .unwrap();
        let tail = second.take(34);
        assert_eq!([head, tail].concat(), all);
    }
}

#[test]
fn only_renamed_checkpoint_directories_count_and_partial_ones_are_removed() {
    let dir = tempfile::tempdir().unwrap();
    let c = Checkpoints::open(dir.path(), 2).unwrap();
    for (name, state) in [
        ("step-00000004", true),
        ("step-00000008", true),
        ("step-00000012.partial", true),
        ("step-00000016", false),
        ("notes", true),
    ] {
        let p = dir.path().join(name);
        std::fs::create_dir_all(&p).unwrap();
        if state {
            std::fs::write(p.join("state.json"), "{}").unwrap();
        }
    }
    let list: Vec<usize> = c.list().unwrap().into_iter().map(|(s, _)| s).collect();
    assert_eq!(list, vec![4, 8]);
    assert_eq!(c.latest().unwrap().unwrap().0, 8);
    let removed = c.remove_partial().unwrap();
    assert_eq!(removed.len(), 1);
    assert!(!dir.path().join("step-00000012.partial").exists());
}

fn metrics(step: usize) -> StepMetrics {
    StepMetrics {
        step,
        loss: 3.0 / step as f64,
        lr: 1e-3 * step as f64,
        grad_norm: 1.0,
        tokens: 10,
        tokens_per_s: 100.0,
        elapsed_s: step as f64,
        examples_seen: step as u64 * 4,
    }
}

#[test]
fn metrics_log_keeps_the_steps_a_resumed_run_has_done() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("metrics.jsonl");
    let (mut log, kept) = MetricsLog::open(&path, 0).unwrap();
    assert!(kept.is_empty());
    for s in 1..=6 {
        log.append(&metrics(s)).unwrap();
    }
    drop(log);
    let (_, kept) = MetricsLog::open(&path, 4).unwrap();
    assert_eq!(kept, (1..=4).map(metrics).collect::<Vec<_>>());
    let text = std::fs::read_to_string(&path).unwrap();
    assert_eq!(text.lines().count(), 4);
}

#[test]
fn training_curve_is_a_png_with_both_curves() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("curve.png");
    let history: Vec<StepMetrics> = (1..=50).map(metrics).collect();
    plot_curve(&path, &history).unwrap();
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(&path).unwrap()));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    assert_eq!((info.width, info.height), (800, 600));
    let h = info.height as usize;
    let pixels: Vec<&[u8]> = buf.chunks(3).collect();
    let blue_top = pixels[..pixels.len() / 2]
        .iter()
        .filter(|p| p[2] > 200 && p[0] < 50)
        .count();
    let red_bottom = pixels[pixels.len() / 2..]
        .iter()
        .filter(|p| p[0] > 200 && p[2] < 50)
        .count();
    assert!(
        blue_top > 300 && red_bottom > 300,
        "{blue_top} {red_bottom} of {h} rows"
    );
    // Empty history still draws.
    plot_curve(&path, &[]).unwrap();
}

#[test]
fn train_json_takes_llark_values_for_missing_fields_and_rejects_bad_ones() {
    let c: TrainConfig =
        serde_json::from_str(r#"{"policy": "projector-only", "max_steps": 10}"#).unwrap();
    assert_eq!(c.policy, TrainPolicy::ProjectorOnly);
    assert_eq!(c.optimizer.weight_decay, 0.0);
    assert_eq!(c.warmup.ratio, 0.03);
    assert_eq!(c.effective_batch(), 32);
    assert_eq!(c.task_mix, Some(TaskMix::LLARK));
    c.validate().unwrap();
    assert!(serde_json::from_str::<TrainConfig>(r#"{"polcy": "lm-only"}"#).is_err());
    let bad = TrainConfig {
        grad_accum_steps: 0,
        ..TrainConfig::llark()
    };
    assert!(bad
        .validate()
        .unwrap_err()
        .to_string()
        .contains("grad_accum_steps"));
    let by_epochs = TrainConfig {
        max_steps: None,
        epochs: Some(3),
        micro_batch_size: 2,
        grad_accum_steps: 2,
        ..TrainConfig::llark()
    };
    assert_eq!(by_epochs.total_steps(10).unwrap(), 6);
    assert_eq!(
        "lm-only".parse::<TrainPolicy>().unwrap(),
        TrainPolicy::LmOnly
    );
}
