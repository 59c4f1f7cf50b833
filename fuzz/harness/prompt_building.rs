// Harness of the `prompt_building` fuzz target (included by `fuzz_targets/prompt_building.rs` and
// by `llark-data/tests/fuzz_corpus.rs`, which replays the corpus on stable).

use std::sync::OnceLock;

use llark_data::masking::assistant_ranges;
use llark_data::template::{
    cut_at_stop, expand_audio, prompt_with_audio, render_conversation, AUDIO_PLACEHOLDER, HEADER,
};
use llark_data::tokenizer::{AUDIO_PATCH_TOKEN, AUDIO_START_TOKEN};
use llark_data::{
    AudioPlacement, ConversationRecord, ExampleEncoder, ExampleError, LlarkTokenizer,
    MaskingPolicy, Truncation, Turn, IGNORE_INDEX,
};

/// The Llama 2 tokenizer committed with llark-data (both includers of this file live one level
/// below the repository root, so the path is the same for both).
const TOKENIZER_JSON: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../llark-data/tests/fixtures/llama2-tokenizer/tokenizer.json"
);

/// The tokenizer, loaded once per process.
pub fn tokenizer() -> &'static LlarkTokenizer {
    static TOKENIZER: OnceLock<LlarkTokenizer> = OnceLock::new();
    TOKENIZER.get_or_init(|| LlarkTokenizer::from_file(TOKENIZER_JSON).expect("tokenizer.json"))
}

/// The tokenizer's vocabulary size, computed once (and an id past it refused by `decode`).
fn vocab_size() -> usize {
    static VOCAB: OnceLock<usize> = OnceLock::new();
    *VOCAB.get_or_init(|| {
        let vocab = tokenizer().vocab_size();
        assert!(tokenizer().decode(&[vocab as u32], false).is_err());
        vocab
    })
}

/// The first byte picks the frame count (`byte % 64`), the audio placement (bit 6) and the cut
/// of the truncation policy (bit 7); the rest, read as UTF-8 (lossily), is the question, then
/// after the first NUL the answer; the parity of the input's length picks the masking policy.
/// The text goes through the template, the tokenizer and the example encoder, and the results
/// are checked for consistency.
pub fn run(data: &[u8]) {
    let Some((&control, rest)) = data.split_first() else {
        return;
    };
    let frames = usize::from(control % 64);
    let placement = if control & 0x40 == 0 {
        AudioPlacement::First
    } else {
        AudioPlacement::Last
    };
    let text = String::from_utf8_lossy(rest);
    let (question, answer) = text.split_once('\0').unwrap_or((&text, ""));
    let tok = tokenizer();
    let vocab = vocab_size();

    let prompt = prompt_with_audio(question, placement);
    let placeholders = prompt.matches(AUDIO_PLACEHOLDER).count();
    assert!(placeholders >= 1);
    let expanded = expand_audio(&prompt, frames);
    assert!(!expanded.contains(AUDIO_PLACEHOLDER));
    assert!(expanded.matches(AUDIO_START_TOKEN).count() >= placeholders);
    assert!(expanded.matches(AUDIO_PATCH_TOKEN).count() >= placeholders * frames);

    let turns = vec![Turn::human(prompt.clone()), Turn::gpt(answer)];
    let rendered = render_conversation(HEADER, &turns, frames);
    assert_eq!(rendered.turns.len(), 2);
    assert_eq!(
        rendered.audio_placeholders,
        placeholders + answer.matches(AUDIO_PLACEHOLDER).count()
    );
    assert_eq!(rendered.header_text(), HEADER);
    for turn in &rendered.turns {
        assert!(rendered.text.get(turn.range.clone()).is_some());
        assert!(rendered.text.get(turn.value.clone()).is_some());
        assert!(!rendered.turn_text(turn).is_empty());
    }
    for range in assistant_ranges(&rendered) {
        assert!(range.start <= range.end && range.end <= rendered.text.len());
    }

    // The template's ids: special tokens only inside the expanded placeholders.
    let with_offsets = tok
        .encode_template(&rendered.text, &rendered.audio, true)
        .expect("any text encodes");
    let ids = with_offsets.ids.clone();
    assert_eq!(ids[0], tok.special_ids().bos);
    assert!(ids.iter().all(|&id| (id as usize) < vocab));
    // User text never yields a control id: the whole text tokenized as user text holds only
    // the leading `<s>`.
    let special = tok.special_ids();
    let controls = [
        special.bos,
        special.eos,
        special.pad,
        special.audio_patch,
        special.audio_start,
        special.audio_end,
    ];
    let as_text = tok.encode(&rendered.text, true).expect("any text encodes");
    assert!(as_text[1..].iter().all(|id| !controls.contains(id)));
    let audio_ids = ids.iter().filter(|&&id| id == special.audio_patch).count();
    assert_eq!(audio_ids, rendered.audio_placeholders * frames);
    assert_eq!(with_offsets.offsets.len(), ids.len());
    for &(start, end) in &with_offsets.offsets {
        assert!(start <= end && end <= rendered.text.len());
    }
    // `LlarkTokenizer::decode` builds the whole vocabulary map to check the ids (through
    // `get_vocab_size(true)`) on every call, which costs more than the rest of this harness: it
    // is called for one input in four (bits 4 and 5 of the control byte clear), and the inner
    // tokenizer decodes otherwise.
    let decoded = if control & 0x30 == 0 {
        tok.decode(&ids, false).expect("encoded ids decode")
    } else {
        tok.inner().decode(&ids, false).expect("encoded ids decode")
    };
    assert!(!decoded.is_empty() || ids.len() <= 1);
    tok.inner()
        .decode(&ids, true)
        .expect("encoded ids decode without special tokens");

    let mut record = ConversationRecord::new("fuzz", turns);
    record.audio_encoding_shape = Some(vec![frames, 8]);
    let cut = ids.len() / 2 + 1;
    // One masking policy per input (the parity of the input's length), so that the tokenizer
    // runs fewer times per input: both policies are reached across inputs.
    let masking = if data.len().is_multiple_of(2) {
        MaskingPolicy::LlarkCompatible
    } else {
        MaskingPolicy::AssistantOnly
    };
    let truncation = if control & 0x80 == 0 {
        Truncation::None
    } else {
        Truncation::CutTail(cut)
    };
    let trainer = ExampleEncoder::new(tok)
        .with_masking(masking)
        .with_truncation(truncation);
    match trainer.encode(&record) {
        Ok(example) => {
            assert_eq!(example.input_ids.len(), example.labels.len());
            if truncation == Truncation::None {
                assert_eq!(example.input_ids, ids);
            } else {
                assert!(example.input_ids.len() <= cut);
            }
            for (&id, &label) in example.input_ids.iter().zip(&example.labels) {
                assert!(label == IGNORE_INDEX || label == i64::from(id));
            }
            for span in &example.audio_spans {
                assert_eq!(span.frames, frames);
                assert!(span.token_range().end <= example.input_ids.len());
                assert_eq!(example.input_ids[span.start], special.audio_start);
                assert_eq!(example.input_ids[span.end_token()], special.audio_end);
                if masking == MaskingPolicy::AssistantOnly {
                    assert!(example.labels[span.token_range()]
                        .iter()
                        .all(|&l| l == IGNORE_INDEX));
                }
            }
        }
        Err(e) => assert!(
            matches!(
                e,
                ExampleError::ZeroFrames { .. }
                    | ExampleError::MalformedAudio { .. }
                    | ExampleError::NothingToTrain { .. }
            ),
            "{e}"
        ),
    }

    let encoder = ExampleEncoder::new(tok);
    match encoder.inference_prompt(question, frames, placement) {
        Ok(prompt) => {
            assert_eq!(prompt.input_ids[0], tok.special_ids().bos);
            let end = encoder.prompt_end_ids().expect("the prompt end encodes");
            assert!(prompt.input_ids.ends_with(&end));
            for span in &prompt.audio_spans {
                assert_eq!(span.frames, frames);
                assert!(span.token_range().end <= prompt.input_ids.len());
            }
        }
        Err(e) => assert!(
            matches!(
                e,
                ExampleError::ZeroFrames { .. }
                    | ExampleError::MalformedAudio { .. }
                    | ExampleError::NoPromptEnd { .. }
                    | ExampleError::PlaceholderInQuestion { .. }
            ),
            "{e}"
        ),
    }
    let _ = cut_at_stop(answer);
}
