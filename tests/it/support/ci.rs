//! What a test needs from the machine: the one way to tell CI (`CI=true` or `CI=1`, where
//! `.ci/run` installed everything) from a laptop, where a test whose tools are missing says so
//! and is skipped.

use std::path::PathBuf;

/// Whether this is CI, where every tool a test needs must be present.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// `found`, or `None` with a message naming `test` and `what` is missing; in CI a failure.
pub fn required<T>(found: Option<T>, test: &str, what: &str) -> Option<T> {
    if found.is_none() {
        assert!(
            !in_ci(),
            "CI must have {what} (.ci/run installs it) for {test}"
        );
        eprintln!("SKIPPED {test}: {what} is not installed");
    }
    found
}

/// `name` on PATH.
pub fn find_program(name: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}
