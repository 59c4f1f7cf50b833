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
