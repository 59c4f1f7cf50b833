//! WAV decoding: `hound` parses and validates the header, then the sample data is read in large
//! blocks and converted here (PCM 8/16/24/32-bit and 32-bit float, any channel count).

use std::io::{BufReader, Read, Seek, SeekFrom};

use hound::{SampleFormat, WavReader};

use super::{mix_to_mono, read_up_to, MediaReader};
use crate::error::AudioError;

type Reader = BufReader<Box<dyn MediaReader>>;

/// Bytes of sample data converted per read call (at most).
const BLOCK_BYTES: usize = 1 << 16;

/// Why a WAV file could not be opened.
pub(super) enum WavOpenError {
    /// `hound` cannot read this encoding; the reader is handed back for another decoder.
    Unsupported(Reader, String),
    /// The file is broken.
    Failed(AudioError),
}

/// How one sample is stored.
#[derive(Debug, Clone, Copy)]
enum Encoding {
    /// 8-bit unsigned PCM, `(x - 128) / 128`.
    U8,
    /// Little-endian signed PCM in `bytes` bytes, scaled by `1 / 2^(8 * bytes - 1)` (the
    /// container width, as libsndfile).
    Int { bytes: usize },
    /// Little-endian IEEE float.
    F32,
}

impl Encoding {
    fn bytes(self) -> usize {
        match self {
            Encoding::U8 => 1,
            Encoding::Int { bytes } => bytes,
            Encoding::F32 => 4,
        }
    }

    fn decode(self, raw: &[u8], out: &mut Vec<f32>) {
        match self {
            Encoding::U8 => out.extend(raw.iter().map(|&b| (f32::from(b) - 128.0) / 128.0)),
            Encoding::Int { bytes: 2 } => out.extend(
                raw.chunks_exact(2)
                    .map(|b| f32::from(i16::from_le_bytes([b[0], b[1]])) / 32_768.0),
            ),
            Encoding::Int { bytes: 3 } => out.extend(raw.chunks_exact(3).map(|b| {
                let v = i32::from_le_bytes([0, b[0], b[1], b[2]]) >> 8;
                v as f32 / 8_388_608.0
            })),
            Encoding::Int { bytes } => {
                let scale = 1.0 / 2f64.powi(8 * bytes as i32 - 1);
                out.extend(raw.chunks_exact(bytes).map(|b| {
                    let mut word = [0u8; 8];
                    word[8 - bytes..].copy_from_slice(b);
                    let v = i64::from_le_bytes(word) >> (8 * (8 - bytes));
                    (v as f64 * scale) as f32
                }))
            }
            Encoding::F32 => out.extend(
                raw.chunks_exact(4)
                    .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])),
            ),
        }
    }
}

/// Streams a WAV file as mono samples.
pub(super) struct WavDecoder {
    reader: Reader,
    encoding: Encoding,
    channels: usize,
    sample_rate: u32,
    frames: u64,
    frames_read: u64,
    raw: Vec<u8>,
    interleaved: Vec<f32>,
}

impl WavDecoder {
    pub(super) fn new(mut reader: Reader, origin: &str) -> Result<Self, WavOpenError> {
        let failed = |e| WavOpenError::Failed(e);
        let io = |source| {
            WavOpenError::Failed(AudioError::Io {
                origin: origin.to_owned(),
                source,
            })
        };
        // Parse the header through a borrow so that the reader survives a rejection.
        let parsed = WavReader::new(&mut reader).map(|r| (r.spec(), r.len()));
        let (spec, samples) = match parsed {
            Ok(parsed) => parsed,
            Err(e) => {
                return match classify(e, origin) {
                    Classified::Unsupported(detail) => {
                        Err(WavOpenError::Unsupported(reader, detail))
                    }
                    Classified::Error(e) => Err(failed(e)),
                }
            }
        };
        if spec.channels == 0 || spec.sample_rate == 0 {
            return Err(failed(AudioError::Corrupt {
                origin: origin.to_owned(),
                detail: format!(
                    "header declares {} channels at {} Hz",
                    spec.channels, spec.sample_rate
                ),
            }));
        }
        // The reader now sits at the first data byte, just after the data chunk's length.
        let data_start = reader.stream_position().map_err(io)?;
        let data_len = if samples == 0 {
            0
        } else {
            let mut len = [0u8; 4];
            reader
                .seek(SeekFrom::Start(data_start.saturating_sub(4)))
                .map_err(io)?;
            reader.read_exact(&mut len).map_err(io)?;
            u32::from_le_bytes(len)
        };
        let bytes = data_len
            .checked_div(samples)
            .map_or(usize::from(spec.bits_per_sample).div_ceil(8), |b| {
                b as usize
            });
        let encoding = match (spec.sample_format, bytes) {
            (SampleFormat::Int, 1) => Encoding::U8,
            (SampleFormat::Int, 2..=4) => Encoding::Int { bytes },
            (SampleFormat::Float, 4) => Encoding::F32,
            (format, bytes) => {
                return Err(WavOpenError::Unsupported(
                    reader,
                    format!("{}-byte {format:?} samples", bytes),
                ))
            }
        };
        let channels = usize::from(spec.channels);
        Ok(Self {
            frames: u64::from(samples) / channels as u64,
            reader,
            encoding,
            channels,
            sample_rate: spec.sample_rate,
            frames_read: 0,
            raw: Vec::new(),
            interleaved: Vec::new(),
        })
    }

    pub(super) fn sample_rate(&self) -> u32 {
        self.sample_rate
    }

    pub(super) fn channels(&self) -> usize {
        self.channels
    }

    pub(super) fn frames(&self) -> u64 {
        self.frames
    }

    pub(super) fn read(&mut self, buf: &mut [f32], origin: &str) -> Result<usize, AudioError> {
        let frame_bytes = self.channels * self.encoding.bytes();
        let frames = (buf.len() as u64)
            .min(self.frames - self.frames_read)
            .min((BLOCK_BYTES / frame_bytes).max(1) as u64) as usize;
        if frames == 0 {
            return Ok(0);
        }
        self.raw.resize(frames * frame_bytes, 0);
        let got = read_up_to(&mut self.reader, &mut self.raw).map_err(|source| AudioError::Io {
            origin: origin.to_owned(),
            source,
        })?;
        if got < self.raw.len() {
            return Err(AudioError::Truncated {
                origin: origin.to_owned(),
                detail: format!(
                    "the sample data ends at frame {} of the {} its header announces",
                    self.frames_read + (got / frame_bytes) as u64,
                    self.frames
                ),
            });
        }
        self.interleaved.clear();
        self.encoding.decode(&self.raw, &mut self.interleaved);
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
        hound::Error::IoError(source) => Classified::Error(AudioError::Io {
            origin: origin.to_owned(),
            source,
        }),
        other => Classified::Error(AudioError::Corrupt {
            origin: origin.to_owned(),
            detail: other.to_string(),
        }),
    }
}
