//! Scheduled incremental exports: which jobs are due, which days each account needs, leases so
//! that two processes never export the same (account, resource) at once, and checkpoints that
//! advance only over partitions already recorded.
//!
//! [`Scheduler::run_once`] is the step: given `now`, it runs the jobs that are due (or the ones
//! named) through [`Exporter::run`] and returns an [`Outcome`]. The `run` command calls it once;
//! `schedule` is [`Scheduler::serve`], a loop around it; tests call it directly with any `now`.
//! Planning never reads the wall clock: `now` is an argument, and a [`Clock`] is how commands
//! produce it. Leases are the exception, on purpose: they coordinate real processes, so their
//! expiry is wall-clock time (`registry::LeaseClock`, which only tests move ahead).
//!
//! **Invariant:** a checkpoint never points past a day that is neither recorded as a durable
//! partition nor remembered as a failed window (which every run retries until it succeeds).
//! It advances after the windows ran, over days whose windows reported
//! [`WindowEvent::Exported`](crate::export::WindowEvent::Exported) (sent after the partition
//! was recorded) or whose failure is in the registry, and only while this process still
//! holds the pair's lease.
//!
//! Due-ness is per (job, account): a job is due for an account once its schedule fired after
//! the last time it exported that account. So every shard of an Indexed Job, each with its own
//! accounts, exports them at every fire time; and an account skipped because another live
//! process held its lease (or whose lease was lost) stays due.
//!
//! Layout: `jobs` reads and validates job files; `plan` is the planning layer of every export
//! and of `status`, pure rules (which accounts, days to export, how far a checkpoint may
//! advance, windows, shards, when a job is due); `leasing` takes, renews and gives back leases
//! (also for `backfill` and `demo`); `modes` refuses an export that would mix pseudonym modes
//! within the export's partitions, of every account (also for `backfill` and `demo`). The
//! step (`step`) reads the registry and hands what it read to `plan`; `job_run` runs one job under its leases and commits its checkpoints;
//! `erasing` completes interrupted deletions and purges long-deauthorized accounts before a
//! step, and applies a job's retention after its run; `serve` loops around the step; `report` is what a step is asked and reports; `clock` is
//! where `now` comes from.

pub mod jobs;
pub mod leasing;
pub mod modes;
pub mod plan;

mod clock;
mod erasing;
mod job_run;
mod report;
mod serve;
mod step;

use std::sync::{Arc, Mutex};
use std::time::Duration;

pub use clock::Clock;
pub use report::{AccountReport, JobReport, Outcome, SchedulerError, Selection};

use self::jobs::Job;
use self::plan::Shard;
use crate::domain::Resource;
use crate::erase::Erased;
use crate::export::{Exporter, WindowEvent};
use crate::registry::{LeaseHolder, Registry};

/// How long a lease lasts without renewal: a crashed holder blocks its pairs at most this long.
pub const LEASE_TTL: Duration = Duration::from_secs(120);

/// What a scheduler needs besides the exporter.
pub struct Settings {
    /// Recorded as the run's command in the history (`run` or `schedule`).
    pub command: String,
    pub shard: Shard,
    pub lease_ttl: Duration,
    /// Windows in flight when a job does not say, given the number of accounts.
    pub default_concurrency: Box<dyn Fn(usize) -> usize + Send + Sync>,
    /// Whether `now` is the machine's clock, which may run ahead of the API's: checkpoints are
    /// then held at the API's day (its `Date` header) when `now` reads a later one. False when
    /// the caller chose `now` (`TWILIO_EXPORT_NOW`, tests).
    pub machine_clock: bool,
}

/// Told what a job's run does, window by window, as it goes (commands show its progress).
pub trait Observer: Send + Sync {
    /// A job's run starts with `windows` windows of `resource`.
    fn planned(&self, job: &str, resource: Resource, windows: usize);
    /// A window finished.
    fn window(&self, event: &WindowEvent<'_>);
}

/// Runs jobs. Its exporter's cancellation token is the stop signal for everything here.
pub struct Scheduler {
    exporter: Exporter,
    jobs: Vec<Job>,
    settings: Settings,
    holder: LeaseHolder,
    /// Purge accounts deauthorized more than this many days ago (`erasing`).
    purge_deauthorized_after: Option<u32>,
    /// Deletions done by steps, until [`Scheduler::take_erased`].
    erased: Mutex<Vec<Erased>>,
    observer: Option<Arc<dyn Observer>>,
    /// Set once the output was checked ([`crate::store::Store::check`]): at start, or before the
    /// first job a step runs, so that a step with nothing due touches no store.
    store_checked: tokio::sync::OnceCell<()>,
}

impl Scheduler {
    pub fn new(exporter: Exporter, jobs: Vec<Job>, settings: Settings) -> Self {
        Self {
            exporter,
            jobs,
            settings,
            holder: LeaseHolder::new(),
            purge_deauthorized_after: None,
            erased: Mutex::new(Vec::new()),
            observer: None,
            store_checked: tokio::sync::OnceCell::new(),
        }
    }

    /// The same scheduler, its exporter's output checked already (`schedule` checks at start).
    pub fn store_checked(self) -> Self {
        let _ = self.store_checked.set(());
        self
    }

    /// The same scheduler, telling `observer` about every job's windows.
    pub fn observed(mut self, observer: Arc<dyn Observer>) -> Self {
        self.observer = Some(observer);
        self
    }

    /// The exporter the jobs run on (its client counts the requests).
    pub fn exporter(&self) -> &Exporter {
        &self.exporter
    }

    pub fn jobs(&self) -> &[Job] {
        &self.jobs
    }

    /// The id under which this scheduler holds leases.
    pub fn holder(&self) -> &LeaseHolder {
        &self.holder
    }

    fn registry(&self) -> &Registry {
        &self.exporter.registry
    }
}
