//! Training a small word-level vocabulary on instruction text, for models trained from scratch
//! (demos, tests, the quickstart) where Llama 2's 32,000 pieces would be mostly unused.

use tokenizers::models::wordlevel::{WordLevel, WordLevelTrainer};
use tokenizers::models::TrainerWrapper;
use tokenizers::pre_tokenizers::digits::Digits;
use tokenizers::pre_tokenizers::metaspace::{Metaspace, PrependScheme};
use tokenizers::pre_tokenizers::punctuation::Punctuation;
use tokenizers::pre_tokenizers::sequence::Sequence;
use tokenizers::{AddedToken, Tokenizer};

use crate::tokenizer::{LlarkTokenizer, TokenizerError, BOS_TOKEN, EOS_TOKEN, UNK_TOKEN};

/// Trains a word-level tokenizer on `texts`. Text is split as sentencepiece writes it (spaces
/// become `▁` at the start of the following word), punctuation characters and digits stand
/// alone (so any number is spelled with ten digit tokens), and every piece seen at least
/// `min_frequency` times becomes a token, at most `max_vocab` of them. `<unk>`, `<s>` and `</s>`
/// get ids 0, 1 and 2 as in Llama, and LLark's `[PAD]` and audio tokens follow the vocabulary
/// (see [`LlarkTokenizer::from_tokenizer`]). Decoding restores the text (`▁` back to spaces).
pub fn train_word_level<I, S>(
    texts: I,
    min_frequency: u64,
    max_vocab: usize,
) -> Result<LlarkTokenizer, TokenizerError>
where
    I: Iterator<Item = S> + Send,
    S: AsRef<str> + Send,
{
    let train_err = |e: tokenizers::Error| TokenizerError::Load {
        path: "<word-level training>".into(),
        reason: e.to_string(),
    };
    let specials: Vec<AddedToken> = [UNK_TOKEN, BOS_TOKEN, EOS_TOKEN]
        .iter()
        .map(|t| AddedToken::from(*t, true))
        .collect();
    let mut trainer: TrainerWrapper = WordLevelTrainer::builder()
        .min_frequency(min_frequency)
        .vocab_size(max_vocab)
        .show_progress(false)
        .special_tokens(specials.clone())
        .build()
        .map_err(|e| train_err(e.to_string().into()))?
        .into();
    let model = WordLevel::builder()
        .unk_token(UNK_TOKEN.to_string())
        .build()
        .map_err(train_err)?;
    let mut tokenizer = Tokenizer::new(model);
    let metaspace = Metaspace::new('▁', PrependScheme::Always, true);
    tokenizer.with_pre_tokenizer(Some(Sequence::new(vec![
        metaspace.clone().into(),
        Punctuation::default().into(),
        Digits::new(true).into(),
    ])));
    tokenizer.with_decoder(Some(metaspace));
    // Every digit is a token even when the texts lack some, so any number can be written.
    let digits = std::iter::repeat_n(
        "0 1 2 3 4 5 6 7 8 9".to_string(),
        min_frequency.max(1) as usize,
    );
    let texts = texts.map(|t| t.as_ref().to_string()).chain(digits);
    tokenizer.train(&mut trainer, texts).map_err(train_err)?;
    tokenizer.add_special_tokens(&specials);
    LlarkTokenizer::from_tokenizer(tokenizer, "<word-level training>")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trained_vocabulary_round_trips_and_keeps_llark_tokens_last() {
        let texts = [
            "### Human: What is the tempo?\n### Assistant: The tempo is 120 BPM.",
            "### Human: Which key is this in?\n### Assistant: It is in A minor.",
        ];
        let tok = train_word_level(texts.iter(), 1, 1000).unwrap();
        let ids = tok.special_ids();
        assert_eq!((ids.unk, ids.bos, ids.eos), (0, 1, 2));
        let words = tok.vocab_size() - 4;
        assert_eq!(
            (ids.pad, ids.audio_patch, ids.audio_start, ids.audio_end),
            (
                words as u32,
                words as u32 + 1,
                words as u32 + 2,
                words as u32 + 3
            )
        );
        let encoded = tok.encode("The tempo is 120 BPM.", true).unwrap();
        assert_eq!(encoded[0], ids.bos);
        assert!(!encoded.contains(&ids.unk));
        assert_eq!(tok.decode(&encoded, true).unwrap(), "The tempo is 120 BPM.");
        // Numbers never seen whole are spelled with digits.
        let number = tok.encode("It is 102.5 BPM", false).unwrap();
        assert!(!number.contains(&ids.unk));
        assert_eq!(tok.decode(&number, true).unwrap(), "It is 102.5 BPM");
        let audio = tok
            .encode_with_specials("<audio_start><audio_patch><audio_end>", false)
            .unwrap();
        assert_eq!(audio, vec![ids.audio_start, ids.audio_patch, ids.audio_end]);
        let unknown = tok.encode("zebra", false).unwrap();
        assert_eq!(unknown, vec![ids.unk]);

        // Saved and reloaded, the tokenizer keeps its ids and its decoding.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tokenizer.json");
        tok.save(&path).unwrap();
        let reloaded = LlarkTokenizer::from_file(&path).unwrap();
        assert_eq!(reloaded.special_ids(), ids);
        assert_eq!(reloaded.vocab_size(), tok.vocab_size());
        assert_eq!(reloaded.encode("It is 102.5 BPM", false).unwrap(), number);
        assert_eq!(reloaded.decode(&number, true).unwrap(), "It is 102.5 BPM");
    }
}
