//! Why a job file cannot be used: by file, and for a key's value, by key and problem.

use std::path::PathBuf;

use super::cron::CronError;
use super::KEYS;
use crate::domain::{BeforeTwilio, NotADay, Resource, SidError, UnknownResource};

/// A pseudonym mode as the messages name it.
fn mode(pseudonymized: bool) -> &'static str {
    if pseudonymized {
        "pseudonymized"
    } else {
        "in clear"
    }
}

/// A job file (or the jobs directory) that cannot be used; the message names the file and,
/// when a key is at fault, the key.
#[derive(Debug, thiserror::Error)]
pub enum JobFileError {
    #[error("{}: cannot read the jobs directory: {cause}", path.display())]
    ReadDir {
        path: PathBuf,
        cause: std::io::Error,
    },
    #[error("{}: no job files (*.toml); the repository's jobs/ has examples", path.display())]
    NoJobFiles { path: PathBuf },
    #[error("{}: cannot read: {cause}", path.display())]
    Read {
        path: PathBuf,
        cause: std::io::Error,
    },
    /// Not TOML: the parser's message (which does not quote the line).
    #[error("{}: {message}", path.display())]
    NotToml { path: PathBuf, message: String },
    #[error("{}: name: {name:?} is also the name of {}", path.display(), other.display())]
    DuplicateName {
        path: PathBuf,
        name: String,
        other: PathBuf,
    },
    /// Two jobs that would write one resource in different pseudonym modes.
    #[error(
        "{}: pseudonymize: this job writes {resource} {} but {} writes it {}; the partitions of a resource are all written in one mode (a number has one pseudonym in every account), so give every {resource} job the same pseudonymize (a job without the key follows --pseudonymize)",
        path.display(),
        mode(*pseudonymized),
        other.display(),
        mode(!pseudonymized)
    )]
    ModesDiffer {
        path: PathBuf,
        resource: Resource,
        /// Whether this job writes pseudonyms (the other one does not, or the other way round).
        pseudonymized: bool,
        other: PathBuf,
    },
    #[error("{}: {key}: {problem}", path.display())]
    Key {
        path: PathBuf,
        key: String,
        problem: KeyProblem,
    },
}

/// What is wrong with one key of a job file.
#[derive(Debug, thiserror::Error)]
pub enum KeyProblem {
    #[error("unknown key (expected one of: {})", KEYS.join(", "))]
    Unknown,
    #[error("missing (every job file sets it)")]
    Missing,
    #[error(
        "{days} is within lookback_days ({lookback_days}): every run exports those days again; keep more than {lookback_days} days"
    )]
    WithinLookback { days: i64, lookback_days: u32 },
    #[error("expected true or false, got {found}")]
    NotABool { found: String },
    #[error("expected a string, got {found}")]
    NotAString { found: String },
    #[error("expected a whole number from {min} to {max}, got {found}")]
    OutOfRange { min: i64, max: i64, found: String },
    #[error("{name:?} is not a job name: use letters, digits, '-', '_' and '.'")]
    BadName { name: String },
    #[error(transparent)]
    Resource(#[from] UnknownResource),
    #[error(transparent)]
    Schedule(#[from] CronError),
    #[error(transparent)]
    Day(#[from] NotADay),
    #[error(transparent)]
    BeforeTwilio(#[from] BeforeTwilio),
    #[error("expected a date (YYYY-MM-DD), got {found}")]
    NotADate { found: String },
    #[error(transparent)]
    Account(#[from] SidError),
    #[error("expected account sids (AC…), got {found}")]
    NotAnAccount { found: String },
    #[error("expected a list of account sids, got {found}")]
    NotAList { found: String },
    /// `accounts = []`: read as "none" it would export nothing, as "all" everyone; neither
    /// is said.
    #[error("the list is empty: name at least one account, or leave the key out for every active account")]
    NoAccounts,
}
