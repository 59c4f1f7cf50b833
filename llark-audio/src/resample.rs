//! Streaming sample-rate conversion with rubato's band-limited FFT (windowed-sinc) resampler.

use rubato::audioadapter_buffers::direct::InterleavedSlice;
use rubato::{Fft, FixedSync, Indexing, Resampler, WindowFunction};

use crate::error::{AudioError, Result};
use crate::source::SampleSource;

/// The largest sample magnitude the resampler takes: beyond it the filter's sums can overflow
/// `f32` (full scale is 1.0; this is 600 dB above it).
pub const MAX_RESAMPLE_MAGNITUDE: f32 = 1e30;

/// Input frames per FFT block (rounded up to the rate pair's granularity). The anti-aliasing
/// filter is a windowed sinc of this many taps; 1024 puts its cutoff at about 0.987 of the lower
/// Nyquist frequency with a squared Blackman-Harris window.
const BLOCK_FRAMES: usize = 1024;

/// Input frames per FFT block for a rate pair: a multiple of the pair's granularity
/// `from / gcd(from, to)` near [`BLOCK_FRAMES`], taken as an even multiple so that both block
/// sizes are even. The filter delay (half a block) is then a whole number of samples on both
/// sides and can be trimmed exactly; with an odd output block the output would lag by half a
/// sample. For extreme ratios the output block is kept below [`MAX_OUTPUT_BLOCK`] frames.
fn block_frames(from: u32, to: u32) -> usize {
    let (from, to) = (from as usize, to as usize);
    let divisor = gcd(from, to);
    let (granule_in, granule_out) = (from / divisor, to / divisor);
    let blocks = BLOCK_FRAMES
        .div_ceil(granule_in)
        .min(MAX_OUTPUT_BLOCK / granule_out)
        .max(1);
    (blocks + blocks % 2) * granule_in
}

/// Upper bound on the output block, in frames (reached only for ratios far beyond audio use,
/// such as 1 Hz to 44.1 kHz).
const MAX_OUTPUT_BLOCK: usize = 1 << 20;

fn gcd(mut a: usize, mut b: usize) -> usize {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// Length of a `len`-sample signal resampled from `from` Hz to `to` Hz:
/// `ceil(len * to / from)`, as `librosa.resample` (and so `librosa.load(sr=...)`).
pub fn output_len(len: u64, from: u32, to: u32) -> u64 {
    if from == to || from == 0 {
        return len;
    }
    let num = u128::from(len) * u128::from(to);
    num.div_ceil(u128::from(from)) as u64
}

/// A [`SampleSource`] that resamples another source to a new rate as it is read.
///
/// Memory is a few FFT blocks whatever the length of the stream. The output starts aligned with
/// the input (the filter delay is removed) and has exactly [`output_len`] samples. When the
/// rates already match, samples pass through untouched.
pub struct Resampled<S> {
    source: S,
    from: u32,
    to: u32,
    engine: Option<Engine>,
}

impl<S: std::fmt::Debug> std::fmt::Debug for Resampled<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Resampled")
            .field("source", &self.source)
            .field("from", &self.from)
            .field("to", &self.to)
            .finish_non_exhaustive()
    }
}

struct Engine {
    fft: Fft<f32>,
    input: Vec<f32>,
    output: Vec<f32>,
    /// Resampled samples not yet handed out: `pending[pending_pos..]`.
    pending: Vec<f32>,
    pending_pos: usize,
    /// Leading output frames still to drop (the filter delay).
    to_trim: usize,
    /// Input samples taken from the source so far.
    consumed: u64,
    /// Output samples handed out or pending.
    produced: u64,
    source_done: bool,
}

impl<S: SampleSource> Resampled<S> {
    /// Resamples `source` to `sample_rate` Hz.
    pub fn new(source: S, sample_rate: u32) -> Result<Self> {
        let from = source.sample_rate();
        let to = sample_rate;
        for rate in [from, to] {
            if rate == 0 {
                return Err(AudioError::InvalidSampleRate {
                    rate,
                    detail: "the sample rate must be positive".into(),
                });
            }
        }
        let divisor = gcd(from as usize, to as usize);
        if (from as usize / divisor).max(to as usize / divisor) > MAX_OUTPUT_BLOCK {
            return Err(AudioError::InvalidSampleRate {
                rate: to,
                detail: format!(
                    "{from} Hz -> {to} Hz reduces to {}/{}, whose blocks are too large to resample",
                    to as usize / divisor,
                    from as usize / divisor
                ),
            });
        }
        let engine = if from == to {
            None
        } else {
            let fft = Fft::<f32>::new_custom(
                from as usize,
                to as usize,
                block_frames(from, to),
                1,
                1,
                WindowFunction::BlackmanHarris2,
                FixedSync::Both,
            )
            .map_err(|e| AudioError::Resample {
                from,
                to,
                detail: e.to_string(),
            })?;
            Some(Engine {
                input: vec![0.0; fft.input_frames_max()],
                output: vec![0.0; fft.output_frames_max()],
                pending: Vec::new(),
                pending_pos: 0,
                to_trim: fft.output_delay(),
                consumed: 0,
                produced: 0,
                source_done: false,
                fft,
            })
        };
        Ok(Self {
            source,
            from,
            to,
            engine,
        })
    }

    /// The wrapped source.
    pub fn get_ref(&self) -> &S {
        &self.source
    }

    /// Gives the wrapped source back.
    pub fn into_inner(self) -> S {
        self.source
    }
}

impl Engine {
    /// Runs one FFT block; returns false once the whole output has been produced.
    fn refill<S: SampleSource>(&mut self, source: &mut S, from: u32, to: u32) -> Result<bool> {
        let map_err = |e: rubato::ResampleError| AudioError::Resample {
            from,
            to,
            detail: e.to_string(),
        };
        loop {
            if self.source_done && self.produced >= output_len(self.consumed, from, to) {
                return Ok(false);
            }
            let want = self.fft.input_frames_next();
            let got = if self.source_done {
                0
            } else {
                source.read_full(&mut self.input[..want])?
            };
            if got < want {
                self.source_done = true;
            }
            if let Some(i) = self.input[..got]
                .iter()
                .position(|s| s.abs() > MAX_RESAMPLE_MAGNITUDE)
            {
                return Err(AudioError::Resample {
                    from,
                    to,
                    detail: format!(
                        "sample {} at index {} is beyond {MAX_RESAMPLE_MAGNITUDE:e}, too large to filter without overflow",
                        self.input[i],
                        self.consumed + i as u64
                    ),
                });
            }
            self.consumed += got as u64;
            let indexing = Indexing::new().partial_len(got);
            let input = InterleavedSlice::new(&self.input[..], 1, want).map_err(|e| {
                AudioError::Resample {
                    from,
                    to,
                    detail: e.to_string(),
                }
            })?;
            let capacity = self.output.len();
            let mut output =
                InterleavedSlice::new_mut(&mut self.output[..], 1, capacity).map_err(|e| {
                    AudioError::Resample {
                        from,
                        to,
                        detail: e.to_string(),
                    }
                })?;
            let (_, written) = self
                .fft
                .process_into_buffer(&input, &mut output, Some(&indexing))
                .map_err(map_err)?;
            let trim = self.to_trim.min(written);
            self.to_trim -= trim;
            let mut fresh = &self.output[trim..written];
            if self.source_done {
                let total = output_len(self.consumed, from, to);
                let room = total.saturating_sub(self.produced) as usize;
                fresh = &fresh[..fresh.len().min(room)];
            }
            if fresh.is_empty() {
                continue;
            }
            self.pending.clear();
            self.pending.extend_from_slice(fresh);
            self.pending_pos = 0;
            self.produced += fresh.len() as u64;
            return Ok(true);
        }
    }
}

impl<S: SampleSource> SampleSource for Resampled<S> {
    fn sample_rate(&self) -> u32 {
        self.to
    }

    fn read(&mut self, buf: &mut [f32]) -> Result<usize> {
        let Some(engine) = self.engine.as_mut() else {
            return self.source.read(buf);
        };
        if buf.is_empty() {
            return Ok(0);
        }
        if engine.pending_pos == engine.pending.len()
            && !engine.refill(&mut self.source, self.from, self.to)?
        {
            return Ok(0);
        }
        let rest = &engine.pending[engine.pending_pos..];
        let n = rest.len().min(buf.len());
        buf[..n].copy_from_slice(&rest[..n]);
        engine.pending_pos += n;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_are_even_multiples_of_the_rate_granule() {
        for (from, to) in [
            (48_000, 44_100),
            (8000, 44_100),
            (22_050, 44_100),
            (44_101, 44_100),
        ] {
            let frames = block_frames(from, to);
            let granule = (from / gcd(from as usize, to as usize) as u32) as usize;
            assert_eq!(frames % (2 * granule), 0, "{from} -> {to}");
            let out_block = frames / granule * (to as usize / gcd(from as usize, to as usize));
            assert_eq!(out_block % 2, 0, "{from} -> {to}");
            assert!(out_block <= 2 * MAX_OUTPUT_BLOCK, "{from} -> {to}");
        }
    }

    #[test]
    fn output_len_is_ceil_without_overflow() {
        assert_eq!(output_len(0, 48_000, 44_100), 0);
        assert_eq!(output_len(1, 48_000, 44_100), 1);
        assert_eq!(output_len(u64::MAX / 2, 44_100, 44_100), u64::MAX / 2);
        assert_eq!(output_len(3, 2, 3), 5);
    }
}
