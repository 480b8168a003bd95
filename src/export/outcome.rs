//! What a run is made of and what it reports: windows, their reports and events, and the
//! summary of a set of windows.

use std::collections::HashSet;

use super::{ExportError, Stopped};
use crate::domain::{AccountSid, PartitionKey};
use crate::registry::{RunId, RunOutcome, RunTotals, TwilioStatus};

/// One unit of work: a partition to (re-)export and the credential that reaches its account.
#[derive(Clone, Debug)]
pub struct Window {
    pub key: PartitionKey,
    pub credential: AccountSid,
    /// Records per page asked of the API (1..=1000; [`PAGE_SIZE`](super::PAGE_SIZE) unless a job says otherwise).
    pub page_size: u32,
}

/// What a finished window wrote.
#[derive(Clone, Debug, Default)]
pub struct WindowReport {
    pub rows: u64,
    pub bytes: u64,
    /// The published file, or `None` for a day without rows.
    pub object_key: Option<String>,
    /// Records the API returned that belong to another day's partition (exported there).
    pub outside_window: u64,
    /// Of those, the ones no reading of the span's bounds gives: without a day, or of a day
    /// other than the one right after the span's last, or any for usage records. (A server
    /// that reads `StartTime<` as inclusive, of that day's midnight or of the whole day,
    /// answers calls of the day after.) Only the span's read looks at it.
    pub off_bounds: u64,
    /// Records that appeared twice while paging (kept once).
    pub duplicates: u64,
    /// Rows of the partition this day's export emptied: the API returned none for a day the
    /// export held rows of (Twilio keeps call logs for a limited time).
    pub emptied_rows: u64,
    pub pages: u64,
    /// Requests repeated after a 429 or a transient failure (a span's go with its first day,
    /// as its pages do).
    pub retries: u64,
    /// How long the window took, from its first request to its partition recorded (the days
    /// of a span, read together, share it).
    pub millis: u64,
}

/// What happened to each window, for progress display.
#[derive(Debug)]
pub enum WindowEvent<'a> {
    Exported(&'a Window, &'a WindowReport),
    Failed(&'a Window, &'a ExportError),
    /// Not attempted, or not published: its account lost its authorization or Twilio reported
    /// it suspended or closed earlier in the run, its lease was taken over by another process,
    /// or it was removed from the registry (or deauthorized) during the run.
    Skipped(&'a Window),
}

/// The outcome of a set of windows.
#[derive(Debug, Default)]
pub struct Summary {
    pub run: Option<RunId>,
    pub totals: RunTotals,
    pub bytes: u64,
    pub accounts: HashSet<AccountSid>,
    pub failures: Vec<(PartitionKey, String)>,
    /// Accounts found deauthorized during the run, with the reason.
    pub deauthorized: Vec<(AccountSid, String)>,
    /// Accounts Twilio reported suspended or closed during the run (skipped, not failed).
    pub inactive: Vec<(AccountSid, TwilioStatus)>,
    pub skipped: u64,
    /// Days that held rows and were emptied, the API returning none for them.
    pub emptied_days: u64,
    /// Failed days whose file had been published and recorded in this export's mode when
    /// another export, in another mode, was found to have recorded partitions meanwhile: the
    /// export is now mixed.
    pub published_mixed: u64,
    /// Accounts the run stopped publishing before their end, and why (an account the run
    /// itself found deauthorized is in `deauthorized` instead).
    pub stopped: Vec<(AccountSid, Stopped)>,
    pub interrupted: bool,
    pub seconds: f64,
}

impl Summary {
    /// Whether `sid` was found deauthorized, suspended or closed during the run (and its
    /// remaining windows skipped).
    pub fn skipped(&self, sid: &AccountSid) -> bool {
        self.deauthorized.iter().any(|(s, _)| s == sid)
            || self.inactive.iter().any(|(s, _)| s == sid)
    }

    pub fn outcome(&self) -> RunOutcome {
        if self.interrupted {
            RunOutcome::Interrupted
        } else if self.totals.windows_failed > 0 {
            RunOutcome::Partial
        } else if self
            .stopped
            .iter()
            .any(|(_, why)| why.leaves_run_incomplete())
        {
            RunOutcome::Incomplete
        } else {
            RunOutcome::Succeeded
        }
    }
}
