//! `config.json` of an LLark model directory.

use std::path::Path;

use llark_lm::LlamaConfig;
use llark_projector::{AudioTokenIds, ProjectorConfig, ProjectorKind};
use serde::{Deserialize, Serialize};

use crate::error::{ConfigError, LlarkError, Result};

/// An LLark model's configuration: a Hugging Face `LlamaConfig` with LLark's fields beside it,
/// stored flat in one `config.json` as LLark checkpoints do. Fields this crate does not know
/// (`architectures`, `model_type`, `torch_dtype`, ...) are kept and written back.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LlarkConfig {
    /// The language model.
    #[serde(flatten)]
    pub llama: LlamaConfig,
    /// Width of the audio encodings the projector takes (4800 for Jukebox, 512 for CLAP).
    pub mm_hidden_size: usize,
    /// Projector architecture (`linear`, LLark's, when absent).
    #[serde(default)]
    pub mm_projector_type: ProjectorKind,
    /// Id of `<audio_start>`.
    pub audio_start_token_id: u32,
    /// Id of `<audio_end>`.
    pub audio_end_token_id: u32,
    /// Id of `<audio_patch>`.
    pub audio_patch_token_id: u32,
    /// Pooled audio frames per second the model was trained on, when recorded; the pipeline
    /// pools encoder output to this rate unless told otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audio_pool_fps: Option<u32>,
    /// The longest audio, in seconds, the model was trained on, when recorded; longer audio is
    /// answered window by window and the answers combined ([`crate::Pipeline::ask_audio`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_audio_seconds: Option<f64>,
    /// Every other field of the file, kept as it was.
    #[serde(flatten)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

impl LlarkConfig {
    /// Reads and checks `path`.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let text = crate::error::read_text(path)?;
        let invalid = |source: ConfigError| LlarkError::ConfigFile {
            path: path.to_path_buf(),
            source: Box::new(source),
        };
        let config: Self = serde_json::from_str(&text).map_err(|e| invalid(e.into()))?;
        config.validate().map_err(invalid)?;
        Ok(config)
    }

    /// Writes the configuration as pretty JSON.
    pub fn write(&self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        let text = serde_json::to_string_pretty(self).map_err(|e| LlarkError::ConfigFile {
            path: path.to_path_buf(),
            source: Box::new(e.into()),
        })?;
        llark_tensors::write_bytes_atomic(path, (text + "\n").as_bytes())?;
        Ok(())
    }

    /// Checks that the audio token ids are inside the vocabulary and distinct, and that the
    /// language model's own fields are consistent.
    pub fn validate(&self) -> std::result::Result<(), ConfigError> {
        self.llama.validate()?;
        let vocab = self.llama.vocab_size;
        let ids = [
            ("audio_start_token_id", self.audio_start_token_id),
            ("audio_end_token_id", self.audio_end_token_id),
            ("audio_patch_token_id", self.audio_patch_token_id),
        ];
        for (name, id) in ids {
            if id as usize >= vocab {
                return Err(ConfigError::TokenOutsideVocabulary { name, id, vocab });
            }
        }
        if ids[0].1 == ids[1].1 || ids[0].1 == ids[2].1 || ids[1].1 == ids[2].1 {
            return Err(ConfigError::DuplicateAudioTokens {
                start: ids[0].1,
                end: ids[1].1,
                patch: ids[2].1,
            });
        }
        if self.mm_hidden_size == 0 {
            return Err(ConfigError::NoAudioWidth);
        }
        if let Some(seconds) = self
            .max_audio_seconds
            .filter(|s| !(s.is_finite() && *s > 0.0))
        {
            return Err(ConfigError::MaxAudioSeconds(seconds));
        }
        Ok(())
    }

    /// The audio token ids, for splicing.
    pub fn audio_tokens(&self) -> AudioTokenIds {
        AudioTokenIds {
            start: self.audio_start_token_id,
            end: self.audio_end_token_id,
            patch: self.audio_patch_token_id,
        }
    }

    /// The projector's configuration.
    pub fn projector(&self) -> ProjectorConfig {
        ProjectorConfig::new(
            self.mm_projector_type,
            self.mm_hidden_size,
            self.llama.hidden_size,
        )
    }
}

/// Refuses a `max_audio_seconds` that is not a positive, finite number of seconds.
pub(crate) fn check_max_audio_seconds(
    seconds: Option<f64>,
) -> std::result::Result<(), ConfigError> {
    match seconds.filter(|s| !(s.is_finite() && *s > 0.0)) {
        Some(bad) => Err(ConfigError::MaxAudioSeconds(bad)),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn max_audio_seconds_must_be_positive_and_finite() {
        for bad in [0.0, -1.0, f64::NAN, f64::INFINITY] {
            assert!(matches!(
                check_max_audio_seconds(Some(bad)),
                Err(ConfigError::MaxAudioSeconds(_))
            ));
        }
        assert!(check_max_audio_seconds(Some(30.0)).is_ok());
        assert!(check_max_audio_seconds(None).is_ok());
    }
}
