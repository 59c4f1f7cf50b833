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

/// A [`SampleSource`] limited to `[start, start + duration)` seconds of another source
/// (rounded to the nearest sample), read without holding what is skipped.
#[derive(Debug)]
pub struct Cropped<S> {
    source: S,
    to_skip: u64,
    /// Samples still to hand out; `None` means up to the end.
    remaining: Option<u64>,
}

impl<S: SampleSource> Cropped<S> {
    /// Crops `source`; `duration_seconds = None` means to the end. The start must be finite and
    /// non-negative, the duration finite and positive.
    pub fn new(source: S, start_seconds: f64, duration_seconds: Option<f64>) -> Result<Self> {
        let (start, len) =
            crate::audio::crop_range(start_seconds, duration_seconds, source.sample_rate())?;
        Ok(Self {
            source,
            to_skip: start,
            remaining: len,
        })
    }

    /// Skips to the start of the crop now (it happens on the first read otherwise); returns
    /// false when the source ends before the start.
    pub fn seek_to_start(&mut self) -> Result<bool> {
        if self.to_skip > 0 {
            let skipped = self.source.skip(self.to_skip)?;
            let reached = skipped == self.to_skip;
            self.to_skip = 0;
            if !reached {
                self.remaining = Some(0);
            }
            return Ok(reached);
        }
        Ok(true)
    }

    /// Gives the source back.
    pub fn into_inner(self) -> S {
        self.source
    }
}

impl<S: SampleSource> SampleSource for Cropped<S> {
    fn sample_rate(&self) -> u32 {
        self.source.sample_rate()
    }

    fn read(&mut self, buf: &mut [f32]) -> Result<usize> {
        self.seek_to_start()?;
        let want = match self.remaining {
            Some(left) => (left.min(buf.len() as u64)) as usize,
            None => buf.len(),
        };
        if want == 0 {
            return Ok(0);
        }
        let n = self.source.read(&mut buf[..want])?;
        if let Some(left) = &mut self.remaining {
            *left -= n as u64;
        }
        Ok(n)
    }
}
