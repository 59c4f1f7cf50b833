//! Progress bars of the jobs (hidden when a job runs quietly).

use indicatif::{ProgressBar, ProgressStyle};

/// A bar of `total` steps labelled `what`, or a hidden one when `visible` is false.
pub(crate) fn bar(total: usize, visible: bool, what: &str) -> ProgressBar {
    if !visible {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(total as u64);
    if let Ok(style) = ProgressStyle::with_template("  {msg:12} [{bar:30}] {pos}/{len} {eta}") {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_message(what.to_string());
    bar
}
