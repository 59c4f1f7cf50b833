//! The trainer end to end on a tiny model of its own (`common::TinyLm`): learning, exact resume,
//! gradient accumulation against one large batch, and freezing policies.

mod common;

use common::*;
use llark_data::TokenizedExample;
use llark_train::{
    AccumulationNorm, AdamWOptions, ParamGroup, StepMetrics, TrainConfig, TrainData, TrainModel,
    TrainObserver, TrainPolicy, Trainer,
};

#[derive(Default)]
struct Events {
    starts: Vec<(usize, usize)>,
    steps: Vec<usize>,
    checkpoints: Vec<usize>,
    finished: usize,
}

impl TrainObserver for Events {
    fn on_start(&mut self, step: usize, total: usize) {
        self.starts.push((step, total));
    }
    fn on_step(&mut self, metrics: &StepMetrics, _total: usize) {
        self.steps.push(metrics.step);
    }
    fn on_checkpoint(&mut self, step: usize, _dir: &std::path::Path) {
        self.checkpoints.push(step);
    }
    fn on_finish(&mut self, _total: usize) {
        self.finished += 1;
    }
}

#[test]
fn learns_eight_examples_and_a_resumed_run_reproduces_the_losses() {
    let steps = 60;
    let initial = tiny_lm(11);
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
    let exported = load_exported(&whole_dir.path().join("final"));
    assert_eq!(weights(&exported), weights(whole.model()));

    // Stopped after half the steps, then resumed from the checkpoint by a new trainer with a
    // differently initialised model; the observer sees every step once.
    let dir = tempfile::tempdir().unwrap();
    let mut events = Events::default();
    let mut first = Trainer::new(initial.clone(), data(8), config(steps), dir.path()).unwrap();
    first.run_until_observed(steps / 2, &mut events).unwrap();
    assert_eq!(events.finished, 0);
    drop(first);
    let mut second = Trainer::resume(tiny_lm(99), data(8), config(steps), dir.path()).unwrap();
    assert_eq!(second.step_count(), steps / 2);
    let resumed = losses(&second.run_observed(&mut events).unwrap().history);
    let diff = max_loss_diff(&reference, &resumed);
    println!("resume: max loss difference {diff:e}");
    assert_eq!(resumed.len(), steps);
    assert!(diff <= 1e-6, "max difference {diff}");
    let metrics = std::fs::read_to_string(dir.path().join("metrics.jsonl")).unwrap();
    assert_eq!(metrics.lines().count(), steps);
    assert_eq!(events.starts, [(0, steps), (steps / 2, steps)]);
    assert_eq!(events.steps, (1..=steps).collect::<Vec<_>>());
    assert_eq!(events.checkpoints, [steps / 2, steps]);
    assert_eq!(events.finished, 1);

    // A closure observes steps.
    let mut seen = 0;
    let dir = tempfile::tempdir().unwrap();
    let mut t = Trainer::new(initial, data(8), config(4), dir.path()).unwrap();
    t.run_until_observed(2, &mut |m: &StepMetrics| seen = m.step)
        .unwrap();
    assert_eq!(seen, 2);
}

#[test]
fn accumulating_micro_batches_gives_the_gradient_of_one_large_batch() {
    let model = tiny_lm(5);
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
            floats(x)
                .into_iter()
                .zip(floats(&y))
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
        let model = tiny_lm(21);
        let before = weights(&model);
        let dir = tempfile::tempdir().unwrap();
        let cfg = TrainConfig {
            policy,
            ..config(3)
        };
        let mut t = Trainer::new(model, data(8), cfg, dir.path()).unwrap();
        t.run_until(3).unwrap();
        let after = weights(t.model());
        assert_eq!(before.len(), after.len());
        for ((name, b), (_, a)) in before.iter().zip(&after) {
            let path: Vec<String> = name.split('.').map(str::to_string).collect();
            let group = <TinyLm<B> as TrainModel<B>>::param_group(&path);
            if policy.trains(group) {
                assert_ne!(a, b, "{policy:?}: {name} did not change");
            } else {
                assert_eq!(a, b, "{policy:?}: frozen {name} changed");
            }
        }
        // Both groups exist in the tiny model.
        assert!(before.iter().any(|(n, _)| n.starts_with("projector")));
        assert!(before.iter().any(|(n, _)| !n.starts_with("projector")));
        let _ = ParamGroup::Lm;
    }
}
