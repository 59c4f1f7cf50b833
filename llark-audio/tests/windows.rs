//! LLark's fixed window (`fit`), peak normalisation, `load_llark`, and streaming windows over
//! long audio (a 20-minute stream is windowed without reading more than it must).

mod common;

use std::io::{Read, Seek, SeekFrom};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use common::{fixture, load_fixture, snr_db};
use llark_audio::{
    fit, load_llark, window_count, Audio, AudioStream, Cropped, Resampled, SampleSource, Windows,
    LLARK_SAMPLE_RATE, LLARK_WINDOW_SAMPLES,
};

#[test]
fn fit_cuts_a_25_second_clip_and_keeps_its_length() {
    let n = 1_102_500; // 25 s at 44.1 kHz: LLark keeps the first 23.777 s
    let audio = Audio::new((0..n).map(|i| (i % 1000) as f32 / 1000.0).collect(), 44_100).unwrap();
    let fitted = fit(audio.clone(), LLARK_WINDOW_SAMPLES);
    assert_eq!(fitted.audio.len(), 1_048_576);
    assert_eq!(fitted.input_len, n);
    assert_eq!(fitted.valid_len(), 1_048_576);
    assert_eq!(fitted.audio.samples(), &audio.samples()[..1_048_576]);
}

#[test]
fn fit_pads_short_audio_with_zeros_at_the_end() {
    let audio = Audio::new(vec![0.5; 1000], 44_100).unwrap();
    let fitted = audio.fit(4096);
    assert_eq!(fitted.input_len, 1000);
    assert_eq!(fitted.valid_len(), 1000);
    assert!(fitted.audio.samples()[..1000].iter().all(|&s| s == 0.5));
    assert!(fitted.audio.samples()[1000..].iter().all(|&s| s == 0.0));
}

#[test]
fn peak_normalise_divides_by_the_absolute_peak_only_when_positive() {
    let mut audio = Audio::new(vec![0.1, -0.4, 0.2], 8000).unwrap();
    assert_eq!(audio.peak_normalise().unwrap(), 0.4);
    assert_eq!(audio.samples(), &[0.1 / 0.4, -1.0, 0.2 / 0.4]);
    let mut silence = Audio::new(vec![0.0; 5], 8000).unwrap();
    assert_eq!(silence.peak_normalise().unwrap(), 0.0);
    assert!(silence.samples().iter().all(|&s| s == 0.0));
}

/// `load_llark` = librosa.load(sr=44100) + peak normalisation + fit, checked against librosa.
#[test]
fn load_llark_matches_librosa_then_llark_normalisation() {
    let fitted = load_llark(fixture("music_48000.wav")).unwrap();
    let reference = load_fixture("music_48000_to_44100_soxr_hq.wav");
    assert_eq!(fitted.audio.sample_rate(), LLARK_SAMPLE_RATE);
    assert_eq!(fitted.audio.len(), LLARK_WINDOW_SAMPLES);
    assert_eq!(fitted.input_len, reference.len());
    let peak = reference
        .samples()
        .iter()
        .fold(0.0f32, |m, s| m.max(s.abs()));
    let expected: Vec<f32> = reference.samples().iter().map(|s| s / peak).collect();
    let snr = snr_db(&expected, fitted.audio.samples(), 0..expected.len());
    assert!(snr >= 60.0, "SNR {snr:.1} dB");
    let max = fitted
        .audio
        .samples()
        .iter()
        .fold(0.0f32, |m, s| m.max(s.abs()));
    assert_eq!(max, 1.0);
    assert!(fitted.audio.samples()[fitted.input_len..]
        .iter()
        .all(|&s| s == 0.0));
}

#[test]
fn crop_selects_whole_samples_in_seconds() {
    let audio = Audio::new((0..1000).map(|i| i as f32).collect(), 100).unwrap();
    let cropped = audio.crop(1.5, Some(2.0)).unwrap();
    assert_eq!(cropped.samples().first(), Some(&150.0));
    assert_eq!(cropped.len(), 200);
    assert_eq!(audio.crop(9.0, None).unwrap().len(), 100);
    assert!(audio.crop(20.0, Some(1.0)).unwrap().is_empty());
    assert!(audio.crop(-1.0, None).is_err());
    assert!(audio.crop(0.0, Some(0.0)).is_err());
}

#[test]
fn cropped_stream_equals_in_memory_crop() {
    let audio = Audio::new((0..1000).map(|i| i as f32).collect(), 100).unwrap();
    for (start, duration) in [
        (1.5, Some(2.0)),
        (0.0, None),
        (9.5, Some(3.0)),
        (0.004, Some(0.01)),
    ] {
        let streamed =
            Audio::from_source(Cropped::new(audio.source(), start, duration).unwrap()).unwrap();
        assert_eq!(
            streamed,
            audio.crop(start, duration).unwrap(),
            "{start} {duration:?}"
        );
    }
    let mut past_end = Cropped::new(audio.source(), 11.0, None).unwrap();
    assert!(!past_end.seek_to_start().unwrap());
    assert_eq!(past_end.read(&mut [0.0; 4]).unwrap(), 0);
    assert!(Cropped::new(audio.source(), f64::NAN, None).is_err());
}

/// A generated stream of `total` samples whose value encodes its index; counts samples read.
struct CountingSource {
    total: u64,
    position: u64,
    read: Arc<AtomicU64>,
}

/// A counting source of `total` samples, with a counter of its own.
fn counting(total: u64) -> CountingSource {
    CountingSource {
        total,
        position: 0,
        read: Default::default(),
    }
}

fn value_at(i: u64) -> f32 {
    (i % 65_521) as f32 / 65_521.0
}

impl SampleSource for CountingSource {
    fn sample_rate(&self) -> u32 {
        LLARK_SAMPLE_RATE
    }
    fn read(&mut self, buf: &mut [f32]) -> llark_audio::Result<usize> {
        let n = (self.total - self.position).min(buf.len() as u64) as usize;
        for (k, s) in buf[..n].iter_mut().enumerate() {
            *s = value_at(self.position + k as u64);
        }
        self.position += n as u64;
        self.read.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

#[test]
fn window_layout_for_all_hops() {
    for (total, len, hop) in [
        (10u64, 4usize, 2usize),
        (10, 4, 3),
        (10, 3, 5),
        (8, 3, 5),
        (4, 4, 1),
        (3, 4, 4),
        (0, 4, 4),
        (9, 4, 4),
    ] {
        let source = counting(total);
        let windows: Vec<_> = Windows::new(source, len, hop)
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!(
            windows.len() as u64,
            window_count(total, len, hop),
            "{total}/{len}/{hop}"
        );
        for (k, w) in windows.iter().enumerate() {
            assert_eq!(w.index, k);
            assert_eq!(w.start, (k * hop) as u64);
            assert_eq!(w.audio.len(), len);
            let valid = (total - w.start).min(len as u64) as usize;
            assert_eq!(w.valid_len, valid);
            for (j, &s) in w.audio.samples().iter().enumerate() {
                let expected = if j < valid {
                    value_at(w.start + j as u64)
                } else {
                    0.0
                };
                assert_eq!(s, expected);
            }
        }
        if let Some(last) = windows.last() {
            assert!(last.start + len as u64 >= total || last.start + hop as u64 >= total);
        }
    }
    assert!(Windows::new(counting(1), 0, 1).is_err());
    assert!(Windows::new(counting(1), 1, 0).is_err());
}

/// 20 minutes at 44.1 kHz (52.9 M samples) in LLark windows with a half-window hop: each window
/// reads only the hop it advances (plus one sample of look-ahead), and the whole stream is read
/// exactly once.
#[test]
fn twenty_minutes_are_windowed_without_reading_ahead() {
    let total = 20 * 60 * u64::from(LLARK_SAMPLE_RATE);
    let (len, hop) = (LLARK_WINDOW_SAMPLES, LLARK_WINDOW_SAMPLES / 2);
    let read = Arc::new(AtomicU64::new(0));
    let source = CountingSource {
        total,
        position: 0,
        read: read.clone(),
    };
    let mut windows = Windows::new(source, len, hop).unwrap();
    for k in 0..3u64 {
        let w = windows.next().unwrap().unwrap();
        assert_eq!(w.start, k * hop as u64);
        assert_eq!(
            read.load(Ordering::Relaxed),
            k * hop as u64 + len as u64 + 1,
            "window {k}"
        );
    }
    let mut count = 3;
    let mut last = None;
    for w in windows {
        count += 1;
        last = Some(w.unwrap());
    }
    assert_eq!(count, window_count(total, len, hop));
    assert_eq!(read.load(Ordering::Relaxed), total);
    let last = last.unwrap();
    assert_eq!(last.valid_len as u64, total - last.start);
    assert!(last.audio.samples()[last.valid_len..]
        .iter()
        .all(|&s| s == 0.0));
    assert!((last.start_seconds() - last.start as f64 / 44_100.0).abs() < 1e-12);
}

/// A 20-minute, 16-bit mono WAV file generated on the fly; counts the bytes the decoder reads.
struct GeneratedWav {
    frames: u64,
    rate: u32,
    position: u64,
    bytes_read: Arc<AtomicU64>,
}

impl GeneratedWav {
    fn header(&self) -> Vec<u8> {
        let data = (self.frames * 2) as u32;
        let mut h = Vec::with_capacity(44);
        h.extend_from_slice(b"RIFF");
        h.extend_from_slice(&(36 + data).to_le_bytes());
        h.extend_from_slice(b"WAVEfmt ");
        h.extend_from_slice(&16u32.to_le_bytes());
        h.extend_from_slice(&1u16.to_le_bytes());
        h.extend_from_slice(&1u16.to_le_bytes());
        h.extend_from_slice(&self.rate.to_le_bytes());
        h.extend_from_slice(&(self.rate * 2).to_le_bytes());
        h.extend_from_slice(&2u16.to_le_bytes());
        h.extend_from_slice(&16u16.to_le_bytes());
        h.extend_from_slice(b"data");
        h.extend_from_slice(&data.to_le_bytes());
        h
    }

    fn byte_at(&self, pos: u64, header: &[u8]) -> u8 {
        if pos < 44 {
            return header[pos as usize];
        }
        let frame = (pos - 44) / 2;
        let sample = ((frame % 1000) as i16 - 500) * 40;
        sample.to_le_bytes()[((pos - 44) % 2) as usize]
    }

    fn len(&self) -> u64 {
        44 + self.frames * 2
    }
}

impl Read for GeneratedWav {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let header = self.header();
        let n = (self.len() - self.position).min(buf.len() as u64) as usize;
        for (k, b) in buf[..n].iter_mut().enumerate() {
            *b = self.byte_at(self.position + k as u64, &header);
        }
        self.position += n as u64;
        self.bytes_read.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

impl Seek for GeneratedWav {
    fn seek(&mut self, pos: SeekFrom) -> std::io::Result<u64> {
        self.position = match pos {
            SeekFrom::Start(p) => p,
            SeekFrom::End(d) => (self.len() as i64 + d) as u64,
            SeekFrom::Current(d) => (self.position as i64 + d) as u64,
        };
        Ok(self.position)
    }
}

/// Through the real decoder and the streaming resampler: the first windows of a 20-minute file
/// (105 MB as 16-bit WAV) cost only their own bytes, plus small fixed read-ahead buffers.
#[test]
fn twenty_minute_file_is_decoded_and_resampled_only_as_far_as_windows_need() {
    let rate = 48_000;
    let bytes_read = Arc::new(AtomicU64::new(0));
    let wav = GeneratedWav {
        frames: 20 * 60 * rate as u64,
        rate,
        position: 0,
        bytes_read: bytes_read.clone(),
    };
    let stream = AudioStream::from_reader(wav, Some("twenty-minutes.wav")).unwrap();
    assert_eq!(stream.len_hint(), Some(20 * 60 * 48_000));
    let resampled = Resampled::new(stream, LLARK_SAMPLE_RATE).unwrap();
    let (len, hop) = (LLARK_WINDOW_SAMPLES, LLARK_WINDOW_SAMPLES);
    let mut windows = Windows::new(resampled, len, hop).unwrap();
    for k in 0..2u64 {
        let w = windows.next().unwrap().unwrap();
        assert_eq!(w.valid_len, len);
        // Output samples needed so far, in input samples at 48 kHz, as 16-bit bytes.
        let needed_out = k * hop as u64 + len as u64 + 1;
        let needed_in = needed_out * 48_000 / 44_100 + 1;
        let needed_bytes = 44 + 2 * needed_in;
        // Slack: the filter's half-block delay and one block in flight (a few thousand
        // samples), plus the 8 KiB buffered reader.
        let slack = 2 * 3 * 2048 + 8192;
        let got = bytes_read.load(Ordering::Relaxed);
        assert!(
            got >= needed_bytes - 2 * 4096,
            "window {k}: read {got} bytes"
        );
        assert!(
            got <= needed_bytes + slack,
            "window {k}: read {got} bytes, needed {needed_bytes}"
        );
    }
}
