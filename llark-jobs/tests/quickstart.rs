//! The quickstart end to end at a tiny size: every stage runs, `eval.json` has LLark's fields,
//! and the saved model directory works with the pipeline (`ask`'s path).

use burn::backend::{Autodiff, Flex};
use llark::data::LlarkTokenizer;
use llark::encoders::load_encoder;
use llark::lm::GenerationConfig;
use llark::{Llark, Pipeline};
use llark_jobs::quickstart::{run, QuickstartConfig, QuickstartReport, KEY_QUESTION};

#[test]
fn a_tiny_quickstart_runs_end_to_end_and_its_model_answers() {
    let dir = tempfile::tempdir().unwrap();
    let config = QuickstartConfig {
        out: dir.path().to_path_buf(),
        train_clips: 4,
        eval_clips: 2,
        clip_seconds: 3.0,
        hidden_size: 16,
        layers: 1,
        heads: 2,
        steps: 2,
        batch_size: 4,
        progress: false,
        ..QuickstartConfig::default()
    };
    let report = run::<Autodiff<Flex>>(&config, &Default::default()).unwrap();
    assert_eq!(report.n_clips, 2);
    for value in [
        report.tempo_acc1,
        report.tempo_acc2,
        report.key_mirex,
        report.instrument_f1,
    ] {
        assert!((0.0..=1.0).contains(&value), "{report:?}");
    }
    let written: QuickstartReport =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("eval.json")).unwrap())
            .unwrap();
    assert_eq!(written, report);
    let text = std::fs::read_to_string(dir.path().join("eval.json")).unwrap();
    for field in [
        "n_clips",
        "tempo_acc1",
        "tempo_acc2",
        "key_mirex",
        "instrument_f1",
    ] {
        assert!(text.contains(field), "{text}");
    }

    // The saved directory is what `ask` loads: model, tokenizer and encoder.
    let model_dir = dir.path().join("model");
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
    let clip = dir.path().join("audio/eval/synth-000000.wav");
    let audio = pipeline.encode_file(&clip).unwrap();
    assert_eq!(audio.dims()[1], pipeline.model().config().mm_hidden_size);
    pipeline.ask(&audio, KEY_QUESTION, None).unwrap();
}
