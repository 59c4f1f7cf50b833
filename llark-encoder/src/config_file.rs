//! Reading encoder configurations from JSON files, with errors that name the file.

use std::path::Path;

use serde::de::DeserializeOwned;

use crate::EncoderError;

/// The field name used in errors about JSON that does not parse into a configuration.
pub(crate) const JSON_FIELD: &str = "<json>";

/// Parses JSON text into a configuration; `origin` names the source in errors.
pub(crate) fn parse<T: DeserializeOwned>(text: &str, origin: &str) -> Result<T, EncoderError> {
    serde_json::from_str(text).map_err(|e| EncoderError::Config {
        origin: origin.to_string(),
        field: JSON_FIELD.to_string(),
        message: e.to_string(),
    })
}

/// Reads a configuration file: its text and the origin to name in errors.
pub(crate) fn read(path: &Path) -> Result<(String, String), EncoderError> {
    let text = std::fs::read_to_string(path).map_err(|source| EncoderError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    Ok((text, path.display().to_string()))
}
