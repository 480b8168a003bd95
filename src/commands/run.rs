//! `run`: one scheduler step. Without `--job`, the jobs whose schedule fired since they last
//! exported each account (for `*/5 * * * * twilio-export run` in a crontab, or a Kubernetes
//! CronJob); with `--job`, those jobs now. `--shard I/N`, or in an Indexed Job
//! `JOB_COMPLETION_INDEX` with `TWILIO_EXPORT_SHARDS=N`, limits it to a share of the accounts.

use super::build::{clock, jobs, scheduler};
use super::metrics_file::{self, RunMetrics};
use super::{report, Exit};
use crate::cli::RunArgs;
use crate::config::Config;
use crate::registry::DeletionReason;
use crate::scheduler::plan::Shard;
use crate::scheduler::{Outcome, Scheduler, SchedulerError, Selection};
use crate::telemetry::{self, Level};

/// Set by Kubernetes in each pod of an Indexed Job: the pod's index, 0..completions.
const INDEX_ENV: &str = "JOB_COMPLETION_INDEX";
/// How many shards an Indexed Job's pods split the accounts into (its `completions`).
const SHARDS_ENV: &str = "TWILIO_EXPORT_SHARDS";

pub async fn run(config: &Config, args: RunArgs) -> anyhow::Result<Exit> {
    // Everything is checked before anything is opened.
    let jobs = jobs(config)?;
    for name in &args.jobs {
        if !jobs.iter().any(|j| &j.name == name) {
            let known: Vec<&str> = jobs.iter().map(|j| j.name.as_str()).collect();
            anyhow::bail!(
                "--job: no job named {name:?} in {} (the jobs are: {})",
                config.jobs_dir.display(),
                known.join(", ")
            );
        }
    }
    let started = std::time::Instant::now();
    let shard = shard(args.shard)?;
    let clock = clock()?;
    let selection = if args.jobs.is_empty() {
        Selection::Due
    } else {
        Selection::Named(args.jobs.clone())
    };

    let scheduler = scheduler(config, jobs, shard, "run").await?;
    let outcome = match scheduler.run_once(&selection, clock.now()).await {
        Ok(outcome) => outcome,
        Err(SchedulerError::Midway(e)) => return Err(super::PartlyDone(e).into()),
        Err(e) => return Err(e.into()),
    };
    // Purges done first are told first; a job's retention after its heading.
    let (first, retention): (Vec<_>, Vec<_>) = scheduler
        .take_erased()
        .into_iter()
        .partition(|e| e.deletion.reason != DeletionReason::Retention);
    report::erased(&first);
    report::outcome(&outcome);
    report::erased(&retention);
    let pending = pending_deletions(&scheduler).await?;
    if let Some(path) = &config.metrics_file {
        let at = Finished {
            shard,
            started,
            now: clock.now(),
        };
        let metrics = run_metrics(&scheduler, &outcome, pending, at).await?;
        metrics_file::write_if_asked(Some(path), &metrics);
    }
    if let Outcome::Exported(reports) = &outcome {
        if !reports.is_empty()
            && reports
                .iter()
                .all(|r| report::only_mode_conflicts(&r.summary))
        {
            anyhow::bail!("nothing was exported: another export recorded partitions in another pseudonym mode meanwhile ({})", reports[0].summary.failures[0].1);
        }
    }
    Ok(match &outcome {
        _ if pending > 0 => Exit::Failed,
        // A job the run was stopped before is in the reports, as interrupted.
        Outcome::Exported(reports) if reports.iter().any(|r| !r.succeeded()) => Exit::Failed,
        _ => Exit::Success,
    })
}

/// Says the deletions still pending; returns how many could not be completed. Such a
/// deletion stays pending, with its error in `status`, and fails the run. One without an error
/// is another process's to finish (another shard's, started at the same time), or the next
/// run's: it is said, and fails nothing.
async fn pending_deletions(scheduler: &Scheduler) -> anyhow::Result<usize> {
    let (pending, in_progress): (Vec<_>, Vec<_>) = scheduler
        .exporter()
        .registry
        .pending_deletions()
        .await?
        .into_iter()
        .partition(|d| d.last_error.is_some());
    for d in &pending {
        let why = d.last_error.as_deref().unwrap_or_default();
        telemetry::say(
            Level::WARN,
            format_args!(
                "{}: a {} deletion (#{}) is still pending: {why}",
                d.account_sid, d.reason, d.id
            ),
        );
    }
    for d in &in_progress {
        tracing::info!(account = %d.account_sid, id = d.id, reason = %d.reason, "A deletion is pending while another process holds the account: that process or a later run completes it");
    }
    Ok(pending.len())
}

/// Where and when a run finished, for its metrics.
struct Finished {
    shard: Shard,
    started: std::time::Instant,
    now: chrono::DateTime<chrono::Utc>,
}

/// The metrics of the run: what its jobs did, and what the registry holds at its end.
async fn run_metrics(
    scheduler: &Scheduler,
    outcome: &Outcome,
    pending: usize,
    at: Finished,
) -> anyhow::Result<RunMetrics> {
    let mut metrics = RunMetrics::default();
    if at.shard != Shard::all() {
        metrics.shard(at.shard.to_string());
    }
    let registry = &scheduler.exporter().registry;
    metrics.registry_state(&registry.failures().await?, &registry.accounts().await?);
    metrics.deletions_pending(pending);
    if let Outcome::Exported(reports) = outcome {
        for r in reports {
            metrics.add(&r.summary);
            metrics.add_deauthorized(&r.deauthorized);
            if r.exported_successfully() {
                metrics.succeeded(&r.job, r.resource, at.now);
            }
        }
    }
    let fetch = scheduler.exporter().client.stats();
    metrics.finish(fetch, at.started.elapsed().as_secs_f64());
    Ok(metrics)
}

/// `--shard I/N`; without it `JOB_COMPLETION_INDEX/TWILIO_EXPORT_SHARDS`; without both, every
/// account. One of the two variables without the other is a usage error: each pod would
/// otherwise export every account, or Kubernetes' index would be silently ignored.
fn shard(flag: Option<Shard>) -> anyhow::Result<Shard> {
    if let Some(s) = flag {
        return Ok(s);
    }
    let var = |k: &str| {
        std::env::var(k)
            .ok()
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    };
    match (var(INDEX_ENV), var(SHARDS_ENV)) {
        (None, None) => Ok(Shard::all()),
        (Some(i), Some(n)) => Shard::parse(&format!("{i}/{n}"))
            .map_err(|e| anyhow::anyhow!("{INDEX_ENV} and {SHARDS_ENV}: {e}")),
        (Some(i), None) => anyhow::bail!(
            "{INDEX_ENV}={i} but {SHARDS_ENV} is not set: set it to the Job's completions (the number of shards), or pass --shard I/N"
        ),
        (None, Some(n)) => anyhow::bail!(
            "{SHARDS_ENV}={n} but {INDEX_ENV} is not set: run it in an Indexed Job, or pass --shard I/N"
        ),
    }
}
