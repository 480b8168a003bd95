//! Scheduled incremental exports: which jobs are due, which days each account needs, leases so
//! that two processes never export the same (account, resource) at once, and checkpoints that
//! advance only over partitions already recorded.
//!
//! [`Scheduler::run_once`] is the step: given `now`, it runs the jobs that are due (or the ones
//! named) through [`Exporter::run`] and returns an [`Outcome`]. The `run` command calls it once;
//! `schedule` is [`Scheduler::serve`], a loop around it; tests call it directly with any `now`.
//! Planning never reads the wall clock: `now` is an argument, and a [`Clock`] is how commands
//! produce it. Leases are the exception, on purpose: they coordinate real processes, so their
//! expiry is wall-clock time (see `registry::leases`).
//!
//! **Invariant:** a checkpoint never points past a day that is neither recorded as a durable
//! partition nor remembered as a failed window (which every run retries until it succeeds).
//! It advances after the windows ran, over days whose windows reported
//! [`WindowEvent::Exported`] (sent after the partition was recorded) or whose failure is in
//! the registry, and only while this process still holds the pair's lease.
//!
//! Due-ness is per (job, account): a job is due for an account once its schedule fired after
//! the last time it exported that account. So every shard of an Indexed Job, each with its own
//! accounts, exports them at every fire time; and an account skipped because another live
//! process held its lease (or whose lease was lost) stays due.
//!
//! Layout: `jobs` reads and validates job files; `plan` is the planning layer of every export
//! and of `status`, pure rules (which accounts, days to export, how far a checkpoint may
//! advance, windows, shards, when a job is due); `leasing` takes, renews and gives back leases
//! (also for `backfill` and `demo`). The step here reads the registry and hands what it read
//! to `plan`.

pub mod jobs;
pub mod leasing;
pub mod plan;

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};

use self::jobs::Job;
use self::leasing::{Leased, Renewal};
use self::plan::{AccountPlan, Selected, Shard};
use crate::domain::{AccountSid, DayRange, Resource};
use crate::export::{Exporter, LeaseScope, Summary, WindowEvent};
use crate::registry::{LeaseHolder, PairOutcome, Registry, RegistryError, TwilioStatus};

/// How long a lease lasts without renewal: a crashed holder blocks its pairs at most this long.
pub const LEASE_TTL: Duration = Duration::from_secs(120);
/// The longest `serve` sleeps before looking at the clock and the schedules again.
const MAX_SLEEP: Duration = Duration::from_secs(60);
/// How long `serve` waits after a step failed (the database was unreachable, say).
const RETRY_AFTER_ERROR: Duration = Duration::from_secs(30);

/// Why a step could not run.
#[derive(Debug, thiserror::Error)]
pub enum SchedulerError {
    #[error(transparent)]
    Registry(#[from] RegistryError),
    #[error("--job: no job named {name:?} (the jobs are: {known})")]
    UnknownJob { name: String, known: String },
}

/// Which jobs a step runs.
#[derive(Clone, Debug)]
pub enum Selection {
    /// The jobs whose schedule fired since their last run (and those that never ran).
    Due,
    /// These jobs, whatever their schedule.
    Named(Vec<String>),
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
    /// What [`Exporter::run`] reported (a default, unrecorded summary if there were no windows).
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
    fn new(job: &Job, selected: Selected) -> Self {
        Self {
            job: job.name.clone(),
            resource: job.resource,
            days: None,
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

    /// Every window exported, no account missing: what exit code 0 means for a job.
    pub fn succeeded(&self) -> bool {
        self.summary.outcome() == crate::registry::RunOutcome::Succeeded
            && self.unregistered.is_empty()
    }

    /// The job's outcome as recorded: `incomplete` when accounts were left to other processes.
    fn recorded_outcome(&self) -> &'static str {
        let left = !self.busy.is_empty() || self.accounts.iter().any(|a| a.lease_lost);
        match self.summary.outcome().as_str() {
            "succeeded" if left => "incomplete",
            other => other,
        }
    }
}

/// The days of one account a run exported, and their rows.
type Exported = (BTreeSet<NaiveDate>, u64);

/// One account's part of a job's run.
#[derive(Debug, Clone)]
pub struct AccountReport {
    pub account: AccountSid,
    pub days: DayRange,
    /// Failed days before `days`, retried.
    pub retried: Vec<NaiveDate>,
    pub days_exported: usize,
    pub rows: u64,
    pub checkpoint_before: Option<NaiveDate>,
    /// The checkpoint after the run.
    pub checkpoint: Option<NaiveDate>,
    /// The lease was taken over during the run (this process stalled past its expiry), so the
    /// checkpoint was left to the new holder.
    pub lease_lost: bool,
}

/// Where `now` comes from: the system clock, optionally shifted to start at a chosen instant
/// (tests and demos against the simulator). Time still flows at the normal rate.
#[derive(Clone, Copy, Debug)]
pub struct Clock {
    offset: TimeDelta,
}

impl Clock {
    pub fn system() -> Self {
        Self {
            offset: TimeDelta::zero(),
        }
    }

    /// A clock that reads `start` now and moves on from there.
    pub fn starting_at(start: DateTime<Utc>) -> Self {
        Self {
            offset: start - Utc::now(),
        }
    }

    pub fn now(&self) -> DateTime<Utc> {
        Utc::now() + self.offset
    }
}

/// What a scheduler needs besides the exporter.
pub struct Settings {
    /// Recorded as the run's command in the history (`run` or `schedule`).
    pub command: String,
    pub shard: Shard,
    pub lease_ttl: Duration,
    /// Windows in flight when a job does not say, given the number of accounts.
    pub default_concurrency: Box<dyn Fn(usize) -> usize + Send + Sync>,
}

/// Runs jobs. Its exporter's cancellation token is the stop signal for everything here.
pub struct Scheduler {
    exporter: Exporter,
    jobs: Vec<Job>,
    settings: Settings,
    holder: LeaseHolder,
}

impl Scheduler {
    pub fn new(exporter: Exporter, jobs: Vec<Job>, settings: Settings) -> Self {
        Self {
            exporter,
            jobs,
            settings,
            holder: LeaseHolder::new(),
        }
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

    /// The step: runs the selected jobs for the instant `now`, one after the other, each for
    /// its accounts that are due (all of them for named jobs), and records which accounts each
    /// job covered unless it was interrupted (so that the next start catches them up).
    pub async fn run_once(
        &self,
        selection: &Selection,
        now: DateTime<Utc>,
    ) -> Result<Outcome, SchedulerError> {
        let chosen = self.choose(selection, now).await?;
        if chosen.is_empty() {
            return Ok(Outcome::NothingDue {
                next: self.next_due(now).await?,
            });
        }
        if let Err(e) = self.registry().abandon_dead_runs().await {
            tracing::warn!(error = %e, "Cannot mark the runs of dead processes abandoned");
        }
        let mut reports = Vec::new();
        for (job, selected) in chosen {
            if self.exporter.cancel.is_cancelled() {
                break;
            }
            let report = self.run_job(job, selected, now).await?;
            if !report.summary.interrupted {
                let (run, outcome) = (report.summary.run, report.recorded_outcome());
                self.registry()
                    .record_job_accounts(&job.name, &report.covered, now, run, outcome)
                    .await?;
                self.registry()
                    .record_job_run(&job.name, now, run, outcome)
                    .await?;
            }
            reports.push(report);
        }
        Ok(Outcome::Exported(reports))
    }

    /// The jobs to run and, for each, its accounts: those that are due, or all for named jobs.
    async fn choose(
        &self,
        selection: &Selection,
        now: DateTime<Utc>,
    ) -> Result<Vec<(&Job, Selected)>, SchedulerError> {
        let mut chosen = Vec::new();
        match selection {
            Selection::Named(names) => {
                for name in names {
                    let job = self.jobs.iter().find(|j| &j.name == name).ok_or_else(|| {
                        SchedulerError::UnknownJob {
                            name: name.clone(),
                            known: self.job_names(),
                        }
                    })?;
                    chosen.push((job, self.select_accounts(job).await?));
                }
            }
            Selection::Due => {
                for job in &self.jobs {
                    let mut selected = self.select_accounts(job).await?;
                    let last = self.registry().job_account_runs(&job.name).await?;
                    selected.active = plan::due_now(job, selected.active, &last, now);
                    if !selected.active.is_empty() {
                        chosen.push((job, selected));
                    }
                }
            }
        }
        Ok(chosen)
    }

    /// The job that becomes due first at or after `now` for one of its accounts in this
    /// shard, and when.
    pub async fn next_due(
        &self,
        now: DateTime<Utc>,
    ) -> Result<Option<(String, DateTime<Utc>)>, SchedulerError> {
        let mut best: Option<(String, DateTime<Utc>)> = None;
        for job in &self.jobs {
            let selected = self.select_accounts(job).await?;
            let last = self.registry().job_account_runs(&job.name).await?;
            if let Some(at) = plan::next_due(job, &selected.active, &last, now) {
                if best.as_ref().is_none_or(|(_, t)| at < *t) {
                    best = Some((job.name.clone(), at));
                }
            }
        }
        Ok(best)
    }

    /// `schedule`: runs due jobs until the exporter's token is cancelled, handing each step's
    /// outcome to `on_outcome`. Jobs missed while nothing was running are due at once, and each
    /// runs once however many fire times it missed: its checkpoint covers the gap.
    pub async fn serve(&self, clock: Clock, on_outcome: impl Fn(&Outcome)) {
        let cancel = self.exporter.cancel.clone();
        while !cancel.is_cancelled() {
            let wait = match self.run_once(&Selection::Due, clock.now()).await {
                Ok(outcome) => {
                    on_outcome(&outcome);
                    match self.next_due(clock.now()).await {
                        Ok(Some((_, at))) => (at - clock.now())
                            .to_std()
                            .unwrap_or(Duration::ZERO)
                            .min(MAX_SLEEP),
                        Ok(None) => MAX_SLEEP,
                        Err(e) => {
                            tracing::error!(error = %e, stage = "scheduling", "Cannot read the job runs; retrying");
                            RETRY_AFTER_ERROR
                        }
                    }
                }
                Err(e) => {
                    tracing::error!(error = %e, stage = "scheduling", "Scheduled step failed; retrying");
                    RETRY_AFTER_ERROR
                }
            };
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = cancel.cancelled() => {}
            }
        }
        tracing::info!("Scheduler stopped");
    }

    fn job_names(&self) -> String {
        let names: Vec<&str> = self.jobs.iter().map(|j| j.name.as_str()).collect();
        names.join(", ")
    }

    /// One job for `now` over `selected` accounts: take their leases, export, advance
    /// checkpoints, give the leases back (also when something failed on the way).
    async fn run_job(
        &self,
        job: &Job,
        mut selected: Selected,
        now: DateTime<Utc>,
    ) -> Result<JobReport, SchedulerError> {
        let registry = self.registry();
        let active = std::mem::take(&mut selected.active);
        let mut report = JobReport::new(job, selected);
        let ttl = self.settings.lease_ttl;
        let leased = leasing::acquire(registry, &self.holder, job.resource, active, ttl).await?;
        report.busy = leased.busy.iter().map(|(sid, _)| sid.clone()).collect();
        report.taken_over = leased.taken_over.clone();
        let scope = Arc::new(LeaseScope::new(self.holder.clone()));
        let result = self
            .export_leased(job, now, &leased, &scope, &mut report)
            .await;
        leasing::release(registry, &self.holder, job.resource, &leased.sids()).await;
        report.covered = leased
            .sids()
            .into_iter()
            .filter(|sid| !scope.is_lost(sid))
            .collect();
        result.map(|()| report)
    }

    /// The job's accounts in this shard, by what can be done with them.
    async fn select_accounts(&self, job: &Job) -> Result<Selected, SchedulerError> {
        let registered = self.registry().accounts().await?;
        Ok(plan::select(
            &registered,
            &job.accounts,
            self.settings.shard,
        ))
    }

    /// Each leased account's plan: its lookback range and its outstanding failed days.
    async fn plans(
        &self,
        job: &Job,
        today: NaiveDate,
        leased: &Leased,
    ) -> Result<(Vec<AccountPlan>, HashMap<AccountSid, Option<NaiveDate>>), SchedulerError> {
        let mut plans = Vec::new();
        let mut before = HashMap::new();
        let since = job.start_date.unwrap_or(NaiveDate::MIN);
        for a in &leased.accounts {
            let checkpoint = self.registry().checkpoint(&a.sid, job.resource).await?;
            before.insert(a.sid.clone(), checkpoint);
            if let Some(days) = plan::days_to_export(job, checkpoint, today) {
                let failed = self
                    .registry()
                    .failed_days(&a.sid, job.resource, since)
                    .await?;
                plans.push(AccountPlan::new(a.clone(), days, &failed));
            }
        }
        Ok((plans, before))
    }

    /// Exports the planned days of the `leased` accounts as one recorded run, renewing the
    /// leases meanwhile, then commits each account's checkpoint.
    async fn export_leased(
        &self,
        job: &Job,
        now: DateTime<Utc>,
        leased: &Leased,
        scope: &Arc<LeaseScope>,
        report: &mut JobReport,
    ) -> Result<(), SchedulerError> {
        let today = now.date_naive();
        let (plans, before) = self.plans(job, today, leased).await?;
        let Some(first) = plans.iter().map(AccountPlan::first).min() else {
            return Ok(());
        };
        let span = DayRange::new(first, today).unwrap_or(plans[0].days);
        report.days = Some(span);
        let renewal = Renewal::start(
            self.registry().clone(),
            scope.clone(),
            job.resource,
            leased.sids(),
            self.settings.lease_ttl,
        );
        let (exported, done) = self.export_plans(job, span, &plans, scope).await;
        renewal.stop().await;
        report.summary = exported?;
        for p in &plans {
            let was = before.get(&p.account.sid).copied().flatten();
            let ok = done.get(&p.account.sid).cloned().unwrap_or_default();
            let account = self.commit(job, p, ok, was, today, report).await?;
            report.accounts.push(account);
        }
        Ok(())
    }

    /// Runs the windows of `plans` as one recorded run, and says which days of each account
    /// were exported (recorded as partitions) and how many rows they had.
    async fn export_plans(
        &self,
        job: &Job,
        span: DayRange,
        plans: &[AccountPlan],
        scope: &Arc<LeaseScope>,
    ) -> (
        Result<Summary, RegistryError>,
        HashMap<AccountSid, Exported>,
    ) {
        let windows = plan::windows(job.resource, plans, job.page_size);
        let done: Mutex<HashMap<AccountSid, Exported>> = Mutex::new(HashMap::new());
        let on_event = |e: WindowEvent<'_>| {
            if let WindowEvent::Exported(w, r) = e {
                let mut done = done.lock().expect("not poisoned");
                let entry = done.entry(w.key.account.clone()).or_default();
                entry.0.insert(w.key.day);
                entry.1 += r.rows;
            }
        };
        let concurrency = job
            .concurrency
            .unwrap_or_else(|| (self.settings.default_concurrency)(plans.len()));
        let detail = format!("job {}: {} {span}", job.name, job.resource);
        let command = &self.settings.command;
        let exported = self
            .exporter
            .run_leased(command, &detail, windows, concurrency, &on_event, scope)
            .await;
        (exported, done.into_inner().expect("not poisoned"))
    }

    /// Moves one account's checkpoint over the days exported or remembered as failed, if the
    /// lease is still held, and says what became of it.
    async fn commit(
        &self,
        job: &Job,
        p: &AccountPlan,
        (exported, rows): Exported,
        was: Option<NaiveDate>,
        today: NaiveDate,
        report: &JobReport,
    ) -> Result<AccountReport, SchedulerError> {
        let sid = &p.account.sid;
        // A failed window counts only once the registry remembers it, so it will be retried.
        let remembered = self
            .registry()
            .failed_days(sid, job.resource, p.days.first())
            .await?;
        let mut covered = exported.clone();
        covered.extend(remembered);
        let advance_to = plan::advance(p.days, &covered, today);
        let error = report
            .summary
            .failures
            .iter()
            .find(|(k, _)| &k.account == sid)
            .map(|(k, e)| format!("{}: {e}", k.day));
        let outcome = PairOutcome {
            advance_to,
            complete: exported.len() == p.window_count(),
            rows,
            error,
            run: report.summary.run,
        };
        let holder = &self.holder;
        let held = self
            .registry()
            .commit_checkpoint(sid, job.resource, holder, &outcome)
            .await?;
        if !held {
            tracing::warn!(account = %sid, resource = %job.resource, "Lease lost during the run; the checkpoint is left to its new holder");
        }
        Ok(AccountReport {
            account: sid.clone(),
            days: p.days,
            retried: p.retry.clone(),
            days_exported: exported.len(),
            rows,
            checkpoint_before: was,
            checkpoint: if held { was.max(advance_to) } else { was },
            lease_lost: !held,
        })
    }
}
