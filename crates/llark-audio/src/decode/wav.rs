//! WAV decoding through `hound`: PCM 8/16/24/32-bit and 32-bit float, any channel count.

use std::io::{BufReader, Seek, SeekFrom};

use hound::{SampleFormat, WavReader};

use super::{mix_to_mono, MediaReader};
use crate::error::AudioError;

type Reader = BufReader<Box<dyn MediaReader>>;

/// Why a WAV file could not be opened.
pub(super) enum WavOpenError {
    /// `hound` cannot read this encoding; the reader is handed back for another decoder.
    Unsupported(Reader, String),
    /// The file is broken.
    Failed(AudioError),
}

enum Encoding {
    /// Integer PCM, scaled by `1 / 2^(bits - 1)` as libsndfile does.
    Int {
        scale: f32,
    },
    Float,
}

/// Streams a WAV file as mono samples.
pub(super) struct WavDecoder {
    reader: WavReader<Reader>,
    encoding: Encoding,
    channels: usize,
    frames: u64,
    frames_read: u64,
    interleaved: Vec<f32>,
}

impl WavDecoder {
    pub(super) fn new(mut reader: Reader, origin: &str) -> Result<Self, WavOpenError> {
        // Parse the header through a borrow first so that the reader survives a rejection.
        let probe = WavReader::new(&mut reader).map(|r| r.spec());
        let spec = match probe {
            Ok(spec) => spec,
            Err(e) => {
                return match classify(e, origin) {
                    Classified::Unsupported(detail) => {
                        Err(WavOpenError::Unsupported(reader, detail))
                    }
                    Classified::Error(e) => Err(WavOpenError::Failed(e)),
                }
            }
        };
        let encoding = match (spec.sample_format, spec.bits_per_sample) {
            (SampleFormat::Int, bits @ 1..=32) => Encoding::Int {
                scale: 1.0 / (1u64 << (bits - 1)) as f32,
            },
            (SampleFormat::Float, 32) => Encoding::Float,
            (format, bits) => {
                return Err(WavOpenError::Unsupported(
                    reader,
                    format!("{bits}-bit {format:?} samples"),
                ))
            }
        };
        if spec.channels == 0 || spec.sample_rate == 0 {
            return Err(WavOpenError::Failed(AudioError::Corrupt {
                origin: origin.to_owned(),
                detail: format!(
                    "header declares {} channels at {} Hz",
                    spec.channels, spec.sample_rate
                ),
            }));
        }
        if let Err(source) = reader.seek(SeekFrom::Start(0)) {
            return Err(WavOpenError::Failed(AudioError::Io {
                origin: origin.to_owned(),
                source,
            }));
        }
        let reader = WavReader::new(reader).map_err(|e| match classify(e, origin) {
            Classified::Unsupported(detail) => WavOpenError::Failed(AudioError::Unsupported {
                origin: origin.to_owned(),
                detail,
            }),
            Classified::Error(e) => WavOpenError::Failed(e),
        })?;
        let channels = usize::from(spec.channels);
        Ok(Self {
            frames: u64::from(reader.duration()),
            reader,
            encoding,
            channels,
            frames_read: 0,
            interleaved: Vec::new(),
        })
    }

    pub(super) fn sample_rate(&self) -> u32 {
        self.reader.spec().sample_rate
    }

    pub(super) fn channels(&self) -> usize {
        self.channels
    }

    pub(super) fn frames(&self) -> u64 {
        self.frames
    }

    pub(super) fn read(&mut self, buf: &mut [f32], origin: &str) -> Result<usize, AudioError> {
        let frames = (buf.len() as u64).min(self.frames - self.frames_read) as usize;
        if frames == 0 {
            return Ok(0);
        }
        let wanted = frames * self.channels;
        self.interleaved.clear();
        let truncated = |e: hound::Error, at: u64, total: u64| match e {
            hound::Error::IoError(io)
                if matches!(
                    io.kind(),
                    std::io::ErrorKind::UnexpectedEof | std::io::ErrorKind::Other
                ) =>
            {
                AudioError::Truncated {
                    origin: origin.to_owned(),
                    detail: format!("the data ends at frame {at} of {total}"),
                }
            }
            other => hound_error(other, origin),
        };
        let position = self.frames_read;
        match self.encoding {
            Encoding::Int { scale } => {
                for sample in self.reader.samples::<i32>().take(wanted) {
                    let sample = sample.map_err(|e| truncated(e, position, self.frames))?;
                    self.interleaved.push(sample as f32 * scale);
                }
            }
            Encoding::Float => {
                for sample in self.reader.samples::<f32>().take(wanted) {
                    let sample = sample.map_err(|e| truncated(e, position, self.frames))?;
                    self.interleaved.push(sample);
                }
            }
        }
        let n = mix_to_mono(&self.interleaved, self.channels, buf);
        self.frames_read += n as u64;
        Ok(n)
    }
}

enum Classified {
    Unsupported(String),
    Error(AudioError),
}

fn classify(e: hound::Error, origin: &str) -> Classified {
    match e {
        hound::Error::Unsupported => {
            Classified::Unsupported("WAV encoding not read by hound".into())
        }
        hound::Error::FormatError(msg) if msg.contains("bits per sample") => {
            Classified::Unsupported(msg.to_owned())
        }
        hound::Error::IoError(io)
            if matches!(
                io.kind(),
                std::io::ErrorKind::UnexpectedEof | std::io::ErrorKind::Other
            ) =>
        {
            Classified::Error(AudioError::Truncated {
                origin: origin.to_owned(),
                detail: "the WAV header is incomplete".into(),
            })
        }
        other => Classified::Error(hound_error(other, origin)),
    }
}

fn hound_error(e: hound::Error, origin: &str) -> AudioError {
    match e {
        hound::Error::IoError(source) => AudioError::Io {
            origin: origin.to_owned(),
            source,
        },
        other => AudioError::Corrupt {
            origin: origin.to_owned(),
            detail: other.to_string(),
        },
    }
}
