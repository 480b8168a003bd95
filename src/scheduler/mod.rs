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
//! **Invariant:** a checkpoint never points past a partition that is not durable and recorded.
//! It advances after [`Exporter::run`] returned, over days whose windows reported
//! [`WindowEvent::Exported`] (sent after the partition was recorded), and only while this
//! process still holds the pair's lease.
//!
//! Layout: `jobs` reads and validates job files; `plan` holds the pure rules (days to export,
//! how far a checkpoint may advance, window order, shards).

pub mod jobs;
pub mod plan;

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use tokio_util::sync::CancellationToken;

use self::jobs::Job;
use self::plan::{AccountPlan, Shard};
use crate::domain::{AccountSid, DayRange, Resource};
use crate::export::{Exporter, Summary, WindowEvent};
use crate::registry::{
    Account, LeaseHolder, PairOutcome, Registry, RegistryError, RunOutcome, Skip, TwilioStatus,
};

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
    /// Skipped: another process holds their lease and is exporting them.
    pub busy: Vec<AccountSid>,
    /// Skipped: named in the job file but not registered.
    pub unregistered: Vec<AccountSid>,
    /// Skipped: deauthorized before the run.
    pub deauthorized: Vec<AccountSid>,
    /// Skipped: Twilio reported them suspended or closed before the run.
    pub inactive: Vec<(AccountSid, TwilioStatus)>,
}

impl JobReport {
    /// Every window exported, no account missing: what exit code 0 means for a job.
    pub fn succeeded(&self) -> bool {
        self.summary.outcome() == RunOutcome::Succeeded && self.unregistered.is_empty()
    }
}

/// One account's part of a job's run.
#[derive(Debug, Clone)]
pub struct AccountReport {
    pub account: AccountSid,
    pub days: DayRange,
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

    /// The step: runs the selected jobs for the instant `now`, one after the other, and records
    /// each job's run unless it was interrupted (so that the next start catches it up).
    pub async fn run_once(
        &self,
        selection: &Selection,
        now: DateTime<Utc>,
    ) -> Result<Outcome, SchedulerError> {
        let mut chosen: Vec<&Job> = Vec::new();
        match selection {
            Selection::Named(names) => {
                for name in names {
                    let job = self.jobs.iter().find(|j| &j.name == name).ok_or_else(|| {
                        SchedulerError::UnknownJob {
                            name: name.clone(),
                            known: self.job_names(),
                        }
                    })?;
                    chosen.push(job);
                }
            }
            Selection::Due => {
                for job in &self.jobs {
                    if self.due_at(job, now).await? <= now {
                        chosen.push(job);
                    }
                }
            }
        }
        if chosen.is_empty() {
            return Ok(Outcome::NothingDue {
                next: self.next_due(now).await?,
            });
        }
        let mut reports = Vec::new();
        for job in chosen {
            if self.exporter.cancel.is_cancelled() {
                break;
            }
            let report = self.run_job(job, now).await?;
            if !report.summary.interrupted {
                self.registry()
                    .record_job_run(
                        &job.name,
                        now,
                        report.summary.run,
                        report.summary.outcome().as_str(),
                    )
                    .await?;
            }
            reports.push(report);
        }
        Ok(Outcome::Exported(reports))
    }

    /// The job that becomes due first at or after `now`, and when.
    pub async fn next_due(
        &self,
        now: DateTime<Utc>,
    ) -> Result<Option<(String, DateTime<Utc>)>, SchedulerError> {
        let mut best: Option<(String, DateTime<Utc>)> = None;
        for job in &self.jobs {
            let at = self.due_at(job, now).await?;
            if best.as_ref().is_none_or(|(_, t)| at < *t) {
                best = Some((job.name.clone(), at));
            }
        }
        Ok(best)
    }

    /// When `job` is (or was) due: the first fire time after its last run, or `now` if it
    /// never ran; far in the future if its schedule never fires again.
    async fn due_at(&self, job: &Job, now: DateTime<Utc>) -> Result<DateTime<Utc>, SchedulerError> {
        Ok(match self.registry().last_job_run(&job.name).await? {
            None => now,
            Some(last) => job
                .schedule
                .next_after(last)
                .unwrap_or(DateTime::<Utc>::MAX_UTC),
        })
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

    /// One job for `now`: choose accounts, take their leases, export, advance checkpoints,
    /// give the leases back (also when something failed on the way).
    async fn run_job(&self, job: &Job, now: DateTime<Utc>) -> Result<JobReport, SchedulerError> {
        let mut report = JobReport {
            job: job.name.clone(),
            resource: job.resource,
            days: None,
            summary: Summary::default(),
            accounts: Vec::new(),
            busy: Vec::new(),
            unregistered: Vec::new(),
            deauthorized: Vec::new(),
            inactive: Vec::new(),
        };
        let candidates = self.select_accounts(job, &mut report).await?;
        let mut leased: Vec<Account> = Vec::new();
        let mut result = Ok(());
        for a in candidates {
            match self
                .registry()
                .try_lease(&a.sid, job.resource, &self.holder, self.settings.lease_ttl)
                .await
            {
                Ok(true) => leased.push(a),
                Ok(false) => {
                    tracing::info!(account = %a.sid, resource = %job.resource, "Another process is exporting this account; skipped");
                    report.busy.push(a.sid);
                }
                Err(e) => {
                    result = Err(e.into());
                    break;
                }
            }
        }
        if result.is_ok() {
            result = self.export_leased(job, now, &leased, &mut report).await;
        }
        for a in &leased {
            if let Err(e) = self
                .registry()
                .release_lease(&a.sid, job.resource, &self.holder)
                .await
            {
                tracing::warn!(account = %a.sid, error = %e, "Cannot release a lease; it expires by itself");
            }
        }
        result.map(|()| report)
    }

    /// The job's accounts that are active, registered and in this shard; the others are
    /// noted in `report`.
    async fn select_accounts(
        &self,
        job: &Job,
        report: &mut JobReport,
    ) -> Result<Vec<Account>, SchedulerError> {
        let all = self.registry().accounts().await?;
        let named: Vec<Account> = if job.accounts.is_empty() {
            all
        } else {
            let mut v = Vec::new();
            for sid in &job.accounts {
                match all.iter().find(|a| &a.sid == sid) {
                    Some(a) => v.push(a.clone()),
                    None => report.unregistered.push(sid.clone()),
                }
            }
            v
        };
        let mut chosen = Vec::new();
        for a in named {
            if !self.settings.shard.contains(&a.sid) {
                continue;
            }
            match a.skip() {
                None => chosen.push(a),
                Some(Skip::Deauthorized) => report.deauthorized.push(a.sid),
                Some(Skip::Twilio(status)) => report.inactive.push((a.sid, status)),
            }
        }
        Ok(chosen)
    }

    /// Exports the planned days of the `leased` accounts as one recorded run, renewing the
    /// leases meanwhile, then commits each account's checkpoint.
    async fn export_leased(
        &self,
        job: &Job,
        now: DateTime<Utc>,
        leased: &[Account],
        report: &mut JobReport,
    ) -> Result<(), SchedulerError> {
        let today = now.date_naive();
        let mut plans = Vec::new();
        let mut before: HashMap<AccountSid, Option<NaiveDate>> = HashMap::new();
        for a in leased {
            let checkpoint = self.registry().checkpoint(&a.sid, job.resource).await?;
            before.insert(a.sid.clone(), checkpoint);
            if let Some(days) = plan::days_to_export(job, checkpoint, today) {
                plans.push(AccountPlan {
                    account: a.clone(),
                    days,
                });
            }
        }
        let Some(first) = plans.iter().map(|p| p.days.first()).min() else {
            return Ok(());
        };
        let span = DayRange::new(first, today).unwrap_or(plans[0].days);
        report.days = Some(span);
        let mut windows = plan::windows(job.resource, &plans);
        if let Some(page_size) = job.page_size {
            windows.iter_mut().for_each(|w| w.page_size = page_size);
        }

        let renewing = CancellationToken::new();
        let renewer = tokio::spawn(renew_leases(
            self.registry().clone(),
            self.holder.clone(),
            job.resource,
            leased.iter().map(|a| a.sid.clone()).collect(),
            self.settings.lease_ttl,
            renewing.clone(),
        ));
        let done: Mutex<HashMap<AccountSid, (BTreeSet<NaiveDate>, u64)>> =
            Mutex::new(HashMap::new());
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
        let exported = self
            .exporter
            .run(
                &self.settings.command,
                &detail,
                windows,
                concurrency,
                &on_event,
            )
            .await;
        renewing.cancel();
        let _ = renewer.await;
        report.summary = exported?;

        let done = done.into_inner().expect("not poisoned");
        for p in &plans {
            let sid = &p.account.sid;
            let (days_ok, rows) = done.get(sid).cloned().unwrap_or_default();
            let advance_to = plan::advance(p.days, &days_ok, today);
            let error = report
                .summary
                .failures
                .iter()
                .find(|(k, _)| &k.account == sid)
                .map(|(k, e)| format!("{}: {e}", k.day));
            let outcome = PairOutcome {
                advance_to,
                complete: days_ok.len() == p.days.len(),
                rows,
                error,
                run: report.summary.run,
            };
            let held = self
                .registry()
                .commit_checkpoint(sid, job.resource, &self.holder, &outcome)
                .await?;
            if !held {
                tracing::warn!(account = %sid, resource = %job.resource, "Lease lost during the run; the checkpoint is left to its new holder");
            }
            let was = before.get(sid).copied().flatten();
            report.accounts.push(AccountReport {
                account: sid.clone(),
                days: p.days,
                days_exported: days_ok.len(),
                rows,
                checkpoint_before: was,
                checkpoint: if held { was.max(advance_to) } else { was },
                lease_lost: !held,
            });
        }
        Ok(())
    }
}

/// Renews `sids`' leases every third of their lifetime until `stop`. A lease found taken over
/// is not renewed again; `commit_checkpoint` notices that too and leaves the checkpoint alone.
async fn renew_leases(
    registry: Registry,
    holder: LeaseHolder,
    resource: Resource,
    sids: Vec<AccountSid>,
    ttl: Duration,
    stop: CancellationToken,
) {
    let mut lost: HashSet<AccountSid> = HashSet::new();
    let every = (ttl / 3).max(Duration::from_millis(100));
    loop {
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = stop.cancelled() => return,
        }
        for sid in &sids {
            if lost.contains(sid) {
                continue;
            }
            match registry.renew_lease(sid, resource, &holder, ttl).await {
                Ok(true) => {}
                Ok(false) => {
                    tracing::warn!(account = %sid, %resource, "Lease taken over by another process");
                    lost.insert(sid.clone());
                }
                Err(e) => {
                    tracing::warn!(account = %sid, error = %e, "Cannot renew a lease; trying again")
                }
            }
        }
    }
}
