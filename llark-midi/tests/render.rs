//! The shipped SoundFonts: every General MIDI program present, notes sound at their pitch, and
//! a performance renders to the expected length.

use llark_midi::{
    shipped, Note, Performance, RenderOptions, SoundFont, CHANNELS, DRUM_CHANNEL,
    HELD_OUT_SOUNDFONT, TRAINING_SOUNDFONT,
};

fn fonts() -> Vec<SoundFont> {
    [TRAINING_SOUNDFONT, HELD_OUT_SOUNDFONT]
        .iter()
        .map(|f| SoundFont::load(shipped(f)).unwrap())
        .collect()
}

fn single_note(program: u8, key: u8, seconds: f64) -> Performance {
    let mut programs = [None; CHANNELS];
    programs[0] = Some(program);
    Performance {
        notes: vec![Note {
            channel: 0,
            key,
            velocity: 100,
            start: 0.0,
            end: seconds,
        }],
        programs,
        duration: seconds,
    }
}

/// The strongest frequency between 50 and 2000 Hz by a direct DFT scan in 1 Hz steps over
/// the steady middle of the note.
fn dominant_frequency(samples: &[f32], rate: u32) -> f64 {
    let middle = &samples[samples.len() / 4..samples.len() * 3 / 4];
    let mut best = (0.0, 0.0);
    for f in 50..2000 {
        let w = std::f64::consts::TAU * f64::from(f) / f64::from(rate);
        let (mut re, mut im) = (0.0, 0.0);
        for (i, &s) in middle.iter().enumerate() {
            re += f64::from(s) * (w * i as f64).cos();
            im += f64::from(s) * (w * i as f64).sin();
        }
        let power = re * re + im * im;
        if power > best.1 {
            best = (f64::from(f), power);
        }
    }
    best.0
}

#[test]
fn both_shipped_fonts_have_every_general_midi_program() {
    for font in fonts() {
        let missing: Vec<u8> = (0..=127).filter(|&p| !font.has_program(p)).collect();
        assert!(missing.is_empty(), "{} lacks {missing:?}", font.name());
    }
}

#[test]
fn notes_sound_at_their_pitch_on_both_fonts() {
    let options = RenderOptions {
        sample_rate: 16_000,
        effects: false,
        ..RenderOptions::default()
    };
    // A4 (440 Hz) on flute, violin and organ: the fundamental dominates.
    for font in fonts() {
        for program in [73u8, 40, 19] {
            let audio = font
                .render(&single_note(program, 69, 0.6), &options)
                .unwrap();
            assert_eq!(audio.len(), 9600);
            let peak = audio.samples().iter().fold(0.0f32, |m, s| m.max(s.abs()));
            assert!(peak > 1e-3, "{} program {program} is silent", font.name());
            let f = dominant_frequency(audio.samples(), 16_000);
            // The strongest partial is a harmonic of 440 Hz (organ stops favour upper ones).
            let harmonic = (f / 440.0).round();
            assert!(
                (1.0..=4.0).contains(&harmonic) && (f - 440.0 * harmonic).abs() <= 6.0 * harmonic,
                "{} program {program}: {f} Hz",
                font.name()
            );
        }
    }
}

#[test]
fn drums_sound_and_the_tail_rings_out() {
    let font = &fonts()[0];
    let mut performance = single_note(0, 60, 0.5);
    performance.notes.push(Note {
        channel: DRUM_CHANNEL,
        key: 38,
        velocity: 120,
        start: 0.0,
        end: 0.1,
    });
    let options = RenderOptions {
        sample_rate: 22_050,
        effects: true,
        tail_seconds: 0.5,
        ..RenderOptions::default()
    };
    let audio = font.render(&performance, &options).unwrap();
    assert_eq!(audio.len(), 22_050);
    let tail = &audio.samples()[11_025 + 1000..];
    assert!(tail.iter().any(|s| s.abs() > 1e-5), "the release is cut");
    // The same input renders bit-identically.
    assert_eq!(audio, font.render(&performance, &options).unwrap());
}

#[test]
fn detuned_renders_sound_off_concert_pitch() {
    let font = &fonts()[0];
    let performance = single_note(73, 69, 0.6);
    let at = |cents: f64| {
        let options = RenderOptions {
            sample_rate: 16_000,
            effects: false,
            detune_cents: cents,
            ..RenderOptions::default()
        };
        dominant_frequency(
            font.render(&performance, &options).unwrap().samples(),
            16_000,
        )
    };
    // A flute's A4 a semitone up is Bb4 (466.2 Hz), a semitone down G#4 (415.3 Hz); 50 cents
    // up, 452.9 Hz.
    for (cents, hz) in [(100.0, 466.2), (-100.0, 415.3), (50.0, 452.9), (0.0, 440.0)] {
        let f = at(cents);
        assert!((f - hz).abs() <= 2.0, "{cents} cents: {f} Hz, not {hz}");
    }
    for bad in [f64::NAN, 150.0, -101.0] {
        let options = RenderOptions {
            detune_cents: bad,
            ..RenderOptions::default()
        };
        let error = font.render(&performance, &options).unwrap_err().to_string();
        assert!(error.contains("detune_cents"), "{error}");
    }
}
