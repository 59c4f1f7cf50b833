//! MP3, FLAC and OGG/Vorbis decoding (and WAV encodings `hound` lacks) through `symphonia`.

use std::io::{Read, Seek, SeekFrom};

use symphonia::core::audio::SampleBuffer;
use symphonia::core::codecs::{
    Decoder, DecoderOptions, CODEC_TYPE_MP1, CODEC_TYPE_MP2, CODEC_TYPE_MP3, CODEC_TYPE_NULL,
};
use symphonia::core::errors::Error as SymphoniaError;
use symphonia::core::formats::{FormatOptions, FormatReader};
use symphonia::core::io::{MediaSource, MediaSourceStream};
use symphonia::core::meta::MetadataOptions;
use symphonia::core::probe::Hint;

use super::{mix_to_mono, MediaReader};
use crate::error::AudioError;

/// Adapts a boxed reader to symphonia's `MediaSource`, with its length in bytes (which lets
/// the Ogg reader find the last page and so the exact stream length).
///
/// In a FLAC stream, every metadata block but STREAMINFO is shown to symphonia as PADDING (see
/// [`flac_metadata_types`]): decoding needs none of them, and symphonia allocates the lengths
/// that tags and pictures declare inside their blocks before reading them, unchecked against
/// the block or the file, so that a few hundred bytes can claim gigabytes.
struct Source {
    reader: Box<dyn MediaReader>,
    len: Option<u64>,
    /// Current byte position of `reader`.
    pos: u64,
    /// Sorted positions of FLAC block-type bytes to show as PADDING.
    padding: Vec<u64>,
}

impl Source {
    fn new(mut reader: Box<dyn MediaReader>, magic: &[u8]) -> std::io::Result<Self> {
        let len = reader.seek(SeekFrom::End(0)).ok();
        reader.seek(SeekFrom::Start(0))?;
        let padding = match len {
            Some(len) if may_hold_flac(magic) => flac_metadata_types(&mut reader, len)?,
            _ => Vec::new(),
        };
        reader.seek(SeekFrom::Start(0))?;
        Ok(Self {
            reader,
            len,
            pos: 0,
            padding,
        })
    }
}

/// The most bytes symphonia's probe searches for a container marker (its `PROBE_SEARCH_LIMIT`).
const PROBE_SEARCH_BYTES: u64 = 1 << 20;
/// The FLAC block type of PADDING, which symphonia skips without allocating.
const FLAC_PADDING: u8 = 1;
/// The last FLAC block type defined (PICTURE); reserved types are skipped by symphonia.
const FLAC_LAST_DEFINED: u8 = 6;

/// Whether symphonia's probe may go on to a FLAC marker further in: anything but an Ogg or
/// RIFF stream (those it reads from the first byte; Ogg FLAC holds `fLaC` in its pages, whose
/// checksums a patch would break). An MPEG frame sync that symphonia does not take for a
/// marker, or an ID3v2 tag, is searched through.
fn may_hold_flac(magic: &[u8]) -> bool {
    !magic.starts_with(b"OggS") && !magic.starts_with(b"RIFF")
}

/// Where symphonia's probe would find a RIFF/WAVE header: the first `RIFF` followed by `WAVE`
/// within its search window, unless the stream is Ogg.
fn wave_start(reader: &mut dyn MediaReader, magic: &[u8]) -> std::io::Result<Option<u64>> {
    if magic.starts_with(b"OggS") {
        return Ok(None);
    }
    let mut window = Vec::new();
    Read::take(&mut *reader, PROBE_SEARCH_BYTES).read_to_end(&mut window)?;
    reader.seek(SeekFrom::Start(0))?;
    Ok(window
        .windows(12)
        .position(|w| &w[..4] == b"RIFF" && &w[8..] == b"WAVE")
        .map(|p| p as u64))
}

/// Why [`check_wave_fmt`] stopped.
enum WaveCheck {
    Io(std::io::Error),
    Rejected(AudioError),
}

/// Rejects the `fmt ` chunks (before the `data` chunk) of the RIFF/WAVE header at `start` that
/// make symphonia 0.5 panic: a sample rate of 0 (its time base asserts a positive
/// denominator), and a WAVE_FORMAT_EXTENSIBLE channel mask it cannot repair: with fewer bits set than
/// channels, it sets the missing bits above the highest one with shifts that overflow (a panic
/// with overflow checks) when 32 or more bits are missing or bit 31 is already set. Such a mask cannot describe the channels
/// anyway (there are 18 speaker positions).
fn check_wave_fmt(reader: &mut dyn MediaReader, start: u64, origin: &str) -> Result<(), WaveCheck> {
    let len = reader.seek(SeekFrom::End(0)).map_err(WaveCheck::Io)?;
    let mut pos = start + 12;
    let mut header = [0u8; 8];
    while pos + 8 <= len {
        reader.seek(SeekFrom::Start(pos)).map_err(WaveCheck::Io)?;
        reader.read_exact(&mut header).map_err(WaveCheck::Io)?;
        let size = u64::from(u32::from_le_bytes([
            header[4], header[5], header[6], header[7],
        ]));
        match &header[..4] {
            b"data" => break,
            b"fmt " if size >= 16 => {
                let mut fmt = [0u8; 24];
                let want = if size >= 24 { 24 } else { 16 };
                reader
                    .read_exact(&mut fmt[..want])
                    .map_err(|e| match e.kind() {
                        std::io::ErrorKind::UnexpectedEof => {
                            WaveCheck::Rejected(AudioError::Truncated {
                                origin: origin.to_owned(),
                                detail: "the WAV fmt chunk is incomplete".into(),
                            })
                        }
                        _ => WaveCheck::Io(e),
                    })?;
                let format = u16::from_le_bytes([fmt[0], fmt[1]]);
                let channels = u32::from(u16::from_le_bytes([fmt[2], fmt[3]]));
                let rate = u32::from_le_bytes([fmt[4], fmt[5], fmt[6], fmt[7]]);
                if rate == 0 {
                    return Err(WaveCheck::Rejected(AudioError::Corrupt {
                        origin: origin.to_owned(),
                        detail: "the WAV header declares a sample rate of 0 Hz".into(),
                    }));
                }
                let mask = u32::from_le_bytes([fmt[20], fmt[21], fmt[22], fmt[23]]);
                let missing = channels.saturating_sub(mask.count_ones());
                let unrepairable = missing >= 32 || mask & (1 << 31) != 0;
                if format == 0xFFFE && want == 24 && missing > 0 && unrepairable {
                    return Err(WaveCheck::Rejected(AudioError::Unsupported {
                        origin: origin.to_owned(),
                        detail: format!(
                            "WAV channel mask {mask:#010x} cannot describe {channels} channels"
                        ),
                    }));
                }
            }
            _ => {}
        }
        pos += 8 + size + (size & 1);
    }
    reader.seek(SeekFrom::Start(0)).map_err(WaveCheck::Io)?;
    Ok(())
}

/// Positions of the type bytes of the FLAC metadata blocks (APPLICATION, SEEKTABLE,
/// VORBIS_COMMENT, CUESHEET, PICTURE) that follow the first `fLaC` marker within the probe's
/// search window, in whatever order they come (symphonia reads STREAMINFO wherever it is).
/// Reads at most the search window and four bytes per block.
fn flac_metadata_types(reader: &mut dyn MediaReader, len: u64) -> std::io::Result<Vec<u64>> {
    let mut window = Vec::new();
    Read::take(&mut *reader, PROBE_SEARCH_BYTES.min(len)).read_to_end(&mut window)?;
    let Some(marker) = window.windows(4).position(|w| w == b"fLaC") else {
        return Ok(Vec::new());
    };
    let mut patches = Vec::new();
    let mut pos = marker as u64 + 4;
    let mut header = [0u8; 4];
    while pos + 4 <= len {
        reader.seek(SeekFrom::Start(pos))?;
        reader.read_exact(&mut header)?;
        let kind = header[0] & 0x7f;
        let block_len = u64::from(u32::from_be_bytes([0, header[1], header[2], header[3]]));
        if (FLAC_PADDING + 1..=FLAC_LAST_DEFINED).contains(&kind) {
            patches.push(pos);
        }
        if header[0] & 0x80 != 0 {
            break;
        }
        pos += 4 + block_len;
    }
    Ok(patches)
}

impl Read for Source {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.reader.read(buf)?;
        let end = self.pos + n as u64;
        let from = self.padding.partition_point(|&p| p < self.pos);
        for &p in self.padding[from..].iter().take_while(|&&p| p < end) {
            let byte = &mut buf[(p - self.pos) as usize];
            *byte = (*byte & 0x80) | FLAC_PADDING;
        }
        self.pos = end;
        Ok(n)
    }
}

impl Seek for Source {
    fn seek(&mut self, pos: SeekFrom) -> std::io::Result<u64> {
        self.pos = self.reader.seek(pos)?;
        Ok(self.pos)
    }
}

impl MediaSource for Source {
    fn is_seekable(&self) -> bool {
        true
    }
    fn byte_len(&self) -> Option<u64> {
        self.len
    }
}

/// Streams the first audio track of a container as mono samples.
pub(super) struct CompressedDecoder {
    format: Box<dyn FormatReader>,
    decoder: Box<dyn Decoder>,
    track_id: u32,
    sample_rate: u32,
    channels: usize,
    frames: Option<u64>,
    /// Whether the container's frame count is exact (FLAC, Ogg, PCM) rather than an estimate
    /// (MP3 without a Xing/LAME header); only an exact count caps and checks the stream.
    exact_length: bool,
    frames_decoded: u64,
    /// Decoded mono samples not yet handed out: `pending[pending_pos..]`.
    pending: Vec<f32>,
    pending_pos: usize,
    interleaved: Option<SampleBuffer<f32>>,
    done: bool,
}

impl CompressedDecoder {
    pub(super) fn new(
        mut reader: Box<dyn MediaReader>,
        origin: &str,
        extension: Option<&str>,
        magic: &[u8],
    ) -> Result<Self, AudioError> {
        // symphonia's probe would search up to 1 MiB of anything for a container marker, and
        // this crate's checks of the headers below assume the container starts the data.
        if !known_signature(magic) {
            return Err(AudioError::Unsupported {
                origin: origin.to_owned(),
                detail: "no known audio format found (the data starts with no WAV, FLAC, Ogg \
                         or MP3 signature)"
                    .into(),
            });
        }
        let io_error = |source| AudioError::Io {
            origin: origin.to_owned(),
            source,
        };
        if let Some(start) = wave_start(&mut *reader, magic).map_err(io_error)? {
            check_wave_fmt(&mut *reader, start, origin).map_err(|e| match e {
                WaveCheck::Io(source) => io_error(source),
                WaveCheck::Rejected(e) => e,
            })?;
        }
        let source = Source::new(reader, magic).map_err(io_error)?;
        let stream = MediaSourceStream::new(Box::new(source), Default::default());
        let mut hint = Hint::new();
        if let Some(ext) = extension {
            hint.with_extension(ext);
        }
        let probed = symphonia::default::get_probe()
            .format(
                &hint,
                stream,
                &FormatOptions {
                    // Drop encoder delay and padding (LAME/iTunes tags, Vorbis granule
                    // positions), as libsndfile and ffmpeg do, so that samples line up with
                    // the original.
                    enable_gapless: true,
                    ..FormatOptions::default()
                },
                &MetadataOptions::default(),
            )
            .map_err(|e| open_error(e, origin, true))?;
        let format = probed.format;
        let track = format
            .tracks()
            .iter()
            .find(|t| t.codec_params.codec != CODEC_TYPE_NULL)
            .ok_or_else(|| AudioError::Unsupported {
                origin: origin.to_owned(),
                detail: "no decodable audio track".into(),
            })?;
        let params = &track.codec_params;
        let sample_rate =
            params
                .sample_rate
                .filter(|&r| r > 0)
                .ok_or_else(|| AudioError::Corrupt {
                    origin: origin.to_owned(),
                    detail: "the stream does not declare a sample rate".into(),
                })?;
        let channels = params.channels.map(|c| c.count()).unwrap_or(0);
        let decoder = symphonia::default::get_codecs()
            .make(params, &DecoderOptions::default())
            .map_err(|e| open_error(e, origin, true))?;
        let exact_length = !matches!(
            params.codec,
            CODEC_TYPE_MP1 | CODEC_TYPE_MP2 | CODEC_TYPE_MP3
        );
        Ok(Self {
            track_id: track.id,
            frames: params.n_frames,
            exact_length,
            format,
            decoder,
            sample_rate,
            channels,
            frames_decoded: 0,
            pending: Vec::new(),
            pending_pos: 0,
            interleaved: None,
            done: false,
        })
    }

    pub(super) fn sample_rate(&self) -> u32 {
        self.sample_rate
    }

    pub(super) fn channels(&self) -> usize {
        self.channels
    }

    pub(super) fn frames(&self) -> Option<u64> {
        self.frames
    }

    pub(super) fn read(&mut self, buf: &mut [f32], origin: &str) -> Result<usize, AudioError> {
        while self.pending_pos == self.pending.len() {
            if self.done || !self.decode_packet(origin)? {
                self.done = true;
                return Ok(0);
            }
        }
        let rest = &self.pending[self.pending_pos..];
        let n = rest.len().min(buf.len());
        buf[..n].copy_from_slice(&rest[..n]);
        self.pending_pos += n;
        Ok(n)
    }

    /// Decodes the next packet of the track into `pending`; false at the end of the stream.
    fn decode_packet(&mut self, origin: &str) -> Result<bool, AudioError> {
        let packet = loop {
            match self.format.next_packet() {
                Ok(packet) if packet.track_id() == self.track_id => break packet,
                Ok(_) => continue,
                Err(SymphoniaError::IoError(e))
                    if e.kind() == std::io::ErrorKind::UnexpectedEof =>
                {
                    return self.finish(origin).map(|()| false);
                }
                Err(e) => return Err(stream_error(e, origin)),
            }
        };
        let decoded = self
            .decoder
            .decode(&packet)
            .map_err(|e| stream_error(e, origin))?;
        let spec = *decoded.spec();
        let channels = spec.channels.count();
        if channels == 0 {
            return Err(AudioError::Corrupt {
                origin: origin.to_owned(),
                detail: "a packet decoded to zero channels".into(),
            });
        }
        self.channels = channels;
        let capacity = decoded.capacity() as u64;
        let buffer = match &mut self.interleaved {
            Some(b) if b.capacity() as u64 >= capacity * channels as u64 => b,
            slot => slot.insert(SampleBuffer::new(capacity, spec)),
        };
        buffer.copy_interleaved_ref(decoded);
        let interleaved = buffer.samples();
        let mut frames = interleaved.len() / channels;
        if self.exact_length {
            // Ogg learns the true length (end padding removed) only at its last page.
            let announced = self
                .format
                .tracks()
                .iter()
                .find(|t| t.id == self.track_id)
                .and_then(|t| t.codec_params.n_frames)
                .or(self.frames);
            if let Some(total) = announced {
                let room = total.saturating_sub(self.frames_decoded);
                frames = frames.min(usize::try_from(room).unwrap_or(usize::MAX));
            }
        }
        self.pending.resize(frames, 0.0);
        mix_to_mono(
            &interleaved[..frames * channels],
            channels,
            &mut self.pending,
        );
        self.pending_pos = 0;
        self.frames_decoded += frames as u64;
        Ok(true)
    }

    /// At the end of the stream: fewer frames than the container announced means truncation.
    fn finish(&self, origin: &str) -> Result<(), AudioError> {
        match self.frames {
            Some(expected) if self.exact_length && self.frames_decoded < expected => {
                Err(AudioError::Truncated {
                    origin: origin.to_owned(),
                    detail: format!(
                        "decoded {} of the {} frames the stream announces",
                        self.frames_decoded, expected
                    ),
                })
            }
            _ => Ok(()),
        }
    }
}

/// Whether the first bytes are those of a container this build reads (Ogg, FLAC, MP3 with an
/// ID3 tag or a frame sync, RIFF/WAVE).
fn known_signature(magic: &[u8]) -> bool {
    magic.starts_with(b"OggS")
        || magic.starts_with(b"fLaC")
        || magic.starts_with(b"ID3")
        || (magic.len() >= 2 && magic[0] == 0xFF && magic[1] & 0xE0 == 0xE0)
        || (magic.starts_with(b"RIFF") && magic.get(8..12) == Some(b"WAVE"))
}

/// Maps an error met while opening. Running out of data in a file whose signature was
/// recognised means it was cut short; otherwise no format matched.
fn open_error(e: SymphoniaError, origin: &str, recognised: bool) -> AudioError {
    match e {
        SymphoniaError::Unsupported(what) => AudioError::Unsupported {
            origin: origin.to_owned(),
            detail: what.to_owned(),
        },
        SymphoniaError::IoError(e)
            if recognised && e.kind() == std::io::ErrorKind::UnexpectedEof =>
        {
            AudioError::Truncated {
                origin: origin.to_owned(),
                detail: "the stream ends inside its headers".into(),
            }
        }
        SymphoniaError::IoError(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
            AudioError::Unsupported {
                origin: origin.to_owned(),
                detail: "no known audio format found".into(),
            }
        }
        other => stream_error(other, origin),
    }
}

fn stream_error(e: SymphoniaError, origin: &str) -> AudioError {
    match e {
        SymphoniaError::IoError(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
            AudioError::Truncated {
                origin: origin.to_owned(),
                detail: e.to_string(),
            }
        }
        SymphoniaError::IoError(source) => AudioError::Io {
            origin: origin.to_owned(),
            source,
        },
        SymphoniaError::Unsupported(what) => AudioError::Unsupported {
            origin: origin.to_owned(),
            detail: what.to_owned(),
        },
        other => AudioError::Corrupt {
            origin: origin.to_owned(),
            detail: other.to_string(),
        },
    }
}
