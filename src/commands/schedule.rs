//! `schedule`: stay up and run each job on its cron schedule (`Scheduler::serve`). Jobs missed
//! while it was down run at start. SIGTERM/SIGINT stop it: windows in flight are abandoned and
//! left as they were, finished ones are recorded and checkpointed, leases are given back, and
//! it exits 0. A step refused for a configuration conflict (a job would mix pseudonym modes)
//! stops it with exit 2.

use super::build::{clock, jobs, scheduler};
use super::{report, Exit};
use crate::config::Config;
use crate::scheduler::plan::Shard;
use crate::scheduler::Outcome;

pub async fn run(config: &Config) -> anyhow::Result<Exit> {
    let jobs = jobs(config)?;
    let clock = clock()?;
    let scheduler = scheduler(config, jobs, Shard::all(), "schedule").await?;
    // A job that would mix pseudonym modes stops it before it starts (each step checks again).
    scheduler.check_modes().await?;
    for job in scheduler.jobs() {
        println!(
            "job {}: {} on \"{}\" (UTC), lookback {} days",
            job.name, job.resource, job.schedule, job.lookback_days
        );
    }
    println!(
        "Scheduling as {}; stop with SIGTERM or Ctrl-C",
        scheduler.holder()
    );
    scheduler
        .serve(clock, |outcome| {
            report::erased(&scheduler.take_erased());
            // A quiet tick is not news; what ran is.
            if let Outcome::Exported(_) = outcome {
                report::outcome(outcome);
            }
        })
        .await?;
    println!("Stopped");
    Ok(Exit::Success)
}
