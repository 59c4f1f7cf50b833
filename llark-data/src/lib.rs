//! # llark-data
//!
//! Everything between LLark's raw instruction data and the plain arrays the model sees:
//!
//! | module | job |
//! |---|---|
//! | [`record`] | LLark's record JSON and the conversation form, as serde types; task families |
//! | [`jsonl`] | streaming JSON Lines reading (line-numbered errors, skip or stop) and writing |
//! | [`tokenizer`] | the Llama tokenizer with `[PAD]`, `<audio_patch>`, `<audio_start>`, `<audio_end>` |
//! | [`template`] | LLark's conversation template and audio placeholder expansion |
//! | [`masking`] | label masking policies: `llark-compatible` (bit-exact) and `assistant-only` |
//! | [`example`] | conversation -> ids, labels, audio spans; truncation; inference prompts |
//! | [`collate`](mod@collate) | padding examples into a [`Batch`] of row-major arrays |
//! | [`store`] | per-clip encodings in sharded safetensors files with a JSON index |
//! | [`npy`] | reading LLark's `.npy` encodings |
//! | [`instruct`] | instruction generation: clip metadata -> prompts -> question/answer records |
//!
//! ```no_run
//! use llark_data::{ExampleEncoder, LlarkTokenizer, MaskingPolicy, AudioPlacement, collate};
//! use llark_data::{record::ConversationRecord, turn::Turn};
//!
//! let tok = LlarkTokenizer::from_file("tokenizer.json")?;
//! let enc = ExampleEncoder::new(&tok).with_masking(MaskingPolicy::AssistantOnly);
//! let mut rec = ConversationRecord::new(
//!     "clip-1",
//!     vec![Turn::human("<audio>\nWhat key is this in?"), Turn::gpt("E minor.")],
//! );
//! rec.audio_encoding_shape = Some(vec![250, 4800]);
//! let ex = enc.encode(&rec)?;
//! let batch = collate(&[ex], tok.special_ids().pad, 8)?;
//! let prompt = enc.inference_prompt("What key is this in?", 250, AudioPlacement::First)?;
//! # let _ = (batch, prompt);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![warn(missing_docs)]

pub mod collate;
pub mod example;
pub mod instruct;
pub mod jsonl;
pub mod masking;
pub mod npy;
pub mod record;
pub mod store;
pub mod template;
pub mod tokenizer;
pub mod turn;
pub mod vocabulary;

pub use collate::{collate, Batch, CollateError};
pub use example::{
    find_audio_spans, AudioSpan, ExampleEncoder, ExampleError, InferencePrompt, TokenizedExample,
    Truncation, MAX_AUDIO_FRAMES,
};
pub use jsonl::{JsonlError, JsonlReader, JsonlWriter, LineError, Numbered, OnError};
pub use masking::{MaskingPolicy, IGNORE_INDEX};
pub use npy::{read_npy, NpyArray, NpyDtype, NpyError};
pub use record::{AudioPlacementSampler, ConversationRecord, LlarkRecord, QaPair, TaskFamily};
pub use store::{EncodingStore, EncodingStoreWriter, StoreDtype, StoreError, StoreOptions};
pub use template::AudioPlacement;
pub use tokenizer::{LlarkTokenizer, SpecialTokenIds, TokenizerError};
pub use turn::{Speaker, Turn};
pub use vocabulary::train_word_level;
