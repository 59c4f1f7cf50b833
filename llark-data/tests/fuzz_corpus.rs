//! Replays the corpora of the fuzz targets owned by llark-data (`jsonl_records`,
//! `prompt_building`, `npy_read`, `store_index`; see `fuzz/`) on stable: each harness is the fuzz
//! target's own body, `fuzz/harness/<target>.rs`. `write_seeds` (ignored) writes their seed
//! inputs.

mod jsonl_records {
    include!("../../fuzz/harness/jsonl_records.rs");
}
mod npy_read {
    include!("../../fuzz/harness/npy_read.rs");
}
mod prompt_building {
    include!("../../fuzz/harness/prompt_building.rs");
}
mod store_index {
    include!("../../fuzz/harness/store_index.rs");
}
mod replay {
    include!("../../fuzz/harness/replay.rs");
}

#[test]
fn jsonl_records_corpus_replays() {
    assert!(replay::replay("jsonl_records", jsonl_records::run) > 0);
}

#[test]
fn npy_read_corpus_replays() {
    assert!(replay::replay("npy_read", npy_read::run) > 0);
}

#[test]
fn prompt_building_corpus_replays() {
    assert!(replay::replay("prompt_building", prompt_building::run) > 0);
}

#[test]
fn store_index_corpus_replays() {
    let fixture = store_index::Fixture::new();
    assert!(replay::replay("store_index", |data| fixture.check(data)) > 0);
}

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!(
        "{}/tests/fixtures/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

#[test]
#[ignore = "writes fuzz/seeds/{jsonl_records,npy_read,prompt_building,store_index}; run by hand"]
fn write_seeds() {
    let golden = String::from_utf8(fixture("llark-conversation-golden.jsonl")).unwrap();
    let lines: Vec<&str> = golden.lines().collect();
    let llark = r#"{"id":"a1","audio":"a1.wav","audio_encoding":"a1.npy","audio_encoding_shape":[3,8],"response":[{"question":"What key is this in?","answer":"E minor."},{"question":"Tempo?","answer":"120 BPM."}],"task":"mir","source":"fma"}"#;
    let inline = r#"{"id":"b2","audio_encoding":[0.5,-1.0,2.5],"audio_encoding_shape":[1,3,1],"response":[{"question":"Describe it.","answer":"A calm piano piece."}],"task":"captioning"}"#;
    let conversation = r#"{"id":"c3","conversations":[{"from":"human","value":"<audio>\nWhat instruments?"},{"from":"GPT","value":"Piano and strings."}],"audio_encoding_shape":[1,250,4800],"task":"reasoning","x":{"y":[1,2.5,null]}}"#;
    let mixed =
        format!("{llark}\n\nnot json\n{conversation}\r\n{{\"id\":\"d\"}}\n\u{feff}{inline}\n");
    replay::write_seeds(
        "jsonl_records",
        &[
            ("golden-1.jsonl", format!("{}\n", lines[0]).into_bytes()),
            (
                "golden-2.jsonl",
                format!("{}\n{}\n", lines[1], lines[2]).into_bytes(),
            ),
            ("llark.jsonl", format!("{llark}\n{inline}\n").into_bytes()),
            (
                "conversation.jsonl",
                format!("{conversation}\n").into_bytes(),
            ),
            ("mixed.jsonl", mixed.into_bytes()),
        ],
    );

    let npy: Vec<(&str, Vec<u8>)> = [
        "f16_3x4.npy",
        "f32_1x3x4.npy",
        "f32_3x4.npy",
        "f32_big_endian.npy",
        "f32_fortran.npy",
        "f32_v2.npy",
        "f64_3x4.npy",
        "i32_3x4.npy",
    ]
    .into_iter()
    .map(|name| (name, fixture(&format!("npy/{name}"))))
    .collect();
    replay::write_seeds("npy_read", &npy);

    let prompt = |control: u8, text: &str| {
        let mut bytes = vec![control];
        bytes.extend_from_slice(text.as_bytes());
        bytes
    };
    replay::write_seeds(
        "prompt_building",
        &[
            ("key", prompt(3, "What key is this in?\0E minor.")),
            (
                "last",
                prompt(
                    0x40 | 5,
                    "Describe the instruments.\0Piano, strings and a soft kick.",
                ),
            ),
            (
                "cut",
                prompt(0x80 | 8, "What is the tempo?\0About 120 BPM, in 4/4."),
            ),
            ("zero-frames", prompt(0, "Silence?\0Yes.")),
            (
                "unicode",
                prompt(2, "Quelle est la tonalité ? 調は？\0Mi mineur. ホ短調。"),
            ),
            (
                "audio-tokens",
                prompt(
                    1,
                    "<audio_start><audio_patch><audio_end> ### Assistant:\0<audio>\n### Human:",
                ),
            ),
        ],
    );

    let fixture = store_index::Fixture::new();
    let seeds: Vec<(String, Vec<u8>)> = fixture
        .seeds()
        .iter()
        .enumerate()
        .map(|(i, bytes)| (format!("index-{i}.json"), bytes.clone()))
        .collect();
    let seeds: Vec<(&str, Vec<u8>)> = seeds.iter().map(|(n, b)| (n.as_str(), b.clone())).collect();
    replay::write_seeds("store_index", &seeds);
}
