//! Encoding a corpus into per-clip files and a store, with the tiny Jukebox fixture encoder:
//! frame counts, pooling, resuming, shards, packing and bad inputs.

mod common;

use std::path::{Path, PathBuf};

use common::*;
use llark::audio::{synth, write_wav, WavFormat};
use llark::backend::{default_device, DefaultBackend};
use llark::data::{EncodingStore, StoreDtype};
use llark::encoders::load_encoder;
use llark::projector::Pooling;
use llark::AudioFrontEnd;
use llark_jobs::embed::{
    clip_file, embed, encode_file, find_clips, merge, pack, read_clip_file, Clip, EmbedOptions,
    EmbedSummary, Progress, Shard,
};

fn encoder() -> FrontEnd {
    front_end(None)
}

/// Jukebox's frame count for `n` samples at 44.1 kHz: one frame per hop (the product of the
/// top level's strides), at most the prior's context, read from the fixture's config.
fn expected_frames(n: usize) -> usize {
    let text = std::fs::read_to_string(encoder_dir().join("config.json")).unwrap();
    let config: serde_json::Value = serde_json::from_str(&text).unwrap();
    let vqvae = &config["vqvae"];
    let level = config["prior"]["level"].as_u64().unwrap() as usize;
    let hop: u64 = (0..=level)
        .map(|l| {
            vqvae["strides_t"][l]
                .as_u64()
                .unwrap()
                .pow(vqvae["downs_t"][l].as_u64().unwrap() as u32)
        })
        .product();
    let n_ctx = config["prior"]["n_ctx"].as_u64().unwrap() as usize;
    (n / hop as usize).min(n_ctx)
}

/// Three clips: `a` (12,800 samples at 44.1 kHz), `sub/b` (10,000 samples at 22.05 kHz, so
/// 20,000 after resampling) and `sub/c` (40,000 samples, longer than the encoder's window), plus
/// a text file that is not audio. Returns the folder and the clips' lengths at 44.1 kHz.
fn corpus(dir: &Path) -> (PathBuf, Vec<(&'static str, usize)>) {
    let root = dir.join("audio");
    std::fs::create_dir_all(root.join("sub")).unwrap();
    let write = |name: &str, audio: llark::audio::Audio| {
        write_wav(root.join(name), &audio, WavFormat::Float32).unwrap();
    };
    write(
        "a.wav",
        synth::music(44_100, 12_800.0 / 44_100.0, 1).unwrap(),
    );
    write(
        "sub/b.wav",
        synth::sine(330.0, 0.4, 22_050, 10_000).unwrap(),
    );
    write(
        "sub/c.wav",
        synth::music(44_100, 40_000.0 / 44_100.0, 3).unwrap(),
    );
    std::fs::write(root.join("notes.txt"), "not audio").unwrap();
    (
        root,
        vec![("a", 12_800), ("sub/b", 20_000), ("sub/c", 40_000)],
    )
}

fn run(front_end: &FrontEnd, clips: &[Clip], options: &EmbedOptions) -> EmbedSummary {
    let mut finished = 0;
    let summary = embed(front_end, clips, options, |event| {
        if let Progress::Finished { .. } = event {
            finished += 1;
        }
    })
    .unwrap();
    let shard_len = (0..clips.len())
        .filter(|&i| options.shard.contains(i))
        .count();
    assert_eq!(
        finished, shard_len,
        "one Finished event per clip of the shard"
    );
    summary
}

#[test]
fn clips_are_found_sorted_with_relative_ids() {
    let tmp = tempfile::tempdir().unwrap();
    let (root, expected) = corpus(tmp.path());
    let clips = find_clips(&[&root]).unwrap();
    let ids: Vec<&str> = clips.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(ids, expected.iter().map(|(id, _)| *id).collect::<Vec<_>>());
    assert_eq!(clips[1].path, root.join("sub/b.wav"));

    // A file named directly is its stem, whatever its extension; ids must be unique.
    let single = find_clips(&[root.join("sub/b.wav"), root.join("a.wav")]).unwrap();
    let ids: Vec<&str> = single.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(ids, ["a", "b"]);
    let err = find_clips(&[root.join("a.wav"), root.join("a.wav")]).unwrap_err();
    assert!(err.to_string().contains("a.wav"), "{err}");
    let err = find_clips(&[root.join("missing.wav")]).unwrap_err();
    assert!(err.to_string().contains("missing.wav"), "{err}");
}

#[test]
fn frame_counts_follow_the_encoder_and_pooling() {
    let tmp = tempfile::tempdir().unwrap();
    let (root, expected) = corpus(tmp.path());
    let clips = find_clips(&[&root]).unwrap();
    let encoder = encoder();

    let plain = tmp.path().join("plain");
    let summary = run(&encoder, &clips, &EmbedOptions::new(&plain));
    assert_eq!((summary.encoded, summary.skipped), (3, 0));
    assert!(summary.failed.is_empty(), "{:?}", summary.failed);

    let fps = 10;
    let pooled = tmp.path().join("pooled");
    let summary = run(&front_end(Some(fps)), &clips, &EmbedOptions::new(&pooled));
    assert_eq!(summary.encoded, 3);

    let info = encoder.encoder();
    let pooling = Pooling::new(info.frame_rate(), fps);
    for (id, samples) in expected {
        let raw = read_clip_file(&clip_file(&plain, id)).unwrap();
        let frames = expected_frames(samples);
        assert_eq!(raw.frames.shape(), [frames, info.width()], "clip {id}");
        assert_eq!(raw.dtype, StoreDtype::F32);
        assert_eq!(raw.metadata.encoder, "jukebox");
        assert_eq!(raw.metadata.frame_rate, info.frame_rate());
        assert_eq!(raw.metadata.pool_fps, None);
        assert!(
            raw.metadata.source.ends_with(".wav"),
            "{}",
            raw.metadata.source
        );
        // The stored frames are what the encoder gives for the file.
        let direct = encode_file(&encoder, &root.join(format!("{id}.wav"))).unwrap();
        assert_eq!(raw.frames, direct, "clip {id}");

        let window = (info.frame_rate() / f64::from(fps)).floor() as usize;
        let pooled = read_clip_file(&clip_file(&pooled, id)).unwrap();
        assert_eq!(pooled.frames.frames, frames / window, "clip {id}");
        assert_eq!(pooled.metadata.pool_fps, Some(fps));
        let host = pooling
            .apply_host(&raw.frames.data, raw.frames.frames, raw.frames.width)
            .unwrap();
        // Pooled on the device: the host pooling's values to f32 rounding.
        assert_eq!(pooled.frames.data.len(), host.len(), "clip {id}");
        for (d, h) in pooled.frames.data.iter().zip(&host) {
            assert!(
                (d - h).abs() <= 1e-6 * h.abs().max(1.0),
                "clip {id}: {d} vs {h}"
            );
        }
        // Window 0 by hand: the mean of the first `window` frames.
        for d in [0, info.width() - 1] {
            let mean = (0..window)
                .map(|t| raw.frames.row(t)[d] as f64)
                .sum::<f64>()
                / window as f64;
            assert!(
                (pooled.frames.row(0)[d] as f64 - mean).abs() < 1e-5,
                "clip {id}"
            );
        }
    }

    // A pooling rate above the encoder's frame rate is refused before any clip is read.
    let device = default_device();
    let boxed = load_encoder::<DefaultBackend>(encoder_dir(), &device).unwrap();
    let err = AudioFrontEnd::new(boxed, Some(1000), &device)
        .err()
        .expect("pooling above the frame rate");
    assert!(err.to_string().contains("1000"), "{err}");

    // A global mean (fps 0) gives one frame per clip.
    let global = tmp.path().join("global");
    run(&front_end(Some(0)), &clips, &EmbedOptions::new(&global));
    for clip in &clips {
        let file = read_clip_file(&clip_file(&global, &clip.id)).unwrap();
        assert_eq!(file.frames.frames, 1);
    }
}

#[test]
fn a_second_run_skips_every_clip() {
    let tmp = tempfile::tempdir().unwrap();
    let (root, _) = corpus(tmp.path());
    let clips = find_clips(&[&root]).unwrap();
    let encoder = encoder();
    let options = EmbedOptions::new(tmp.path().join("out"));
    let first = run(&encoder, &clips, &options);
    assert_eq!((first.encoded, first.skipped, first.missing), (3, 0, 0));
    assert!(first.packed.is_some(), "complete corpus is packed");
    let before = std::fs::read(clip_file(&options.out, "sub/b")).unwrap();

    let second = run(&encoder, &clips, &options);
    assert_eq!((second.encoded, second.skipped), (0, 3));
    assert!(second.failed.is_empty());
    assert!(
        second.packed.is_none(),
        "nothing changed, the store is kept"
    );
    assert_eq!(
        std::fs::read(clip_file(&options.out, "sub/b")).unwrap(),
        before
    );
    assert_eq!(second.line(), "encoded 0, skipped 3, failed 0");

    // A clip whose file is lost is encoded again, and the store rebuilt.
    std::fs::remove_file(clip_file(&options.out, "a")).unwrap();
    let third = run(&encoder, &clips, &options);
    assert_eq!((third.encoded, third.skipped), (1, 2));
    assert_eq!(third.packed.unwrap().clips.len(), 3);
    // No temporary file is left behind.
    let leftovers: Vec<_> = walk(&options.out)
        .into_iter()
        .filter(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            name.ends_with(".tmp") || name.contains("partial")
        })
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(walk(&path));
        }
        out.push(path);
    }
    out
}

#[test]
fn shards_partition_the_clips() {
    assert_eq!("1/3".parse::<Shard>().unwrap(), Shard::new(1, 3).unwrap());
    assert!("3/3".parse::<Shard>().is_err());
    assert!("1-3".parse::<Shard>().is_err());
    assert!("a/3".parse::<Shard>().is_err());

    let tmp = tempfile::tempdir().unwrap();
    let (root, _) = corpus(tmp.path());
    let clips = find_clips(&[&root]).unwrap();
    let encoder = encoder();
    let out = tmp.path().join("out");
    let options = |i| EmbedOptions::new(&out).with_shard(Shard::new(i, 2).unwrap());

    let first = run(&encoder, &clips, &options(0));
    assert_eq!((first.encoded, first.skipped, first.missing), (2, 0, 1));
    assert!(first.packed.is_none(), "incomplete corpus is not packed");
    let present: Vec<bool> = clips
        .iter()
        .map(|c| clip_file(&out, &c.id).exists())
        .collect();
    assert_eq!(
        present,
        [true, false, true],
        "shard 0/2 holds positions 0 and 2"
    );

    let second = run(&encoder, &clips, &options(1));
    assert_eq!((second.encoded, second.skipped, second.missing), (1, 0, 0));
    assert!(
        second.packed.is_none(),
        "a shard of several leaves packing to the merge"
    );
    let index = merge(&out, &clips, StoreDtype::F32).unwrap().index;
    assert_eq!(
        index.clips.keys().map(String::as_str).collect::<Vec<_>>(),
        ["a", "sub/b", "sub/c"]
    );
}

#[test]
fn the_packed_store_holds_the_clip_files() {
    let tmp = tempfile::tempdir().unwrap();
    let (root, _) = corpus(tmp.path());
    let clips = find_clips(&[&root]).unwrap();
    let encoder = encoder();

    // f32: exactly the per-clip values.
    let out32 = tmp.path().join("f32");
    let summary = run(&encoder, &clips, &EmbedOptions::new(&out32));
    assert!(summary.packed.is_some());
    let store = EncodingStore::open(out32.join("store")).unwrap();
    assert_eq!(store.dtype(), StoreDtype::F32);
    assert_eq!(store.len(), 3);
    for clip in &clips {
        let file = read_clip_file(&clip_file(&out32, &clip.id)).unwrap();
        let (data, shape) = store.get(&clip.id).unwrap();
        assert_eq!(shape, file.frames.shape());
        assert_eq!(data, file.frames.data, "clip {}", clip.id);
    }

    // f16: per-clip files and store agree exactly, and both are the f32 values rounded to f16.
    let out16 = tmp.path().join("f16");
    let options = EmbedOptions::new(&out16).with_dtype(StoreDtype::F16);
    run(&encoder, &clips, &options);
    let store16 = EncodingStore::open(out16.join("store")).unwrap();
    assert_eq!(store16.dtype(), StoreDtype::F16);
    for clip in &clips {
        let file16 = read_clip_file(&clip_file(&out16, &clip.id)).unwrap();
        assert_eq!(file16.dtype, StoreDtype::F16);
        let (data, _) = store16.get(&clip.id).unwrap();
        assert_eq!(data, file16.frames.data, "clip {}", clip.id);
        let (exact, _) = store.get(&clip.id).unwrap();
        for (&h, &x) in data.iter().zip(&exact) {
            // Round to nearest: within half an f16 ulp (2^-11 relative; 2^-25 near zero).
            let bound = x.abs() * 2f32.powi(-11) + 2f32.powi(-25);
            assert!((h - x).abs() <= bound, "clip {}: {h} vs {x}", clip.id);
        }
    }

    // Packing the f32 files as f16 gives the same store values as encoding in f16.
    let repacked = pack(&out32, &clips, StoreDtype::F16).unwrap();
    assert_eq!(repacked.dtype, StoreDtype::F16);
    let store = EncodingStore::open(out32.join("store")).unwrap();
    for clip in &clips {
        assert_eq!(
            store.get(&clip.id).unwrap(),
            store16.get(&clip.id).unwrap(),
            "clip {}",
            clip.id
        );
    }
}

#[test]
fn a_corrupt_file_is_reported_and_the_others_are_encoded() {
    let tmp = tempfile::tempdir().unwrap();
    let (root, _) = corpus(tmp.path());
    let bad = root.join("sub/broken.wav");
    std::fs::write(
        &bad,
        b"RIFF\x10\x00\x00\x00WAVEfmt garbage that is not a wave file",
    )
    .unwrap();
    let clips = find_clips(&[&root]).unwrap();
    assert_eq!(clips.len(), 4);
    let encoder = encoder();
    let out = tmp.path().join("out");

    let summary = run(&encoder, &clips, &EmbedOptions::new(&out));
    assert_eq!(
        (summary.encoded, summary.skipped, summary.missing),
        (3, 0, 1)
    );
    assert_eq!(summary.failed.len(), 1);
    assert_eq!(summary.failed[0].clip.path, bad);
    let message = summary.failed[0].to_string();
    assert!(message.contains("broken.wav"), "{message}");
    assert!(!clip_file(&out, "sub/broken").exists());
    assert!(
        summary.packed.is_none(),
        "a clip is missing: no automatic packing"
    );
    assert_eq!(
        summary.line(),
        "encoded 3, skipped 0, failed 1; 1 clips still to encode"
    );

    // Asked to pack anyway, the store holds the clips that were encoded; the bad one fails again.
    let options = EmbedOptions::new(&out).with_pack(true);
    let summary = run(&encoder, &clips, &options);
    assert_eq!(
        (summary.encoded, summary.skipped, summary.failed.len()),
        (0, 3, 1)
    );
    let store = EncodingStore::open(out.join("store")).unwrap();
    assert_eq!(store.len(), 3);
    assert!(!store.contains("sub/broken"));
}
