//! `schedule`: a loop around the step, sleeping until the next job is due.

use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::{Clock, Outcome, Scheduler, SchedulerError, Selection};

/// The longest `serve` sleeps before looking at the clock and the schedules again.
const MAX_SLEEP: Duration = Duration::from_secs(60);
/// How long `serve` waits after a step failed (the database was unreachable, say).
const RETRY_AFTER_ERROR: Duration = Duration::from_secs(30);
/// How long `serve` waits before a job that is still due right after its step: its accounts
/// that another process is exporting (their leases held by a `backfill`, another replica, or
/// a crashed process on another host until the lease expires) stay due, and trying them again
/// at once would loop as fast as the database answers for as long as that process holds them.
const RETRY_STILL_DUE: Duration = Duration::from_secs(30);

impl Scheduler {
    /// `schedule`: runs due jobs until the exporter's token is cancelled, handing each step's
    /// outcome to `on_outcome`. Jobs missed while nothing was running are due at once, and each
    /// runs once however many fire times it missed: its checkpoint covers the gap.
    ///
    /// A step refused for a configuration conflict (a job would mix pseudonym modes, or needs
    /// a key there is not) ends it with that error: waiting would not resolve it. Other
    /// failures (the database unreachable, say) are retried.
    pub async fn serve(
        &self,
        clock: Clock,
        on_outcome: impl Fn(&Outcome),
    ) -> Result<(), SchedulerError> {
        let cancel = self.exporter.cancel.clone();
        // Jobs still due right after their step, and until when they are held back.
        let mut held: HashMap<String, DateTime<Utc>> = HashMap::new();
        while !cancel.is_cancelled() {
            let step_now = clock.now();
            held.retain(|_, until| *until > step_now);
            let selection = Selection::DueBut(held.keys().cloned().collect());
            let wait = match self.run_once(&selection, step_now).await {
                Ok(outcome) => {
                    on_outcome(&outcome);
                    self.wait_after(&outcome, step_now, &clock, &mut held).await
                }
                Err(e @ (SchedulerError::MixedModes(_) | SchedulerError::NoKey { .. })) => {
                    return Err(e);
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
        Ok(())
    }

    /// How long to sleep after a step at `step_now` with `outcome`: until the next job is due
    /// (at most [`MAX_SLEEP`]). A job that ran in the step and was due at `step_now` still is
    /// (accounts another process is exporting): it is held back for [`RETRY_STILL_DUE`], while
    /// other jobs run when they fall due. One due since (its next fire time passed during a
    /// long step) runs at once.
    async fn wait_after(
        &self,
        outcome: &Outcome,
        step_now: DateTime<Utc>,
        clock: &Clock,
        held: &mut HashMap<String, DateTime<Utc>>,
    ) -> Duration {
        let ran =
            |job: &str| matches!(outcome, Outcome::Exported(r) if r.iter().any(|j| j.job == job));
        // As of the step: a job due then is `step_now` (and still due if it ran); one that
        // became due during the step, its fire time.
        let times = match self.due_times(step_now).await {
            Ok(times) => times,
            Err(e) => {
                tracing::error!(error = %e, stage = "scheduling", "Cannot read the job runs; retrying");
                return RETRY_AFTER_ERROR;
            }
        };
        let mut next: Option<DateTime<Utc>> = None;
        for (job, at) in times {
            if at <= step_now && ran(&job) {
                tracing::info!(
                    job = %job,
                    retry_in_seconds = RETRY_STILL_DUE.as_secs(),
                    "Job still due after its run (accounts another process is exporting); trying it again later"
                );
                held.insert(job.clone(), step_now + RETRY_STILL_DUE);
            }
            let at = held.get(&job).map_or(at, |until| at.max(*until));
            next = Some(next.map_or(at, |n| n.min(at)));
        }
        next.map_or(MAX_SLEEP, |at| {
            (at - clock.now())
                .to_std()
                .unwrap_or(Duration::ZERO)
                .min(MAX_SLEEP)
        })
    }
}
