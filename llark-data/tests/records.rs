//! Records through JSONL files, LLark's unpacking of question/answer pairs, and collation errors.

use llark_data::{
    collate, AudioPlacement, AudioPlacementSampler, CollateError, ConversationRecord, JsonlError,
    JsonlReader, JsonlWriter, LlarkRecord, OnError, Speaker, TaskFamily, TokenizedExample,
};

const RECORD: &str = r#"{"id":"fma-001","audio":"fma/001.mp3","audio_encoding":"fma/001.npy","audio_encoding_shape":[1,240,4800],"response":[{"question":"What key?","answer":"E minor."},{"question":"Tempo?","answer":"120 BPM."}],"task":"mir","source":"fma_full"}"#;

#[test]
fn llark_records_round_trip_through_files() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("records.jsonl");
    let rec: LlarkRecord = serde_json::from_str(RECORD).unwrap();
    let mut w = JsonlWriter::create(&path).unwrap();
    for _ in 0..3 {
        w.write(&rec).unwrap();
    }
    assert_eq!(w.written(), 3);
    w.commit().unwrap();

    let read: Vec<LlarkRecord> = JsonlReader::open(&path, OnError::Stop)
        .unwrap()
        .map(|r| r.unwrap().value)
        .collect();
    assert_eq!(read, vec![rec.clone(); 3]);
    assert_eq!(read[0].extra["source"], "fma_full");

    let mut coin = AudioPlacementSampler::new(1);
    let convs = rec.to_conversations(|| coin.sample());
    assert_eq!(convs.len(), 2);
    for (c, qa) in convs.iter().zip(&rec.response) {
        assert_eq!(c.audio_frames(), Some(240));
        assert_eq!(c.task, Some(TaskFamily::Mir));
        assert_eq!(c.conversations[0].from, Speaker::Human);
        let v = &c.conversations[0].value;
        assert!(
            *v == format!("<audio>\n{}", qa.question) || *v == format!("{}\n<audio>", qa.question),
            "{v:?}"
        );
        assert_eq!(c.conversations[1].value, qa.answer);
        assert_eq!(c.extra["audio"], "fma/001.mp3");
    }
    let last = rec.to_conversations(|| AudioPlacement::Last);
    assert_eq!(last[1].conversations[0].value, "Tempo?\n<audio>");
}

#[test]
fn missing_file_names_the_path() {
    let err = JsonlReader::<ConversationRecord, _>::open("/nonexistent/x.jsonl", OnError::Skip)
        .err()
        .unwrap();
    assert!(matches!(err, JsonlError::Open { .. }));
    assert!(err.to_string().contains("/nonexistent/x.jsonl"));
}

#[test]
fn inline_encodings_parse() {
    let rec: LlarkRecord = serde_json::from_str(
        r#"{"id":"x","audio_encoding":[0.5,1,2],"audio_encoding_shape":[1,3],"response":[]}"#,
    )
    .unwrap();
    assert_eq!(
        rec.audio_encoding,
        Some(llark_data::record::AudioEncodingRef::Inline(vec![
            0.5, 1.0, 2.0
        ]))
    );
}

#[test]
fn collation_errors_are_typed() {
    assert_eq!(collate(&[], 0, 1), Err(CollateError::Empty));
    let bad = TokenizedExample {
        id: "e".into(),
        input_ids: vec![1, 2],
        labels: vec![1],
        audio_spans: vec![],
        task: None,
    };
    assert!(matches!(
        collate(&[bad], 0, 1),
        Err(CollateError::LengthMismatch {
            ids: 2,
            labels: 1,
            ..
        })
    ));
}
