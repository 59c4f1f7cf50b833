//! Tokenising (LLark's template and `llark-compatible` labels) and collating (batches of 8)
//! 10,000 records cycled from the reference vectors. The Python reference times the same work:
//! `.venv/bin/python tools/reference/llark_conversation.py bench --tokenizer ... --input ...`.

use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use llark_data::{
    collate, ConversationRecord, ExampleEncoder, JsonlReader, LlarkTokenizer, MaskingPolicy,
    OnError,
};

const RECORDS: usize = 10_000;
const BATCH: usize = 8;
const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");

fn records() -> Vec<ConversationRecord> {
    let path = format!("{FIXTURES}/llark-conversation-vectors.jsonl");
    let base: Vec<ConversationRecord> = JsonlReader::open(path, OnError::Stop)
        .expect("vectors file")
        .map(|r| r.expect("vector").value)
        .collect();
    base.iter().cycle().take(RECORDS).cloned().collect()
}

fn run(encoder: &ExampleEncoder<'_>, records: &[ConversationRecord], pad: u32) -> usize {
    let mut trained = 0;
    for chunk in records.chunks(BATCH) {
        let examples: Vec<_> = chunk
            .iter()
            .map(|r| encoder.encode(r).expect("encodable"))
            .collect();
        trained += collate(&examples, pad, 1).expect("batch").trained_tokens();
    }
    trained
}

fn bench(c: &mut Criterion) {
    let tokenizer =
        LlarkTokenizer::from_file(format!("{FIXTURES}/llama2-tokenizer/tokenizer.json"))
            .expect("tokenizer");
    let pad = tokenizer.special_ids().pad;
    let records = records();
    let mut group = c.benchmark_group("tokenize_collate");
    group.sample_size(10);
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(10));
    group.throughput(Throughput::Elements(RECORDS as u64));
    for policy in [MaskingPolicy::LlarkCompatible, MaskingPolicy::AssistantOnly] {
        let encoder = ExampleEncoder::new(&tokenizer).with_masking(policy);
        group.bench_function(format!("10k_records_{policy}"), |b| {
            b.iter(|| run(&encoder, &records, pad))
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
