//! Streams of mono samples: the [`SampleSource`] trait and an in-memory source.

use crate::audio::Audio;
use crate::error::Result;

/// A stream of mono `f32` samples at a fixed rate, read in pieces.
///
/// Decoders ([`crate::AudioStream`]), the streaming resampler ([`crate::Resampled`]) and
/// in-memory audio ([`AudioSource`]) implement it; [`crate::Windows`] consumes it. Nothing in
/// this crate reads more of a source than the caller asks for, plus at most one internal chunk.
pub trait SampleSource {
    /// Rate of the samples this source yields, in Hz.
    fn sample_rate(&self) -> u32;

    /// Reads up to `buf.len()` samples into the start of `buf` and returns how many were written.
    ///
    /// `Ok(0)` with a non-empty `buf` means the end of the stream. Like [`std::io::Read`], a call
    /// may return fewer samples than asked for before the end.
    fn read(&mut self, buf: &mut [f32]) -> Result<usize>;

    /// Fills `buf` as far as the stream allows; returns the count, short only at the end.
    fn read_full(&mut self, buf: &mut [f32]) -> Result<usize> {
        let mut filled = 0;
        while filled < buf.len() {
            let n = self.read(&mut buf[filled..])?;
            if n == 0 {
                break;
            }
            filled += n;
        }
        Ok(filled)
    }

    /// Reads and discards up to `count` samples; returns how many were skipped.
    fn skip(&mut self, count: u64) -> Result<u64> {
        let mut scratch = [0.0f32; 4096];
        let mut skipped = 0u64;
        while skipped < count {
            let want = (count - skipped).min(scratch.len() as u64) as usize;
            let n = self.read(&mut scratch[..want])?;
            if n == 0 {
                break;
            }
            skipped += n as u64;
        }
        Ok(skipped)
    }
}

impl<S: SampleSource + ?Sized> SampleSource for &mut S {
    fn sample_rate(&self) -> u32 {
        (**self).sample_rate()
    }
    fn read(&mut self, buf: &mut [f32]) -> Result<usize> {
        (**self).read(buf)
    }
}

impl<S: SampleSource + ?Sized> SampleSource for Box<S> {
    fn sample_rate(&self) -> u32 {
        (**self).sample_rate()
    }
    fn read(&mut self, buf: &mut [f32]) -> Result<usize> {
        (**self).read(buf)
    }
}

/// A [`SampleSource`] over audio already in memory (see [`Audio::source`]).
#[derive(Debug, Clone)]
pub struct AudioSource<'a> {
    samples: &'a [f32],
    sample_rate: u32,
    position: usize,
}

impl<'a> AudioSource<'a> {
    /// Streams `audio` from its first sample.
    pub fn new(audio: &'a Audio) -> Self {
        Self {
            samples: audio.samples(),
            sample_rate: audio.sample_rate(),
            position: 0,
        }
    }
}

impl SampleSource for AudioSource<'_> {
    fn sample_rate(&self) -> u32 {
        self.sample_rate
    }

    fn read(&mut self, buf: &mut [f32]) -> Result<usize> {
        let rest = &self.samples[self.position..];
        let n = rest.len().min(buf.len());
        buf[..n].copy_from_slice(&rest[..n]);
        self.position += n;
        Ok(n)
    }

    fn skip(&mut self, count: u64) -> Result<u64> {
        let rest = (self.samples.len() - self.position) as u64;
        let n = rest.min(count);
        self.position += n as usize;
        Ok(n)
    }
}
