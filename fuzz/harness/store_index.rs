// Harness of the `store_index` fuzz target (included by `fuzz_targets/store_index.rs` and by
// `llark-data/tests/fuzz_corpus.rs`, which replays the corpus on stable).

use std::sync::{Mutex, OnceLock};

use llark_data::store::{StoreIndex, INDEX_FILE};
use llark_data::{EncodingStore, EncodingStoreWriter, StoreDtype, StoreError, StoreOptions};

/// A store directory with real shards whose index is replaced by each input.
///
/// It holds an f32 store of three clips in two shards (`encodings-00000.safetensors`,
/// `encodings-00001.safetensors`) and the shard of a one-clip f16 store copied in as
/// `f16-00000.safetensors`, so that an index can name valid shards of either dtype.
pub struct Fixture {
    dir: tempfile::TempDir,
    seeds: Vec<Vec<u8>>,
}

impl Fixture {
    /// Writes the shards; the valid indexes of both stores are [`Fixture::seeds`].
    pub fn new() -> Self {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let options = StoreOptions {
            dtype: StoreDtype::F32,
            max_shard_bytes: 48,
        };
        let mut writer = EncodingStoreWriter::create(dir.path(), 4, options).expect("create");
        let values: Vec<f32> = (0..12).map(|i| i as f32 * 0.25 - 1.0).collect();
        writer.add("a", &values, 3).expect("add a");
        writer.add("b", &values[..4], 1).expect("add b");
        writer.add("c", &values[4..12], 2).expect("add c");
        writer.finish().expect("finish");
        let main = std::fs::read(dir.path().join(INDEX_FILE)).expect("index");

        let other = tempfile::tempdir().expect("a temporary directory");
        let options = StoreOptions {
            dtype: StoreDtype::F16,
            ..StoreOptions::default()
        };
        let mut writer = EncodingStoreWriter::create(other.path(), 2, options).expect("create");
        writer.add("h", &[0.5, -0.5, 1.0, 2.0], 2).expect("add h");
        let mut index = writer.finish().expect("finish");
        let shard = &mut index.shards[0];
        std::fs::copy(
            other.path().join(&shard.file),
            dir.path().join("f16-00000.safetensors"),
        )
        .expect("copy the f16 shard");
        shard.file = "f16-00000.safetensors".into();
        let f16 = serde_json::to_vec(&index).expect("index JSON");
        Fixture {
            dir,
            seeds: vec![main, f16],
        }
    }

    /// Valid indexes of the fixture's shards (for the seed corpus).
    #[allow(dead_code)]
    pub fn seeds(&self) -> &[Vec<u8>] {
        &self.seeds
    }

    /// Parses `data` with [`StoreIndex::from_json`], writes it as the directory's index and opens
    /// the store; an opened store is verified and every clip read. The two readings must agree,
    /// and every failure must be a typed error.
    pub fn check(&self, data: &[u8]) {
        let index_path = self.dir.path().join(INDEX_FILE);
        let parsed = StoreIndex::from_json(data, &index_path);
        std::fs::write(&index_path, data).expect("write the index");
        match (parsed, EncodingStore::open(self.dir.path())) {
            (Ok(index), Ok(store)) => read_store(store, &index),
            (Ok(_), Err(e)) => assert!(
                !matches!(e, StoreError::Index { .. }),
                "open rejects as an index what from_json accepts: {e}"
            ),
            (Err(parsed), Ok(_)) => {
                panic!("open accepts an index that from_json rejects: {parsed}")
            }
            (Err(parsed), Err(opened)) => {
                assert!(matches!(parsed, StoreError::Index { .. }), "{parsed}");
                assert_eq!(parsed.to_string(), opened.to_string());
            }
        }
    }
}

impl Default for Fixture {
    fn default() -> Self {
        Self::new()
    }
}

fn read_store(mut store: EncodingStore, index: &StoreIndex) {
    assert_eq!(store.index(), index);
    assert_eq!(store.len(), index.clips.len());
    let verified = store.verify_all();
    let ids: Vec<String> = store.clip_ids().map(str::to_string).collect();
    let mut all_ok = true;
    for verify in [true, false] {
        store.set_verify_on_read(verify);
        for id in &ids {
            assert!(store.contains(id));
            let [frames, dim] = store.shape(id).expect("a listed clip has a shape");
            match store.get(id) {
                Ok((values, shape)) => {
                    assert_eq!(shape, [frames, dim]);
                    assert_eq!(Some(values.len()), frames.checked_mul(dim));
                }
                Err(e) => {
                    assert!(verify, "without the checksum every opened clip reads: {e}");
                    assert!(matches!(e, StoreError::Clip { .. }), "{e}");
                    all_ok = false;
                }
            }
        }
    }
    assert_eq!(verified.is_ok(), all_ok, "verify_all agrees with the reads");
    assert!(matches!(
        store.get("\u{0}no such clip"),
        Err(StoreError::NotFound(_))
    ));
    assert!(store.dir().is_dir());
}

/// Runs [`Fixture::check`] on a fixture made once per process (calls are serialised).
#[allow(dead_code)]
pub fn run(data: &[u8]) {
    static FIXTURE: OnceLock<Mutex<Fixture>> = OnceLock::new();
    let fixture = FIXTURE.get_or_init(|| Mutex::new(Fixture::new()));
    let fixture = fixture.lock().unwrap_or_else(|e| e.into_inner());
    fixture.check(data);
}
