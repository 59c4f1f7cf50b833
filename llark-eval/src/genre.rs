//! Genre classification (GTZAN, MedleyDB): text normalisation, the substring metric
//! ("true genre text in LLark output"), and cosine-distance Acc@k with a pluggable embedder.

use std::sync::LazyLock;

use regex::Regex;

use crate::error::EvalError;
use crate::pytext::{py_strip, PY_WORD_CLASS_BODY};

/// The ten GTZAN genre labels, as parsed from GTZAN file names.
pub const GTZAN_GENRES: [&str; 10] = [
    "blues",
    "classical",
    "country",
    "disco",
    "hiphop",
    "jazz",
    "metal",
    "pop",
    "reggae",
    "rock",
];

/// Python's `\W+` (runs of non-word characters).
static NON_WORD_RUNS: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(&format!("[^{PY_WORD_CLASS_BODY}]+")).expect("static non-word regex compiles")
});

/// Removes the stop text a decoded completion can carry: `</s>` and `###` are deleted, then
/// surrounding whitespace is stripped. Reconstruction of LLark's unreleased
/// `strip_completion` (eval.md §2.3, \[RECON\]).
pub fn strip_completion(text: &str) -> String {
    py_strip(&text.replace("</s>", "").replace("###", "")).to_owned()
}

/// LLark's `_map_fn` (genre notebooks): [`strip_completion`], every run of non-word
/// characters becomes one space ("Hip-Hop" → "Hip Hop", "singer/songwriter" → "singer
/// songwriter"), then only the exact casings `"Hip Hop"` and `"hip hop"` become `"hiphop"`
/// ("Hip hop" is not mapped), then surrounding whitespace is stripped.
pub fn normalise_genre_text(text: &str) -> String {
    let stripped = strip_completion(text);
    let spaced = NON_WORD_RUNS.replace_all(&stripped, " ");
    let mapped = spaced
        .replace("Hip Hop", "hiphop")
        .replace("hip hop", "hiphop");
    py_strip(&mapped).to_owned()
}

/// The text the substring metric searches: `_map_fn(text).replace('-', '').lower()`.
fn searchable_text(text: &str) -> String {
    normalise_genre_text(text).replace('-', "").to_lowercase()
}

/// LLark's "true genre text in output" test: `label.lower()` is a substring of
/// `_map_fn(answer).replace('-', '').lower()`.
///
/// Plain substring containment: "country pop" contains both `country` and `pop`. Because
/// `_map_fn` has turned `/` into a space, MedleyDB's `Singer/Songwriter`, `World/Folk` and
/// `Electronic/Fusion` can never match (a quirk of the reference, kept).
pub fn genre_in_text(label: &str, answer: &str) -> bool {
    searchable_text(answer).contains(&label.to_lowercase())
}

/// Every label of `labels` found in `answer` by [`genre_in_text`], in the order of `labels`.
pub fn genres_in_text<'a>(labels: &[&'a str], answer: &str) -> Vec<&'a str> {
    let text = searchable_text(answer);
    labels
        .iter()
        .copied()
        .filter(|l| text.contains(&l.to_lowercase()))
        .collect()
}

/// GTZAN genre from an example id, as `parse_gtzan_genre_from_id`: take the base name; if it
/// contains `.`, the part before the first `.`, else if it contains `_`, the part before the
/// first `_`, else `None`. `blues.00042.wav` → `blues`.
pub fn gtzan_genre_from_id(example_id: &str) -> Option<&str> {
    let base = example_id.rsplit('/').next().unwrap_or(example_id);
    ['.', '_']
        .iter()
        .find_map(|sep| base.split_once(*sep).map(|(head, _)| head))
}

/// Cosine distances between every row of `a` and every row of `b`, like
/// `sklearn.metrics.pairwise.cosine_distances`: rows are L2-normalised (an all-zero row stays
/// zero), distance = 1 − dot product, clipped to [0, 2].
pub fn cosine_distances(a: &[Vec<f32>], b: &[Vec<f32>]) -> Result<Vec<Vec<f64>>, EvalError> {
    let dim = a.first().or(b.first()).map_or(0, Vec::len);
    if let Some(bad) = a.iter().chain(b).find(|r| r.len() != dim) {
        return Err(EvalError::Shape(format!(
            "embedding of length {} where {dim} was expected",
            bad.len()
        )));
    }
    let normalise = |rows: &[Vec<f32>]| -> Vec<Vec<f64>> {
        rows.iter()
            .map(|r| {
                let v: Vec<f64> = r.iter().map(|&x| f64::from(x)).collect();
                let norm = v.iter().map(|x| x * x).sum::<f64>().sqrt();
                if norm == 0.0 {
                    v
                } else {
                    v.iter().map(|x| x / norm).collect()
                }
            })
            .collect()
    };
    let (na, nb) = (normalise(a), normalise(b));
    Ok(na
        .iter()
        .map(|x| {
            nb.iter()
                .map(|y| {
                    let dot: f64 = x.iter().zip(y).map(|(p, q)| p * q).sum();
                    (1.0 - dot).clamp(0.0, 2.0)
                })
                .collect()
        })
        .collect())
}

/// Acc@k over a distance matrix (rows: answers, columns: genre labels): the fraction of rows
/// whose true label index is among the `k` smallest distances, ties broken by the lower
/// column index (stable argsort). Acc@1 is "nearest label embedding is the true one".
/// Reconstruction of LLark's unreleased `acc_at_k` (eval.md §2.3).
pub fn accuracy_at_k(distances: &[Vec<f64>], labels: &[usize], k: usize) -> Result<f64, EvalError> {
    if distances.len() != labels.len() {
        return Err(EvalError::Shape(format!(
            "{} distance rows but {} labels",
            distances.len(),
            labels.len()
        )));
    }
    if distances.is_empty() {
        return Err(EvalError::InvalidArgument("Acc@k of zero rows".into()));
    }
    let mut hits = 0usize;
    for (row, (d, &label)) in distances.iter().zip(labels).enumerate() {
        if k == 0 || k > d.len() {
            return Err(EvalError::OutOfRange(format!(
                "k = {k} with {} labels",
                d.len()
            )));
        }
        if label >= d.len() {
            return Err(EvalError::OutOfRange(format!(
                "row {row}: label index {label} with {} labels",
                d.len()
            )));
        }
        let mut order: Vec<usize> = (0..d.len()).collect();
        order.sort_by(|&i, &j| d[i].total_cmp(&d[j]));
        if order[..k].contains(&label) {
            hits += 1;
        }
    }
    Ok(hits as f64 / labels.len() as f64)
}

/// A text-embedding model for genre Acc@k. LLark never released the one it used, so the
/// embedder is pluggable.
pub trait TextEmbedder {
    /// One embedding per input text, all of the same length.
    fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, EvalError>;
}

/// Genre Acc@k of free-text answers: embeds the `_map_fn`-normalised answers and the label
/// names, and scores nearest labels by cosine distance. `true_labels[i]` indexes `labels`.
pub fn genre_accuracy_at_k(
    embedder: &dyn TextEmbedder,
    answers: &[&str],
    labels: &[&str],
    true_labels: &[usize],
    k: usize,
) -> Result<f64, EvalError> {
    let normalised: Vec<String> = answers.iter().map(|a| normalise_genre_text(a)).collect();
    let texts: Vec<&str> = normalised.iter().map(String::as_str).collect();
    let answer_embeddings = embedder.embed(&texts)?;
    let label_embeddings = embedder.embed(labels)?;
    if answer_embeddings.len() != answers.len() || label_embeddings.len() != labels.len() {
        return Err(EvalError::Shape(
            "the embedder returned a different number of embeddings than texts".into(),
        ));
    }
    let distances = cosine_distances(&answer_embeddings, &label_embeddings)?;
    accuracy_at_k(&distances, true_labels, k)
}
