//! The Llama tokenizer with LLark's special tokens.
//!
//! [`LlarkTokenizer`] loads a Hugging Face `tokenizer.json` and adds, in LLark's order,
//! `[PAD]`, `<audio_patch>`, `<audio_start>`, `<audio_end>` as special tokens (not normalised,
//! no stripping), which gives ids 32000..=32003 on Llama 2. Tokens already in the file keep
//! their ids. Encoding prepends `<s>` as transformers' Llama tokenizer does (`add_bos_token`),
//! independently of the file's post-processor.
//!
//! Special tokens come only from the template, never from user text: [`LlarkTokenizer::encode`]
//! tokenizes text that spells `</s>`, `[PAD]` or `<audio_patch>` as ordinary text, and
//! [`LlarkTokenizer::encode_template`] recognises special tokens only inside the byte ranges the
//! template put them in (the expanded `<audio>` placeholders). Since `tokenizers` splits its
//! input at special tokens before normalising, the ids are those of tokenizing the whole text
//! with special tokens recognised, whenever the user text spells none.

use std::ops::Range;
use std::path::Path;

use tokenizers::{AddedToken, Tokenizer};

/// The padding token LLark adds (`[PAD]`).
pub const PAD_TOKEN: &str = "[PAD]";
/// The audio patch token (`<audio_patch>`), one per audio frame.
pub const AUDIO_PATCH_TOKEN: &str = "<audio_patch>";
/// The token opening an audio span (`<audio_start>`).
pub const AUDIO_START_TOKEN: &str = "<audio_start>";
/// The token closing an audio span (`<audio_end>`).
pub const AUDIO_END_TOKEN: &str = "<audio_end>";
/// Beginning-of-sequence token of Llama.
pub const BOS_TOKEN: &str = "<s>";
/// End-of-sequence token of Llama.
pub const EOS_TOKEN: &str = "</s>";
/// Unknown token of Llama.
pub const UNK_TOKEN: &str = "<unk>";

/// Errors of tokenizer loading, encoding and decoding.
#[derive(Debug, thiserror::Error)]
pub enum TokenizerError {
    /// The file could not be read or parsed as `tokenizer.json`.
    #[error("cannot load tokenizer from {path}: {reason}")]
    Load {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
    /// A token the Llama vocabulary must have is missing.
    #[error("tokenizer {path} has no `{token}` token")]
    MissingToken {
        /// The file.
        path: String,
        /// The token.
        token: &'static str,
    },
    /// Encoding failed.
    #[error("cannot encode text ({len} bytes, starting {start:?}): {reason}")]
    Encode {
        /// Length of the text in bytes.
        len: usize,
        /// The first characters of the text.
        start: String,
        /// Why.
        reason: String,
    },
    /// Decoding failed (e.g. an id outside the vocabulary).
    #[error("cannot decode {count} ids: {reason}")]
    Decode {
        /// How many ids.
        count: usize,
        /// Why.
        reason: String,
    },
}

/// Ids of the special tokens LLark uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpecialTokenIds {
    /// `<s>`.
    pub bos: u32,
    /// `</s>`.
    pub eos: u32,
    /// `<unk>`.
    pub unk: u32,
    /// `[PAD]`.
    pub pad: u32,
    /// `<audio_patch>`.
    pub audio_patch: u32,
    /// `<audio_start>`.
    pub audio_start: u32,
    /// `<audio_end>`.
    pub audio_end: u32,
}

/// A token sequence with byte offsets into the encoded text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodedText {
    /// Token ids (with `<s>` first when asked for).
    pub ids: Vec<u32>,
    /// For each token, the byte range `[start, end)` of the text it came from (`(0, 0)` for `<s>`).
    pub offsets: Vec<(usize, usize)>,
}

/// Llama tokenizer plus LLark's special tokens.
#[derive(Debug, Clone)]
pub struct LlarkTokenizer {
    inner: Tokenizer,
    /// The same tokenizer with special tokens encoded as text.
    text_only: Tokenizer,
    special: SpecialTokenIds,
    /// `inner.get_vocab_size(true)`, computed once: `tokenizers` builds the whole vocabulary
    /// map to answer it, which `decode` would otherwise pay on every call.
    vocab_size: usize,
}

impl LlarkTokenizer {
    /// Loads a `tokenizer.json` and adds LLark's special tokens.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self, TokenizerError> {
        let path = path.as_ref();
        let name = path.display().to_string();
        let inner = Tokenizer::from_file(path).map_err(|e| TokenizerError::Load {
            path: name.clone(),
            reason: e.to_string(),
        })?;
        Self::from_tokenizer(inner, &name)
    }

    /// Parses `tokenizer.json` bytes (`name` appears in errors) and adds LLark's special tokens.
    pub fn from_bytes(bytes: &[u8], name: &str) -> Result<Self, TokenizerError> {
        let inner = Tokenizer::from_bytes(bytes).map_err(|e| TokenizerError::Load {
            path: name.to_string(),
            reason: e.to_string(),
        })?;
        Self::from_tokenizer(inner, name)
    }

    /// Wraps an already loaded tokenizer, adding LLark's special tokens in LLark's order:
    /// `[PAD]` (as the pad token), then `<audio_patch>`, then `<audio_start>` and `<audio_end>`.
    pub fn from_tokenizer(mut inner: Tokenizer, name: &str) -> Result<Self, TokenizerError> {
        let require = |tok: &Tokenizer, token: &'static str| {
            tok.token_to_id(token)
                .ok_or_else(|| TokenizerError::MissingToken {
                    path: name.to_string(),
                    token,
                })
        };
        let bos = require(&inner, BOS_TOKEN)?;
        let eos = require(&inner, EOS_TOKEN)?;
        let unk = require(&inner, UNK_TOKEN)?;
        for group in [
            &[PAD_TOKEN][..],
            &[AUDIO_PATCH_TOKEN],
            &[AUDIO_START_TOKEN, AUDIO_END_TOKEN],
        ] {
            let tokens: Vec<AddedToken> = group
                .iter()
                .map(|t| AddedToken::from(*t, true).normalized(false))
                .collect();
            inner.add_special_tokens(&tokens);
        }
        let special = SpecialTokenIds {
            bos,
            eos,
            unk,
            pad: require(&inner, PAD_TOKEN)?,
            audio_patch: require(&inner, AUDIO_PATCH_TOKEN)?,
            audio_start: require(&inner, AUDIO_START_TOKEN)?,
            audio_end: require(&inner, AUDIO_END_TOKEN)?,
        };
        let mut text_only = inner.clone();
        text_only.set_encode_special_tokens(true);
        let vocab_size = inner.get_vocab_size(true);
        Ok(LlarkTokenizer {
            inner,
            text_only,
            special,
            vocab_size,
        })
    }

    /// The special token ids.
    pub fn special_ids(&self) -> SpecialTokenIds {
        self.special
    }

    /// Vocabulary size including added tokens (32,004 for Llama 2).
    pub fn vocab_size(&self) -> usize {
        self.vocab_size
    }

    /// The id of a token string, if it is in the vocabulary.
    pub fn token_to_id(&self, token: &str) -> Option<u32> {
        self.inner.token_to_id(token)
    }

    /// The underlying `tokenizers` tokenizer.
    pub fn inner(&self) -> &Tokenizer {
        &self.inner
    }

    /// Writes the tokenizer, LLark's added tokens included, as a `tokenizer.json` that
    /// [`Self::from_file`] reads back with the same ids.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<(), TokenizerError> {
        let path = path.as_ref();
        let err = |reason: String| TokenizerError::Load {
            path: path.display().to_string(),
            reason: format!("cannot write: {reason}"),
        };
        let text = self.inner.to_string(true).map_err(|e| err(e.to_string()))?;
        llark_tensors::write_bytes_atomic(path, text.as_bytes()).map_err(|e| err(e.to_string()))
    }

    /// Encodes user text; with `add_bos`, `<s>` comes first (as transformers' Llama tokenizer
    /// does). Special-token spellings in `text` (`<s>`, `</s>`, `[PAD]`, `<audio_patch>`, ...)
    /// are tokenized as ordinary text, never as control ids.
    pub fn encode(&self, text: &str, add_bos: bool) -> Result<Vec<u32>, TokenizerError> {
        Ok(self.encode_template(text, &[], add_bos)?.ids)
    }

    /// Encodes trusted text in which every special-token spelling is the special token (the
    /// way `tokenizers` encodes by default). Only for text the program built itself.
    pub fn encode_with_specials(
        &self,
        text: &str,
        add_bos: bool,
    ) -> Result<Vec<u32>, TokenizerError> {
        let whole = 0..text.len();
        Ok(self
            .encode_template(text, std::slice::from_ref(&whole), add_bos)?
            .ids)
    }

    /// Encodes user text (as [`Self::encode`]) and also returns each token's byte range in
    /// `text`.
    pub fn encode_with_offsets(
        &self,
        text: &str,
        add_bos: bool,
    ) -> Result<EncodedText, TokenizerError> {
        self.encode_template(text, &[], add_bos)
    }

    /// Encodes template text: special tokens are recognised only inside the `trusted` byte
    /// ranges (sorted, disjoint, on character boundaries), where the template put them; the
    /// rest is tokenized as user text. Offsets are byte ranges in `text`.
    pub fn encode_template(
        &self,
        text: &str,
        trusted: &[Range<usize>],
        add_bos: bool,
    ) -> Result<EncodedText, TokenizerError> {
        let mut out = EncodedText {
            ids: Vec::with_capacity(text.len() / 3 + 2),
            offsets: Vec::with_capacity(text.len() / 3 + 2),
        };
        if add_bos {
            out.ids.push(self.special.bos);
            out.offsets.push((0, 0));
        }
        let mut at = 0;
        for range in trusted {
            if range.start < at || range.end < range.start || range.end > text.len() {
                return Err(self.encode_error(
                    text,
                    format!("trusted range {range:?} is out of order or outside the text"),
                ));
            }
            self.encode_part(&self.text_only, text, at..range.start, &mut out)?;
            self.encode_part(&self.inner, text, range.clone(), &mut out)?;
            at = range.end;
        }
        self.encode_part(&self.text_only, text, at..text.len(), &mut out)?;
        Ok(out)
    }

    fn encode_part(
        &self,
        tokenizer: &Tokenizer,
        text: &str,
        range: Range<usize>,
        out: &mut EncodedText,
    ) -> Result<(), TokenizerError> {
        if range.is_empty() {
            return Ok(());
        }
        let Some(part) = text.get(range.clone()) else {
            return Err(self.encode_error(
                text,
                format!("range {range:?} is not on character boundaries"),
            ));
        };
        let enc = tokenizer
            .encode(part, false)
            .map_err(|e| self.encode_error(text, e.to_string()))?;
        out.ids.extend_from_slice(enc.get_ids());
        out.offsets.extend(
            enc.get_offsets()
                .iter()
                .map(|&(a, b)| (a + range.start, b + range.start)),
        );
        Ok(())
    }

    fn encode_error(&self, text: &str, reason: String) -> TokenizerError {
        TokenizerError::Encode {
            len: text.len(),
            start: text.chars().take(40).collect(),
            reason,
        }
    }

    /// Decodes ids to text, optionally skipping special tokens.
    pub fn decode(&self, ids: &[u32], skip_special_tokens: bool) -> Result<String, TokenizerError> {
        let vocab = self.vocab_size();
        if let Some(bad) = ids.iter().find(|&&id| id as usize >= vocab) {
            return Err(TokenizerError::Decode {
                count: ids.len(),
                reason: format!("id {bad} is outside the vocabulary of {vocab}"),
            });
        }
        self.inner
            .decode(ids, skip_special_tokens)
            .map_err(|e| TokenizerError::Decode {
                count: ids.len(),
                reason: e.to_string(),
            })
    }
}
