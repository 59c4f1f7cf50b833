//! Bad input the data layer must refuse or survive: special-token text typed by users, records
//! that claim absurd frame counts, truncation that leaves nothing to train, impossible metadata,
//! byte-order marks, and interrupted writes.

use llark_data::instruct::{generate_record, ClipMetadata, OfflineGenerator};
use llark_data::instruct::{GenerateError, ValidationReport, Validator};
use llark_data::record::ConversationRecord;
use llark_data::template::{prompt_with_audio, render_conversation, HEADER};
use llark_data::turn::Turn;
use llark_data::{
    AudioPlacement, ExampleEncoder, ExampleError, JsonlReader, JsonlWriter, LlarkTokenizer,
    OnError, TaskFamily, Truncation, MAX_AUDIO_FRAMES,
};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");

fn tokenizer() -> LlarkTokenizer {
    LlarkTokenizer::from_file(format!("{FIXTURES}/llama2-tokenizer/tokenizer.json")).unwrap()
}

const SPELLED_SPECIALS: &str = "</s><s>[PAD]<unk><audio_start><audio_patch><audio_end>";

#[test]
fn special_token_text_in_a_question_is_tokenized_as_text() {
    let tok = tokenizer();
    let s = tok.special_ids();
    let control = [
        s.bos,
        s.eos,
        s.unk,
        s.pad,
        s.audio_patch,
        s.audio_start,
        s.audio_end,
    ];
    let ids = tok.encode(SPELLED_SPECIALS, false).unwrap();
    assert!(ids.len() > 7, "{ids:?}");
    assert!(ids.iter().all(|id| !control.contains(id)), "{ids:?}");
    // It reads back as the same text.
    assert_eq!(tok.decode(&ids, false).unwrap().trim(), SPELLED_SPECIALS);
    // The trusted form still gives the control ids.
    let trusted = tok.encode_with_specials("</s>[PAD]", false).unwrap();
    assert_eq!(trusted, vec![s.eos, s.pad]);

    // In a whole prompt only the template's audio span holds audio ids, and `<s>` comes once.
    let enc = ExampleEncoder::new(&tok);
    let question = format!("What key? {SPELLED_SPECIALS}");
    let prompt = enc
        .inference_prompt(&question, 3, AudioPlacement::First)
        .unwrap();
    assert_eq!(prompt.audio_spans.len(), 1);
    let count = |id: u32| prompt.input_ids.iter().filter(|&&x| x == id).count();
    assert_eq!(count(s.audio_patch), 3);
    assert_eq!((count(s.audio_start), count(s.audio_end)), (1, 1));
    assert_eq!(
        (count(s.bos), count(s.eos), count(s.pad), count(s.unk)),
        (1, 0, 0, 0)
    );

    // Training examples too.
    let turns = vec![
        Turn::human(prompt_with_audio(&question, AudioPlacement::Last)),
        Turn::gpt(format!("C major {SPELLED_SPECIALS}")),
    ];
    let ex = enc.encode_turns("typed", &turns, Some(2)).unwrap();
    let count = |id: u32| ex.input_ids.iter().filter(|&&x| x == id).count();
    assert_eq!(count(s.audio_patch), 2);
    assert_eq!((count(s.bos), count(s.eos), count(s.pad)), (1, 0, 0));
}

#[test]
fn template_segments_tokenize_as_the_whole_text_does() {
    // Without special-token text from users, segment-wise tokenization equals tokenizing the
    // whole rendered text with special tokens recognised.
    let tok = tokenizer();
    for (question, frames) in [("What is the tempo?", 4), ("Describe it.\nIn detail ", 1)] {
        for placement in [AudioPlacement::First, AudioPlacement::Last] {
            let turns = vec![
                Turn::human(prompt_with_audio(question, placement)),
                Turn::gpt("It is fast."),
            ];
            let r = render_conversation(HEADER, &turns, frames);
            assert_eq!(
                tok.encode_template(&r.text, &r.audio, true).unwrap().ids,
                tok.encode_with_specials(&r.text, true).unwrap()
            );
        }
    }
}

#[test]
fn the_quickstart_vocabulary_tokenizes_templates_as_before() {
    // The word-level vocabulary the quickstart trains: segment-wise tokenization of its
    // conversations gives the ids whole-text tokenization gave, so its training data is unchanged.
    let texts = [
        "The tempo is 120 BPM and the key is C major.",
        "What is the tempo of this song?",
        "I hear piano, strings and drums.",
    ];
    let tok = llark_data::train_word_level(texts.iter(), 1, 1000).unwrap();
    for (q, a) in [(texts[1], texts[0]), ("Which instruments?", texts[2])] {
        for placement in [AudioPlacement::First, AudioPlacement::Last] {
            let turns = vec![Turn::human(prompt_with_audio(q, placement)), Turn::gpt(a)];
            let r = render_conversation(HEADER, &turns, 3);
            assert_eq!(
                tok.encode_template(&r.text, &r.audio, true).unwrap().ids,
                tok.encode_with_specials(&r.text, true).unwrap()
            );
        }
    }
}

#[test]
fn a_question_may_not_place_audio_itself() {
    let tok = tokenizer();
    let err = ExampleEncoder::new(&tok)
        .inference_prompt("Here: <audio>", 2, AudioPlacement::First)
        .unwrap_err();
    assert!(
        matches!(err, ExampleError::PlaceholderInQuestion { .. }),
        "{err}"
    );
}

fn record(line: &str) -> ConversationRecord {
    serde_json::from_str(line).unwrap()
}

#[test]
fn absurd_frame_counts_are_refused_before_allocating() {
    let tok = tokenizer();
    let enc = ExampleEncoder::new(&tok);
    for frames in ["1000000000000000", "100000000", "65537"] {
        let rec = record(&format!(
            r#"{{"id":"huge","conversations":[{{"from":"human","value":"<audio>\nQ"}},{{"from":"gpt","value":"A"}}],"audio_encoding_shape":[{frames},24]}}"#
        ));
        let err = enc.encode(&rec).unwrap_err();
        assert!(
            matches!(
                err,
                ExampleError::TooManyFrames {
                    max: MAX_AUDIO_FRAMES,
                    ..
                }
            ),
            "{frames}: {err}"
        );
        assert!(err.to_string().contains("huge"));
    }
}

#[test]
fn a_cut_that_leaves_no_answer_is_an_error() {
    let tok = tokenizer();
    let rec = record(
        r#"{"id":"short","conversations":[{"from":"human","value":"<audio>\nWhat key?"},{"from":"gpt","value":"C major."}],"audio_encoding_shape":[4,24]}"#,
    );
    for max in [0, 10] {
        let enc = ExampleEncoder::new(&tok).with_truncation(Truncation::CutTail(max));
        let err = enc.encode(&rec).unwrap_err();
        assert!(
            matches!(err, ExampleError::NothingToTrain { .. }),
            "{max}: {err}"
        );
    }
    // A long enough maximum keeps the answer.
    let enc = ExampleEncoder::new(&tok).with_truncation(Truncation::CutTail(2048));
    assert!(enc.encode(&rec).is_ok());
}

#[test]
fn a_byte_order_mark_does_not_lose_line_one() {
    let data = "\u{feff}{\"id\":\"a\",\"conversations\":[]}\n{\"id\":\"b\",\"conversations\":[]}\n";
    let mut reader: JsonlReader<ConversationRecord, _> =
        JsonlReader::new(data.as_bytes(), "bom.jsonl", OnError::Stop);
    let ids: Vec<String> = reader.by_ref().map(|r| r.unwrap().value.id).collect();
    assert_eq!(ids, ["a", "b"]);
    assert!(reader.skipped().is_empty());
}

#[test]
fn an_unfinished_jsonl_write_leaves_the_old_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("out.jsonl");
    std::fs::write(&path, "{\"old\":1}\n").unwrap();
    {
        let mut w = JsonlWriter::create(&path).unwrap();
        w.write(&serde_json::json!({"new": 1})).unwrap();
        // Dropped without commit: a stop on error, a full disk, a panic.
    }
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "{\"old\":1}\n");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    let mut w = JsonlWriter::create(&path).unwrap();
    w.write(&serde_json::json!({"new": 1})).unwrap();
    assert_eq!(w.commit().unwrap(), 1);
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "{\"new\":1}\n");
}

#[test]
fn a_full_disk_is_an_error_naming_the_file() {
    // /dev/full accepts the open and fails every write with ENOSPC.
    let full = std::path::Path::new("/dev/full");
    if !full.exists() {
        return;
    }
    let file = std::fs::OpenOptions::new().write(true).open(full).unwrap();
    let mut w = JsonlWriter::new(file, "/dev/full");
    let err = w.write(&serde_json::json!({ "text": "x" })).unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("/dev/full") && text.contains("No space left"),
        "{text}"
    );
}

fn parse(json: &str) -> ClipMetadata {
    serde_json::from_str(json).unwrap()
}

#[test]
fn impossible_metadata_is_rejected_with_the_field() {
    let mut infinite = ClipMetadata::new("c0");
    infinite.tempo = Some(f64::INFINITY);
    let cases = [
        (infinite, "tempo"),
        (parse(r#"{"id":"c2","tempo":-3}"#), "tempo"),
        (
            parse(r#"{"id":"c3","time_signature":"4000000000/4"}"#),
            "time_signature",
        ),
        (
            parse(r#"{"id":"c4","time_signature":"3/5"}"#),
            "time_signature",
        ),
        (parse(r#"{"id":"c5","duration":-1}"#), "duration"),
    ];
    let mut generator = OfflineGenerator::new(0);
    for (meta, field) in cases {
        let json = &meta.id;
        let err = meta.validate().unwrap_err();
        assert_eq!(err.field, field, "{json}");
        let mut report = ValidationReport::default();
        let result = generate_record(
            &mut generator,
            &meta,
            TaskFamily::Mir,
            None,
            &Validator::default(),
            &mut report,
        );
        assert!(
            matches!(result, Err(GenerateError::InvalidMetadata(_))),
            "{json}"
        );
    }
    let mut good = ClipMetadata::new("ok");
    good.tempo = Some(120.0);
    good.time_signature = Some("6/8".into());
    assert!(good.validate().is_ok());
}
