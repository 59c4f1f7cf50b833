//! Example-id handling of LLark's notebooks: track ids for joining answers with labels, and
//! the crop times encoded in file names.

use std::sync::LazyLock;

use regex::Regex;

static CROP_START: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"start([0-9]+\.[0-9]+)").expect("static regex compiles"));
static CROP_END: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"end([0-9]+\.[0-9]+)").expect("static regex compiles"));

/// The part of a path after its last `/` (Python's `os.path.basename` on POSIX).
fn basename(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// GiantSteps track id from an inference example id, as the key/tempo notebook's
/// `id_parse_fn`: base name, then remove `.npy`, `-start30.000-end60.000` and
/// `-start30_000-end60_000`, then `_LOFI` → `.LOFI`. Crops that do not start at 30 s (tracks
/// shorter than 60 s) keep their suffix, so they do not join with the labels, as in LLark.
pub fn giantsteps_track_id(example_id: &str) -> String {
    basename(example_id)
        .replace(".npy", "")
        .replace("-start30.000-end60.000", "")
        .replace("-start30_000-end60_000", "")
        .replace("_LOFI", ".LOFI")
}

/// MedleyDB track id from an example id, as the instrument notebook's `_id_parse_fn`: if the
/// id contains `_MIX`, the base name up to the first `_MIX`; otherwise the id unchanged.
pub fn medleydb_track_id(example_id: &str) -> &str {
    if example_id.contains("_MIX") {
        let base = basename(example_id);
        base.split("_MIX").next().unwrap_or(base)
    } else {
        example_id
    }
}

/// Crop start and end (seconds) encoded in a file name or id, as LLark's
/// `fetch_audio_start_end`: the first `start<digits>.<digits>` and the first
/// `end<digits>.<digits>`, each `None` if absent.
pub fn crop_start_end(example_id: &str) -> (Option<f64>, Option<f64>) {
    let grab = |re: &Regex| {
        re.captures(example_id)
            .and_then(|c| c.get(1))
            .and_then(|m| m.as_str().parse::<f64>().ok())
    };
    (grab(&CROP_START), grab(&CROP_END))
}
