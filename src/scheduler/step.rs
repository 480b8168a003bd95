//! The step: which jobs are due for which accounts at `now`, each run in turn and recorded,
//! after the deletions that must come first (`erasing`).

use chrono::{DateTime, Utc};

use super::jobs::Job;
use super::modes;
use super::plan::{self, Selected};
use super::{JobReport, Outcome, Scheduler, SchedulerError, Selection};
use crate::export::Exporter;

impl Scheduler {
    /// The step: runs the selected jobs for the instant `now`, one after the other, each for
    /// its accounts that are due (all of them for named jobs), and records which accounts each
    /// job covered unless it was interrupted (so that the next start catches them up).
    pub async fn run_once(
        &self,
        selection: &Selection,
        now: DateTime<Utc>,
    ) -> Result<Outcome, SchedulerError> {
        self.erase_first(now).await?;
        let chosen = self.choose(selection, now).await?;
        if chosen.is_empty() {
            return Ok(Outcome::NothingDue {
                next: self.next_due(now).await?,
            });
        }
        for (job, selected) in &chosen {
            self.check_job_modes(job, selected).await?;
        }
        self.store_checked
            .get_or_try_init(|| self.exporter.store.check())
            .await?;
        if let Err(e) = self.registry().abandon_dead_runs().await {
            tracing::warn!(error = %e, "Cannot mark the runs of dead processes abandoned");
        }
        let mut reports = Vec::new();
        for (job, selected) in chosen {
            if self.exporter.cancel.is_cancelled() {
                // Stopped before this job: it is reported as not started (and stays due).
                reports.push(JobReport::not_started(job));
                continue;
            }
            let midway = |e| match e {
                SchedulerError::Registry(e) => SchedulerError::Midway(e),
                other => other,
            };
            let report = self.run_job(job, selected, now).await.map_err(midway)?;
            if !report.summary.interrupted {
                let (run, outcome) = (report.summary.run, report.recorded_outcome());
                self.registry()
                    .record_job_accounts(&job.name, &report.covered, now, run, outcome)
                    .await
                    .map_err(SchedulerError::Midway)?;
                self.registry()
                    .record_job_run(&job.name, now, run, outcome)
                    .await
                    .map_err(SchedulerError::Midway)?;
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
                // A job named twice runs once.
                let mut seen = std::collections::HashSet::new();
                for name in names.iter().filter(|n| seen.insert(*n)) {
                    let job = self.jobs.iter().find(|j| &j.name == name).ok_or_else(|| {
                        SchedulerError::UnknownJob {
                            name: name.clone(),
                            known: self.job_names(),
                        }
                    })?;
                    chosen.push((job, self.select_accounts(job).await?));
                }
            }
            Selection::Due | Selection::DueBut(_) => {
                for job in self.jobs.iter().filter(|j| !selection.holds_back(&j.name)) {
                    let mut selected = self.select_accounts(job).await?;
                    // A job that names accounts of which none is registered is never due for
                    // any: it runs when its schedule fires, to say so, rather than waiting
                    // silently forever.
                    let none_registered = selected.active.is_empty()
                        && selected.skipped.is_empty()
                        && !selected.unregistered.is_empty()
                        && plan::due_at(
                            &job.schedule,
                            self.registry().last_job_run(&job.name).await?,
                            now,
                        ) <= now;
                    let last = self.registry().job_account_runs(&job.name).await?;
                    selected.active = plan::due_now(job, selected.active, &last, now);
                    if !selected.active.is_empty() || none_registered {
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
        let times = self.due_times(now).await?;
        Ok(times.into_iter().min_by_key(|(_, at)| *at))
    }

    /// When each job becomes due for one of its accounts in this shard (at `now` or before if
    /// it is due already), for the jobs that will.
    pub(super) async fn due_times(
        &self,
        now: DateTime<Utc>,
    ) -> Result<Vec<(String, DateTime<Utc>)>, SchedulerError> {
        let mut times = Vec::new();
        for job in &self.jobs {
            let selected = self.select_accounts(job).await?;
            let last = self.registry().job_account_runs(&job.name).await?;
            if let Some(at) = plan::next_due(job, &selected.active, &last, now) {
                times.push((job.name.clone(), at));
            }
        }
        Ok(times)
    }

    /// The exporter of `job`: the configured one, with the job's `pseudonymize` if it sets it.
    pub(super) fn job_exporter(&self, job: &Job) -> Result<Exporter, SchedulerError> {
        let pseudonyms = self
            .exporter
            .pseudonyms
            .for_job(job.pseudonymize)
            .map_err(|cause| SchedulerError::NoKey {
                job: job.name.clone(),
                cause,
            })?;
        Ok(Exporter {
            pseudonyms,
            ..self.exporter.clone()
        })
    }

    /// Refuses every job, due or not, whose accounts have partitions written in another
    /// pseudonym mode than the job writes ([`modes`]).
    pub async fn check_modes(&self) -> Result<(), SchedulerError> {
        for job in &self.jobs {
            self.check_job_modes(job, &self.select_accounts(job).await?)
                .await?;
        }
        Ok(())
    }

    /// Refuses a job whose accounts have partitions written in another pseudonym mode.
    async fn check_job_modes(&self, job: &Job, selected: &Selected) -> Result<(), SchedulerError> {
        let mode = self.job_exporter(job)?.pseudonyms.mode();
        let sids: Vec<_> = selected.active.iter().map(|a| a.sid.clone()).collect();
        match modes::mixed(self.registry(), job.resource, &sids, &mode, None).await? {
            Some(mixed) => Err(SchedulerError::MixedModes(mixed)),
            None => Ok(()),
        }
    }

    fn job_names(&self) -> String {
        let names: Vec<&str> = self.jobs.iter().map(|j| j.name.as_str()).collect();
        names.join(", ")
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
}
