//! Property tests: masking invariants on the real Llama 2 tokenizer, collation and store
//! round-trips, truncation, and JSONL error reporting.

use std::sync::OnceLock;

use half::f16;
use llark_data::record::ConversationRecord;
use llark_data::template::{prompt_with_audio, render_conversation, HEADER};
use llark_data::turn::{Speaker, Turn};
use llark_data::{
    collate, AudioPlacement, EncodingStore, EncodingStoreWriter, ExampleEncoder, ExampleError,
    JsonlReader, LlarkTokenizer, MaskingPolicy, OnError, StoreDtype, StoreOptions,
    TokenizedExample, Truncation, IGNORE_INDEX,
};
use proptest::prelude::*;

fn tokenizer() -> &'static LlarkTokenizer {
    static TOK: OnceLock<LlarkTokenizer> = OnceLock::new();
    TOK.get_or_init(|| {
        LlarkTokenizer::from_file(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/llama2-tokenizer/tokenizer.json"
        ))
        .unwrap()
    })
}

/// Text drawn from words, punctuation, digits, non-ASCII, newlines and `#`.
fn text() -> impl Strategy<Value = String> {
    let piece = prop::sample::select(vec![
        "the",
        "key",
        "tempo",
        " ",
        "  ",
        "\n",
        ",",
        ".",
        "?",
        "!",
        "#",
        "##",
        "120",
        "3/4",
        "é",
        "ü",
        "音楽",
        "🎵",
        "'",
        "\"",
        "-",
        "BPM",
        "Human",
        "Assistant",
        ":",
        "\t",
        "(",
        ")",
    ]);
    prop::collection::vec(piece, 0..12).prop_map(|v| v.concat())
}

fn conversation() -> impl Strategy<Value = (Vec<Turn>, usize)> {
    (
        prop::collection::vec((text(), text()), 1..4),
        any::<bool>(),
        1usize..40,
    )
        .prop_map(|(pairs, first, frames)| {
            let placement = if first {
                AudioPlacement::First
            } else {
                AudioPlacement::Last
            };
            let mut turns = Vec::new();
            for (i, (q, a)) in pairs.into_iter().enumerate() {
                let q = if i == 0 {
                    prompt_with_audio(&q, placement)
                } else {
                    q
                };
                turns.push(Turn::human(q));
                turns.push(Turn::gpt(a));
            }
            (turns, frames)
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// No token lying wholly in the header or a human turn is trained; every token overlapping an
    /// answer is trained; audio tokens are never trained.
    #[test]
    fn assistant_only_masks_exactly_the_prompt((turns, frames) in conversation()) {
        let tok = tokenizer();
        let enc = ExampleEncoder::new(tok).with_masking(MaskingPolicy::AssistantOnly);
        let ex = enc.encode_turns("p", &turns, Some(frames)).unwrap();
        let rendered = render_conversation(HEADER, &turns, frames);
        let offsets = tok.encode_template(&rendered.text, &rendered.audio, true).unwrap().offsets;
        prop_assert_eq!(offsets.len(), ex.labels.len());
        let audio: Vec<_> = ex.audio_spans.iter().flat_map(|s| s.token_range()).collect();
        // Prompt ranges: the header, each human turn, and each "### Assistant: " prefix.
        let mut prompt = vec![rendered.header.clone()];
        let mut answers = Vec::new();
        for t in &rendered.turns {
            match t.speaker {
                Speaker::Human => prompt.push(t.range.start + 3..t.range.end),
                Speaker::Gpt => {
                    prompt.push(t.range.start + 3..t.value.start - 1);
                    answers.push(t.value.clone());
                }
            }
        }
        for (i, &(s, e)) in offsets.iter().enumerate() {
            let label = ex.labels[i];
            if i == 0 || audio.contains(&i) {
                prop_assert_eq!(label, IGNORE_INDEX, "token {} must be masked", i);
            } else if prompt.iter().any(|r| r.start <= s && e <= r.end) {
                prop_assert_eq!(label, IGNORE_INDEX, "prompt token {} {:?} trained", i, &rendered.text[s..e]);
            }
            if e > s && answers.iter().any(|r| s < r.end && e > r.start) {
                prop_assert_eq!(label, i64::from(ex.input_ids[i]), "answer token {} masked", i);
            }
        }
    }

    /// The llark-compatible policy never trains the header and keeps every answer token of the first
    /// answer (what LLark's shifted spans guarantee).
    #[test]
    fn llark_compatible_masks_header((turns, frames) in conversation()) {
        let tok = tokenizer();
        let ex = ExampleEncoder::new(tok).encode_turns("p", &turns, Some(frames)).unwrap();
        let header_len = tok.encode(HEADER, true).unwrap().len();
        prop_assert!(ex.labels[..header_len].iter().all(|&l| l == IGNORE_INDEX));
        prop_assert_eq!(ex.labels.len(), ex.input_ids.len());
    }

    /// Cutting the tail never splits an audio span, and never exceeds the maximum.
    #[test]
    fn truncation_never_cuts_inside_audio((turns, frames) in conversation(), max in 1usize..200) {
        let tok = tokenizer();
        let full = ExampleEncoder::new(tok).encode_turns("p", &turns, Some(frames)).unwrap();
        let cut = ExampleEncoder::new(tok)
            .with_truncation(Truncation::CutTail(max))
            .encode_turns("p", &turns, Some(frames));
        let cut = match cut {
            Ok(cut) => cut,
            Err(ExampleError::NothingToTrain { len, .. }) => {
                // Refused only when the kept prefix trains nothing.
                prop_assert!(len <= max);
                prop_assert!(full.labels[..len].iter().all(|&l| l == IGNORE_INDEX));
                return Ok(());
            }
            Err(e) => return Err(TestCaseError::fail(e.to_string())),
        };
        prop_assert!(cut.input_ids.len() <= max);
        prop_assert_eq!(&cut.input_ids[..], &full.input_ids[..cut.input_ids.len()]);
        prop_assert_eq!(&cut.labels[..], &full.labels[..cut.labels.len()]);
        for s in &full.audio_spans {
            let r = s.token_range();
            let len = cut.input_ids.len();
            prop_assert!(len <= r.start || len >= r.end, "cut at {} inside {:?}", len, r);
            prop_assert_eq!(cut.audio_spans.contains(s), len >= r.end);
        }
        let strict = ExampleEncoder::new(tok)
            .with_truncation(Truncation::Error(max))
            .encode_turns("p", &turns, Some(frames));
        prop_assert_eq!(strict.is_err(), full.input_ids.len() > max);
        if let Err(e) = strict {
            prop_assert!(matches!(e, ExampleError::TooLong { .. }), "{}", e);
        }
    }

    /// Collating then splitting gives back the examples; padding is pad id / -100 / false.
    #[test]
    fn collation_round_trips(
        lens in prop::collection::vec(0usize..30, 1..6),
        multiple in 0usize..9,
        seed in any::<u32>(),
    ) {
        let examples: Vec<TokenizedExample> = lens
            .iter()
            .enumerate()
            .map(|(k, &n)| TokenizedExample {
                id: format!("e{k}"),
                input_ids: (0..n as u32).map(|i| i.wrapping_mul(seed) % 32000).collect(),
                labels: (0..n as i64).map(|i| if (i + k as i64) % 3 == 0 { IGNORE_INDEX } else { i }).collect(),
                audio_spans: vec![],
                task: None,
            })
            .collect();
        let b = collate(&examples, 32000, multiple).unwrap();
        prop_assert_eq!(b.split(), examples.clone());
        prop_assert_eq!(b.seq_len % multiple.max(1), 0);
        for (i, ex) in examples.iter().enumerate() {
            let n = ex.input_ids.len();
            let row = i * b.seq_len;
            prop_assert!(b.input_ids[row + n..row + b.seq_len].iter().all(|&t| t == 32000));
            prop_assert!(b.labels[row + n..row + b.seq_len].iter().all(|&t| t == IGNORE_INDEX));
            prop_assert!(b.attention_mask[row..row + n].iter().all(|&m| m));
            prop_assert!(!b.attention_mask[row + n..row + b.seq_len].iter().any(|&m| m));
        }
    }

    /// Clips written to a store read back bit-exactly (f32 from f32, f16 from f16).
    #[test]
    fn store_round_trips_bit_exactly(
        clips in prop::collection::vec((1usize..6, prop::collection::vec(any::<u32>(), 0..1)), 1..6),
        dim in 1usize..5,
        half in any::<bool>(),
        shard_bytes in 1usize..200,
    ) {
        let dir = tempfile::tempdir().unwrap();
        let dtype = if half { StoreDtype::F16 } else { StoreDtype::F32 };
        let options = StoreOptions { dtype, max_shard_bytes: shard_bytes };
        let mut w = EncodingStoreWriter::create(dir.path(), dim, options).unwrap();
        let mut written = Vec::new();
        for (k, (frames, seed)) in clips.iter().enumerate() {
            let seed = seed.first().copied().unwrap_or(7);
            let bits: Vec<u32> = (0..frames * dim)
                .map(|i| seed.wrapping_mul(2654435761).wrapping_add(i as u32 * 40503))
                .collect();
            let id = format!("clip-{k}");
            if half {
                let h: Vec<f16> = bits.iter().map(|&b| f16::from_bits(b as u16)).collect();
                w.add_f16(&id, &h, *frames).unwrap();
                written.push((id, h.iter().map(|v| v.to_bits() as u32).collect::<Vec<_>>(), *frames));
            } else {
                let f: Vec<f32> = bits.iter().map(|&b| f32::from_bits(b)).collect();
                w.add(&id, &f, *frames).unwrap();
                written.push((id, bits, *frames));
            }
        }
        w.finish().unwrap();
        let store = EncodingStore::open(dir.path()).unwrap();
        store.verify_all().unwrap();
        for (id, bits, frames) in written {
            let (raw, shape) = store.raw(&id).unwrap();
            prop_assert_eq!(shape, [frames, dim]);
            let got: Vec<u32> = if half {
                raw.chunks_exact(2).map(|c| u16::from_le_bytes([c[0], c[1]]) as u32).collect()
            } else {
                raw.chunks_exact(4).map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect()
            };
            prop_assert_eq!(got, bits);
        }
    }

    /// Every malformed line is reported, with its number, and every good line is read.
    #[test]
    fn malformed_jsonl_lines_are_all_reported(kinds in prop::collection::vec(0u8..4, 0..40)) {
        let mut text = Vec::new();
        for (i, k) in kinds.iter().enumerate() {
            let line: Vec<u8> = match k {
                0 => format!("{{\"id\":\"r{i}\",\"conversations\":[{{\"from\":\"human\",\"value\":\"q\"}}]}}").into_bytes(),
                1 => b"{\"id\": 3, \"conversations\": []}".to_vec(),
                2 => b"{\"id\":\"x\",\"conversations\":[".to_vec(),
                _ => vec![b'{', 0xff, b'}'],
            };
            text.extend_from_slice(&line);
            text.push(b'\n');
        }
        let mut reader: JsonlReader<ConversationRecord, _> = JsonlReader::new(&text[..], "gen", OnError::Skip);
        let good: Vec<u64> = reader.by_ref().map(|r| r.unwrap().line).collect();
        let bad: Vec<u64> = reader.skipped().iter().map(|e| e.line).collect();
        let want_good: Vec<u64> = kinds.iter().enumerate().filter(|(_, k)| **k == 0).map(|(i, _)| i as u64 + 1).collect();
        let want_bad: Vec<u64> = kinds.iter().enumerate().filter(|(_, k)| **k != 0).map(|(i, _)| i as u64 + 1).collect();
        prop_assert_eq!(good, want_good);
        prop_assert_eq!(bad, want_bad.clone());

        let stop: Vec<_> = JsonlReader::<ConversationRecord, _>::new(&text[..], "gen", OnError::Stop).collect();
        if let Some(first_bad) = want_bad.first() {
            match stop.last() {
                Some(Err(llark_data::JsonlError::Line(e))) => prop_assert_eq!(e.line, *first_bad),
                other => prop_assert!(false, "expected a line error, got {:?}", other),
            }
        } else {
            prop_assert!(stop.iter().all(|r| r.is_ok()));
        }
    }
}
