//! `schedule`: a loop around the step, sleeping until the next job is due.

use std::time::Duration;

use super::{Clock, Outcome, Scheduler, Selection};

/// The longest `serve` sleeps before looking at the clock and the schedules again.
const MAX_SLEEP: Duration = Duration::from_secs(60);
/// How long `serve` waits after a step failed (the database was unreachable, say).
const RETRY_AFTER_ERROR: Duration = Duration::from_secs(30);

impl Scheduler {
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
}
