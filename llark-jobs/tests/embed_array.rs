//! `embed` as a job array: three processes take their shard from Slurm's array variables, one
//! is killed mid-way and run again, and the merged store equals a single process's bit for
//! bit; the merge refuses a missing shard, a clip listed twice, a foreign or unlisted clip, and
//! a per-clip file or a source that changed.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use llark::audio::{synth, write_wav, WavFormat};
use llark::data::StoreDtype;
use llark_jobs::embed::{
    clip_file, embed, find_clips, merge, shard_manifest_path, Clip, EmbedOptions, Progress, Shard,
    ShardManifest, ShardSpec, MANIFEST_FILE, STORE_DIR,
};
use llark_jobs::JobError;

/// The variables a task of the array reads (besides Slurm's).
const AUDIO_VAR: &str = "LLARK_TEST_ARRAY_AUDIO";
const OUT_VAR: &str = "LLARK_TEST_ARRAY_OUT";
const DELAY_VAR: &str = "LLARK_TEST_ARRAY_DELAY_MS";
/// Tasks of the array, numbered from Slurm's `--array=4-6`.
const TASKS: usize = 3;
const FIRST_TASK_ID: usize = 4;

/// One task of the job array, run as a child process by the tests below: it takes its shard
/// from Slurm's variables, as `embed --shard auto` does, and waits `DELAY_VAR` ms after each
/// clip so that it can be killed mid-way.
#[test]
#[ignore = "a task of the job array: the tests below run it as a child process"]
fn array_task() {
    let (Ok(audio), Ok(out)) = (std::env::var(AUDIO_VAR), std::env::var(OUT_VAR)) else {
        return;
    };
    let delay = std::env::var(DELAY_VAR).map_or(0, |ms| ms.parse().unwrap());
    let clips = find_clips(&[audio]).unwrap();
    let shard = ShardSpec::Auto.resolve(None).unwrap();
    let options = EmbedOptions::new(out).with_shard(shard);
    let summary = embed(&front_end(Some(10)), &clips, &options, |event| {
        if let Progress::Finished { .. } = event {
            std::thread::sleep(Duration::from_millis(delay));
        }
    })
    .unwrap();
    assert!(summary.failed.is_empty(), "{}", summary.line());
}

/// Starts task `task` (0-based) of the array over `audio` into `out`.
fn start_task(audio: &Path, out: &Path, task: usize, delay_ms: u64) -> Child {
    Command::new(std::env::current_exe().unwrap())
        .args(["array_task", "--exact", "--ignored", "--test-threads=1"])
        .env(AUDIO_VAR, audio)
        .env(OUT_VAR, out)
        .env(DELAY_VAR, delay_ms.to_string())
        .env("SLURM_ARRAY_TASK_ID", (FIRST_TASK_ID + task).to_string())
        .env("SLURM_ARRAY_TASK_MIN", FIRST_TASK_ID.to_string())
        .env(
            "SLURM_ARRAY_TASK_MAX",
            (FIRST_TASK_ID + TASKS - 1).to_string(),
        )
        .env("SLURM_ARRAY_TASK_COUNT", TASKS.to_string())
        .env("SLURM_ARRAY_TASK_STEP", "1")
        .stdout(Stdio::null())
        .spawn()
        .unwrap()
}

fn finish(mut task: Child) {
    let status = task.wait().unwrap();
    assert!(status.success(), "a task of the array failed: {status}");
}

/// Nine short clips of different lengths under `dir/audio`.
fn corpus(dir: &Path) -> (PathBuf, Vec<Clip>) {
    let audio = dir.join("audio");
    std::fs::create_dir_all(&audio).unwrap();
    for i in 0..9u64 {
        let seconds = 0.5 + 0.1 * i as f64;
        let music = synth::music(44_100, seconds, i).unwrap();
        write_wav(
            audio.join(format!("clip{i}.wav")),
            &music,
            WavFormat::Float32,
        )
        .unwrap();
    }
    let clips = find_clips(&[&audio]).unwrap();
    (audio, clips)
}

/// Every file under `dir`, by relative path, with its bytes.
fn files_under(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut files = Vec::new();
    let mut folders = vec![dir.to_path_buf()];
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(&folder).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                folders.push(path);
            } else {
                let bytes = std::fs::read(&path).unwrap();
                files.push((path.strip_prefix(dir).unwrap().to_path_buf(), bytes));
            }
        }
    }
    files.sort();
    files
}

fn problems(error: JobError) -> Vec<String> {
    match error {
        JobError::Merge(error) => error.problems,
        other => panic!("expected a merge error, got {other}"),
    }
}

fn wait_for(what: &str, until: impl Fn() -> bool) {
    let start = Instant::now();
    while !until() {
        assert!(
            start.elapsed() < Duration::from_secs(300),
            "waited 5 minutes for {what}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_job_array_with_a_killed_task_merges_to_the_single_process_store() {
    let tmp = tempfile::tempdir().unwrap();
    let (audio, clips) = corpus(tmp.path());
    let single = tmp.path().join("single");
    let whole = embed(
        &front_end(Some(10)),
        &clips,
        &EmbedOptions::new(&single),
        |_| {},
    )
    .unwrap();
    assert!(whole.packed.is_some(), "a complete single run merges");

    let array = tmp.path().join("array");
    let slow = 1;
    let shard = Shard::new(slow, TASKS).unwrap();
    let slow_clips: Vec<&Clip> = clips
        .iter()
        .enumerate()
        .filter(|(i, _)| shard.contains(*i))
        .map(|(_, c)| c)
        .collect();
    let mut tasks: Vec<Option<Child>> = (0..TASKS)
        .map(|task| {
            let delay = if task == slow { 60_000 } else { 0 };
            Some(start_task(&audio, &array, task, delay))
        })
        .collect();
    wait_for("the slow task's first clip", || {
        clip_file(&array, &slow_clips[0].id).exists()
    });
    let mut killed = tasks[slow].take().unwrap();
    killed.kill().unwrap();
    killed.wait().unwrap();
    for task in tasks.into_iter().flatten() {
        finish(task);
    }
    let written = slow_clips
        .iter()
        .filter(|c| clip_file(&array, &c.id).exists())
        .count();
    assert_eq!(written, 1, "the killed task stopped after its first clip");
    assert!(!shard_manifest_path(&array, shard).exists());
    let missing = problems(merge(&array, &clips, StoreDtype::F32).unwrap_err());
    assert!(
        missing
            .iter()
            .any(|p| p.contains("shard 1/3 has no manifest")),
        "{missing:?}"
    );
    assert!(
        !array.join(STORE_DIR).exists(),
        "nothing is packed unverified"
    );

    finish(start_task(&audio, &array, slow, 0));
    let manifest_of = |task| {
        std::fs::read(shard_manifest_path(
            &array,
            Shard::new(task, TASKS).unwrap(),
        ))
        .unwrap()
    };
    let first_manifest = manifest_of(0);
    finish(start_task(&audio, &array, 0, 0));
    assert_eq!(
        manifest_of(0),
        first_manifest,
        "a task run again writes the same manifest"
    );
    let merged = merge(&array, &clips, StoreDtype::F32).unwrap();
    assert_eq!(
        (merged.manifest.shards, merged.manifest.clip_count),
        (TASKS, clips.len())
    );

    for folder in [STORE_DIR, "clips"] {
        let (ours, theirs) = (
            files_under(&array.join(folder)),
            files_under(&single.join(folder)),
        );
        assert_eq!(ours.len(), theirs.len(), "{folder}");
        for ((name, bytes), (single_name, single_bytes)) in ours.iter().zip(&theirs) {
            assert_eq!(name, single_name);
            assert!(
                bytes == single_bytes,
                "{folder}/{} differs from the single run's",
                name.display()
            );
        }
    }
    let single_manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(single.join(MANIFEST_FILE)).unwrap()).unwrap();
    let array_manifest = serde_json::to_value(&merged.manifest).unwrap();
    for field in ["clip_count", "frames", "clips", "store"] {
        assert_eq!(single_manifest[field], array_manifest[field], "{field}");
    }
}

#[test]
fn the_merge_refuses_what_is_not_embedded_exactly_once() {
    let tmp = tempfile::tempdir().unwrap();
    let (audio, clips) = corpus(tmp.path());
    let out = tmp.path().join("out");
    let encoder = front_end(Some(10));
    let run_shard = |index| {
        let options = EmbedOptions::new(&out).with_shard(Shard::new(index, 2).unwrap());
        embed(&encoder, &clips, &options, |_| {}).unwrap()
    };
    run_shard(0);
    let missing = problems(merge(&out, &clips, StoreDtype::F32).unwrap_err());
    assert!(
        missing
            .iter()
            .any(|p| p.contains("shard 1/2 has no manifest")),
        "{missing:?}"
    );
    run_shard(1);
    merge(&out, &clips, StoreDtype::F32).unwrap();

    let path = |index| shard_manifest_path(&out, Shard::new(index, 2).unwrap());
    let read = |index| -> ShardManifest {
        serde_json::from_slice(&std::fs::read(path(index)).unwrap()).unwrap()
    };
    let write = |index, manifest: &ShardManifest| {
        std::fs::write(path(index), serde_json::to_vec(manifest).unwrap()).unwrap()
    };
    let refused = |what: &str, expected: &str| {
        let found = problems(merge(&out, &clips, StoreDtype::F32).unwrap_err());
        assert!(
            found.iter().any(|p| p.contains(expected)),
            "{what}: {found:?}"
        );
    };
    let (zero, one) = (read(0), read(1));

    let mut twice = one.clone();
    twice.clips.push(zero.clips[0].clone());
    write(1, &twice);
    refused("a clip listed twice", "is listed by both");

    let mut foreign = one.clone();
    let mut stranger = zero.clips[0].clone();
    stranger.id = "elsewhere/clip".into();
    foreign.clips.push(stranger);
    write(1, &foreign);
    refused("a clip not in the corpus", "is not in the corpus");

    let mut short = one.clone();
    let dropped = short.clips.remove(0);
    write(1, &short);
    refused("a clip in no manifest", &format!("clip `{}` (", dropped.id));
    write(1, &zero);
    refused(
        "a manifest under another shard's name",
        "not the one its name says",
    );
    write(1, &one);

    let file = clip_file(&out, &zero.clips[1].id);
    let original = std::fs::read(&file).unwrap();
    let mut changed = original.clone();
    *changed.last_mut().unwrap() ^= 1;
    std::fs::write(&file, &changed).unwrap();
    refused("a changed clip file", "changed after");
    std::fs::write(&file, &original).unwrap();

    let source = audio.join(format!("{}.wav", zero.clips[2].id));
    let sound = std::fs::read(&source).unwrap();
    let louder = synth::music(44_100, 0.7, 99).unwrap();
    write_wav(&source, &louder, WavFormat::Float32).unwrap();
    refused("a changed source", "changed after it was embedded");
    std::fs::write(&source, &sound).unwrap();

    let merged = merge(&out, &clips, StoreDtype::F32).unwrap();
    assert_eq!(merged.manifest.clip_count, clips.len());
    assert!(out.join(MANIFEST_FILE).exists());
}
