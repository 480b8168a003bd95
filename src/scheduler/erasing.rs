//! What a step deletes on purpose (see `crate::erase`): before exporting, the deletions a
//! killed process left pending and, with `--purge-deauthorized-after`, the purges of accounts
//! deauthorized longer ago than that; after a job's run, its retention (`retention_days`),
//! under the leases the run still holds.

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};

use super::jobs::Job;
use super::{JobReport, Scheduler, SchedulerError};
use crate::erase::{Erased, Eraser};

impl Scheduler {
    /// Each step also purges the accounts deauthorized more than `days` days before it.
    pub fn with_deauthorized_purge(mut self, days: Option<u32>) -> Self {
        self.purge_deauthorized_after = days;
        self
    }

    /// The deletions steps did since the last call, oldest first.
    pub fn take_erased(&self) -> Vec<Erased> {
        std::mem::take(&mut *self.erased.lock().expect("not poisoned"))
    }

    fn eraser(&self) -> Eraser<'_> {
        Eraser::new(self.registry(), &self.exporter.store, &self.holder)
    }

    fn keep(&self, erased: Erased) {
        self.erased.lock().expect("not poisoned").push(erased);
    }

    /// Completes pending deletions, then purges long-deauthorized accounts of this shard. One
    /// that cannot be done now (another process holds the account, the store failed) is
    /// logged and left for the next step.
    pub(super) async fn erase_first(&self, now: DateTime<Utc>) -> Result<(), SchedulerError> {
        let eraser = self.eraser();
        for e in eraser.complete_pending().await?.into_iter().flatten() {
            self.keep(e);
        }
        if let Some(days) = self.purge_deauthorized_after {
            let shard = self.settings.shard;
            for (_, done) in eraser.purge_deauthorized(days, now, shard).await? {
                if let Ok(e) = done {
                    self.keep(e);
                }
            }
        }
        Ok(())
    }

    /// `job`'s retention after its run: for each account it exported under its lease to the
    /// end, the partitions (and failed windows) of days before today minus `retention_days`,
    /// but never a day the run wrote: when it wrote an older day (a failed day retried, or a
    /// catch-up), only the days before that one go now, the rest with the next run. A failed
    /// day retried and failing again does not hold it back.
    pub(super) async fn retain(&self, job: &Job, report: &JobReport, today: NaiveDate) {
        let Some(days) = job.retention_days else {
            return;
        };
        if report.summary.interrupted {
            return;
        }
        let cutoff = today - TimeDelta::days(i64::from(days));
        let eraser = self.eraser();
        for a in report.accounts.iter().filter(|a| a.stopped.is_none()) {
            let before = a.first_exported.map_or(cutoff, |first| first.min(cutoff));
            match eraser
                .retain(&a.account, job.resource, before, &job.name)
                .await
            {
                Ok(Some(e)) => {
                    tracing::info!(account = %a.account, job = %job.name, before = %before, partitions = e.deletion.partitions, "Retention deleted old partitions");
                    self.keep(e);
                }
                Ok(None) => {}
                Err(e) => {
                    tracing::warn!(account = %a.account, job = %job.name, error = %e, "Retention could not delete old partitions; the next run tries again")
                }
            }
        }
    }
}
