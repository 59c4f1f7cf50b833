//! The quickstart end to end at a tiny size: every stage runs on composed music and on a small
//! corpus of compositions, `eval.json` and `answers.jsonl` have their fields, and the saved model
//! directory works with the pipeline (`ask`'s path).

use std::path::Path;

use burn::backend::{Autodiff, Flex};
use llark::data::LlarkTokenizer;
use llark::encoders::load_encoder;
use llark::lm::GenerationConfig;
use llark::midi::compose::{compose, ComposeConfig};
use llark::midi::write_midi;
use llark::{Llark, Pipeline};
use llark_jobs::quickstart::{run, QuickstartConfig, QuickstartReport, KEY_QUESTION};

/// A corpus of two composed pieces, one for training and one held out.
fn tiny_corpus(dir: &Path) {
    let mut index = String::new();
    for (seed, split) in [(11u64, "train"), (12, "heldout")] {
        let piece = compose(
            seed,
            &ComposeConfig {
                duration: 4.0,
                ..Default::default()
            },
        )
        .unwrap();
        let file = format!("piece-{seed}.mid");
        let (n, d) = piece.facts.time_signature.split_once('/').unwrap();
        write_midi(
            dir.join(&file),
            &piece.performance,
            piece.quarter_bpm,
            (n.parse().unwrap(), d.parse().unwrap()),
        )
        .unwrap();
        let line = serde_json::json!({
            "id": format!("piece-{seed}"), "file": file, "composer": "test", "title": "test",
            "key": piece.facts.key, "meter": piece.facts.time_signature,
            "tempo_bpm": piece.facts.tempo_bpm, "quarter_bpm": piece.quarter_bpm,
            "beat_unit": "quarter", "duration_seconds": 4.0, "parts": [],
            "instruments": [], "split": split,
        });
        index.push_str(&format!("{line}\n"));
    }
    std::fs::write(dir.join("index.jsonl"), index).unwrap();
}

#[test]
fn a_tiny_quickstart_runs_end_to_end_and_its_model_answers() {
    let dir = tempfile::tempdir().unwrap();
    let corpus = dir.path().join("corpus");
    std::fs::create_dir_all(&corpus).unwrap();
    tiny_corpus(&corpus);
    let config = QuickstartConfig {
        out: dir.path().join("out"),
        train_clips: 4,
        corpus_variants: 1,
        eval_clips: 2,
        real_variants: 2,
        clip_seconds: Some(3.0),
        corpus: Some(corpus),
        hidden_size: 16,
        layers: 1,
        heads: 2,
        steps: 2,
        batch_size: 4,
        progress: false,
        ..QuickstartConfig::default()
    };
    let out = &config.out;
    let report = run::<Autodiff<Flex>>(&config, &Default::default()).unwrap();
    let real = report
        .real
        .clone()
        .expect("the corpus has a held-out piece");
    assert_eq!((report.composed.n_clips, real.n_clips), (2, 2));
    assert_eq!(report.composed.soundfonts, vec!["TimGM6mb".to_string()]);
    assert_eq!(real.soundfonts, vec!["sf_GMbank".to_string()]);
    for set in [&report.composed, &real] {
        for value in [
            set.tempo_acc1,
            set.tempo_acc2,
            set.key_mirex,
            set.instrument_f1,
        ] {
            assert!((0.0..=1.0).contains(&value), "{report:?}");
        }
    }
    let written: QuickstartReport =
        serde_json::from_str(&std::fs::read_to_string(out.join("eval.json")).unwrap()).unwrap();
    assert_eq!(written, report);
    // One line of answers per evaluated clip, with the truth beside them.
    let answers = std::fs::read_to_string(out.join("answers.jsonl")).unwrap();
    let lines: Vec<serde_json::Value> = answers
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 4);
    assert_eq!(lines[3]["set"], "real");
    assert!(lines[3]["truth"]["key"].is_string() && lines[3]["key"]["answer"].is_string());
    // The baselines' clip list names the rendered files.
    let clips = std::fs::read_to_string(out.join("audio/real/clips.jsonl")).unwrap();
    for line in clips.lines() {
        let clip: serde_json::Value = serde_json::from_str(line).unwrap();
        assert!(out
            .join("audio/real")
            .join(clip["audio"].as_str().unwrap())
            .is_file());
    }

    // The saved directory is what `ask` loads: model, tokenizer and encoder.
    let model_dir = out.join("model");
    let device = Default::default();
    let model = Llark::<Flex>::from_pretrained(&model_dir, &device).unwrap();
    assert_eq!(model.config().audio_pool_fps, Some(config.pool_fps));
    let tokenizer = LlarkTokenizer::from_file(model_dir.join("tokenizer.json")).unwrap();
    let encoder = load_encoder::<Flex>(model_dir.join("encoder"), &device).unwrap();
    let pipeline = Pipeline::new(model, tokenizer)
        .unwrap()
        .with_generation(GenerationConfig::greedy(4))
        .with_encoder(encoder)
        .unwrap();
    let clip = out.join("audio/eval/composed-00000.wav");
    let audio = pipeline.encode_file(&clip).unwrap();
    assert_eq!(audio.dims()[1], pipeline.model().config().mm_hidden_size);
    pipeline.ask(&audio, KEY_QUESTION, None).unwrap();

    // A track longer than the trained clips (3 s) is answered window by window: 3 + 3 + 4 s
    // (the 1 s remainder joins the last window), each window's answer kept.
    assert_eq!(pipeline.max_audio_seconds(), Some(3.0));
    let clip = llark::audio::load(&clip).unwrap();
    let long: Vec<f32> = clip
        .samples()
        .iter()
        .chain(clip.samples())
        .chain(clip.samples())
        .chain(&clip.samples()[..clip.len() / 3])
        .copied()
        .collect();
    let long = llark::audio::Audio::new(long, clip.sample_rate()).unwrap();
    let track = pipeline.ask_audio(&long, KEY_QUESTION).unwrap();
    assert_eq!(track.windows.len(), 3, "{track:?}");
    assert_ne!(track.combination, llark::Combination::Whole);
    assert!(
        (track.windows[2].duration_seconds - 4.0).abs() < 0.01,
        "{track:?}"
    );
    assert!(
        track.windows.iter().any(|w| w.answer == track.text)
            || track.combination == llark::Combination::InstrumentMajority
    );
    let short = pipeline.ask_audio(&clip, KEY_QUESTION).unwrap();
    assert_eq!(
        (short.windows.len(), short.combination),
        (1, llark::Combination::Whole)
    );
}

#[test]
fn the_held_out_font_may_not_be_a_training_font() {
    let dir = tempfile::tempdir().unwrap();
    let defaults = QuickstartConfig::default();
    let config = QuickstartConfig {
        out: dir.path().to_path_buf(),
        soundfonts: vec![defaults.held_out_soundfont.clone()],
        ..defaults
    };
    let error = run::<Autodiff<Flex>>(&config, &Default::default()).unwrap_err();
    assert!(error.to_string().contains("held-out"), "{error}");
}
