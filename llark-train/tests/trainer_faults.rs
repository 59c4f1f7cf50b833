//! The trainer under faults, on its tiny model (`common::TinyLm`): a NaN loss, interrupted
//! checkpoint writes, `keep_last`, and resuming with another configuration or other data.

mod common;

use common::*;
use llark_train::{CheckpointOptions, TrainConfig, TrainData, TrainError, Trainer};

#[test]
fn a_nan_loss_stops_training_and_keeps_the_last_good_checkpoint() {
    let steps = 8;
    let dir = tempfile::tempdir().unwrap();
    let initial = tiny_lm(31);
    let mut t = Trainer::new(initial.clone(), data(8), config(steps), dir.path()).unwrap();
    t.run_until(4).unwrap();
    let good = t.last_checkpoint().unwrap().to_path_buf();
    assert!(good.ends_with("step-00000004"));
    let saved = read_all(&good);
    drop(t);

    // The same run, but every clip's encodings turned to NaN.
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
    let initial = tiny_lm(41);
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
    let diff = max_loss_diff(&reference, &resumed);
    assert!(diff <= 1e-6, "{diff}");
    // keep_last 3 of the checkpoints at steps 2, 4 and 6.
    let mut kept: Vec<String> = std::fs::read_dir(&ckpts)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    kept.sort();
    assert_eq!(
        kept,
        ["step-00000002", "step-00000004", "step-00000006"],
        "{kept:?}"
    );
}

#[test]
fn keep_last_prunes_the_oldest_checkpoints() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = TrainConfig {
        checkpoint: CheckpointOptions {
            every: 1,
            keep_last: 2,
        },
        ..config(5)
    };
    Trainer::new(tiny_lm(2), data(8), cfg, dir.path())
        .unwrap()
        .run()
        .unwrap();
    let mut kept: Vec<String> = std::fs::read_dir(dir.path().join("checkpoints"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    kept.sort();
    assert_eq!(kept, ["step-00000004", "step-00000005"]);
}

#[test]
fn resuming_with_another_configuration_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut t = Trainer::new(tiny_lm(1), data(8), config(4), dir.path()).unwrap();
    t.run_until(2).unwrap();
    let other = TrainConfig {
        seed: 4,
        ..config(4)
    };
    let err = Trainer::resume(tiny_lm(1), data(8), other, dir.path())
        .err()
        .unwrap();
    assert!(err.to_string().contains("another configuration"), "{err}");
    let err = Trainer::new(tiny_lm(1), data(8), config(4), dir.path())
        .err()
        .unwrap();
    assert!(err.to_string().contains("already holds"), "{err}");
    let err = Trainer::resume(tiny_lm(1), data(7), config(4), dir.path())
        .err()
        .unwrap();
    assert!(err.to_string().contains("examples"), "{err}");
}

#[test]
fn a_model_of_another_audio_width_is_refused() {
    let (ex, _) = examples(4, |_| 3);
    let mut audio = llark_train::InMemoryAudio::new(WIDTH + 1);
    for e in &ex {
        audio
            .insert(e.id.clone(), vec![0.0; FRAMES * (WIDTH + 1)])
            .unwrap();
    }
    let dir = tempfile::tempdir().unwrap();
    let err = Trainer::new(
        tiny_lm(1),
        TrainData::new(ex, audio, 0).unwrap(),
        config(2),
        dir.path(),
    )
    .err()
    .unwrap();
    assert!(
        matches!(err, TrainError::WidthMismatch { model: 8, data: 9 }),
        "{err}"
    );
}

#[test]
fn a_damaged_checkpoint_is_refused_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let initial = tiny_lm(5);
    let mut t = Trainer::new(initial.clone(), data(8), config(8), dir.path()).unwrap();
    t.run_until(4).unwrap();
    let good = t.last_checkpoint().unwrap().to_path_buf();
    assert!(good.ends_with("step-00000004"));
    drop(t);
    let state: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(good.join("state.json")).unwrap()).unwrap();
    assert!(state["files"]["model.mpk"]["crc32"].is_u64(), "{state}");
    assert!(state["files"]["optimizer.mpk"]["bytes"].is_u64(), "{state}");

    // One flipped bit inside the model record: it would still decode, to other weights.
    let path = good.join("model.mpk");
    let mut bytes = std::fs::read(&path).unwrap();
    let at = bytes.len() - 7;
    bytes[at] ^= 0x10;
    std::fs::write(&path, &bytes).unwrap();
    let err = Trainer::resume(initial.clone(), data(8), config(8), dir.path())
        .err()
        .expect("a damaged checkpoint must not resume");
    let text = err.to_string();
    assert!(matches!(err, TrainError::Checkpoint { .. }), "{text}");
    assert!(
        text.contains("model.mpk") && text.contains("damaged"),
        "{text}"
    );

    // A truncated record is refused before anything is loaded.
    let optimizer = good.join("optimizer.mpk");
    let full = std::fs::read(&optimizer).unwrap();
    std::fs::write(&optimizer, &full[..full.len() - 1]).unwrap();
    let err = Trainer::resume(initial.clone(), data(8), config(8), dir.path())
        .err()
        .expect("a truncated checkpoint must not resume");
    assert!(
        err.to_string().contains("optimizer.mpk") && err.to_string().contains("truncated"),
        "{err}"
    );
    std::fs::write(&optimizer, &full).unwrap();

    // Restored, it resumes again.
    bytes[at] ^= 0x10;
    std::fs::write(&path, &bytes).unwrap();
    let mut t = Trainer::resume(initial, data(8), config(8), dir.path()).unwrap();
    assert_eq!(t.step_count(), 4);
    assert_eq!(t.run().unwrap().steps, 8);
}

#[test]
fn checkpoints_left_beyond_keep_last_by_a_kill_are_pruned_on_resume() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = || TrainConfig {
        checkpoint: CheckpointOptions {
            every: 1,
            keep_last: 2,
        },
        ..config(8)
    };
    let initial = tiny_lm(9);
    let mut t = Trainer::new(initial.clone(), data(8), cfg(), dir.path()).unwrap();
    t.run_until(4).unwrap();
    drop(t);
    let ckpts = dir.path().join("checkpoints");
    // A kill between a save and its pruning leaves older complete checkpoints behind.
    for step in [1, 2] {
        let from = ckpts.join("step-00000003");
        let to = ckpts.join(format!("step-{step:08}"));
        std::fs::create_dir_all(&to).unwrap();
        for (name, bytes) in read_all(&from) {
            std::fs::write(to.join(name), bytes).unwrap();
        }
    }
    let t = Trainer::resume(initial, data(8), cfg(), dir.path()).unwrap();
    assert_eq!(t.step_count(), 4);
    let mut kept: Vec<String> = std::fs::read_dir(&ckpts)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    kept.sort();
    assert_eq!(kept, ["step-00000003", "step-00000004"]);
}
