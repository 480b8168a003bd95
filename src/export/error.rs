//! Why a window did not finish, by what the run does about it.

use crate::fetch::FetchError;
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
    /// The pair's lease was taken over by another process: the window was not published and
    /// the account's remaining windows are skipped, not failed.
    #[error("the lease was taken over by another process; not published")]
    LeaseLost,
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
    /// The API answered records, but none of them on the requested days (or without a day):
    /// not what Twilio's filter gives, so the days are left as they were rather than emptied.
    #[error("the API answered {outside} records but none on the requested days; the partitions were left as they were")]
    NothingInRange { outside: u64 },
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
