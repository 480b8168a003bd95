//! One job's run over its selected accounts: their leases taken, their planned days exported
//! as one recorded run while the leases are renewed, each checkpoint committed under its
//! lease, the job's retention applied (`erasing`), the leases given back.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, NaiveDate, Utc};

use super::clock;
use super::jobs::Job;
use super::leasing::{self, Leased, Renewal};
use super::plan::{self, AccountPlan, Selected};
use super::report::Exported;
use super::{AccountReport, JobReport, Scheduler, SchedulerError};
use crate::domain::{AccountSid, DayRange};
use crate::export::{Exporter, LeaseScope, Stopped, Summary, WindowEvent};
use crate::registry::{PairOutcome, RegistryError};

impl Scheduler {
    /// One job for `now` over `selected` accounts: take their leases, export, advance
    /// checkpoints, give the leases back (also when something failed on the way).
    pub(super) async fn run_job(
        &self,
        job: &Job,
        mut selected: Selected,
        now: DateTime<Utc>,
    ) -> Result<JobReport, SchedulerError> {
        let registry = self.registry();
        let exporter = self.job_exporter(job)?;
        let active = std::mem::take(&mut selected.active);
        let mut report = JobReport::new(job, selected);
        let ttl = self.settings.lease_ttl;
        let leased = leasing::acquire(registry, &self.holder, job.resource, active, ttl).await?;
        report.busy = leased.busy.iter().map(|(sid, _)| sid.clone()).collect();
        report.taken_over = leased.taken_over.clone();
        let scope = Arc::new(LeaseScope::new(self.holder.clone()));
        let result = self
            .export_leased(&exporter, job, now, &leased, &scope, &mut report)
            .await;
        if result.is_ok() {
            self.retain(job, &report, self.settled_today(now, false))
                .await;
        }
        leasing::release(registry, &self.holder, job.resource, &leased.sids()).await;
        report.covered = leased
            .sids()
            .into_iter()
            .filter(|sid| !scope.is_lost(sid))
            .collect();
        result.map(|()| report)
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
        let sids = leased.sids();
        let registry = self.registry();
        let checkpoints = registry.checkpoints_of(job.resource, &sids).await?;
        let mut failed = registry.failed_days_of(job.resource, &sids, since).await?;
        for a in &leased.accounts {
            let checkpoint = checkpoints.get(&a.sid).copied();
            before.insert(a.sid.clone(), checkpoint);
            if let Some(days) = plan::days_to_export(job, checkpoint, today) {
                let failed = failed.remove(&a.sid).unwrap_or_default();
                plans.push(AccountPlan::new(a.clone(), days, &failed));
            }
        }
        Ok((plans, before))
    }

    /// Exports the planned days of the `leased` accounts with `exporter` (the job's) as one
    /// recorded run, renewing the leases meanwhile, then commits each account's checkpoint.
    async fn export_leased(
        &self,
        exporter: &Exporter,
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
        report.day_count = plan::planned_days(&plans).len();
        let renewal = Renewal::start(
            self.registry().clone(),
            scope.clone(),
            job.resource,
            leased.sids(),
            self.settings.lease_ttl,
        );
        let (exported, done) = self.export_plans(exporter, job, span, &plans, scope).await;
        renewal.stop().await;
        report.summary = exported?;
        let today = self.settled_today(now, true);
        for p in &plans {
            let was = before.get(&p.account.sid).copied().flatten();
            let ok = done.get(&p.account.sid).cloned().unwrap_or_default();
            let mut account = self.commit(job, p, ok, was, today, report).await?;
            // Why the run stopped publishing the account, else whether the commit found its
            // lease taken over.
            account.stopped = scope
                .stopped(&p.account.sid, &report.summary)
                .or(account.stopped);
            report.accounts.push(account);
        }
        Ok(())
    }

    /// The day checkpoints stop before and retention counts from: `now`'s, or the API's when
    /// the machine's clock reads ahead of it ([`clock::api_day`]), said if `warn`.
    fn settled_today(&self, now: DateTime<Utc>, warn: bool) -> NaiveDate {
        let skew = self.exporter.client.clock_skew();
        match clock::api_day(now, skew, self.settings.machine_clock) {
            Some(day) => {
                if warn {
                    tracing::warn!(machine = %now, api_day = %day, "This machine's clock reads a later day than the API's Date header; checkpoints are held at the API's day");
                }
                day
            }
            None => now.date_naive(),
        }
    }

    /// Runs the windows of `plans` as one recorded run, and says which days of each account
    /// were exported (recorded as partitions) and how many rows they had.
    async fn export_plans(
        &self,
        exporter: &Exporter,
        job: &Job,
        span: DayRange,
        plans: &[AccountPlan],
        scope: &Arc<LeaseScope>,
    ) -> (
        Result<Summary, RegistryError>,
        HashMap<AccountSid, Exported>,
    ) {
        let windows = plan::windows(job.resource, plans, job.page_size);
        let observer = self.observer.as_deref();
        if let Some(o) = observer {
            o.planned(&job.name, job.resource, windows.len());
        }
        let done: Mutex<HashMap<AccountSid, Exported>> = Mutex::new(HashMap::new());
        let on_event = |e: WindowEvent<'_>| {
            if let Some(o) = observer {
                o.window(&e);
            }
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
        let exported = exporter
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
            // An account skipped during the run did not retry them.
            retried: if report.summary.skipped(sid) {
                Vec::new()
            } else {
                p.retry.clone()
            },
            days_exported: exported.len(),
            first_exported: exported.first().copied(),
            rows,
            checkpoint_before: was,
            checkpoint: if held { was.max(advance_to) } else { was },
            stopped: (!held).then_some(Stopped::TakenOver),
        })
    }
}
