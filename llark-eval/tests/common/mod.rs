//! Fixture readers shared by the golden tests.

#![allow(dead_code)] // each test file uses its own subset

use std::path::PathBuf;

pub fn fixture(name: &str) -> String {
    let path: PathBuf = [
        env!("CARGO_MANIFEST_DIR"),
        "tests",
        "fixtures",
        "eval",
        name,
    ]
    .iter()
    .collect();
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Minimal RFC 4180 reader (quoted fields with commas and doubled quotes); returns the header
/// and the records as maps from column name to value.
pub fn read_csv(name: &str) -> Vec<std::collections::HashMap<String, String>> {
    let text = fixture(name);
    let mut records: Vec<Vec<String>> = Vec::new();
    let (mut field, mut record, mut quoted) = (String::new(), Vec::new(), false);
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            ('"', true) => quoted = false,
            ('"', false) if field.is_empty() => quoted = true,
            (',', false) => record.push(std::mem::take(&mut field)),
            ('\n', false) => {
                record.push(std::mem::take(&mut field));
                records.push(std::mem::take(&mut record));
            }
            ('\r', false) => {}
            (c, _) => field.push(c),
        }
    }
    if !field.is_empty() || !record.is_empty() {
        record.push(field);
        records.push(record);
    }
    let header = records.remove(0);
    records
        .into_iter()
        .map(|r| {
            assert_eq!(r.len(), header.len(), "{name}: ragged row {r:?}");
            header.iter().cloned().zip(r).collect()
        })
        .collect()
}

pub fn opt(s: &str) -> Option<&str> {
    (!s.is_empty()).then_some(s)
}

pub fn parse_bool(s: &str) -> bool {
    match s {
        "True" => true,
        "False" => false,
        other => panic!("not a Python bool: {other:?}"),
    }
}

pub fn assert_no_failures(what: &str, checked: usize, failures: &[String]) {
    assert!(
        failures.is_empty(),
        "{what}: {} failed checks over {checked} rows:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

pub fn read_tsv(name: &str) -> Vec<(String, String)> {
    fixture(name)
        .lines()
        .skip(1)
        .map(|l| {
            let (a, b) = l.split_once('\t').unwrap();
            (a.to_owned(), b.to_owned())
        })
        .collect()
}
