//! What the example CLIs share.

use std::fmt::Display;
use std::process::ExitCode;

/// Reports a failed run on standard error; the process then exits with failure.
pub fn fail(error: impl Display) -> ExitCode {
    eprintln!("error: {error}");
    ExitCode::FAILURE
}
