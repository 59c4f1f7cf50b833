//! The quickstart's music: composed pieces and real compositions from the shipped corpus,
//! rendered through SoundFonts with augmentation, each with its ground truth.
//!
//! Training music is rendered with the training fonts only (TimGM6mb unless the user gives
//! others); the real-music evaluation renders the held-out compositions with the held-out font
//! (csound's GM bank), so it measures how the model does on instruments it never heard.

use std::path::{Path, PathBuf};

use llark::audio::augment::{add_noise, tilt};
use llark::audio::{write_wav, Audio, WavFormat, LLARK_SAMPLE_RATE, LLARK_WINDOW_SAMPLES};
use llark::data::instruct::ClipMetadata;
use llark::encoder::lite::LiteEncoder;
use llark::encoder::Frames;
use llark::midi::compose::{compose, ComposeConfig};
use llark::midi::{
    program_instrument, programs_of, Corpus, CorpusPiece, MidiFile, Performance, RenderOptions,
    SoundFont,
};
use llark::music::{format_bpm, join_words, pace_word, Instrument, Key};
use llark::LlarkError;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::error::{JobError, Result};

/// LLark's window in seconds (2^20 samples at 44.1 kHz, about 23.78 s).
pub fn llark_window_seconds() -> f64 {
    LLARK_WINDOW_SAMPLES as f64 / f64::from(LLARK_SAMPLE_RATE)
}

/// The shortest and longest training clip, in seconds.
pub const CLIP_SECONDS: (f64, f64) = (5.0, 30.0);

/// What a clip is, as the evaluation scores it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Truth {
    /// `"Bb major"`.
    pub key: String,
    /// Tapped BPM.
    pub tempo_bpm: f64,
    /// `"3/4"`.
    pub time_signature: String,
    /// Listener names, sorted.
    pub instruments: Vec<String>,
    /// Where the clip comes from: `"composed"` or the corpus piece's id.
    pub source: String,
    /// The SoundFont it was rendered with.
    pub soundfont: String,
    /// Length in seconds.
    pub duration: f64,
}

/// A rendered clip: its id, audio (peak-normalised), instruction metadata and truth, and its
/// encoder frames when the renderer encodes.
pub(super) struct Clip {
    pub id: String,
    pub audio: Audio,
    pub meta: ClipMetadata,
    pub truth: Truth,
    pub frames: Option<Frames>,
}

impl Clip {
    /// A clip with its instruction metadata built from the truth (and the style and dynamics
    /// words, when known).
    fn new(
        id: String,
        audio: Audio,
        truth: Truth,
        style: Option<&str>,
        dynamics: Option<&str>,
    ) -> Clip {
        let meta = metadata(&id, &truth, style, dynamics);
        Clip {
            id,
            audio,
            meta,
            truth,
            frames: None,
        }
    }
}

/// How clips are varied.
#[derive(Debug, Clone, Copy)]
pub(super) struct Variation {
    /// Clip lengths are drawn from [`CLIP_SECONDS`], a quarter of them LLark's window; `Some`:
    /// this length.
    pub fixed_seconds: Option<f64>,
    /// Augment: instrument substitution, effects on or off, detune, EQ tilt, noise.
    pub augment: bool,
}

/// How clips are made: the fonts they are rendered with (one drawn per clip), how they vary,
/// and the encoder that encodes each one where it is rendered (`None`: not encoded).
#[derive(Clone, Copy)]
pub(super) struct Renderer<'a> {
    pub fonts: &'a [SoundFont],
    pub variation: Variation,
    pub encoder: Option<&'a LiteEncoder>,
}

impl Renderer<'_> {
    /// Renders `performance` with a font drawn by `rng` into a clip; encodes it when the
    /// renderer encodes.
    fn clip(
        &self,
        id: String,
        performance: &Performance,
        truth: impl FnOnce(&SoundFont) -> Truth,
        words: (Option<&str>, Option<&str>),
        rng: &mut ChaCha8Rng,
    ) -> Result<Clip> {
        let font = &self.fonts[rng.random_range(0..self.fonts.len())];
        let audio = render(font, performance, self.variation.augment, rng)?;
        let mut clip = Clip::new(id, audio, truth(font), words.0, words.1);
        if let Some(encoder) = self.encoder {
            let frames = encoder
                .encode_frames(clip.audio.samples(), clip.audio.sample_rate())
                .map_err(LlarkError::from)?;
            clip.frames = Some(frames);
        }
        Ok(clip)
    }
}

/// The SoundFonts given, loaded.
pub(super) fn load_fonts(paths: &[PathBuf]) -> Result<Vec<SoundFont>> {
    paths
        .iter()
        .map(|p| SoundFont::load(p).map_err(|e| JobError::Midi(Box::new(e))))
        .collect()
}

fn draw_seconds(variation: Variation, rng: &mut ChaCha8Rng) -> f64 {
    match variation.fixed_seconds {
        Some(s) => s,
        None if rng.random_bool(0.25) => llark_window_seconds(),
        None => {
            let (lo, hi) = CLIP_SECONDS;
            (rng.random_range(lo..=hi) * 10.0).round() / 10.0
        }
    }
}

/// Swaps some channels' programs for others that a listener names differently within the
/// same family (a violin part played by a viola or a harp), so instrument names are learnt
/// from timbre rather than from the musical role.
fn substitute_instruments(performance: &mut Performance, rng: &mut ChaCha8Rng) {
    for slot in performance.programs.iter_mut() {
        let Some(program) = *slot else { continue };
        if !rng.random_bool(0.3) {
            continue;
        }
        let Some(instrument) = program_instrument(program) else {
            continue;
        };
        let family: Vec<u8> = Instrument::of_family(instrument.family())
            .flat_map(programs_of)
            .collect();
        if !family.is_empty() {
            *slot = Some(family[rng.random_range(0..family.len())]);
        }
    }
}

/// The instruments a listener hears in a performance, by name.
fn heard(performance: &Performance) -> Vec<String> {
    performance
        .instruments()
        .iter()
        .map(|i| i.name().to_owned())
        .collect()
}

/// The largest detune of augmented renders, cents either way (half of them are detuned): a
/// band tuned a little off A4 = 440 Hz, well short of the quarter tone that would blur the key.
const DETUNE_CENTS: f64 = 30.0;

/// Renders with `font` (when augmenting: effects on or off, detuned or not), then (when
/// augmenting) tilts the spectrum and adds noise; normalised.
fn render(
    font: &SoundFont,
    performance: &Performance,
    augment: bool,
    rng: &mut ChaCha8Rng,
) -> Result<Audio> {
    let midi = |e| JobError::Midi(Box::new(e));
    let options = RenderOptions {
        effects: !augment || rng.random_bool(0.7),
        detune_cents: if augment && rng.random_bool(0.5) {
            rng.random_range(-DETUNE_CENTS..=DETUNE_CENTS)
        } else {
            0.0
        },
        ..RenderOptions::default()
    };
    let mut audio = font.render(performance, &options).map_err(midi)?;
    if augment {
        let db = rng.random_range(-9.0..=9.0);
        audio = tilt(&audio, db).map_err(LlarkError::from)?;
        if rng.random_bool(0.3) {
            let snr = rng.random_range(20.0..=45.0);
            audio = add_noise(&audio, snr, rng.random()).map_err(LlarkError::from)?;
        }
    }
    audio.peak_normalise().map_err(LlarkError::from)?;
    Ok(audio)
}

fn metadata(id: &str, truth: &Truth, style: Option<&str>, dynamics: Option<&str>) -> ClipMetadata {
    let mut meta = ClipMetadata::new(id);
    meta.audio = Some(format!("{id}.wav"));
    meta.duration = Some(truth.duration);
    meta.tempo = Some(truth.tempo_bpm);
    meta.key = Some(truth.key.clone());
    meta.time_signature = Some(truth.time_signature.clone());
    meta.instruments = truth.instruments.clone();
    meta.genres = style.map(|s| vec![s.to_owned()]).unwrap_or_default();
    let bpm = format_bpm(truth.tempo_bpm).unwrap_or_else(|| truth.tempo_bpm.to_string());
    let mut caption = format!(
        "A {} {}piece in {} and {} time at {bpm} BPM, played on {}",
        pace_word(truth.tempo_bpm),
        style.map(|s| format!("{s} ")).unwrap_or_default(),
        truth.key,
        truth.time_signature,
        join_words(&truth.instruments),
    );
    if let Some(dynamics) = dynamics {
        caption.push_str(&format!("; {dynamics}"));
    }
    caption.push('.');
    meta.caption = Some(caption);
    meta
}

/// Clips rendered this many at a time per thread: enough to keep every core busy, few enough
/// that the audio of one batch stays small (a batch on 2 cores: 16 clips, at most 30 s each).
const CLIPS_PER_THREAD: usize = 8;

/// Makes the clips `make(0..count)` on all of rayon's threads, batch by batch, and hands them to
/// `on_clip` in index order (`None`: no clip for that index), so the result does not depend on
/// the number of threads. Stops at the first error.
fn in_index_order(
    count: usize,
    make: impl Fn(usize) -> Result<Option<Clip>> + Sync,
    mut on_clip: impl FnMut(Clip) -> Result<()>,
) -> Result<()> {
    use rayon::prelude::*;
    let batch = (CLIPS_PER_THREAD * rayon::current_num_threads()).max(1);
    for start in (0..count).step_by(batch) {
        let clips: Vec<Result<Option<Clip>>> = (start..(start + batch).min(count))
            .into_par_iter()
            .map(&make)
            .collect();
        for clip in clips {
            if let Some(clip) = clip? {
                on_clip(clip)?;
            }
        }
    }
    Ok(())
}

/// `count` composed clips from `seed`.
pub(super) fn composed(
    count: usize,
    seed: u64,
    renderer: &Renderer<'_>,
    on_clip: impl FnMut(Clip) -> Result<()>,
) -> Result<()> {
    in_index_order(
        count,
        |index| composed_clip(index, seed, renderer).map(Some),
        on_clip,
    )
}

/// Composed clip number `index` of the clips from `seed`.
fn composed_clip(index: usize, seed: u64, renderer: &Renderer<'_>) -> Result<Clip> {
    let clip_seed = seed.wrapping_mul(1_000_003).wrapping_add(index as u64);
    let mut rng = ChaCha8Rng::seed_from_u64(clip_seed ^ 0x5eed);
    let config = ComposeConfig {
        duration: draw_seconds(renderer.variation, &mut rng),
        ..ComposeConfig::default()
    };
    let piece = compose(clip_seed, &config).map_err(|e| JobError::Midi(Box::new(e)))?;
    let mut performance = piece.performance;
    if renderer.variation.augment {
        substitute_instruments(&mut performance, &mut rng);
    }
    let facts = &piece.facts;
    let truth = |font: &SoundFont| Truth {
        key: facts.key.clone(),
        tempo_bpm: facts.tempo_bpm,
        time_signature: facts.time_signature.clone(),
        instruments: heard(&performance),
        source: "composed".into(),
        soundfont: font.name().to_owned(),
        duration: config.duration,
    };
    renderer.clip(
        format!("composed-{index:05}"),
        &performance,
        truth,
        (Some(&facts.style), Some(&facts.dynamics)),
        &mut rng,
    )
}

/// `variants` clips of every piece of one split of the corpus: each transposed (-5 to +6
/// semitones), played 0.8-1.25 times as fast (to a whole BPM within 40-208), from its opening.
pub(super) fn from_corpus(
    corpus: &Corpus,
    held_out: bool,
    variants: usize,
    seed: u64,
    renderer: &Renderer<'_>,
    on_clip: impl FnMut(Clip) -> Result<()>,
) -> Result<()> {
    let midi = |e| JobError::Midi(Box::new(e));
    let pieces: Vec<&CorpusPiece> = corpus.split(held_out).collect();
    let files: Vec<MidiFile> = pieces
        .iter()
        .map(|piece| corpus.read(piece).map_err(midi))
        .collect::<Result<_>>()?;
    let variants = variants.max(1);
    let make = |job: usize| {
        let (index, variant) = (job / variants, job % variants);
        let rng = ChaCha8Rng::seed_from_u64(
            seed ^ (index as u64).wrapping_mul(7919) ^ (variant as u64) << 32,
        );
        corpus_clip(pieces[index], &files[index], variant, rng, renderer)
    };
    in_index_order(pieces.len() * variants, make, on_clip)
}

/// Variant `variant` of a corpus piece, drawn with `rng` (`None` when the piece has no key or
/// its window has no notes).
fn corpus_clip(
    piece: &CorpusPiece,
    file: &MidiFile,
    variant: usize,
    mut rng: ChaCha8Rng,
    renderer: &Renderer<'_>,
) -> Result<Option<Clip>> {
    let midi = |e| JobError::Midi(Box::new(e));
    let Some(key) = piece.parsed_key() else {
        return Ok(None);
    };
    let shift = rng.random_range(-5..=6);
    let lo = (40.0 / piece.tempo_bpm).max(0.8);
    let hi = (208.0 / piece.tempo_bpm).min(1.25);
    let factor = if lo < hi {
        rng.random_range(lo..=hi)
    } else {
        1.0
    };
    // A whole number of BPM, as the composed pieces have: answers quote it exactly.
    let tempo = (piece.tempo_bpm * factor).round().clamp(40.0, 208.0);
    let factor = tempo / piece.tempo_bpm;
    let seconds = draw_seconds(renderer.variation, &mut rng);
    let mut performance = file
        .performance
        .transposed(shift)
        .faster(factor)
        .and_then(|p| p.window(0.0, seconds))
        .map_err(midi)?;
    if performance.notes.is_empty() {
        return Ok(None);
    }
    if renderer.variation.augment {
        substitute_instruments(&mut performance, &mut rng);
    }
    let transposed = Key::new(
        (i32::from(key.tonic().index()) + shift).rem_euclid(12) as u8,
        key.mode(),
    );
    let truth = |font: &SoundFont| Truth {
        key: transposed.name(),
        tempo_bpm: tempo,
        time_signature: piece.meter.clone(),
        instruments: heard(&performance),
        source: piece.id.clone(),
        soundfont: font.name().to_owned(),
        duration: performance.duration,
    };
    renderer
        .clip(
            format!("{}-{variant}", piece.id),
            &performance,
            truth,
            (None, None),
            &mut rng,
        )
        .map(Some)
}

/// Writes a clip's audio as `dir/<id>.wav` (16-bit).
pub(super) fn write_clip(dir: &Path, clip: &Clip) -> Result<PathBuf> {
    std::fs::create_dir_all(dir).map_err(JobError::io(dir))?;
    let path = dir.join(format!("{}.wav", clip.id));
    write_wav(&path, &clip.audio, WavFormat::Pcm16).map_err(LlarkError::from)?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use llark::midi::{shipped, shipped_corpus, TRAINING_SOUNDFONT};

    /// The ids, truths and audio of `count` composed clips and one variant of each training piece
    /// of the corpus (2 s each), made on `threads` threads.
    fn clips_on(threads: usize, count: usize) -> Vec<(String, Truth, Vec<f32>)> {
        let fonts = load_fonts(&[shipped(TRAINING_SOUNDFONT)]).unwrap();
        let corpus = Corpus::open(shipped_corpus()).unwrap();
        let variation = Variation {
            fixed_seconds: Some(2.0),
            augment: true,
        };
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| {
            let mut out = Vec::new();
            let mut keep = |clip: Clip| {
                out.push((clip.id, clip.truth, clip.audio.samples().to_vec()));
                Ok(())
            };
            let renderer = Renderer {
                fonts: &fonts,
                variation,
                encoder: None,
            };
            composed(count, 3, &renderer, &mut keep).unwrap();
            from_corpus(&corpus, false, 1, 3, &renderer, &mut keep).unwrap();
            out
        })
    }

    #[test]
    fn clips_do_not_depend_on_the_number_of_threads() {
        let one = clips_on(1, 20);
        let three = clips_on(3, 20);
        assert_eq!(one.len(), 20 + 85);
        assert_eq!(one.len(), three.len());
        for (a, b) in one.iter().zip(&three) {
            assert_eq!(a.0, b.0);
            assert_eq!(a.1, b.1, "{}", a.0);
            assert!(a.2 == b.2, "{}: audio differs", a.0);
        }
        assert!(one[..20]
            .iter()
            .enumerate()
            .all(|(i, c)| c.0 == format!("composed-{i:05}")));
    }

    #[test]
    fn clips_encoded_where_they_are_rendered_carry_their_frames() {
        let fonts = load_fonts(&[shipped(TRAINING_SOUNDFONT)]).unwrap();
        let encoder = LiteEncoder::new(Default::default()).unwrap();
        let renderer = Renderer {
            fonts: &fonts,
            variation: Variation {
                fixed_seconds: Some(2.0),
                augment: false,
            },
            encoder: Some(&encoder),
        };
        let mut clips = Vec::new();
        composed(3, 5, &renderer, |clip| {
            clips.push(clip);
            Ok(())
        })
        .unwrap();
        for clip in clips {
            let expected = encoder
                .encode_frames(clip.audio.samples(), clip.audio.sample_rate())
                .unwrap();
            assert_eq!(clip.frames, Some(expected), "{}", clip.id);
        }
    }
}
