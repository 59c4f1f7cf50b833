//! Golden tests of `llark-eval` against reference outputs (mir_eval 0.8.2, madmom 0.16.1,
//! LLark's notebook functions, scipy). Every row of every fixture is checked; failures are
//! collected and reported with the row id.

use std::collections::BTreeSet;

use llark_eval::{
    clopper_pearson, genre_in_text, genres_in_text, gtzan_genre_from_id, is_valid_giantsteps_key,
    judge_key_answer, key_score, map_key_to_giantsteps, medleydb_f1,
    medleydb_instrument_in_response, medleydb_search_string, medleydb_track_counts,
    musicnet_counts, musicnet_counts_with_vocabulary, musicnet_instrument_name,
    musicnet_vocabulary, normalise_genre_text, parse_key, parse_tempo, pipeline_key_score,
    strip_completion, tempo_accuracy, tempo_hit_factor, Acc, EvalError, InstrumentCounts,
    InstrumentF1Mode, KeyLabel, KeyLabelError, KeyLabelProblem, TempoFormula, GTZAN_GENRES,
    MEDLEYDB_INSTRUMENT_MAPPING,
};

mod common;

use common::{assert_no_failures, fixture, opt, parse_bool, read_csv};

// ---------------------------------------------------------------------------------------
// Key
// ---------------------------------------------------------------------------------------

#[test]
fn golden_key_scores_every_row() {
    let rows = read_csv("eval-golden-key.csv");
    assert_eq!(rows.len(), 52);
    let mut failures = Vec::new();
    for r in &rows {
        let (id, reference, estimate) = (&r["id"], &r["reference"], &r["estimate"]);
        // mir_eval.key.weighted_score
        let got = key_score(reference, estimate);
        match (r["mir_eval_weighted_score"].as_str(), &got) {
            ("ValueError", Err(EvalError::MalformedKey(_))) => {}
            (want, Ok(v)) if want.parse::<f64>().ok() == Some(*v) => {}
            (want, got) => failures.push(format!("{id}: mir_eval score want {want}, got {got:?}")),
        }
        // LLark pipeline on the already-parsed estimate.
        let want: f64 = r["llark_pipeline_score"].parse().unwrap();
        match pipeline_key_score(reference, Some(estimate)) {
            Ok(v) if v == want => {}
            other => failures.push(format!("{id}: pipeline score want {want}, got {other:?}")),
        }
        // Symmetry of the spelling: the enharmonic/relation rows must also agree with the
        // `KeyLabel` parse + Display round trip.
        if let Ok(k) = KeyLabel::parse_mir_eval(estimate) {
            let round = KeyLabel::parse_mir_eval(&k.to_string()).unwrap();
            if round != k {
                failures.push(format!("{id}: display round trip {k} -> {round:?}"));
            }
        }
    }
    assert_no_failures("eval-golden-key.csv", rows.len(), &failures);
}

#[test]
fn key_label_errors_name_the_problem() {
    // The label rules themselves are llark-music's (its unit tests); through the evaluation API
    // the same label error is kept whole.
    assert!(matches!(
        key_score("Cb major", "C major"),
        Err(EvalError::MalformedKey(KeyLabelError {
            problem: KeyLabelProblem::UnknownTonic(_),
            ..
        }))
    ));
}

#[test]
fn key_parsing_quirks_from_the_spec() {
    // P04: " flat" is not handled.
    assert_eq!(
        parse_key("The key of this song is A flat major.").as_deref(),
        Some("flat major")
    );
    // P06: the mode is case-sensitive.
    assert_eq!(parse_key("The key of this song is E Minor."), None);
    // P08: "a minor key".
    assert_eq!(
        parse_key("The song is in a minor key.").as_deref(),
        Some("a minor")
    );
    // P10: the sharp sign is not a word character.
    assert_eq!(parse_key("The song is in G♯ minor."), None);
    // "sharp" is replaced anywhere, even inside words.
    assert_eq!(
        parse_key("Sharpness in F sharp major").as_deref(),
        Some("F# major")
    );
    // Exactly one whitespace character between tonic and mode.
    assert_eq!(parse_key("It is in C  major."), None);
    assert_eq!(parse_key("C\nminor").as_deref(), Some("C\nminor"));
    // Python's \s includes U+001C..U+001F.
    assert_eq!(parse_key("C\u{1F}major").as_deref(), Some("C\u{1F}major"));
    // Leftmost match wins (P07), and `+` is part of the token class.
    assert_eq!(
        parse_key("D major, then B minor").as_deref(),
        Some("D major")
    );
    assert_eq!(parse_key("x+y major").as_deref(), Some("x+y major"));
    // Mapping to GiantSteps spelling only rewrites sharp tonics.
    assert_eq!(map_key_to_giantsteps("A# minor"), "Bb minor");
    assert_eq!(map_key_to_giantsteps("Cb major"), "Cb major");
    assert!(!is_valid_giantsteps_key("a minor"));
    assert!(is_valid_giantsteps_key("Gb minor"));
    // P26: a fifth *below* the reference scores 0.
    let j = judge_key_answer("D major", "The key of this song is G major.").unwrap();
    assert_eq!(j.score, 0.0);
    assert!(j.valid);
    // A malformed reference is an error even when the answer has no key.
    assert!(judge_key_answer("H major", "no key here").is_err());
}

// ---------------------------------------------------------------------------------------
// Tempo
// ---------------------------------------------------------------------------------------

#[test]
fn golden_tempo_accuracies_every_row() {
    let rows = read_csv("eval-golden-tempo.csv");
    assert_eq!(rows.len(), 48);
    let mut failures = Vec::new();
    for r in &rows {
        let id = &r["id"];
        let reference: f64 = r["reference_bpm"].parse().unwrap();
        let estimate: Option<f64> = opt(&r["estimate_bpm"]).map(|s| s.parse().unwrap());
        let checks = [
            (Acc::Acc1, TempoFormula::MirEval, "acc1"),
            (Acc::Acc2, TempoFormula::MirEval, "acc2"),
            (Acc::Acc1, TempoFormula::Madmom, "acc1_madmom"),
            (Acc::Acc2, TempoFormula::Madmom, "acc2_madmom"),
        ];
        for (acc, formula, column) in checks {
            let want = parse_bool(&r[column]);
            match tempo_accuracy(reference, estimate, acc, formula) {
                Ok(got) if got == want => {}
                other => failures.push(format!("{id}: {column} want {want}, got {other:?}")),
            }
        }
        let factor = tempo_hit_factor(reference, estimate, Acc::Acc2, TempoFormula::MirEval)
            .unwrap()
            .map(|f| f.label());
        if factor != opt(&r["acc2_factor"]) {
            failures.push(format!(
                "{id}: acc2_factor want {:?}, got {factor:?}",
                r["acc2_factor"]
            ));
        }
        let disagree = parse_bool(&r["formulas_disagree"]);
        let differs = [Acc::Acc1, Acc::Acc2].iter().any(|&acc| {
            tempo_accuracy(reference, estimate, acc, TempoFormula::MirEval).unwrap()
                != tempo_accuracy(reference, estimate, acc, TempoFormula::Madmom).unwrap()
        });
        if differs != disagree {
            failures.push(format!(
                "{id}: formulas_disagree want {disagree}, got {differs}"
            ));
        }
    }
    assert_no_failures("eval-golden-tempo.csv", rows.len(), &failures);
}

#[test]
fn tempo_parsing_and_reference_edge_cases() {
    // P14/P15: the first number wins.
    assert_eq!(
        parse_tempo("a 4/4 time signature and a tempo of 120 BPM"),
        Some(4.0)
    );
    assert_eq!(parse_tempo("around 120-125 BPM"), Some(120.0));
    // A sign is ignored; multi-dot tokens (Python float() raises) give None.
    assert_eq!(parse_tempo("-5 BPM"), Some(5.0));
    assert_eq!(parse_tempo("version 1.2.3 at 120 BPM"), None);
    assert_eq!(parse_tempo("128. BPM"), Some(128.0));
    assert_eq!(parse_tempo("no number"), None);
    // Non-ASCII digits are not numbers here.
    assert_eq!(parse_tempo("١٢٠ BPM"), None);
    // 0 and NaN estimates miss; a non-positive reference is an error.
    assert!(!tempo_accuracy(120.0, Some(f64::NAN), Acc::Acc2, TempoFormula::MirEval).unwrap());
    assert!(matches!(
        tempo_accuracy(0.0, Some(120.0), Acc::Acc1, TempoFormula::MirEval),
        Err(EvalError::InvalidReferenceTempo { .. })
    ));
    assert!(tempo_accuracy(f64::INFINITY, Some(1.0), Acc::Acc1, TempoFormula::Madmom).is_err());
}

// ---------------------------------------------------------------------------------------
// Answer-parsing cases (key, tempo, genre text)
// ---------------------------------------------------------------------------------------

#[test]
fn golden_parse_cases_every_row() {
    let rows = read_csv("parse-cases.csv");
    assert_eq!(rows.len(), 26);
    let mut failures = Vec::new();
    let mut fail = |id: &str, what: &str, want: &dyn std::fmt::Debug, got: &dyn std::fmt::Debug| {
        failures.push(format!("{id}: {what} want {want:?}, got {got:?}"));
    };
    for r in &rows {
        let (id, text) = (r["id"].as_str(), r["text"].as_str());
        // Key.
        let parsed = parse_key(text);
        if parsed.as_deref() != opt(&r["key_parse_fn"]) {
            fail(id, "key_parse_fn", &r["key_parse_fn"], &parsed);
        }
        let mapped = parsed.as_deref().map(map_key_to_giantsteps);
        if mapped.as_deref() != opt(&r["key_mapped"]) {
            fail(id, "key_mapped", &r["key_mapped"], &mapped);
        }
        let valid = mapped.as_deref().is_some_and(is_valid_giantsteps_key);
        if valid != parse_bool(&r["key_valid"]) {
            fail(id, "key_valid", &r["key_valid"], &valid);
        }
        if let Some(reference) = opt(&r["ref_key"]) {
            let want: f64 = r["key_score"].parse().unwrap();
            let got = judge_key_answer(reference, text).map(|j| j.score);
            if got != Ok(want) {
                fail(id, "key_score", &want, &got);
            }
        }
        // Tempo.
        let tempo = parse_tempo(text);
        let want_tempo: Option<f64> = opt(&r["tempo_parse_fn"]).map(|s| s.parse().unwrap());
        if tempo != want_tempo {
            fail(id, "tempo_parse_fn", &want_tempo, &tempo);
        }
        if let Some(reference) = opt(&r["ref_bpm"]) {
            let reference: f64 = reference.parse().unwrap();
            for (acc, formula, column) in [
                (Acc::Acc1, TempoFormula::MirEval, "acc1"),
                (Acc::Acc2, TempoFormula::MirEval, "acc2"),
                (Acc::Acc1, TempoFormula::Madmom, "acc1_madmom"),
                (Acc::Acc2, TempoFormula::Madmom, "acc2_madmom"),
            ] {
                let got = tempo_accuracy(reference, tempo, acc, formula).unwrap();
                if got != parse_bool(&r[column]) {
                    fail(id, column, &r[column], &got);
                }
            }
        }
        // Genre text.
        let normalised = normalise_genre_text(text);
        if normalised != r["map_fn_text"] {
            fail(id, "map_fn_text", &r["map_fn_text"], &normalised);
        }
        let found = genres_in_text(&GTZAN_GENRES, text).join(";");
        if found != r["gtzan_labels_substring"] {
            fail(
                id,
                "gtzan_labels_substring",
                &r["gtzan_labels_substring"],
                &found,
            );
        }
        if let Some(label) = opt(&r["gtzan_true_label"]) {
            let got = genre_in_text(label, text);
            if got != parse_bool(&r["true_label_in_text"]) {
                fail(id, "true_label_in_text", &r["true_label_in_text"], &got);
            }
        }
    }
    assert_no_failures("parse-cases.csv", rows.len(), &failures);
}

#[test]
fn genre_text_quirks() {
    // P25: only "Hip Hop" and "hip hop" become "hiphop".
    assert!(!genre_in_text(
        "hiphop",
        "This is a Hip hop track with a boom-bap groove."
    ));
    assert!(genre_in_text("hiphop", "HIP-hop? No: Hip-Hop."));
    // MedleyDB labels with a slash can never match (the slash became a space).
    assert!(!genre_in_text(
        "Singer/Songwriter",
        "A singer/songwriter piece."
    ));
    assert!(genre_in_text("Rock", "A classic rock song."));
    // strip_completion removes the stop text.
    assert_eq!(strip_completion("  A jazz tune.###</s> "), "A jazz tune.");
    assert_eq!(
        normalise_genre_text("jazz_fusion / r&b ###"),
        "jazz_fusion r b"
    );
    assert_eq!(
        gtzan_genre_from_id("/data/gtzan/blues.00042.wav"),
        Some("blues")
    );
    assert_eq!(gtzan_genre_from_id("rock_00001"), Some("rock"));
    assert_eq!(gtzan_genre_from_id("dir.v2/jazz"), None);
}

// ---------------------------------------------------------------------------------------
// Instruments
// ---------------------------------------------------------------------------------------

#[test]
fn medleydb_mapping_matches_llark_notebook() {
    let text = fixture("medleydb_instruments_mapping.tsv");
    let rows: Vec<(String, Option<String>)> = text
        .lines()
        .skip(1)
        .map(|l| {
            let (raw, mapped) = l.split_once('\t').unwrap();
            (
                raw.to_owned(),
                (mapped != "None").then(|| mapped.to_owned()),
            )
        })
        .collect();
    assert_eq!(rows.len(), MEDLEYDB_INSTRUMENT_MAPPING.len());
    for (i, ((raw, mapped), (want_raw, want_mapped))) in
        MEDLEYDB_INSTRUMENT_MAPPING.iter().zip(&rows).enumerate()
    {
        assert_eq!(raw, want_raw, "mapping row {i}");
        assert_eq!(
            mapped.map(str::to_owned),
            *want_mapped,
            "mapping row {i} ({raw})"
        );
    }
    // Every MedleyDB v1 stem label resolves like a dict lookup (absent → ignored).
    let stems = fixture("medleydb_v1_stem_instruments.txt");
    let mut checked = 0;
    for line in stems.lines().filter(|l| !l.trim().is_empty()) {
        let (_, label) = line.split_once('\t').unwrap();
        let label = label.trim();
        let want = rows
            .iter()
            .find(|(r, _)| r == label)
            .and_then(|(_, m)| m.as_deref());
        assert_eq!(medleydb_search_string(label), want, "stem label {label:?}");
        checked += 1;
    }
    assert_eq!(checked, 82);
}

#[test]
fn golden_instrument_f1_cases() {
    let cases: serde_json::Value =
        serde_json::from_str(&fixture("instrument-f1-cases.json")).unwrap();
    let strings = |v: &serde_json::Value| -> Vec<String> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|s| s.as_str().unwrap().to_owned())
            .collect()
    };
    // MedleyDB: per track TP/FP/FN/F1 and the mean over scored tracks.
    let tracks = cases["medleydb"]["tracks"].as_array().unwrap();
    assert_eq!(tracks.len(), 5);
    let mut failures = Vec::new();
    let mut owned = Vec::new();
    for t in tracks {
        let id = t["id"].as_str().unwrap();
        let active = strings(&t["active"]);
        let response = t["response"].as_str().unwrap().to_owned();
        let counts = medleydb_track_counts(&active, &response);
        let want = InstrumentCounts {
            tp: t["tp"].as_u64().unwrap() as usize,
            fp: t["fp"].as_u64().unwrap() as usize,
            fn_: t["fn"].as_u64().unwrap() as usize,
        };
        if counts != want {
            failures.push(format!("{id}: counts want {want:?}, got {counts:?}"));
        }
        // serde_json's default float parser may be off by one ulp: compare to 1e-15.
        let close = match (counts.f1(), t["f1"].as_f64()) {
            (Some(a), Some(b)) => (a - b).abs() <= 1e-15,
            (a, b) => a == b,
        };
        if !close {
            failures.push(format!("{id}: f1 want {}, got {:?}", t["f1"], counts.f1()));
        }
        owned.push((response, active));
    }
    assert_no_failures(
        "instrument-f1-cases.json (MedleyDB)",
        tracks.len(),
        &failures,
    );
    let mean = medleydb_f1(owned.iter().map(|(r, a)| (r.as_str(), a.as_slice())));
    let want_mean = cases["medleydb"]["mean_f1"].as_f64().unwrap();
    assert!(
        (mean.f1.unwrap() - want_mean).abs() <= 1e-15,
        "{mean:?} vs {want_mean}"
    );
    assert_eq!((mean.scored, mean.skipped), (4, 1));

    // MusicNet: the pooled F1 depends on row order in the faithful mode.
    let vocabulary: BTreeSet<String> = strings(&cases["musicnet"]["vocabulary"])
        .into_iter()
        .collect();
    for (o, order) in cases["musicnet"]["orders"]
        .as_array()
        .unwrap()
        .iter()
        .enumerate()
    {
        let rows: Vec<(String, Vec<String>)> = order["rows"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                (
                    r["response"].as_str().unwrap().to_owned(),
                    strings(&r["instruments"]),
                )
            })
            .collect();
        let borrowed: Vec<(&str, &[String])> = rows
            .iter()
            .map(|(a, l)| (a.as_str(), l.as_slice()))
            .collect();
        assert_eq!(
            musicnet_vocabulary(borrowed.iter().map(|(_, l)| *l)),
            vocabulary
        );
        for (i, r) in order["rows"].as_array().unwrap().iter().enumerate() {
            let c = musicnet_counts_with_vocabulary(
                &borrowed[..=i],
                &vocabulary,
                InstrumentF1Mode::Faithful,
            );
            let want = (
                r["tp_cum"].as_u64().unwrap(),
                r["fp_cum"].as_u64().unwrap(),
                r["fn_last"].as_u64().unwrap(),
            );
            assert_eq!(
                (c.tp as u64, c.fp as u64, c.fn_ as u64),
                want,
                "order {o}, row {i}"
            );
        }
        let f1 = musicnet_counts(&borrowed, InstrumentF1Mode::Faithful)
            .f1()
            .unwrap();
        let want = order["f1"].as_f64().unwrap();
        // serde_json's default float parser may be off by one ulp: compare to 1e-15.
        assert!(
            (f1 - want).abs() <= 1e-15,
            "order {o}: want {want}, got {f1}"
        );
        // The corrected mode lower-cases the answer: "Piano" is found, in any order.
        assert_eq!(
            musicnet_counts(&borrowed, InstrumentF1Mode::Corrected).f1(),
            Some(1.0)
        );
    }
}

#[test]
fn instrument_matching_edge_cases() {
    // The " no " filter is case-sensitive and needs the surrounding spaces.
    assert!(!medleydb_instrument_in_response(
        "drum",
        "Piano. There is no drum kit."
    ));
    assert!(medleydb_instrument_in_response("drum", "Piano. No drums."));
    // Plain substring tests.
    assert!(medleydb_instrument_in_response("harp", "A sharp attack."));
    assert!(medleydb_instrument_in_response("bass", "A bassoon solo."));
    assert!(!medleydb_instrument_in_response("vocals", "A vocal line."));
    assert!(!medleydb_instrument_in_response("synthesizer", "Synths."));
    // Unmapped and unknown labels never count; 0/0 tracks are skipped.
    let c = medleydb_track_counts(&["Main System", "male rapper"], "Nothing here.");
    assert_eq!(c, InstrumentCounts::default());
    assert_eq!(c.f1(), None);
    // "guitar" with one active guitar label: 1 TP, 4 FP.
    let c = medleydb_track_counts(&["acoustic guitar", "acoustic guitar"], "A guitar.");
    assert_eq!((c.tp, c.fp, c.fn_), (1, 4, 0));
    // MusicNet names: digits removed, stripped, lower-cased; duplicates kept (faithful).
    assert_eq!(musicnet_instrument_name("Violin 2"), "violin");
    assert_eq!(musicnet_instrument_name(" French Horn 10 "), "french horn");
    let list = vec!["violin".to_owned(), "violin".to_owned()];
    let rows = [("violin", list.as_slice())];
    assert_eq!(musicnet_counts(&rows, InstrumentF1Mode::Faithful).tp, 2);
    assert_eq!(musicnet_counts(&rows, InstrumentF1Mode::Corrected).tp, 1);
    // Corrected mode sums false negatives over rows; faithful keeps the last row's.
    let a = vec!["flute".to_owned()];
    let b = vec!["oboe".to_owned()];
    let rows = [("nothing", a.as_slice()), ("an oboe", b.as_slice())];
    assert_eq!(musicnet_counts(&rows, InstrumentF1Mode::Faithful).fn_, 0);
    assert_eq!(musicnet_counts(&rows, InstrumentF1Mode::Corrected).fn_, 1);
}

// ---------------------------------------------------------------------------------------
// Statistics
// ---------------------------------------------------------------------------------------

#[test]
fn golden_clopper_pearson_every_row() {
    let rows = read_csv("clopper-pearson.csv");
    assert_eq!(rows.len(), 72);
    let mut failures = Vec::new();
    for (i, r) in rows.iter().enumerate() {
        let acc: f64 = r["acc"].parse().unwrap();
        let n: usize = r["n"].parse().unwrap();
        let alpha: f64 = r["alpha"].parse().unwrap();
        let (lower, upper): (f64, f64) = (r["lower"].parse().unwrap(), r["upper"].parse().unwrap());
        let ci = clopper_pearson(acc, n, alpha).unwrap();
        if (ci.lower - lower).abs() > 1e-10 || (ci.upper - upper).abs() > 1e-10 {
            failures.push(format!(
                "row {} (acc {acc}, n {n}, alpha {alpha}): want [{lower}, {upper}], got [{}, {}]",
                i + 2,
                ci.lower,
                ci.upper
            ));
        }
    }
    assert_no_failures("clopper-pearson.csv", rows.len(), &failures);
}
