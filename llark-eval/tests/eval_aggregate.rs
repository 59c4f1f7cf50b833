//! Golden tests of `llark-eval`'s aggregation: constant-prediction baselines over the real
//! GiantSteps labels (mir_eval 0.8.2, madmom 0.16.1), the results table, ids and crops.

use llark_eval::{
    accuracy_at_k, cosine_distances, crop_start_end, evaluate, genre_accuracy_at_k,
    giantsteps_track_id, majority_key_baseline, medleydb_active_instruments, medleydb_resample_f1,
    medleydb_track_id, metric, EvalConfig, EvalError, Evaluator, Reference, Task, TempoFormula,
    TextEmbedder,
};

mod common;

use common::{assert_no_failures, read_csv, read_tsv};

// ---------------------------------------------------------------------------------------
// End to end over the real GiantSteps labels
// ---------------------------------------------------------------------------------------

#[test]
fn giantsteps_constant_prediction_baselines() {
    let keys = read_tsv("giantsteps-key-labels.tsv");
    let tempi = read_tsv("giantsteps-tempo-v2-labels.tsv");
    assert_eq!((keys.len(), tempi.len()), (604, 664));
    let labels: Vec<&str> = keys.iter().map(|(_, k)| k.as_str()).collect();
    let (majority_key, majority_score) = majority_key_baseline(&labels).unwrap().unwrap();
    assert_eq!(majority_key, "F minor");
    assert_eq!(labels.iter().filter(|k| **k == "F minor").count(), 73);
    let majority_key = majority_key.as_str();

    let baselines = read_csv("giantsteps-constant-baselines.csv");
    assert_eq!(baselines.len(), 19);
    let mut failures = Vec::new();
    for b in &baselines {
        let want: f64 = b["value"].parse().unwrap();
        let (got, tolerance) = match b["task"].as_str() {
            "key" => {
                let key = if b["prediction"] == "majority" {
                    majority_key
                } else {
                    b["prediction"].as_str()
                };
                let answer = format!("The key of this song is {key}.");
                let rows = keys.iter().map(|(_, k)| {
                    (
                        Task::Key,
                        answer.as_str(),
                        Reference::parse(Task::Key, k).unwrap(),
                    )
                });
                let table = evaluate(rows, &EvalConfig::default()).unwrap();
                let row = table.get(Task::Key, metric::MIREX).unwrap();
                assert_eq!((row.n, row.unusable_answers), (604, 0));
                if b["prediction"] == "majority" {
                    assert!((majority_score - want).abs() <= 1e-12);
                }
                (row.value.unwrap(), 1e-12)
            }
            _ => {
                let formula = match b["formula"].as_str() {
                    "mir_eval" => TempoFormula::MirEval,
                    _ => TempoFormula::Madmom,
                };
                let config = EvalConfig {
                    tempo_formula: formula,
                    ..EvalConfig::default()
                };
                let answer = format!("The tempo is {} BPM.", b["prediction"]);
                let rows = tempi.iter().map(|(_, t)| {
                    (
                        Task::Tempo,
                        answer.as_str(),
                        Reference::parse(Task::Tempo, t).unwrap(),
                    )
                });
                let table = evaluate(rows, &config).unwrap();
                let row = table.get(Task::Tempo, &b["metric"]).unwrap();
                assert_eq!((row.n, row.skipped, row.unusable_answers), (661, 3, 0));
                // The spec prints these rounded to 6 decimals.
                (row.value.unwrap(), 5e-7)
            }
        };
        if (got - want).abs() > tolerance {
            failures.push(format!(
                "{} {} {} {}: want {want}, got {got}",
                b["task"], b["prediction"], b["metric"], b["formula"]
            ));
        }
    }
    assert_no_failures(
        "giantsteps-constant-baselines.csv",
        baselines.len(),
        &failures,
    );
}

// ---------------------------------------------------------------------------------------
// Aggregation API
// ---------------------------------------------------------------------------------------

/// Bag-of-letters embedder: enough to exercise the Acc@k plumbing deterministically.
struct LetterCounts;

impl TextEmbedder for LetterCounts {
    fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, EvalError> {
        Ok(texts
            .iter()
            .map(|t| {
                let mut v = vec![0f32; 26];
                for c in t.to_lowercase().bytes().filter(u8::is_ascii_lowercase) {
                    v[usize::from(c - b'a')] += 1.0;
                }
                v
            })
            .collect())
    }
}

#[test]
fn evaluator_builds_a_serialisable_table() {
    let rows = vec![
        (
            Task::Key,
            "The key is F# minor.",
            Reference::Key("Gb minor".into()),
        ),
        (
            Task::Key,
            "The key is E Minor.",
            Reference::Key("E minor".into()),
        ),
        (Task::Tempo, "About 70 BPM.", Reference::Bpm(140.0)),
        (Task::Tempo, "120 BPM", Reference::Bpm(0.0)),
        (Task::Tempo, "fast", Reference::Bpm(120.0)),
        (
            Task::GenreGtzan,
            "A jazz and blues song.",
            Reference::Genre("blues".into()),
        ),
        (
            Task::GenreGtzan,
            "Hip hop.",
            Reference::Genre("hiphop".into()),
        ),
        (
            Task::InstrumentsMedleyDb,
            "Drums and piano.",
            Reference::Instruments(vec!["drum set".into()]),
        ),
        (
            Task::InstrumentsMusicNet,
            "violin and cello",
            Reference::parse(Task::InstrumentsMusicNet, "Violin; Cello 2").unwrap(),
        ),
    ];
    let table = evaluate(rows.clone(), &EvalConfig::default()).unwrap();
    let key = table.get(Task::Key, metric::MIREX).unwrap();
    assert_eq!((key.value, key.n, key.unusable_answers), (Some(0.5), 2, 1));
    let acc1 = table.get(Task::Tempo, metric::ACC1).unwrap();
    let acc2 = table.get(Task::Tempo, metric::ACC2).unwrap();
    assert_eq!((acc1.value, acc2.value), (Some(0.0), Some(0.5)));
    assert_eq!((acc2.n, acc2.skipped, acc2.unusable_answers), (2, 1, 1));
    let genre = table.get(Task::GenreGtzan, metric::GENRE_IN_TEXT).unwrap();
    assert_eq!(genre.value, Some(0.5));
    let medley = table.get(Task::InstrumentsMedleyDb, metric::F1).unwrap();
    // drum set active (TP), 6 other drum labels + 3 piano labels mentioned (FP).
    assert_eq!(medley.value, Some(2.0 / 11.0));
    assert!(medley.ci.is_some());
    let musicnet = table.get(Task::InstrumentsMusicNet, metric::F1).unwrap();
    assert_eq!(musicnet.value, Some(1.0));

    // JSON round trip.
    let json = table.to_json_pretty().unwrap();
    let back: llark_eval::EvalTable = serde_json::from_str(&json).unwrap();
    assert_eq!(back.rows.len(), table.rows.len());
    for (b, t) in back.rows.iter().zip(&table.rows) {
        assert_eq!(
            (&b.task, &b.dataset, &b.metric, b.n, &b.note),
            (&t.task, &t.dataset, &t.metric, t.n, &t.note)
        );
        // serde_json's default float parser may be off by one ulp.
        assert!((b.value.unwrap() - t.value.unwrap()).abs() <= 1e-15);
    }
    assert!(table
        .to_markdown()
        .contains("| key | GiantSteps-Key | MIREX weighted score | 0.5000 | 2 |"));

    // With an embedder, genre Acc@1 is added next to the substring metric.
    let mut evaluator = Evaluator::new(EvalConfig::default());
    for (task, answer, reference) in rows {
        evaluator.push(task, answer, reference).unwrap();
    }
    let table = evaluator.finish_with_embedder(&LetterCounts).unwrap();
    let acc = table.get(Task::GenreGtzan, metric::ACC_AT_1).unwrap();
    assert_eq!(acc.n, 2);
    assert!(acc.ci.is_some());
}

#[test]
fn evaluator_errors_name_the_row() {
    let rows = vec![
        (Task::Key, "C major", Reference::Key("C major".into())),
        (Task::Key, "C major", Reference::Bpm(120.0)),
    ];
    match evaluate(rows, &EvalConfig::default()) {
        Err(EvalError::Row { row: 1, source }) => {
            assert!(matches!(
                *source,
                EvalError::ReferenceKind { task: "key", .. }
            ))
        }
        other => panic!("{other:?}"),
    }
    let rows = vec![(Task::Key, "C major", Reference::Key("Cb major".into()))];
    assert!(matches!(
        evaluate(rows, &EvalConfig::default()),
        Err(EvalError::Row { row: 0, .. })
    ));
    let rows = vec![(Task::GenreGtzan, "rock", Reference::Genre("polka".into()))];
    assert!(evaluate(rows, &EvalConfig::default()).is_err());
    assert!(matches!(
        Reference::parse(Task::Tempo, "fast"),
        Err(EvalError::MalformedTempoLabel { .. })
    ));
    assert!(Reference::parse(Task::Key, "C Major").is_err());
}

#[test]
fn accuracy_at_k_breaks_ties_by_lower_index() {
    let d = vec![vec![0.5, 0.5, 0.1], vec![0.2, 0.2, 0.9]];
    assert_eq!(accuracy_at_k(&d, &[2, 1], 1).unwrap(), 0.5);
    assert_eq!(accuracy_at_k(&d, &[1, 1], 2).unwrap(), 0.5);
    assert!(accuracy_at_k(&d, &[3, 0], 1).is_err());
    assert!(accuracy_at_k(&d, &[0, 0], 0).is_err());
    // A zero vector is at distance 1 from everything (sklearn convention).
    let dist = cosine_distances(&[vec![0.0, 0.0]], &[vec![1.0, 0.0], vec![-1.0, 0.0]]).unwrap();
    assert_eq!(dist, vec![vec![1.0, 1.0]]);
    let dist = cosine_distances(&[vec![2.0, 0.0]], &[vec![1.0, 0.0], vec![-1.0, 0.0]]).unwrap();
    assert_eq!(dist, vec![vec![0.0, 2.0]]);
    assert!(cosine_distances(&[vec![1.0]], &[vec![1.0, 0.0]]).is_err());
    let answers = ["abc", "xyz"];
    let acc = genre_accuracy_at_k(&LetterCounts, &answers, &["cab", "zyx"], &[0, 1], 1).unwrap();
    assert_eq!(acc, 1.0);
}

#[test]
fn task_metadata() {
    assert_eq!(Task::ALL.len(), 6);
    assert_eq!(
        Task::InstrumentsMusicNet.default_prompt(),
        "What instruments do you hear in the provided audio?"
    );
    assert!(Task::InstrumentsMusicNet.prompt_is_verified());
    assert!(!Task::Key.prompt_is_verified());
    assert_eq!(Task::GenreMedleyDb.to_string(), "genre (MedleyDB)");
}

#[test]
fn example_ids_and_crops() {
    assert_eq!(
        giantsteps_track_id("enc/1004923_LOFI-start30.000-end60.000.npy"),
        "1004923.LOFI"
    );
    assert_eq!(
        giantsteps_track_id("1007941_LOFI-start30_000-end60_000"),
        "1007941.LOFI"
    );
    // A short track's crop keeps its suffix and does not join (as in LLark).
    assert_eq!(
        giantsteps_track_id("1224698_LOFI-start0.000-end45.000.npy"),
        "1224698.LOFI-start0.000-end45.000"
    );
    assert_eq!(
        medleydb_track_id("wav-crop/MusicDelta_Rock_MIX-start30.000-end60.000.wav"),
        "MusicDelta_Rock"
    );
    assert_eq!(
        medleydb_track_id("dir/MusicDelta_Rock"),
        "dir/MusicDelta_Rock"
    );
    assert_eq!(
        crop_start_end("X_MIX-start30.000-end60.000.wav"),
        (Some(30.0), Some(60.0))
    );
    assert_eq!(crop_start_end("X_MIX-start30-end60.wav"), (None, None));
}

#[test]
fn medleydb_activations_to_active_labels() {
    let table = "time,S01,S02,S03,S04\n\
                 29.9,0.9,0.0,0.0,0.0\n\
                 30.0,0.1,0.51,0.5,\n\
                 45.0,0.2,0.0,0.4,0.0\n\
                 60.0,0.0,0.0,0.0,0.7\n\
                 60.1,0.0,0.0,0.9,0.0\n";
    let stems = [
        ("S01", "piano"),
        ("S02", "drum set"),
        ("S03", "electric bass"),
        ("S04", "drum set"),
    ];
    let active = medleydb_active_instruments(table, &stems, 30.0, 60.0).unwrap();
    // S01 and S03 peak outside the crop; 0.5 is not > 0.5; S02 and S04 share an instrument.
    assert_eq!(active, vec!["drum set", "drum set"]);
    let unnamed = medleydb_active_instruments(table, &[], 0.0, 100.0).unwrap();
    assert_eq!(unnamed, vec!["S01", "S02", "S03", "S04"]);
    match medleydb_active_instruments("time,S01\n1.0,0.2,0.3\n", &[], 0.0, 10.0) {
        Err(EvalError::MalformedActivations { line: 2, .. }) => {}
        other => panic!("{other:?}"),
    }
    assert!(medleydb_active_instruments("time,S01\n1.0,abc\n", &[], 0.0, 10.0).is_err());
    assert!(medleydb_active_instruments("", &[], 0.0, 10.0).is_err());
    assert_eq!(Task::InstrumentsMusicNet.baseline_answer(), Some("piano"));
}

#[test]
fn medleydb_resample_counts_each_drawn_track_once() {
    let per_track = [Some(1.0), Some(0.0), None];
    // LLark stores per-track F1 in a dict keyed by id: track 0 drawn twice counts once.
    assert_eq!(medleydb_resample_f1(&per_track, &[0, 0, 1]), Some(0.5));
    assert_eq!(medleydb_resample_f1(&per_track, &[0, 2, 2]), Some(1.0));
    assert_eq!(medleydb_resample_f1(&per_track, &[2, 2, 2]), None);
}
