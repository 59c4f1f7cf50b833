//! Streaming JSON Lines reading and writing, one record at a time; files are written atomically.
//!
//! [`JsonlReader`] reads a file line by line (never the whole file) and parses each non-blank
//! line into `T`. A malformed line (bad UTF-8, bad JSON, missing field) becomes a [`LineError`]
//! with its 1-based line number and the reason. The caller picks what happens next with
//! [`OnError`]: [`OnError::Stop`] yields the error and ends the stream, [`OnError::Skip`] records
//! it in [`JsonlReader::skipped`] and goes on. Nothing is dropped silently: blank lines are counted
//! in [`JsonlReader::blank_lines`].

use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::marker::PhantomData;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde::Serialize;

use llark_tensors::AtomicFile;

/// What to do with a malformed line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OnError {
    /// Yield the error and end the stream.
    #[default]
    Stop,
    /// Record the error in [`JsonlReader::skipped`] and continue with the next line.
    Skip,
}

/// A malformed line: where and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{source_name}:{line}: {reason}")]
pub struct LineError {
    /// The file (or stream) name.
    pub source_name: String,
    /// 1-based line number.
    pub line: u64,
    /// Why the line could not be read.
    pub reason: String,
}

/// Errors of JSONL reading and writing.
#[derive(Debug, thiserror::Error)]
pub enum JsonlError {
    /// The file could not be opened or created.
    #[error("cannot open {path}: {source}")]
    Open {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// Reading or writing failed.
    #[error("I/O error on {name} at line {line}: {source}")]
    Io {
        /// The file (or stream) name.
        name: String,
        /// 1-based line number where it happened.
        line: u64,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A line is malformed (only with [`OnError::Stop`]).
    #[error(transparent)]
    Line(#[from] LineError),
    /// A record could not be serialised.
    #[error("cannot serialise record {index} for {name}: {source}")]
    Serialize {
        /// The file (or stream) name.
        name: String,
        /// 0-based index of the record in the output.
        index: u64,
        /// The serde error.
        source: serde_json::Error,
    },
}

/// A record and the 1-based line it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Numbered<T> {
    /// 1-based line number.
    pub line: u64,
    /// The parsed record.
    pub value: T,
}

/// A streaming reader of JSON Lines into `T` (an iterator of `Result<Numbered<T>, JsonlError>`).
pub struct JsonlReader<T, R> {
    reader: R,
    name: String,
    on_error: OnError,
    line: u64,
    buf: Vec<u8>,
    skipped: Vec<LineError>,
    blank_lines: u64,
    done: bool,
    _t: PhantomData<fn() -> T>,
}

impl<T: DeserializeOwned> JsonlReader<T, BufReader<File>> {
    /// Opens a file for streaming.
    pub fn open(path: impl AsRef<Path>, on_error: OnError) -> Result<Self, JsonlError> {
        let path = path.as_ref();
        let file = File::open(path).map_err(|source| JsonlError::Open {
            path: path.to_path_buf(),
            source,
        })?;
        Ok(Self::new(
            BufReader::with_capacity(1 << 16, file),
            path.display().to_string(),
            on_error,
        ))
    }
}

impl<T: DeserializeOwned, R: BufRead> JsonlReader<T, R> {
    /// Wraps any buffered reader; `name` appears in error messages.
    pub fn new(reader: R, name: impl Into<String>, on_error: OnError) -> Self {
        JsonlReader {
            reader,
            name: name.into(),
            on_error,
            line: 0,
            buf: Vec::new(),
            skipped: Vec::new(),
            blank_lines: 0,
            done: false,
            _t: PhantomData,
        }
    }

    /// The malformed lines skipped so far (with [`OnError::Skip`]), in file order.
    pub fn skipped(&self) -> &[LineError] {
        &self.skipped
    }

    /// Number of blank (empty or whitespace-only) lines seen so far.
    pub fn blank_lines(&self) -> u64 {
        self.blank_lines
    }

    /// Number of lines read so far.
    pub fn lines_read(&self) -> u64 {
        self.line
    }

    fn parse_line(&self) -> Result<Option<T>, LineError> {
        let err = |reason: String| LineError {
            source_name: self.name.clone(),
            line: self.line,
            reason,
        };
        let mut bytes = self.buf.as_slice();
        if let Some(rest) = bytes.strip_suffix(b"\n") {
            bytes = rest.strip_suffix(b"\r").unwrap_or(rest);
        }
        if self.line == 1 {
            // A UTF-8 byte-order mark (written by some editors) is not part of the first record.
            bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
        }
        let text = std::str::from_utf8(bytes)
            .map_err(|e| err(format!("invalid UTF-8 at byte {}", e.valid_up_to())))?;
        if text.trim().is_empty() {
            return Ok(None);
        }
        serde_json::from_str(text)
            .map(Some)
            .map_err(|e| err(e.to_string()))
    }
}

impl<T: DeserializeOwned, R: BufRead> Iterator for JsonlReader<T, R> {
    type Item = Result<Numbered<T>, JsonlError>;

    fn next(&mut self) -> Option<Self::Item> {
        while !self.done {
            self.buf.clear();
            match self.reader.read_until(b'\n', &mut self.buf) {
                Ok(0) => {
                    self.done = true;
                    return None;
                }
                Ok(_) => self.line += 1,
                Err(source) => {
                    self.done = true;
                    return Some(Err(JsonlError::Io {
                        name: self.name.clone(),
                        line: self.line + 1,
                        source,
                    }));
                }
            }
            match self.parse_line() {
                Ok(Some(value)) => {
                    return Some(Ok(Numbered {
                        line: self.line,
                        value,
                    }))
                }
                Ok(None) => self.blank_lines += 1,
                Err(e) => match self.on_error {
                    OnError::Skip => self.skipped.push(e),
                    OnError::Stop => {
                        self.done = true;
                        return Some(Err(e.into()));
                    }
                },
            }
        }
        None
    }
}

/// A JSON Lines writer: one compact JSON object per line.
pub struct JsonlWriter<W: Write> {
    writer: W,
    name: String,
    written: u64,
}

impl JsonlWriter<AtomicFile> {
    /// Starts writing a file atomically: the records go to a temporary file beside `path`, which
    /// replaces `path` only when [`JsonlWriter::commit`] succeeds. A writer dropped before that
    /// (an error, `--on-error stop`, a full disk) leaves `path` as it was.
    pub fn create(path: impl AsRef<Path>) -> Result<Self, JsonlError> {
        let path = path.as_ref();
        let file = AtomicFile::create(path).map_err(|source| JsonlError::Open {
            path: path.to_path_buf(),
            source,
        })?;
        Ok(Self::new(file, path.display().to_string()))
    }

    /// Flushes, syncs and moves the file into place; returns the number of records written.
    pub fn commit(self) -> Result<u64, JsonlError> {
        let written = self.written;
        let name = self.name.clone();
        self.finish()?.commit().map_err(|source| JsonlError::Io {
            name,
            line: written,
            source,
        })?;
        Ok(written)
    }
}

impl<W: Write> JsonlWriter<W> {
    /// Wraps any writer; `name` appears in error messages.
    pub fn new(writer: W, name: impl Into<String>) -> Self {
        JsonlWriter {
            writer,
            name: name.into(),
            written: 0,
        }
    }

    /// Writes one record as one line.
    pub fn write<T: Serialize + ?Sized>(&mut self, record: &T) -> Result<(), JsonlError> {
        serde_json::to_writer(&mut self.writer, record).map_err(|source| {
            if source.is_io() {
                JsonlError::Io {
                    name: self.name.clone(),
                    line: self.written + 1,
                    source: source.into(),
                }
            } else {
                JsonlError::Serialize {
                    name: self.name.clone(),
                    index: self.written,
                    source,
                }
            }
        })?;
        self.writer
            .write_all(b"\n")
            .map_err(|source| JsonlError::Io {
                name: self.name.clone(),
                line: self.written + 1,
                source,
            })?;
        self.written += 1;
        Ok(())
    }

    /// Number of records written.
    pub fn written(&self) -> u64 {
        self.written
    }

    /// Flushes and returns the inner writer.
    pub fn finish(mut self) -> Result<W, JsonlError> {
        self.writer.flush().map_err(|source| JsonlError::Io {
            name: self.name.clone(),
            line: self.written,
            source,
        })?;
        Ok(self.writer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::ConversationRecord;

    const DATA: &str = "{\"id\":\"a\",\"conversations\":[]}\n\nnot json\n{\"id\":\"b\"}\n{\"id\":\"c\",\"conversations\":[{\"from\":\"human\",\"value\":\"hi\"}]}\r\n";

    #[test]
    fn skip_reports_every_bad_line_with_its_number() {
        let mut r: JsonlReader<ConversationRecord, _> =
            JsonlReader::new(DATA.as_bytes(), "mem", OnError::Skip);
        let ok: Vec<_> = r.by_ref().map(|x| x.unwrap()).collect();
        assert_eq!(
            ok.iter()
                .map(|n| (n.line, n.value.id.as_str()))
                .collect::<Vec<_>>(),
            vec![(1, "a"), (5, "c")]
        );
        let lines: Vec<u64> = r.skipped().iter().map(|e| e.line).collect();
        assert_eq!(lines, vec![3, 4]);
        assert!(r.skipped()[1].reason.contains("conversations"));
        assert_eq!(r.blank_lines(), 1);
    }

    #[test]
    fn stop_ends_at_first_bad_line() {
        let r: JsonlReader<ConversationRecord, _> =
            JsonlReader::new(DATA.as_bytes(), "mem", OnError::Stop);
        let all: Vec<_> = r.collect();
        assert_eq!(all.len(), 2);
        match &all[1] {
            Err(JsonlError::Line(e)) => assert_eq!(e.line, 3),
            other => panic!("{other:?}"),
        }
    }
}
