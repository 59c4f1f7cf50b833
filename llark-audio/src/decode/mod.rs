//! Decoding files and readers into a stream of mono samples: [`AudioStream`], [`load`],
//! [`load_reader`].
//!
//! WAV goes through `hound`; MP3, FLAC and OGG/Vorbis (and WAV encodings `hound` lacks, such as
//! 64-bit float) through `symphonia` when the `compressed` feature is on (the default).

#[cfg(feature = "compressed")]
mod compressed;
mod wav;

use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::Path;

use crate::audio::Audio;
use crate::error::{AudioError, Result};
use crate::source::SampleSource;

/// A byte stream a decoder can read and seek: files, cursors, custom readers.
pub trait MediaReader: Read + Seek + Send + Sync {}
impl<T: Read + Seek + Send + Sync> MediaReader for T {}

/// The label used for readers in error messages.
const READER_ORIGIN: &str = "<reader>";

/// A streaming decoder: yields the mono mix (channel mean) of a file at its own sample rate,
/// decoding only as far as it is read.
///
/// Wrap it in [`crate::Resampled`] to change the rate and in [`crate::Windows`] to cut a long
/// file into model-sized windows without loading it whole.
pub struct AudioStream {
    inner: Inner,
    origin: String,
    /// Interleaved samples decoded so far (for error positions).
    total_read: u64,
}

impl std::fmt::Debug for AudioStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AudioStream")
            .field("origin", &self.origin)
            .field("sample_rate", &self.sample_rate())
            .field("channels", &self.channels())
            .finish_non_exhaustive()
    }
}

enum Inner {
    Wav(wav::WavDecoder),
    #[cfg(feature = "compressed")]
    Compressed(compressed::CompressedDecoder),
}

impl AudioStream {
    /// Opens a file; the format is detected from its content (the extension is only a hint).
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let origin = path.display().to_string();
        let file = File::open(path).map_err(|source| AudioError::Io {
            origin: origin.clone(),
            source,
        })?;
        let extension = path.extension().and_then(|e| e.to_str()).map(str::to_owned);
        Self::from_boxed(Box::new(file), origin, extension.as_deref())
    }

    /// Decodes from any seekable reader. `name` labels the reader in errors; its extension, if
    /// any, is used as a format hint.
    pub fn from_reader<R: MediaReader + 'static>(reader: R, name: Option<&str>) -> Result<Self> {
        let origin = name.unwrap_or(READER_ORIGIN).to_owned();
        let extension = name
            .and_then(|n| Path::new(n).extension())
            .and_then(|e| e.to_str())
            .map(str::to_owned);
        Self::from_boxed(Box::new(reader), origin, extension.as_deref())
    }

    fn from_boxed(
        mut reader: Box<dyn MediaReader>,
        origin: String,
        extension: Option<&str>,
    ) -> Result<Self> {
        let io_err = |source| AudioError::Io {
            origin: origin.clone(),
            source,
        };
        let mut magic = [0u8; 12];
        let got = read_up_to(&mut reader, &mut magic).map_err(io_err)?;
        if got == 0 {
            return Err(AudioError::Empty { origin });
        }
        reader.seek(SeekFrom::Start(0)).map_err(io_err)?;
        let is_wav = got == 12 && &magic[0..4] == b"RIFF" && &magic[8..12] == b"WAVE";
        let inner = if is_wav {
            match wav::WavDecoder::new(BufReader::new(reader), &origin) {
                Ok(decoder) => Inner::Wav(decoder),
                Err(wav::WavOpenError::Unsupported(reader, detail)) => {
                    Self::fallback(reader.into_inner(), &origin, detail, &magic)?
                }
                Err(wav::WavOpenError::Failed(e)) => return Err(e),
            }
        } else {
            Self::compressed(reader, &origin, extension, &magic[..got])?
        };
        Ok(Self {
            inner,
            origin,
            total_read: 0,
        })
    }

    /// A WAV encoding `hound` does not read (64-bit float, A-law, ...): try `symphonia`.
    #[cfg(feature = "compressed")]
    fn fallback(
        mut reader: Box<dyn MediaReader>,
        origin: &str,
        _detail: String,
        magic: &[u8],
    ) -> Result<Inner> {
        reader
            .seek(SeekFrom::Start(0))
            .map_err(|source| AudioError::Io {
                origin: origin.to_owned(),
                source,
            })?;
        Self::compressed(reader, origin, Some("wav"), magic)
    }

    #[cfg(not(feature = "compressed"))]
    fn fallback(
        _reader: Box<dyn MediaReader>,
        origin: &str,
        detail: String,
        _magic: &[u8],
    ) -> Result<Inner> {
        Err(AudioError::Unsupported {
            origin: origin.to_owned(),
            detail,
        })
    }

    #[cfg(feature = "compressed")]
    fn compressed(
        reader: Box<dyn MediaReader>,
        origin: &str,
        extension: Option<&str>,
        magic: &[u8],
    ) -> Result<Inner> {
        compressed::CompressedDecoder::new(reader, origin, extension, magic).map(Inner::Compressed)
    }

    #[cfg(not(feature = "compressed"))]
    fn compressed(
        _reader: Box<dyn MediaReader>,
        origin: &str,
        _extension: Option<&str>,
        _magic: &[u8],
    ) -> Result<Inner> {
        Err(AudioError::Unsupported {
            origin: origin.to_owned(),
            detail: "not a WAV file (MP3, FLAC and OGG need the `compressed` feature)".into(),
        })
    }

    /// The file's sample rate in Hz (also available through [`SampleSource`]).
    pub fn sample_rate(&self) -> u32 {
        SampleSource::sample_rate(self)
    }

    /// The file name or reader label this stream reports in errors.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// Number of channels in the file (they are mixed to mono as they are read).
    pub fn channels(&self) -> usize {
        match &self.inner {
            Inner::Wav(d) => d.channels(),
            #[cfg(feature = "compressed")]
            Inner::Compressed(d) => d.channels(),
        }
    }

    /// Number of mono samples the container announces, when it does.
    pub fn len_hint(&self) -> Option<u64> {
        match &self.inner {
            Inner::Wav(d) => Some(d.frames()),
            #[cfg(feature = "compressed")]
            Inner::Compressed(d) => d.frames(),
        }
    }

    /// Reads the rest of the stream into memory; an empty result is [`AudioError::Empty`].
    pub fn read_to_end(self) -> Result<Audio> {
        let origin = self.origin.clone();
        let capacity = capacity_hint(self.len_hint());
        let audio = Audio::from_source_with_capacity(self, capacity)?;
        if audio.is_empty() {
            return Err(AudioError::Empty { origin });
        }
        Ok(audio)
    }
}

impl SampleSource for AudioStream {
    fn sample_rate(&self) -> u32 {
        match &self.inner {
            Inner::Wav(d) => d.sample_rate(),
            #[cfg(feature = "compressed")]
            Inner::Compressed(d) => d.sample_rate(),
        }
    }

    fn read(&mut self, buf: &mut [f32]) -> Result<usize> {
        let n = match &mut self.inner {
            Inner::Wav(d) => d.read(buf, &self.origin)?,
            #[cfg(feature = "compressed")]
            Inner::Compressed(d) => d.read(buf, &self.origin)?,
        };
        if let Some(i) = buf[..n].iter().position(|s| !s.is_finite()) {
            return Err(AudioError::NonFinite {
                origin: self.origin.clone(),
                index: (self.total_read + i as u64) as usize,
                value: buf[i],
            });
        }
        self.total_read += n as u64;
        Ok(n)
    }
}

/// Loads a whole file as mono audio at its own sample rate (channel mean, no resampling).
///
/// For LLark's input, follow with [`Audio::resample`], [`Audio::peak_normalise`] and
/// [`crate::fit`], or call [`crate::load_llark`].
pub fn load(path: impl AsRef<Path>) -> Result<Audio> {
    AudioStream::open(path)?.read_to_end()
}

/// Loads a whole seekable reader (WAV, or MP3/FLAC/OGG with the `compressed` feature) as mono
/// audio at its own sample rate. Errors call it `<reader>`.
pub fn load_reader<R: MediaReader + 'static>(reader: R) -> Result<Audio> {
    AudioStream::from_reader(reader, None)?.read_to_end()
}

/// Loads a file, mixed to mono and resampled to `sample_rate` Hz while decoding, as
/// `librosa.load(path, sr=sample_rate)`: only the output is held in memory.
pub fn load_resampled(path: impl AsRef<Path>, sample_rate: u32) -> Result<Audio> {
    let stream = AudioStream::open(path)?;
    let origin = stream.origin().to_owned();
    let expected = stream
        .len_hint()
        .map(|n| crate::resampled_len(n, stream.sample_rate(), sample_rate));
    let resampled = crate::Resampled::new(stream, sample_rate)?;
    let audio = Audio::from_source_with_capacity(resampled, capacity_hint(expected))?;
    if audio.is_empty() {
        return Err(AudioError::Empty { origin });
    }
    Ok(audio)
}

/// A reservation for an announced length, bounded so that a lying header cannot make us
/// allocate gigabytes up front.
fn capacity_hint(len: Option<u64>) -> usize {
    const MAX_RESERVE: u64 = 1 << 26;
    len.map_or(0, |n| n.min(MAX_RESERVE) as usize)
}

/// Mixes interleaved frames to mono by the channel mean (as `numpy.mean(axis=0)` in `f32`) into
/// the start of `out`; returns the number of frames written (limited by `out`'s length).
pub(crate) fn mix_to_mono(interleaved: &[f32], channels: usize, out: &mut [f32]) -> usize {
    let frames = (interleaved.len() / channels.max(1)).min(out.len());
    if channels == 1 {
        out[..frames].copy_from_slice(&interleaved[..frames]);
        return frames;
    }
    let scale = channels as f32;
    for (o, frame) in out.iter_mut().zip(interleaved.chunks_exact(channels)) {
        *o = frame.iter().sum::<f32>() / scale;
        if o.is_infinite() {
            // Huge finite samples overflow an f32 sum: their mean is finite in f64.
            *o = (frame.iter().map(|&s| f64::from(s)).sum::<f64>() / channels as f64) as f32;
        }
    }
    frames
}

pub(crate) fn read_up_to(reader: &mut dyn Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mono_mix_is_the_channel_mean() {
        let mut out = [0.0f32; 3];
        let n = mix_to_mono(&[1.0, 0.0, 0.5, -0.5, 0.25, 0.25], 2, &mut out);
        assert_eq!(n, 3);
        assert_eq!(out, [0.5, 0.0, 0.25]);
        let mut short = [0.0f32; 1];
        assert_eq!(mix_to_mono(&[0.1, 0.2, 0.3], 1, &mut short), 1);
        assert_eq!(short, [0.1]);
    }

    #[test]
    fn capacity_hint_is_bounded() {
        assert_eq!(capacity_hint(None), 0);
        assert_eq!(capacity_hint(Some(10)), 10);
        assert_eq!(capacity_hint(Some(u64::MAX)), 1 << 26);
    }
}
