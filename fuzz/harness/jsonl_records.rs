// Harness of the `jsonl_records` fuzz target (included by `fuzz_targets/jsonl_records.rs` and by
// `llark-data/tests/fuzz_corpus.rs`, which replays the corpus on stable).

use llark_data::record::frames_of_shape;
use llark_data::{
    AudioPlacementSampler, ConversationRecord, JsonlError, JsonlReader, JsonlWriter, LlarkRecord,
    OnError, TaskFamily,
};

/// Reads `data` as JSON Lines of both record shapes ([`LlarkRecord`], [`ConversationRecord`])
/// with both [`OnError`] modes, then exercises every parsed record's helpers and writes it back.
pub fn run(data: &[u8]) {
    for on_error in [OnError::Stop, OnError::Skip] {
        read_all::<LlarkRecord>(data, on_error, check_llark);
        read_all::<ConversationRecord>(data, on_error, check_conversation);
    }
}

fn read_all<T: serde::de::DeserializeOwned>(data: &[u8], on_error: OnError, check: fn(&T)) {
    let mut reader: JsonlReader<T, _> = JsonlReader::new(data, "<fuzz>", on_error);
    let mut records = 0u64;
    let mut last_line = 0u64;
    let mut errors = 0u64;
    for item in reader.by_ref() {
        match item {
            Ok(numbered) => {
                assert!(numbered.line > last_line, "line numbers increase");
                last_line = numbered.line;
                records += 1;
                check(&numbered.value);
            }
            Err(JsonlError::Line(e)) => {
                assert_eq!(on_error, OnError::Stop, "skip mode yields no error");
                assert!(e.line > last_line && e.line >= 1);
                assert!(!e.reason.is_empty());
                errors += 1;
            }
            Err(other) => panic!("reading from memory cannot fail with {other}"),
        }
    }
    assert!(errors <= 1, "stop mode ends at the first error");
    let skipped = reader.skipped().len() as u64;
    if on_error == OnError::Skip {
        assert_eq!(
            records + skipped + reader.blank_lines(),
            reader.lines_read(),
            "every line is a record, a skipped line or a blank line"
        );
        assert!(reader.skipped().windows(2).all(|w| w[0].line < w[1].line));
    } else {
        assert_eq!(skipped, 0);
    }
}

fn check_llark(record: &LlarkRecord) {
    let _ = TaskFamily::from_name(&record.id);
    let mut sampler = AudioPlacementSampler::new(record.id.len() as u64);
    let conversations = record.to_conversations(|| sampler.sample());
    assert_eq!(conversations.len(), record.response.len());
    for (conversation, qa) in conversations.iter().zip(&record.response) {
        assert_eq!(conversation.id, record.id);
        assert_eq!(conversation.conversations.len(), 2);
        assert!(conversation.conversations[0].value.contains(&qa.question));
        assert_eq!(conversation.conversations[1].value, qa.answer);
        assert_eq!(
            conversation.audio_frames(),
            record
                .audio_encoding_shape
                .as_deref()
                .and_then(frames_of_shape)
        );
    }
    let line = write_back(record);
    // Floats written back may not be read again (a number beyond f32 becomes infinite, which
    // JSON writes as null); everything else must survive.
    if let Ok(back) = serde_json::from_str::<LlarkRecord>(&line) {
        assert_eq!(back.id, record.id);
        assert_eq!(back.response, record.response);
        assert_eq!(back.audio_encoding_shape, record.audio_encoding_shape);
        assert_eq!(back.task, record.task);
    }
}

fn check_conversation(record: &ConversationRecord) {
    let frames = record.audio_frames();
    assert_eq!(
        frames,
        record
            .audio_encoding_shape
            .as_deref()
            .and_then(frames_of_shape)
    );
    if let Some(task) = record.task {
        assert_eq!(TaskFamily::from_name(task.as_str()), Some(task));
    }
    let line = write_back(record);
    let back: ConversationRecord =
        serde_json::from_str(&line).expect("a written conversation record reads back");
    assert_eq!(back.id, record.id);
    assert_eq!(back.conversations, record.conversations);
    assert_eq!(back.audio_encoding_shape, record.audio_encoding_shape);
    assert_eq!(back.task, record.task);
    assert_eq!(back.audio_frames(), frames);
}

/// Writes one record with [`JsonlWriter`] and returns the line without its newline.
fn write_back<T: serde::Serialize>(record: &T) -> String {
    let mut writer = JsonlWriter::new(Vec::new(), "<fuzz>");
    writer.write(record).expect("a parsed record serialises");
    let bytes = writer.finish().expect("writing to memory cannot fail");
    let text = String::from_utf8(bytes).expect("JSON is UTF-8");
    let line = text.strip_suffix('\n').expect("one line");
    assert!(!line.contains('\n'), "one record is one line");
    line.to_string()
}
