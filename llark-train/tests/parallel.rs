//! Data-parallel training (burn-collective's all-reduce over worker threads, one per CPU
//! device) against one worker on the whole batch: the same parameters and losses, the files
//! written once, resume across worker counts, and a failing worker stopping every worker.
//! One test function: burn-collective keeps one collective per backend and process.

mod common;

use common::*;
use llark_train::{
    train_data_parallel, AccumulationNorm, DataParallel, Silent, TrainConfig, TrainData,
    TrainError, Trainer,
};

/// Largest absolute difference between the parameters of two models.
fn max_weight_diff(a: &TinyLm<B>, b: &TinyLm<B>) -> f32 {
    weights(a)
        .iter()
        .zip(weights(b))
        .flat_map(|((name_a, x), (name_b, y))| {
            assert_eq!(name_a, &name_b);
            floats(x)
                .into_iter()
                .zip(floats(&y))
                .map(|(x, y)| (x - y).abs())
                .collect::<Vec<_>>()
        })
        .fold(0.0, f32::max)
}

fn parallel(
    workers: usize,
    config: TrainConfig,
    data: TrainData<llark_train::InMemoryAudio>,
    dir: &std::path::Path,
    until: Option<usize>,
) -> llark_train::Result<(llark_train::TrainSummary, Vec<TinyLm<B>>)> {
    let layout = DataParallel::local(vec![Default::default(); workers]);
    train_data_parallel::<B, _, _>(tiny_lm(11), data, config, dir, &layout, until, &mut Silent)
}

#[test]
fn data_parallel_workers_compute_what_one_worker_computes() {
    let steps = 20;
    for norm in [
        AccumulationNorm::MeanOfMicroBatches,
        AccumulationNorm::TokenWeighted,
    ] {
        // Answers of 4 to 6 tokens: the workers' slices hold different token counts.
        let config = TrainConfig {
            accumulation: norm,
            ..config(steps)
        };
        let alone_dir = tempfile::tempdir().unwrap();
        let mut alone =
            Trainer::new(tiny_lm(11), data(8), config.clone(), alone_dir.path()).unwrap();
        let reference = alone.run().unwrap();

        for workers in [2, 3] {
            let dir = tempfile::tempdir().unwrap();
            let (summary, models) =
                parallel(workers, config.clone(), data(8), dir.path(), None).unwrap();
            assert_eq!(models.len(), workers);
            for other in &models[1..] {
                assert_eq!(weights(other), weights(&models[0]), "workers differ");
            }
            let diff = max_weight_diff(&models[0], alone.model());
            let loss_diff = max_loss_diff(&losses(&reference.history), &losses(&summary.history));
            println!(
                "{norm:?}, {workers} workers, {steps} steps: max parameter difference {diff:e}, \
                 max loss difference {loss_diff:e}"
            );
            assert!(diff <= 1e-6, "parameters differ by {diff}");
            assert!(loss_diff <= 1e-5, "losses differ by {loss_diff}");
            // The run's files are written once, as by one worker.
            let metrics = std::fs::read_to_string(dir.path().join("metrics.jsonl")).unwrap();
            assert_eq!(metrics.lines().count(), steps);
            let checkpoints = std::fs::read_dir(dir.path().join("checkpoints"))
                .unwrap()
                .count();
            assert_eq!(checkpoints, 2);
            assert!(dir.path().join("training_curve.png").is_file());
            let exported = load_exported(&dir.path().join("final"));
            assert_eq!(weights(&exported), weights(&models[0]));
        }
    }

    // Stopped halfway with two workers, resumed alone: the uninterrupted run's parameters.
    let dir = tempfile::tempdir().unwrap();
    let (half, _) = parallel(2, config(steps), data(8), dir.path(), Some(steps / 2)).unwrap();
    assert_eq!(half.steps, steps / 2);
    assert!(!dir.path().join("final").exists());
    let mut resumed = Trainer::resume(tiny_lm(99), data(8), config(steps), dir.path()).unwrap();
    resumed.run().unwrap();
    let alone_dir = tempfile::tempdir().unwrap();
    let mut alone = Trainer::new(tiny_lm(11), data(8), config(steps), alone_dir.path()).unwrap();
    alone.run().unwrap();
    let diff = max_weight_diff(resumed.model(), alone.model());
    println!("2 workers then resumed alone: max parameter difference {diff:e}");
    assert!(diff <= 1e-6, "parameters differ by {diff}");
    // ... and resumed by three workers from the same checkpoint.
    let (_, models) = parallel(3, config(steps), data(8), dir.path(), None).unwrap();
    let diff = max_weight_diff(&models[0], alone.model());
    assert!(diff <= 1e-6, "parameters differ by {diff}");

    // A clip without its encoding: the worker whose slice holds it fails, every worker stops,
    // and the error is the cause (as a single trainer reports it), not a hang.
    let (mut examples, audio) = examples(8, |i| 4 + i % 3);
    examples[5].id = "no-such-clip".into();
    let broken = TrainData::new(examples, audio, 0).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let err = parallel(2, config(steps), broken, dir.path(), None).unwrap_err();
    assert!(
        matches!(err, TrainError::MissingEncoding { ref clip } if clip == "no-such-clip"),
        "{err}"
    );

    // A micro-batch smaller than the workers is refused before anything runs.
    let dir = tempfile::tempdir().unwrap();
    let err = parallel(5, config(steps), data(8), dir.path(), None).unwrap_err();
    assert!(matches!(err, TrainError::Parallel { .. }), "{err}");
    assert!(err.to_string().contains("micro_batch_size 4"), "{err}");
}
