//! Around instruction generation: validation of model responses (rejections and their counts),
//! prompts and their overrides from files, metadata loading and record output.

mod common;

use common::full_clip;
use llark_data::instruct::{
    generate_record, make_record, parse_response, read_metadata_json, ClipMetadata, GenerateError,
    Generator, MetadataError, OfflineGenerator, PromptBuilder, PromptError, RejectReason,
    ResponseError, Role, ValidationReport, Validator,
};
use llark_data::{JsonlReader, JsonlWriter, LlarkRecord, OnError, TaskFamily};
use serde_json::{json, Value};

#[test]
fn validation_rejects_and_counts_each_kind() {
    let items = json!([
        {"question": "What is the tempo?", "answer": "About 120 BPM."},
        "just a string",
        {"answer": "No question here."},
        {"question": "Where is the answer?"},
        {"question": "Is the answer a number?", "answer": 5},
        {"question": "   ", "answer": "Blank question."},
        {"question": "What key is it in?", "answer": "  "},
        {"question": "what is the tempo? ", "answer": "Around 120 BPM."},
        {"question": "Who is the artist?", "answer": "A famous band."},
        {"question": "How long is this clip?", "answer": "Ten seconds."},
        {"question": "What mood is it?", "answer": "As an AI, I cannot listen to music."},
        {"question": "What key is it in?", "answer": "The metadata says A minor."},
        {"question": "Which genre?", "answer": "According to the JSON, it is jazz."},
        {"question": "Any vocals?", "answer": "The annotations do not say."},
        {"question": "Is there a piano?", "answer": "Yes, a piano plays the chords."},
        {"question": "How does the artist release the tension?", "answer": "By resolving to the tonic."}
    ]);
    let mut report = ValidationReport::default();
    let kept = Validator::default().check(items.as_array().unwrap().clone(), &mut report);
    assert_eq!(
        kept.iter().map(|p| p.question.as_str()).collect::<Vec<_>>(),
        [
            "What is the tempo?",
            "Is there a piano?",
            "How does the artist release the tension?"
        ]
    );
    assert_eq!(report.candidates, 16);
    assert_eq!(report.accepted, 3);
    let counts: Vec<(RejectReason, u64)> = RejectReason::ALL
        .into_iter()
        .map(|r| (r, report.rejected_for(r)))
        .collect();
    assert_eq!(
        counts,
        [
            (RejectReason::NotAnObject, 1),
            (RejectReason::MissingQuestion, 1),
            (RejectReason::MissingAnswer, 2),
            (RejectReason::EmptyQuestion, 1),
            (RejectReason::EmptyAnswer, 1),
            (RejectReason::DuplicateQuestion, 1),
            (RejectReason::DisallowedQuestion, 2),
            (RejectReason::OffTopicAnswer, 4),
        ]
    );
    assert_eq!(report.total_rejected(), 13);
    let shown = report.to_string();
    assert!(shown.contains("off-topic-answer: 4"), "{shown}");

    // Phrase lists are configurable.
    let strict = Validator::default().with_off_topic_phrase("piano");
    let mut r = ValidationReport::default();
    let kept = strict.check(items.as_array().unwrap().clone(), &mut r);
    assert_eq!(kept.len(), 2);
    assert_eq!(r.rejected_for(RejectReason::OffTopicAnswer), 5);
}

#[test]
fn whole_responses_of_the_wrong_kind_are_errors() {
    assert!(matches!(
        parse_response("Here are some questions: ..."),
        Err(ResponseError::MalformedJson(_))
    ));
    assert!(matches!(
        parse_response(r#"{"question": "q", "answer": "a"}"#),
        Err(ResponseError::WrongShape(_))
    ));
    assert!(matches!(
        parse_response("42"),
        Err(ResponseError::WrongShape(_))
    ));
    assert_eq!(parse_response("[]").unwrap().len(), 0);

    /// A generator whose replies are fixed texts.
    struct Canned(Vec<&'static str>);
    impl Generator for Canned {
        fn name(&self) -> &str {
            "canned"
        }
        fn candidates(
            &mut self,
            meta: &ClipMetadata,
            family: TaskFamily,
        ) -> Result<Vec<Value>, GenerateError> {
            let text = self.0.remove(0);
            parse_response(text).map_err(|source| GenerateError::Response {
                clip: meta.id.clone(),
                family,
                source,
            })
        }
    }
    let mut gen = Canned(vec![
        "not json",
        "\"a string\"",
        "```json\n[{\"question\": \"Key?\", \"answer\": \"E minor.\"}]\n```",
    ]);
    let meta = ClipMetadata::new("c");
    let mut report = ValidationReport::default();
    let v = Validator::default();
    let e = gen
        .generate_checked(&meta, TaskFamily::Mir, &v, &mut report)
        .unwrap_err();
    assert!(e.to_string().contains("clip c (mir)"), "{e}");
    assert_eq!(e.kind(), "malformed-json");
    let e = generate_record(&mut gen, &meta, TaskFamily::Mir, None, &v, &mut report).unwrap_err();
    assert_eq!(e.kind(), "wrong-shape");
    let rec = generate_record(&mut gen, &meta, TaskFamily::Mir, None, &v, &mut report)
        .unwrap()
        .unwrap();
    assert_eq!(rec.response[0].answer, "E minor.");
    assert_eq!(report.requests, 3);
    assert_eq!(report.failed_for("malformed-json"), 1);
    assert_eq!(report.failed_for("wrong-shape"), 1);
    assert_eq!(report.accepted, 1);
}

// ---------------------------------------------------------------------------------------------

#[test]
fn prompts_have_task_examples_then_the_clip() {
    let builder = PromptBuilder::new();
    let meta = full_clip(1);
    for family in TaskFamily::ALL {
        let msgs = builder.messages(&meta, family);
        assert_eq!(msgs[0].role, Role::System);
        assert!(msgs[0].content.contains("BPM"), "{family}");
        assert!(
            msgs[0].content.contains("downbeats"),
            "{family}: glossary missing"
        );
        let examples = &msgs[1..msgs.len() - 1];
        assert!(examples.len() >= 2 && examples.len().is_multiple_of(2));
        for pair in examples.chunks(2) {
            assert_eq!((pair[0].role, pair[1].role), (Role::User, Role::Assistant));
            let shown: Value = serde_json::from_str(&pair[0].content).unwrap();
            assert_eq!(shown.as_array().unwrap().len(), 1);
            let answer = parse_response(&pair[1].content).unwrap();
            assert!(!answer.is_empty());
        }
        let last = msgs.last().unwrap();
        assert_eq!(last.role, Role::User);
        let shown: Value = serde_json::from_str(&last.content).unwrap();
        let clip = &shown[0];
        assert_eq!(clip["tempo"], json!(meta.tempo.unwrap()));
        assert_eq!(clip["key"], json!(meta.key.clone().unwrap()));
        assert_eq!(clip["track.genre_top"], "Pop");
        assert!(clip.get("id").is_none() && clip.get("audio").is_none());
        let text = builder.render_text(&meta, family);
        assert!(text.starts_with(&msgs[0].content) && text.contains(&last.content));
    }
    let mir = builder.messages(&meta, TaskFamily::Mir)[0].content.clone();
    let cap = builder.messages(&meta, TaskFamily::Captioning)[0]
        .content
        .clone();
    assert_ne!(mir, cap);
}

#[test]
fn prompt_templates_are_overridden_from_files() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("mir.txt"),
        "Ask about rhythm only.\n{fields}",
    )
    .unwrap();
    std::fs::write(dir.path().join("mir-fma.txt"), "Questions for FMA clips.").unwrap();
    std::fs::write(
        dir.path().join("fewshot-mir.json"),
        r#"[{"metadata": {"tempo": 90}, "pairs": [{"question": "Tempo?", "answer": "About 90 BPM."}]}]"#,
    )
    .unwrap();
    std::fs::write(dir.path().join("notes.md"), "ignored").unwrap();
    let builder = PromptBuilder::new().with_dir(dir.path()).unwrap();

    let plain = ClipMetadata::new("x");
    let msgs = builder.messages(&plain, TaskFamily::Mir);
    assert!(msgs[0].content.starts_with("Ask about rhythm only.\n"));
    assert!(msgs[0].content.contains("downbeats"));
    assert_eq!(msgs.len(), 4);
    assert_eq!(
        msgs[2].content,
        r#"[{"question":"Tempo?","answer":"About 90 BPM."}]"#
    );

    let mut fma = ClipMetadata::new("y");
    fma.dataset = Some("fma".into());
    let msgs = builder.messages(&fma, TaskFamily::Mir);
    assert_eq!(msgs[0].content, "Questions for FMA clips.");
    assert_eq!(msgs.len(), 4);
    // Other families keep the built-in texts.
    let reasoning = builder.messages(&fma, TaskFamily::Reasoning);
    assert_eq!(
        reasoning[0].content,
        PromptBuilder::new().messages(&fma, TaskFamily::Reasoning)[0].content
    );

    std::fs::write(
        dir.path().join("fewshot-reasoning.json"),
        r#"{"metadata": 1}"#,
    )
    .unwrap();
    match PromptBuilder::new().with_dir(dir.path()) {
        Err(PromptError::Json { path, .. }) => assert!(path.ends_with("fewshot-reasoning.json")),
        other => panic!("{other:?}"),
    }
    std::fs::remove_file(dir.path().join("fewshot-reasoning.json")).unwrap();
    std::fs::write(dir.path().join("captioning.txt"), "  \n").unwrap();
    match PromptBuilder::new().with_dir(dir.path()) {
        Err(PromptError::Empty { path }) => assert!(path.ends_with("captioning.txt")),
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        PromptBuilder::new().with_dir(dir.path().join("missing")),
        Err(PromptError::Io { .. })
    ));
}

// ---------------------------------------------------------------------------------------------

#[test]
fn metadata_loads_from_jsonl_and_json_and_records_go_out_as_jsonl() {
    let dir = tempfile::tempdir().unwrap();
    let jsonl = dir.path().join("clips.jsonl");
    let clips: Vec<ClipMetadata> = (0..3).map(full_clip).collect();
    let mut lines: Vec<String> = clips
        .iter()
        .map(|c| serde_json::to_string(c).unwrap())
        .collect();
    lines.insert(1, "{\"id\": 5}".into());
    std::fs::write(&jsonl, lines.join("\n")).unwrap();
    let mut reader = JsonlReader::<ClipMetadata, _>::open(&jsonl, OnError::Skip).unwrap();
    let read: Vec<ClipMetadata> = reader.by_ref().map(|r| r.unwrap().value).collect();
    assert_eq!(read, clips);
    assert_eq!(read[0].extra["track.genre_top"], "Pop");
    assert_eq!(reader.skipped()[0].line, 2);

    let json_list = dir.path().join("clips.json");
    std::fs::write(&json_list, serde_json::to_string(&clips).unwrap()).unwrap();
    assert_eq!(read_metadata_json(&json_list).unwrap(), clips);
    let json_one = dir.path().join("one.json");
    std::fs::write(&json_one, serde_json::to_string(&clips[2]).unwrap()).unwrap();
    assert_eq!(
        read_metadata_json(&json_one).unwrap(),
        vec![clips[2].clone()]
    );
    let broken = dir.path().join("broken.json");
    std::fs::write(&broken, "[{\"id\": \"a\"}, {\"tempo\": 1}]").unwrap();
    match read_metadata_json(&broken) {
        Err(e @ MetadataError::Json { .. }) => {
            assert!(e.to_string().contains("broken.json"), "{e}");
            assert!(e.to_string().contains("id"), "{e}");
        }
        other => panic!("{other:?}"),
    }

    let out = dir.path().join("records.jsonl");
    let mut writer = JsonlWriter::create(&out).unwrap();
    let mut gen = OfflineGenerator::new(9);
    let mut report = ValidationReport::default();
    let v = Validator::default();
    for clip in &clips {
        for family in TaskFamily::ALL {
            if let Some(rec) =
                generate_record(&mut gen, clip, family, None, &v, &mut report).unwrap()
            {
                writer.write(&rec).unwrap();
            }
        }
    }
    assert_eq!(writer.written(), 9);
    writer.commit().unwrap();
    let records: Vec<LlarkRecord> = JsonlReader::open(&out, OnError::Stop)
        .unwrap()
        .map(|r| r.unwrap().value)
        .collect();
    assert_eq!(records.len(), 9);
    assert_eq!(records[4].task, Some(TaskFamily::Reasoning));
    assert_eq!(records[4].id, "clip-001");
    assert_eq!(records[4].audio.as_deref(), Some("audio/clip-001.wav"));
    let convs = records[0].to_conversations(|| llark_data::AudioPlacement::First);
    assert_eq!(convs.len(), records[0].response.len());

    let mut with_dataset = clips[0].clone();
    with_dataset.dataset = Some("musicnet".into());
    let rec = make_record(&with_dataset, TaskFamily::Mir, records[0].response.clone());
    assert_eq!(rec.extra["dataset"], "musicnet");
}
