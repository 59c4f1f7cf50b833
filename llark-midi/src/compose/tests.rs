use super::*;

fn pieces() -> Vec<Composition> {
    (0..40)
        .map(|seed| {
            let config = ComposeConfig {
                duration: [6.0, 12.0, 24.0, 30.0][seed as usize % 4],
                ..ComposeConfig::default()
            };
            compose(seed, &config).unwrap()
        })
        .collect()
}

#[test]
fn the_same_seed_composes_the_same_piece() {
    let config = ComposeConfig::default();
    assert_eq!(compose(3, &config).unwrap(), compose(3, &config).unwrap());
    assert_ne!(compose(3, &config).unwrap(), compose(4, &config).unwrap());
}

#[test]
fn the_music_is_in_its_key() {
    for piece in pieces() {
        let key = Key::from_name(&piece.facts.key).unwrap();
        let tonic = i32::from(key.tonic().index());
        let scale: &[i32] = if key.mode() == Mode::Minor {
            // Natural minor with the raised seventh of its dominant.
            &[0, 2, 3, 5, 7, 8, 10, 11]
        } else {
            &[0, 2, 4, 5, 7, 9, 11]
        };
        let (mut inside, mut all) = (0.0, 0.0);
        for n in piece
            .performance
            .notes
            .iter()
            .filter(|n| n.channel != DRUM_CHANNEL)
        {
            let length = n.end - n.start;
            all += length;
            if scale.contains(&(i32::from(n.key) - tonic).rem_euclid(12)) {
                inside += length;
            }
        }
        // The middle section's related key adds one note outside the home scale.
        assert!(
            inside / all > 0.85,
            "{}: {:.2} in key",
            piece.facts.caption,
            inside / all
        );
        assert_eq!(
            piece
                .facts
                .chords
                .last()
                .unwrap()
                .chord
                .split(':')
                .next()
                .unwrap(),
            key.tonic_name()
        );
    }
}

#[test]
fn facts_match_the_notes() {
    let mut metres = std::collections::BTreeSet::new();
    let mut styles = std::collections::BTreeSet::new();
    for piece in pieces() {
        let facts = &piece.facts;
        piece.performance.validate().unwrap();
        assert!(
            (40.0..=208.0).contains(&facts.tempo_bpm),
            "{}",
            facts.tempo_bpm
        );
        metres.insert(facts.time_signature.clone());
        styles.insert(facts.style.clone());
        let expected_quarter = if facts.time_signature == "6/8" {
            facts.tempo_bpm * 1.5
        } else {
            facts.tempo_bpm
        };
        assert_eq!(piece.quarter_bpm, expected_quarter);
        // Every instrument named has a channel that plays, and every channel is named.
        let mut heard: Vec<llark_music::Instrument> = piece
            .performance
            .active_channels()
            .into_iter()
            .map(|c| match piece.performance.programs[usize::from(c)] {
                Some(p) => crate::gm::program_instrument(p).unwrap(),
                None => llark_music::Instrument::Drums,
            })
            .collect();
        heard.sort();
        heard.dedup();
        assert_eq!(heard, facts.instruments, "{}", facts.caption);
        // The beats are evenly spaced at the tempo.
        let beat = 60.0 / facts.tempo_bpm;
        assert!((facts.beats[1].time - beat).abs() < 1e-3);
        // The final chord rings to the end (the fermata), and the chords tile the piece.
        let end = piece
            .performance
            .notes
            .iter()
            .map(|n| n.end)
            .fold(0.0, f64::max);
        assert!(
            end > facts.duration - 0.1,
            "ends at {end} of {}",
            facts.duration
        );
        for pair in facts.chords.windows(2) {
            assert!((pair[0].end_time - pair[1].start_time).abs() < 2e-3);
        }
    }
    assert_eq!(metres.len(), 4, "{metres:?}");
    assert!(styles.len() >= 8, "{styles:?}");
}

#[test]
fn fixed_choices_are_kept_and_bad_ones_refused() {
    let key = Key::new(3, Mode::Minor);
    let config = ComposeConfig {
        key: Some(key),
        metre: Some((6, 8)),
        tempo_range: (90.0, 90.0),
        ..ComposeConfig::default()
    };
    let piece = compose(1, &config).unwrap();
    assert_eq!(piece.facts.key, key.name());
    assert_eq!(piece.facts.time_signature, "6/8");
    assert_eq!(piece.facts.tempo_bpm, 90.0);
    for bad in [
        ComposeConfig {
            duration: 0.5,
            ..ComposeConfig::default()
        },
        ComposeConfig {
            tempo_range: (30.0, 100.0),
            ..ComposeConfig::default()
        },
        ComposeConfig {
            tempo_range: (120.0, 100.0),
            ..ComposeConfig::default()
        },
        ComposeConfig {
            metre: Some((5, 4)),
            ..ComposeConfig::default()
        },
    ] {
        assert!(compose(0, &bad).is_err(), "{bad:?}");
    }
}
