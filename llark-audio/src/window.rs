//! Fixed-length windows with a hop over a stream, for audio longer than one model input.

use crate::audio::Audio;
use crate::error::{AudioError, Result};
use crate::source::SampleSource;

/// One fixed-length window of a longer stream.
#[derive(Debug, Clone, PartialEq)]
pub struct Window {
    /// Position in the sequence of windows, from 0.
    pub index: usize,
    /// First sample of the window in the stream.
    pub start: u64,
    /// Exactly the window length; past the end of the stream it is zero-padded.
    pub audio: Audio,
    /// Number of real (not padded) samples at the start of [`Window::audio`].
    pub valid_len: usize,
}

impl Window {
    /// Start time of the window in seconds.
    pub fn start_seconds(&self) -> f64 {
        self.start as f64 / f64::from(self.audio.sample_rate())
    }
}

/// An iterator of fixed-length windows, `hop` samples apart, read from a [`SampleSource`].
///
/// Windows start at `0, hop, 2*hop, ...`; the sequence ends with the first window that reaches
/// the end of the stream, zero-padded to full length (a stream shorter than one window gives one
/// padded window; an empty stream gives none). When `hop > len` the samples between windows
/// are skipped.
///
/// Only the current window is held in memory (plus one sample of look-ahead), so a file of any
/// length can be windowed from a streaming decoder ([`crate::AudioStream`]), optionally
/// resampled on the way ([`crate::Resampled`]). Windows are not normalised: call
/// [`Audio::peak_normalise`] on each, as LLark normalises each clip it encodes.
#[derive(Debug)]
pub struct Windows<S> {
    source: S,
    len: usize,
    hop: usize,
    /// Samples of the stream from `buf_start` on.
    buf: Vec<f32>,
    buf_start: u64,
    next_index: usize,
    source_done: bool,
    finished: bool,
}

impl<S: SampleSource> Windows<S> {
    /// Windows of `len` samples every `hop` samples over `source`.
    pub fn new(source: S, len: usize, hop: usize) -> Result<Self> {
        if len == 0 {
            return Err(AudioError::InvalidArgument {
                name: "len",
                detail: "the window length must be positive".into(),
            });
        }
        if hop == 0 {
            return Err(AudioError::InvalidArgument {
                name: "hop",
                detail: "the hop must be positive".into(),
            });
        }
        Ok(Self {
            source,
            len,
            hop,
            buf: Vec::with_capacity(len + 1),
            buf_start: 0,
            next_index: 0,
            source_done: false,
            finished: false,
        })
    }

    /// The source being windowed.
    pub fn get_ref(&self) -> &S {
        &self.source
    }

    /// Gives the source back.
    pub fn into_inner(self) -> S {
        self.source
    }

    fn next_window(&mut self) -> Result<Option<Window>> {
        if self.finished {
            return Ok(None);
        }
        let start = self.next_index as u64 * self.hop as u64;
        // Drop what lies before `start`, skipping unread samples if the hop jumps past the buffer.
        let buffered_end = self.buf_start + self.buf.len() as u64;
        if start >= buffered_end {
            self.buf.clear();
            let gap = start - buffered_end;
            if gap > 0 && !self.source_done {
                let skipped = self.source.skip(gap)?;
                if skipped < gap {
                    self.source_done = true;
                }
            }
        } else {
            self.buf.drain(..(start - self.buf_start) as usize);
        }
        self.buf_start = start;
        // Fill to one window plus one sample of look-ahead, to know whether the stream goes on.
        let want = self.len + 1;
        while self.buf.len() < want && !self.source_done {
            let have = self.buf.len();
            self.buf.resize(want, 0.0);
            let n = self.source.read(&mut self.buf[have..])?;
            self.buf.truncate(have + n);
            if n == 0 {
                self.source_done = true;
            }
        }
        if self.buf.is_empty() {
            self.finished = true;
            return Ok(None);
        }
        let valid_len = self.buf.len().min(self.len);
        let mut samples = Vec::with_capacity(self.len);
        samples.extend_from_slice(&self.buf[..valid_len]);
        samples.resize(self.len, 0.0);
        // The stream ends inside (or right at the end of) this window: it is the last one.
        if self.buf.len() <= self.len {
            self.finished = true;
        }
        let window = Window {
            index: self.next_index,
            start,
            audio: Audio::new(samples, self.source.sample_rate())?,
            valid_len,
        };
        self.next_index += 1;
        Ok(Some(window))
    }
}

impl<S: SampleSource> Iterator for Windows<S> {
    type Item = Result<Window>;

    fn next(&mut self) -> Option<Self::Item> {
        match self.next_window() {
            Ok(Some(w)) => Some(Ok(w)),
            Ok(None) => None,
            Err(e) => {
                self.finished = true;
                Some(Err(e))
            }
        }
    }
}

/// Number of windows [`Windows`] yields for a stream of `total` samples.
pub fn window_count(total: u64, len: usize, hop: usize) -> u64 {
    if total == 0 || len == 0 || hop == 0 {
        return 0;
    }
    let (len, hop) = (len as u64, hop as u64);
    if total <= len {
        return 1;
    }
    // Windows k with k*hop < total, stopping at the first k with k*hop + len >= total.
    let reach_end = (total - len).div_ceil(hop);
    let in_range = (total - 1) / hop;
    reach_end.min(in_range) + 1
}
