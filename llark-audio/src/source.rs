//! Streams of mono samples: the [`SampleSource`] trait and cropping a stream ([`Cropped`]).

use crate::error::{AudioError, Result};

/// A stream of mono `f32` samples at a fixed rate, read in pieces.
///
/// Decoders ([`crate::AudioStream`]), the streaming resampler ([`crate::Resampled`]) and
/// in-memory audio ([`crate::AudioSource`]) implement it; [`crate::Windows`] consumes it. Nothing in
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
        let (start, len) = crop_range(start_seconds, duration_seconds, source.sample_rate())?;
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

/// Start and length in samples of `[start, start + duration)` seconds at `sample_rate`.
pub(crate) fn crop_range(
    start_seconds: f64,
    duration_seconds: Option<f64>,
    sample_rate: u32,
) -> Result<(u64, Option<u64>)> {
    if !(start_seconds.is_finite() && start_seconds >= 0.0) {
        return Err(AudioError::InvalidArgument {
            name: "start",
            detail: format!("must be a finite number of seconds >= 0, got {start_seconds}"),
        });
    }
    if let Some(d) = duration_seconds {
        if !(d.is_finite() && d > 0.0) {
            return Err(AudioError::InvalidArgument {
                name: "duration",
                detail: format!("must be a finite number of seconds > 0, got {d}"),
            });
        }
    }
    let rate = f64::from(sample_rate);
    let start = (start_seconds * rate).round() as u64;
    let len = duration_seconds.map(|d| (d * rate).round() as u64);
    Ok((start, len))
}
