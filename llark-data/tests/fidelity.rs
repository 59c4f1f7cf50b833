//! Tokenisation, templates and masking against vectors produced by the Python reference
//! (`tools/reference/llark_conversation.py`, transformers 4.44.2, the real Llama 2 tokenizer).

use llark_data::record::ConversationRecord;
use llark_data::template::{audio_token_string, prompt_with_audio};
use llark_data::turn::Turn;
use llark_data::{
    AudioPlacement, ExampleEncoder, LlarkTokenizer, MaskingPolicy, TokenizerError, IGNORE_INDEX,
};
use serde::Deserialize;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");

fn tokenizer() -> LlarkTokenizer {
    LlarkTokenizer::from_file(format!("{FIXTURES}/llama2-tokenizer/tokenizer.json")).unwrap()
}

fn lines(name: &str) -> Vec<String> {
    std::fs::read_to_string(format!("{FIXTURES}/{name}"))
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

#[derive(Deserialize)]
struct Golden {
    question: String,
    answer: String,
    audio_first: bool,
    audio_frames: usize,
    text: String,
    input_ids: Vec<u32>,
    labels: Vec<i64>,
}

#[derive(Deserialize)]
struct Vector {
    #[serde(flatten)]
    record: ConversationRecord,
    audio_first: bool,
    input_ids: Vec<u32>,
    labels: Vec<i64>,
    labels_assistant_only: Vec<i64>,
    question: Option<String>,
    prompt_ids: Option<Vec<u32>>,
}

fn placement(first: bool) -> AudioPlacement {
    if first {
        AudioPlacement::First
    } else {
        AudioPlacement::Last
    }
}

#[test]
fn special_tokens_get_llark_ids() {
    let tok = tokenizer();
    let s = tok.special_ids();
    assert_eq!(
        (s.pad, s.audio_patch, s.audio_start, s.audio_end),
        (32000, 32001, 32002, 32003)
    );
    assert_eq!((s.unk, s.bos, s.eos), (0, 1, 2));
    assert_eq!(tok.vocab_size(), 32004);
}

#[test]
fn encodes_like_llama2() {
    // Ids from the real Llama 2 tokenizer (see the tokenizer's README).
    let tok = tokenizer();
    assert_eq!(
        tok.encode("Hello world!", true).unwrap(),
        vec![1, 15043, 3186, 29991]
    );
    assert_eq!(
        tok.encode("A chat between a curious human", true).unwrap(),
        vec![1, 319, 13563, 1546, 263, 12758, 5199]
    );
    // Ids and decoded strings as transformers' LlamaTokenizerFast gives them.
    let ids = tok
        .encode_with_specials("Hello <audio_start><audio_patch><audio_end> world!", false)
        .unwrap();
    assert_eq!(
        ids,
        vec![15043, 29871, 32002, 32001, 32003, 29871, 3186, 29991]
    );
    assert_eq!(
        tok.decode(&ids, false).unwrap(),
        "Hello <audio_start><audio_patch><audio_end>  world!"
    );
    let ids = tok.encode("The key is E minor.\n### Human", true).unwrap();
    assert_eq!(
        ids,
        vec![1, 450, 1820, 338, 382, 9461, 29889, 13, 2277, 29937, 12968]
    );
    assert_eq!(
        tok.decode(&ids, true).unwrap(),
        "The key is E minor.\n### Human"
    );
    assert!(matches!(
        tok.decode(&[40000], false),
        Err(TokenizerError::Decode { .. })
    ));
}

#[test]
fn golden_vectors_reproduce_exactly() {
    let tok = tokenizer();
    let enc = ExampleEncoder::new(&tok);
    let golden = lines("llark-conversation-golden.jsonl");
    assert_eq!(golden.len(), 8);
    for line in golden {
        let g: Golden = serde_json::from_str(&line).unwrap();
        let turns = vec![
            Turn::human(prompt_with_audio(&g.question, placement(g.audio_first))),
            Turn::gpt(g.answer.clone()),
        ];
        let rendered = llark_data::template::render_conversation(
            llark_data::template::HEADER,
            &turns,
            g.audio_frames,
        );
        assert_eq!(rendered.text, g.text);
        let ex = enc
            .encode_turns("golden", &turns, Some(g.audio_frames))
            .unwrap();
        assert_eq!(ex.input_ids, g.input_ids, "ids of {:?}", g.question);
        assert_eq!(ex.labels, g.labels, "labels of {:?}", g.question);
        assert_eq!(ex.audio_spans.len(), 1);
        assert_eq!(ex.audio_spans[0].frames, g.audio_frames);
        assert_eq!(ex.input_ids[ex.audio_spans[0].start], 32002);
    }
}

#[test]
fn generated_vectors_reproduce_exactly() {
    let tok = tokenizer();
    let llark = ExampleEncoder::new(&tok);
    let assistant = ExampleEncoder::new(&tok).with_masking(MaskingPolicy::AssistantOnly);
    let vectors = lines("llark-conversation-vectors.jsonl");
    assert!(vectors.len() >= 40);
    let (mut multi_turn, mut prompts, mut max_frames) = (0, 0, 0);
    for line in vectors {
        let v: Vector = serde_json::from_str(&line).unwrap();
        let id = v.record.id.clone();
        let frames = v.record.audio_frames().unwrap();
        max_frames = max_frames.max(frames);
        if v.record.conversations.len() > 2 {
            multi_turn += 1;
        }
        let ex = llark.encode(&v.record).unwrap();
        assert_eq!(ex.input_ids, v.input_ids, "ids of {id}");
        assert_eq!(ex.labels, v.labels, "llark-compatible labels of {id}");
        let spans = ex.audio_spans.clone();
        assert_eq!(spans.len(), 1, "{id}");
        assert_eq!(spans[0].frames, frames);
        assert_eq!(ex.input_ids[spans[0].end_token()], 32003);

        let ex = assistant.encode(&v.record).unwrap();
        assert_eq!(ex.input_ids, v.input_ids, "ids of {id}");
        assert_eq!(
            ex.labels, v.labels_assistant_only,
            "assistant-only labels of {id}"
        );
        assert_eq!(ex.audio_spans, spans);

        if let (Some(q), Some(prompt_ids)) = (v.question, v.prompt_ids) {
            let p = llark
                .inference_prompt(&q, frames, placement(v.audio_first))
                .unwrap();
            assert_eq!(p.input_ids, prompt_ids, "prompt of {id}");
            assert_eq!(p.audio_spans, spans);
            // The prompt is the training sequence up to the answer.
            assert_eq!(&v.input_ids[..prompt_ids.len()], prompt_ids.as_slice());
            prompts += 1;
        }
    }
    assert!(multi_turn >= 10 && prompts >= 10 && max_frames == 300);
}

#[test]
fn prompt_ends_after_assistant_colon() {
    let tok = tokenizer();
    let enc = ExampleEncoder::new(&tok);
    assert_eq!(
        enc.prompt_end_ids().unwrap(),
        vec![13, 2277, 29937, 4007, 22137, 29901]
    );
    let p = enc
        .inference_prompt("What key is this in?", 5, AudioPlacement::Last)
        .unwrap();
    let text = tok.decode(&p.input_ids, false).unwrap();
    assert!(text.ends_with("\n### Assistant:"), "{text:?}");
    assert!(text.contains(&audio_token_string(5)));
}

#[test]
fn missing_frames_are_errors_and_typed_audio_tokens_are_text() {
    let tok = tokenizer();
    let enc = ExampleEncoder::new(&tok);
    let rec = ConversationRecord::new("r1", vec![Turn::human("<audio>\nKey?"), Turn::gpt("E.")]);
    let err = enc.encode(&rec).unwrap_err().to_string();
    assert!(
        err.contains("r1") && err.contains("audio_encoding_shape"),
        "{err}"
    );

    let mut rec = ConversationRecord::new(
        "r2",
        vec![Turn::human("<audio>\nKey? <audio_patch>"), Turn::gpt("E.")],
    );
    rec.audio_encoding_shape = Some(vec![3, 8]);
    // Audio-token text typed in a turn is text: only the template's span holds audio ids.
    let ex = enc.encode(&rec).unwrap();
    let patch = tok.special_ids().audio_patch;
    assert_eq!(ex.input_ids.iter().filter(|&&id| id == patch).count(), 3);
    assert_eq!(ex.audio_spans.len(), 1);

    // Text-only conversations need no shape.
    let rec = ConversationRecord::new("r3", vec![Turn::human("Hi"), Turn::gpt("Hello.")]);
    let ex = enc.encode(&rec).unwrap();
    assert!(ex.audio_spans.is_empty());
    assert!(ex.labels.iter().any(|&l| l != IGNORE_INDEX));
}

#[test]
fn bad_tokenizer_files_are_typed_errors() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.json");
    assert!(matches!(
        LlarkTokenizer::from_file(&missing),
        Err(TokenizerError::Load { .. })
    ));
    let garbage = dir.path().join("garbage.json");
    std::fs::write(&garbage, "{not json").unwrap();
    let err = LlarkTokenizer::from_file(&garbage).unwrap_err();
    assert!(err.to_string().contains("garbage.json"), "{err}");

    // A valid tokenizer without Llama's `<s>`.
    let json = r#"{"version":"1.0","truncation":null,"padding":null,"added_tokens":[],
        "normalizer":null,"pre_tokenizer":null,"post_processor":null,"decoder":null,
        "model":{"type":"WordLevel","vocab":{"<unk>":0,"</s>":1,"a":2},"unk_token":"<unk>"}}"#;
    match LlarkTokenizer::from_bytes(json.as_bytes(), "tiny.json") {
        Err(TokenizerError::MissingToken { token, path }) => {
            assert_eq!(token, "<s>");
            assert_eq!(path, "tiny.json");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn saved_tokenizer_with_special_tokens_keeps_their_ids() {
    let tok = tokenizer();
    let saved = tok.inner().to_string(false).unwrap();
    let again = LlarkTokenizer::from_bytes(saved.as_bytes(), "saved.json").unwrap();
    assert_eq!(again.special_ids(), tok.special_ids());
    assert_eq!(again.vocab_size(), 32004);
    let text = "### Human: <audio_start><audio_patch><audio_end>\nKey?";
    assert_eq!(
        again.encode(text, true).unwrap(),
        tok.encode(text, true).unwrap()
    );
}
