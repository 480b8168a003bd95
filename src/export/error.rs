//! Why a window did not finish, by what the run does about it.

use chrono::NaiveDate;

use crate::fetch::FetchError;
use crate::pseudonym::PseudonymMode;
use crate::registry::RegistryError;
use crate::store::StoreError;
use crate::writer::WriteError;

/// Why a window did not finish, by what the run does about it. In every case the window's
/// partition and its record are left as they were.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// The run was cancelled (a signal) while the window was in progress: not a failure; the
    /// run is recorded as interrupted.
    #[error("cancelled")]
    Cancelled,
    /// The run may no longer publish the pair (its lease was taken over by another process,
    /// or the account was removed, deauthorized or purged meanwhile; see
    /// [`Stopped`](super::Stopped)): the window was not published and the account's remaining
    /// windows are skipped, not failed.
    #[error("no longer this run's to publish")]
    NoLongerOurs,
    /// Reading the API failed. [`FetchError::Unauthorized`] means the grant may be lost: it is
    /// re-checked, and if it is gone the account is skipped; anything else fails the window.
    #[error(transparent)]
    Fetch(FetchError),
    /// Writing the Parquet file at its staging path failed: the window failed.
    #[error(transparent)]
    Write(#[from] WriteError),
    /// Publishing the file (or deleting an emptied day's) failed: the window failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Recording the partition failed: the window failed; it is exported again next time.
    #[error(transparent)]
    Registry(#[from] RegistryError),
    /// The span this day was read with failed: the day failed with the span's message,
    /// reported with its first day.
    #[error("{message}")]
    InSpan { message: String },
    /// The API answered records, but none of them on the requested days, and not all of them
    /// of the day right after (or some without a day): not what Twilio's filter gives, so the
    /// days are left as they were rather than emptied.
    #[error("the API answered {outside} records but none on the requested days; the partitions were left as they were")]
    NothingInRange { outside: u64 },
    /// Partitions of another pseudonym mode were recorded by another export since this one
    /// checked: the day was not published. If it was found only as it was recorded
    /// (`published`), its file had already replaced the day's: it is recorded as written, so
    /// the registry tells the truth, and `status` shows the export mixed.
    #[error("{MODE_CONFLICT}: partitions in another mode were recorded by an export running meanwhile; {}", if published.is_some() { "this day's file had already been replaced, so it is recorded in this mode and the export is now mixed: export every day again in one mode" } else { "not published" })]
    OtherModes { published: Option<Published> },
    /// The day would replace a partition written in another mode that holds rows with an
    /// empty one: the API no longer returns its calls (Twilio keeps them for a limited time),
    /// and they would be lost.
    #[error("the API returned no calls for {day} where the export holds {rows} written {}; not replaced", written(.mode))]
    WouldEmpty {
        day: NaiveDate,
        rows: i64,
        mode: PseudonymMode,
    },
}

/// A day's file published and recorded, as [`ExportError::OtherModes`] says when it found the
/// conflict only then: the run counts its rows and bytes as written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Published {
    pub rows: u64,
    pub bytes: u64,
}

/// The words [`ExportError::OtherModes`] starts with: a run whose failures all start with them
/// did nothing because of a configuration conflict.
pub const MODE_CONFLICT: &str = "pseudonym modes would mix";

fn written(mode: &PseudonymMode) -> String {
    match mode {
        PseudonymMode::Clear => "in clear".to_owned(),
        PseudonymMode::Pseudonymized(k) => format!("pseudonymized with key {k}"),
    }
}

impl From<FetchError> for ExportError {
    fn from(e: FetchError) -> Self {
        match e {
            FetchError::Cancelled => ExportError::Cancelled,
            e => ExportError::Fetch(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cancelled_fetch_is_a_cancelled_window_not_a_failed_one() {
        assert!(matches!(
            ExportError::from(FetchError::Cancelled),
            ExportError::Cancelled
        ));
    }
}
