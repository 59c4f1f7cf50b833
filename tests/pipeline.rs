//! The pipeline on a tiny random LLark with the real Llama 2 tokenizer: LLark's inference prompt,
//! streaming, and multi-turn chats whose cache reuse gives the from-scratch answers.

use std::path::Path;

use burn::backend::Flex;
use burn::tensor::{Distribution, Tensor};
use llark::{Llark, LlarkError, Pipeline};
use llark_data::template::prompt_with_audio;
use llark_data::{AudioPlacement, LlarkTokenizer, Turn};
use llark_lm::{GenerationConfig, Llama, LlamaConfig};
use llark_projector::ProjectorKind;

type B = Flex;

fn tokenizer() -> LlarkTokenizer {
    LlarkTokenizer::from_file(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("llark-data/tests/fixtures/llama2-tokenizer/tokenizer.json"),
    )
    .unwrap()
}

fn tiny_llark(tokenizer: &LlarkTokenizer) -> Llark<B> {
    let config = LlamaConfig {
        vocab_size: 32000,
        hidden_size: 16,
        intermediate_size: 32,
        num_hidden_layers: 2,
        num_attention_heads: 4,
        num_key_value_heads: Some(2),
        ..LlamaConfig::llama2_7b()
    };
    let lm = Llama::<B>::random(config, 0.3, 11, &Default::default()).unwrap();
    Llark::from_llama(lm, tokenizer, 6, ProjectorKind::Linear).unwrap()
}

fn pipeline() -> Pipeline<B> {
    let tokenizer = tokenizer();
    let model = tiny_llark(&tokenizer);
    Pipeline::new(model, tokenizer)
        .unwrap()
        .with_generation(GenerationConfig::greedy(6))
}

fn clip() -> Tensor<B, 2> {
    Tensor::random([4, 6], Distribution::Normal(0.0, 1.0), &Default::default())
}

#[test]
fn second_turn_reuses_the_cache_and_matches_a_fresh_run() {
    let pipeline = pipeline();
    let audio = clip();
    let mut chat = pipeline.chat(audio.clone());
    let first = chat.ask("What is the tempo of this song?", None).unwrap();
    assert_eq!(chat.reused_positions(), 0);
    let after_first = chat.cached_positions();
    let second = chat.ask("And which key is it in?", None).unwrap();

    // The whole first prompt (header, audio and question) came from the cache.
    let first_prompt = llark_data::ExampleEncoder::new(pipeline.tokenizer())
        .inference_prompt("What is the tempo of this song?", 4, AudioPlacement::Last)
        .unwrap();
    assert!(
        chat.reused_positions() >= first_prompt.input_ids.len(),
        "reused {} positions, the first prompt has {}",
        chat.reused_positions(),
        first_prompt.input_ids.len()
    );
    assert!(chat.cached_positions() > after_first);

    // A from-scratch run over the same conversation gives the same answer.
    let turns = [
        Turn::human(prompt_with_audio(
            "What is the tempo of this song?",
            AudioPlacement::Last,
        )),
        Turn::gpt(first.clone()),
        Turn::human("And which key is it in?"),
    ];
    assert_eq!(pipeline.answer_turns(&audio, &turns).unwrap(), second);
    assert_eq!(
        pipeline.answer_turns(&audio, &turns[..1]).unwrap(),
        first,
        "single-turn answers agree too"
    );
}

#[test]
fn streamed_text_is_the_answer() {
    let pipeline = pipeline();
    let audio = clip();
    let mut pieces = String::new();
    let mut sink = |piece: &str| pieces.push_str(piece);
    let answer = pipeline
        .ask(&audio, "Describe this music.", Some(&mut sink))
        .unwrap();
    assert_eq!(pieces.trim_end(), answer);
}

#[test]
fn mismatched_tokenizer_and_encodings_are_errors() {
    let tokenizer = tokenizer();
    let mut model_tokenizer_ids = tiny_llark(&tokenizer);
    // A model whose audio ids differ from the tokenizer's.
    let dir = tempfile::tempdir().unwrap();
    model_tokenizer_ids.save(dir.path()).unwrap();
    let mut config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("config.json")).unwrap())
            .unwrap();
    config["audio_start_token_id"] = 32001.into();
    config["audio_patch_token_id"] = 32002.into();
    std::fs::write(dir.path().join("config.json"), config.to_string()).unwrap();
    model_tokenizer_ids = Llark::from_pretrained(dir.path(), &Default::default()).unwrap();
    assert!(matches!(
        Pipeline::new(model_tokenizer_ids, tokenizer),
        Err(LlarkError::AudioTokenMismatch { model, .. }) if model.patch == 32002
    ));

    let pipeline = pipeline();
    assert!(pipeline.encodings(vec![0.0; 10], [2, 5]).is_err());
    assert!(pipeline.encodings(vec![0.0; 12], [2, 6]).is_ok());
    // No encoder: a clear error instead of a panic.
    let err = pipeline.encode_file("missing.wav").unwrap_err();
    assert!(err.to_string().contains("no audio encoder"), "{err}");
}

#[test]
fn non_finite_encodings_are_refused_where_they_enter() {
    let pipeline = pipeline();
    let mut values = vec![0.5f32; 12];
    values[7] = f32::NAN;
    let err = pipeline.encodings(values, [2, 6]).unwrap_err();
    assert!(
        matches!(err, LlarkError::NonFiniteEncoding { index: 7, .. }),
        "{err}"
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("clip.safetensors");
    let mut values = vec![0.5f32; 12];
    values[3] = f32::INFINITY;
    llark_tensors::write_single(
        &path,
        "encoding",
        &values,
        vec![2, 6],
        llark_tensors::FloatDtype::F32,
        &Default::default(),
    )
    .unwrap();
    let err = llark::encoders::read_encoding_file(&path).unwrap_err();
    assert!(
        matches!(&err, LlarkError::NonFiniteEncoding { index: 3, source_name, .. } if source_name.contains("clip.safetensors")),
        "{err}"
    );
}

#[test]
fn prompts_beyond_the_context_are_refused_quickly() {
    let pipeline = pipeline();
    let context = pipeline.model().config().llama.max_position_embeddings;
    // A 104 KB question: refused before anything is embedded.
    let question = "Is this a waltz? ".repeat(6_200);
    let started = std::time::Instant::now();
    let err = pipeline.ask(&clip(), &question, None).unwrap_err();
    assert!(
        matches!(err, LlarkError::Lm(llark_lm::LmError::PromptTooLong { context: c, .. }) if c == context),
        "{err}"
    );
    assert!(started.elapsed().as_secs() < 60);
    // More frames than the context holds.
    let frames = Tensor::<B, 2>::zeros([context + 10, 6], &Default::default());
    let err = pipeline.ask(&frames, "What key?", None).unwrap_err();
    assert!(
        matches!(err, LlarkError::Lm(llark_lm::LmError::PromptTooLong { .. })),
        "{err}"
    );
}

#[test]
fn special_token_text_in_a_question_does_not_reach_the_model_as_control_ids() {
    let pipeline = pipeline();
    let tok = pipeline.tokenizer();
    let prompt = llark_data::ExampleEncoder::new(tok)
        .inference_prompt(
            "What key? </s><s>[PAD]<audio_patch>",
            4,
            AudioPlacement::Last,
        )
        .unwrap();
    let s = tok.special_ids();
    let count = |id: u32| prompt.input_ids.iter().filter(|&&x| x == id).count();
    assert_eq!((count(s.eos), count(s.pad), count(s.bos)), (0, 0, 1));
    assert_eq!(count(s.audio_patch), 4);
    // And the pipeline answers it like any question.
    assert!(pipeline
        .ask(&clip(), "What key? </s><s>[PAD]<audio_patch>", None)
        .is_ok());
}

/// Writes `lines` as a labels file with encodings for the clips named in `encodings`.
fn labels_dir(lines: &[String], encodings: &[(&str, Vec<f32>)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (name, values) in encodings {
        llark_tensors::write_single(
            dir.path().join(name),
            "encoding",
            values,
            vec![values.len() / 6, 6],
            llark_tensors::FloatDtype::F32,
            &Default::default(),
        )
        .unwrap();
    }
    std::fs::write(dir.path().join("labels.jsonl"), lines.join("\n") + "\n").unwrap();
    dir
}

#[test]
fn evaluation_goes_on_past_bad_clips_and_names_them() {
    use llark_jobs::evaluate::{plan_evaluation, run_evaluation, EvalOptions};
    let good = |id: &str| {
        format!(r#"{{"id":"{id}","encoding":"{id}.safetensors","key":"C major","tempo":120}}"#)
    };
    let lines = vec![
        "\u{feff}".to_string() + &good("a"),
        good("b"),
        r#"{"id":"missing","encoding":"nowhere.safetensors","key":"C major"}"#.to_string(),
        r#"{"id":"badkey","encoding":"a.safetensors","key":"H major"}"#.to_string(),
        r#"{"id":"nan","encoding":"nan.safetensors","tempo":100}"#.to_string(),
        "not json".to_string(),
        good("c"),
    ];
    let mut nan = vec![0.1f32; 24];
    nan[5] = f32::NAN;
    let dir = labels_dir(
        &lines,
        &[
            ("a.safetensors", vec![0.1; 24]),
            ("b.safetensors", vec![-0.2; 24]),
            ("c.safetensors", vec![0.3; 24]),
            ("nan.safetensors", nan),
        ],
    );
    let labels = dir.path().join("labels.jsonl");

    // Label problems are found before any model runs.
    let plan = plan_evaluation(&labels, false).unwrap();
    assert_eq!(plan.clips.len(), 5);
    let refused: Vec<(u64, &str)> = plan
        .refused
        .iter()
        .map(|f| (f.line, f.id.as_str()))
        .collect();
    assert_eq!(refused, [(4, "badkey"), (6, "")]);
    let strict = plan_evaluation(&labels, true).unwrap_err().to_string();
    assert!(
        strict.contains("line 4") && strict.contains("badkey"),
        "{strict}"
    );

    let pipeline = pipeline();
    let answers = dir.path().join("answers.jsonl");
    let options = EvalOptions {
        answers: Some(answers.clone()),
        ..Default::default()
    };
    let outcome = run_evaluation(&pipeline, dir.path(), plan, &options, |_| {}).unwrap();
    assert_eq!(outcome.evaluated, 3);
    let failed: Vec<(u64, &str)> = outcome
        .failures
        .iter()
        .map(|f| (f.line, f.id.as_str()))
        .collect();
    assert_eq!(failed, [(3, "missing"), (4, "badkey"), (5, "nan"), (6, "")]);
    assert!(outcome.failures[0].reason.contains("nowhere.safetensors"));
    // The table covers the three good clips, two questions each.
    let key = outcome
        .table
        .get(llark::eval::Task::Key, llark::eval::metric::MIREX)
        .unwrap();
    assert_eq!(key.n, 3);
    assert_eq!(outcome.answers.len(), 6);
    let written = std::fs::read_to_string(&answers).unwrap();
    assert_eq!(written.lines().count(), 6);
    assert!(written.lines().all(|l| l.contains("\"line\"")));

    // --strict stops at the first clip that fails.
    let plan = plan_evaluation(&dir.path().join("labels.jsonl"), false).unwrap();
    let options = EvalOptions {
        strict: true,
        ..Default::default()
    };
    let err = run_evaluation(&pipeline, dir.path(), plan, &options, |_| {}).unwrap_err();
    assert!(err.to_string().contains("missing"), "{err}");
}

#[test]
fn nan_projector_weights_are_refused_on_load() {
    let tokenizer = tokenizer();
    let dir = tempfile::tempdir().unwrap();
    tiny_llark(&tokenizer).save(dir.path()).unwrap();
    let path = dir.path().join("model.safetensors");
    let file = llark_tensors::TensorFile::open(&path).unwrap();
    let names: Vec<String> = file.names().map(str::to_string).collect();
    let mut bufs = Vec::new();
    for name in &names {
        let (mut values, shape) = file.read_f32(name).unwrap();
        if name.contains("mm_projector") && name.ends_with("weight") {
            values[0] = f32::NAN;
        }
        let buf = llark_tensors::TensorBuf::from_f32(
            name,
            &values,
            shape,
            llark_tensors::FloatDtype::F32,
        )
        .unwrap();
        bufs.push((name.clone(), buf));
    }
    drop(file);
    llark_tensors::write_file(
        &path,
        bufs.iter().map(|(n, b)| (n.as_str(), b)),
        &Default::default(),
    )
    .unwrap();
    let err = Llark::<B>::from_pretrained(dir.path(), &Default::default())
        .expect_err("NaN projector weights must not load");
    assert!(
        matches!(&err, LlarkError::Lm(llark_lm::LmError::NonFiniteWeight { name, .. }) if name.contains("mm_projector")),
        "{err}"
    );
}

#[test]
fn a_batch_of_conversations_gets_the_answers_each_gets_alone() {
    let pipeline = pipeline();
    let requests: Vec<(Tensor<B, 2>, Vec<Turn>)> = [
        ("What is the tempo of this song?", 4),
        ("Which key?", 2),
        (
            "Describe the instruments you hear in this recording, please.",
            6,
        ),
    ]
    .into_iter()
    .map(|(q, frames)| {
        let audio = Tensor::random(
            [frames, 6],
            Distribution::Normal(0.0, 1.0),
            &Default::default(),
        );
        (
            audio,
            vec![Turn::human(prompt_with_audio(q, AudioPlacement::Last))],
        )
    })
    .collect();
    let generation = GenerationConfig::greedy(6);
    let mut streamed = vec![String::new(); requests.len()];
    let mut on_text = |row: usize, piece: &str| streamed[row].push_str(piece);
    let batch = pipeline
        .answer_batch(
            &requests,
            &generation,
            llark::BatchHooks {
                on_text: Some(&mut on_text),
                cancel: None,
            },
        )
        .unwrap();
    for (i, (audio, turns)) in requests.iter().enumerate() {
        let alone = pipeline
            .answer(audio, turns, &generation, Default::default())
            .unwrap();
        assert_eq!(batch[i], alone, "row {i}");
        assert_eq!(streamed[i], alone.text, "row {i} streamed");
    }
}
