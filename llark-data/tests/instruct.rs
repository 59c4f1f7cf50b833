//! Instruction generation: offline answers read back to the metadata through LLark's evaluation
//! parsing, determinism, skipping of missing facts, validation counts, prompts and their
//! overrides, metadata loading and record output.

use std::collections::BTreeSet;

use llark_data::instruct::{
    generate_record, make_record, parse_response, read_metadata_json, ClipMetadata, GenerateError,
    Generator, MetadataError, OfflineGenerator, PromptBuilder, PromptError, RejectReason,
    ResponseError, Role, ValidationReport, Validator,
};
use llark_data::{JsonlReader, JsonlWriter, LlarkRecord, OnError, QaPair, TaskFamily};
use serde_json::{json, Value};

// ---------------------------------------------------------------------------------------------
// LLark's answer parsing, written here from the evaluation spec (its `key_parse_fn` and
// `tempo_parse_fn`), and checked against the reference parse cases below.

/// Python's `\w` (Unicode word characters) plus `+` and `#`.
fn key_token_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_' || c == '+' || c == '#'
}

/// `key_parse_fn`: the replacements in order, then the leftmost match of
/// `[\w+#]+\smajor|[\w+#]+\sminor`.
fn key_parse(text: &str) -> Option<String> {
    let text = text
        .replace(" sharp", "#")
        .replace("-sharp", "#")
        .replace("sharp", "#")
        .replace("-flat", "b");
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    for start in 0..chars.len() {
        let mut end = start;
        while end < chars.len() && key_token_char(chars[end].1) {
            end += 1;
        }
        if end == start || end >= chars.len() || !chars[end].1.is_whitespace() {
            continue;
        }
        let after = chars[end].0 + chars[end].1.len_utf8();
        for mode in ["major", "minor"] {
            if text[after..].starts_with(mode) {
                return Some(text[chars[start].0..after + mode.len()].to_string());
            }
        }
    }
    None
}

/// `tempo_parse_fn`: the first `[0-9]+(\.[0-9]+)*` as a number; a multi-dot token gives `None`.
fn tempo_parse(text: &str) -> Option<f64> {
    let b = text.as_bytes();
    let start = b.iter().position(u8::is_ascii_digit)?;
    let mut end = start;
    while end < b.len() && b[end].is_ascii_digit() {
        end += 1;
    }
    while end + 1 < b.len() && b[end] == b'.' && b[end + 1].is_ascii_digit() {
        end += 1;
        while end < b.len() && b[end].is_ascii_digit() {
            end += 1;
        }
    }
    text[start..end].parse().ok()
}

/// Splits one CSV line (double-quoted fields may hold commas).
fn csv_fields(line: &str) -> Vec<String> {
    let mut out = vec![String::new()];
    let mut quoted = false;
    for c in line.chars() {
        match c {
            '"' => quoted = !quoted,
            ',' if !quoted => out.push(String::new()),
            _ => out.last_mut().unwrap().push(c),
        }
    }
    out
}

#[test]
fn test_parsers_reproduce_the_reference_parse_cases() {
    let csv = include_str!("fixtures/eval-parse-cases.csv");
    let mut lines = csv.lines();
    let header = csv_fields(lines.next().unwrap());
    let col = |name: &str| header.iter().position(|h| h == name).unwrap();
    let (text, key, tempo) = (col("text"), col("key_parse_fn"), col("tempo_parse_fn"));
    let mut n = 0;
    for line in lines.filter(|l| !l.trim().is_empty()) {
        let f = csv_fields(line);
        let want_key = Some(f[key].clone()).filter(|k| !k.is_empty());
        assert_eq!(key_parse(&f[text]), want_key, "{}", f[0]);
        let want_tempo: Option<f64> = Some(&f[tempo])
            .filter(|t| !t.is_empty())
            .map(|t| t.parse().unwrap());
        assert_eq!(tempo_parse(&f[text]), want_tempo, "{}", f[0]);
        n += 1;
    }
    assert_eq!(n, 26);
    assert_eq!(tempo_parse("version 1.2.3"), None);
}

// ---------------------------------------------------------------------------------------------

/// madmom's key labels (the spellings LLark's training keys have).
const KEYS: [&str; 24] = [
    "A major", "Bb major", "B major", "C major", "Db major", "D major", "Eb major", "E major",
    "F major", "F# major", "G major", "Ab major", "A minor", "Bb minor", "B minor", "C minor",
    "C# minor", "D minor", "D# minor", "E minor", "F minor", "F# minor", "G minor", "G# minor",
];

const TEMPOS: [f64; 6] = [60.0, 87.5, 99.96, 120.0, 128.4, 174.04];

fn full_clip(i: usize) -> ClipMetadata {
    let key = KEYS[i % KEYS.len()];
    let tempo = TEMPOS[i % TEMPOS.len()];
    let beats = 3 + (i % 2) as u32;
    let downbeats: Vec<Value> = (0..8)
        .map(|b| json!({"time": 0.4 + 0.5 * b as f64, "beat_number": 1 + (b as u32 % beats)}))
        .collect();
    serde_json::from_value(json!({
        "id": format!("clip-{i:03}"),
        "audio": format!("audio/clip-{i:03}.wav"),
        "tempo_in_beats_per_minute_madmom": tempo,
        "key": key,
        "downbeats_madmom": downbeats,
        "chords": [
            {"start_time": 0.0, "end_time": 2.0, "chord": "Aminor"},
            {"start_time": 2.0, "end_time": 5.0, "chord": "Fmajor"},
            {"start_time": 5.0, "end_time": 6.0, "chord": "no chord"},
            {"start_time": 6.0, "end_time": 8.0, "chord": "Cmajor"}
        ],
        "instruments": ["Piano", "Violin 2", "cello", "90s drum machine"],
        "genres": ["80s pop", "neo-soul"],
        "tags": ["warm", "minor-key mood"],
        "caption": "A warm ballad with piano and strings, recorded in 2019.",
        "track.genre_top": "Pop"
    }))
    .unwrap()
}

fn all_pairs(
    gen: &OfflineGenerator,
    meta: &ClipMetadata,
) -> Vec<llark_data::instruct::OfflinePair> {
    TaskFamily::ALL
        .into_iter()
        .flat_map(|f| gen.pairs(meta, f))
        .collect()
}

#[test]
fn offline_answers_read_back_to_the_metadata_values() {
    let mut tempo_answers = 0;
    let mut key_answers = 0;
    for seed in 0..3 {
        let gen = OfflineGenerator::new(seed);
        for i in 0..48 {
            let meta = full_clip(i);
            let want_tempo = meta.tempo.unwrap();
            let want_key = meta.key.clone().unwrap();
            for family in TaskFamily::ALL {
                let pairs = gen.pairs(&meta, family);
                assert!(!pairs.is_empty(), "{family}");
                if family != TaskFamily::Captioning {
                    assert!(pairs.iter().any(|p| p.facts.contains(&"tempo")), "{family}");
                    assert!(pairs.iter().any(|p| p.facts.contains(&"key")), "{family}");
                }
                for p in &pairs {
                    let a = &p.pair.answer;
                    let quotes = |f: &str| p.facts.contains(&f) || (p.facts.contains(&"summary"));
                    if quotes("tempo") {
                        let got = tempo_parse(a).unwrap_or_else(|| panic!("no tempo in {a:?}"));
                        assert!(
                            (got - want_tempo).abs() <= 0.5,
                            "{a:?}: {got} vs {want_tempo}"
                        );
                        tempo_answers += 1;
                    }
                    if quotes("key") {
                        assert_eq!(key_parse(a).as_deref(), Some(want_key.as_str()), "{a:?}");
                        key_answers += 1;
                    }
                }
            }
        }
    }
    assert!(
        tempo_answers > 500 && key_answers > 300,
        "{tempo_answers} {key_answers}"
    );
}

#[test]
fn offline_phrasing_varies_but_facts_do_not() {
    let gen = OfflineGenerator::new(11);
    let mut tempo_questions = BTreeSet::new();
    let mut tempo_answers = BTreeSet::new();
    for i in (0..60).step_by(6) {
        let meta = full_clip(i); // same tempo (60 BPM), many clip ids
        for p in gen.pairs(&meta, TaskFamily::Mir) {
            if p.facts == ["tempo"] {
                tempo_questions.insert(p.pair.question.clone());
                tempo_answers.insert(p.pair.answer.clone());
                assert!(p.pair.answer.contains("60 B") || p.pair.answer.contains("60 b"));
            }
        }
    }
    assert!(tempo_questions.len() >= 3, "{tempo_questions:?}");
    assert!(tempo_answers.len() >= 3, "{tempo_answers:?}");
}

#[test]
fn offline_generation_is_deterministic_for_a_seed() {
    let clips: Vec<ClipMetadata> = (0..10).map(full_clip).collect();
    let run = |seed: u64, order: &[usize]| -> Vec<(String, Vec<QaPair>)> {
        let gen = OfflineGenerator::new(seed);
        let mut out: Vec<(String, Vec<QaPair>)> = order
            .iter()
            .flat_map(|&i| TaskFamily::ALL.into_iter().map(move |f| (i, f)))
            .map(|(i, f)| {
                let pairs = gen
                    .pairs(&clips[i], f)
                    .into_iter()
                    .map(|p| p.pair)
                    .collect();
                (format!("{}-{f}", clips[i].id), pairs)
            })
            .collect();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    };
    let forward: Vec<usize> = (0..10).collect();
    let backward: Vec<usize> = (0..10).rev().collect();
    assert_eq!(run(5, &forward), run(5, &forward));
    // The draw of a clip depends on the seed, its id and the family only.
    assert_eq!(run(5, &forward), run(5, &backward));
    assert_ne!(run(5, &forward), run(6, &forward));
    // The same facts come out under any seed; only phrasing and order change.
    let facts = |seed| {
        let mut v: Vec<Vec<&str>> = OfflineGenerator::new(seed)
            .pairs(&clips[0], TaskFamily::Reasoning)
            .into_iter()
            .map(|p| p.facts)
            .collect();
        v.sort();
        v
    };
    assert_eq!(facts(1), facts(2));
}

#[test]
fn missing_fields_are_skipped_not_invented() {
    let gen = OfflineGenerator::new(0);
    // Only instruments: nothing about tempo, key, meter, chords, genre or captions.
    let meta: ClipMetadata =
        serde_json::from_value(json!({"id": "inst-only", "instruments": ["Flute", "harp"]}))
            .unwrap();
    let pairs = all_pairs(&gen, &meta);
    assert!(!pairs.is_empty());
    for p in &pairs {
        let a = p.pair.answer.to_lowercase();
        for word in [
            "bpm", "tempo", "major", "minor", "chord", "genre", "time", "bar", "beat",
        ] {
            assert!(!a.contains(word), "{word} in {a:?}");
        }
        assert_eq!(tempo_parse(&p.pair.answer), None, "{a:?}");
        assert!(
            p.facts.iter().all(|f| f.starts_with("instrument")),
            "{:?}",
            p.facts
        );
        assert!(a.contains("flute") || a.contains("harp"), "{a:?}");
    }
    assert!(gen.pairs(&meta, TaskFamily::Captioning).is_empty());

    // Unreadable or impossible values count as missing.
    let meta: ClipMetadata = serde_json::from_value(json!({
        "id": "bad", "tempo": 0.0, "key": "H dorian", "time_signature": "fast",
        "chords": [{"start_time": 0.0, "end_time": 1.0, "chord": "N"}],
        "genres": ["  "], "caption": "   "
    }))
    .unwrap();
    assert!(all_pairs(&gen, &meta).is_empty());
    let mut report = ValidationReport::default();
    for family in TaskFamily::ALL {
        let rec = generate_record(
            &mut OfflineGenerator::new(0),
            &meta,
            family,
            None,
            &Validator::default(),
            &mut report,
        )
        .unwrap();
        assert!(rec.is_none());
    }
    assert_eq!(report.requests, 3);
    assert_eq!(report.candidates, 0);

    // A key without a tempo: key questions, no tempo anywhere.
    let meta: ClipMetadata =
        serde_json::from_value(json!({"id": "key-only", "key": "Eb minor"})).unwrap();
    let pairs = all_pairs(&gen, &meta);
    assert!(!pairs.is_empty());
    for p in &pairs {
        assert_eq!(key_parse(&p.pair.answer).as_deref(), Some("Eb minor"));
        assert_eq!(tempo_parse(&p.pair.answer), None);
    }
}

#[test]
fn offline_pairs_pass_validation_and_records_respect_per_clip() {
    let validator = Validator::default();
    let mut gen = OfflineGenerator::new(3);
    let mut report = ValidationReport::default();
    for i in 0..24 {
        let meta = full_clip(i);
        for family in TaskFamily::ALL {
            let all = gen.pairs(&meta, family).len();
            let rec = generate_record(&mut gen, &meta, family, Some(4), &validator, &mut report)
                .unwrap()
                .unwrap();
            assert_eq!(rec.response.len(), all.min(4));
            assert_eq!(rec.task, Some(family));
            assert_eq!(rec.id, meta.id);
            assert_eq!(rec.audio, meta.audio);
        }
    }
    assert_eq!(report.total_rejected(), 0, "{report}");
    assert_eq!(report.accepted, report.candidates);
    assert_eq!(report.requests, 72);
}

// ---------------------------------------------------------------------------------------------

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
    writer.finish().unwrap();
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
