//! What a step is asked and what it reports: which jobs, each job's run, each account's part.

use std::collections::BTreeSet;

use chrono::{DateTime, NaiveDate, Utc};

use super::jobs::Job;
use super::modes::MixedModes;
use super::plan::Selected;
use crate::domain::{AccountSid, DayRange, Resource};
use crate::export::{Stopped, Summary};
use crate::pseudonym::NoKey;
use crate::registry::{RegistryError, TwilioStatus};
use crate::store::StoreError;

/// Why a step could not run.
#[derive(Debug, thiserror::Error)]
pub enum SchedulerError {
    #[error(transparent)]
    Registry(#[from] RegistryError),
    #[error("--job: no job named {name:?} (the jobs are: {known})")]
    UnknownJob { name: String, known: String },
    /// The job file sets `pseudonymize = true` but no key was given.
    #[error("job {job}: {cause}")]
    NoKey { job: String, cause: NoKey },
    /// Exporting would mix pseudonym modes within the export's partitions (of every account); nothing was run.
    #[error(transparent)]
    MixedModes(MixedModes),
    /// The registry failed once a job had started: what was exported before stays.
    #[error(transparent)]
    Midway(RegistryError),
    /// The output cannot be used (checked before the first job a step runs, unless it was at
    /// start); nothing was run.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Which jobs a step runs.
#[derive(Clone, Debug)]
pub enum Selection {
    /// The jobs whose schedule fired since their last run (and those that never ran).
    Due,
    /// These jobs, whatever their schedule.
    Named(Vec<String>),
    /// The due jobs but these, held back: `schedule` tries a job still due right after its
    /// step (accounts another process is exporting) again only after a while.
    DueBut(Vec<String>),
}

impl Selection {
    /// Whether `job` is held back from this step.
    pub(super) fn holds_back(&self, job: &str) -> bool {
        matches!(self, Selection::DueBut(held) if held.iter().any(|h| h == job))
    }
}

/// What a step did.
#[derive(Debug)]
pub enum Outcome {
    /// The jobs that ran (empty if a stop was requested before the first one).
    Exported(Vec<JobReport>),
    /// No job was due; the next one to become due, and when.
    NothingDue {
        next: Option<(String, DateTime<Utc>)>,
    },
}

/// One job's run.
#[derive(Debug)]
pub struct JobReport {
    pub job: String,
    pub resource: Resource,
    /// From the earliest day planned for any account through today; `None` if nothing was.
    pub days: Option<DayRange>,
    /// How many days of `days` were planned for any account (failed days retried leave gaps).
    pub day_count: usize,
    /// What [`Exporter::run`](crate::export::Exporter::run) reported (a default, unrecorded
    /// summary if there were no windows).
    pub summary: Summary,
    pub accounts: Vec<AccountReport>,
    /// Skipped: another process holds their lease and is exporting them (they stay due).
    pub busy: Vec<AccountSid>,
    /// Leases taken over from a process that had died, with its holder.
    pub taken_over: Vec<(AccountSid, String)>,
    /// The accounts this run exported under their lease to the end: the job is done for
    /// them until its next fire time.
    pub covered: Vec<AccountSid>,
    /// Skipped: named in the job file but not registered.
    pub unregistered: Vec<AccountSid>,
    /// Skipped: deauthorized before the run.
    pub deauthorized: Vec<AccountSid>,
    /// Skipped: Twilio reported them suspended or closed before the run.
    pub inactive: Vec<(AccountSid, TwilioStatus)>,
}

impl JobReport {
    pub(super) fn new(job: &Job, selected: Selected) -> Self {
        Self {
            job: job.name.clone(),
            resource: job.resource,
            days: None,
            day_count: 0,
            summary: Summary::default(),
            accounts: Vec::new(),
            busy: Vec::new(),
            taken_over: Vec::new(),
            covered: Vec::new(),
            deauthorized: selected.deauthorized(),
            inactive: selected.inactive(),
            unregistered: selected.unregistered,
        }
    }

    /// A job the run was stopped before: nothing of it ran (nor did it look at its accounts,
    /// so it lists none as skipped), and it counts as interrupted.
    pub(super) fn not_started(job: &Job) -> Self {
        let mut report = Self::new(job, Selected::default());
        report.summary.interrupted = true;
        report
    }

    /// No window failed, the run was not interrupted, and every account the job names is
    /// registered: what exit code 0 means for a job. An account the run stopped exporting (its
    /// lease taken over, or removed or deauthorized meanwhile) is not a failure: it stays due
    /// (or is skipped), like one skipped as busy.
    pub fn succeeded(&self) -> bool {
        use crate::registry::RunOutcome::{Incomplete, Succeeded};
        matches!(self.summary.outcome(), Succeeded | Incomplete) && self.unregistered.is_empty()
    }

    /// What the last-success metric counts: the job succeeded, and it exported something or
    /// left nothing to another process. A run that exported nothing because other processes
    /// held every account it was due for is not one: a holder stuck on the accounts would
    /// otherwise keep the metric fresh and its alert quiet.
    pub fn exported_successfully(&self) -> bool {
        self.succeeded() && (self.busy.is_empty() || self.summary.totals.windows_exported > 0)
    }

    /// The job's outcome as recorded: `incomplete` when accounts were left to other processes,
    /// removed or purged during the run, or named by the job and not registered.
    pub(super) fn recorded_outcome(&self) -> &'static str {
        let left = !self.busy.is_empty()
            || !self.unregistered.is_empty()
            || (self.accounts.iter())
                .any(|a| a.stopped.is_some_and(Stopped::leaves_run_incomplete));
        match self.summary.outcome().as_str() {
            "succeeded" if left => "incomplete",
            other => other,
        }
    }
}

/// The days of one account a run exported, and their rows.
pub(super) type Exported = (BTreeSet<NaiveDate>, u64);

/// One account's part of a job's run.
#[derive(Debug, Clone)]
pub struct AccountReport {
    pub account: AccountSid,
    pub days: DayRange,
    /// Failed days before `days`, retried (none for an account skipped during the run).
    pub retried: Vec<NaiveDate>,
    pub days_exported: usize,
    /// The earliest day the run wrote (retention never deletes a day the run wrote).
    pub first_exported: Option<NaiveDate>,
    pub rows: u64,
    pub checkpoint_before: Option<NaiveDate>,
    /// The checkpoint after the run.
    pub checkpoint: Option<NaiveDate>,
    /// Why the run stopped publishing the account before its end, if it did: its lease was
    /// taken over (this process stalled past its expiry; the checkpoint was left to the new
    /// holder), or it was removed, deauthorized or purged meanwhile.
    pub stopped: Option<Stopped>,
}
