//! `run`: one scheduler step. Without `--job`, the jobs whose schedule fired since they last
//! exported each account (for `*/5 * * * * twilio-export run` in a crontab, or a Kubernetes
//! CronJob); with `--job`, those jobs now. `--shard I/N`, or in an Indexed Job
//! `JOB_COMPLETION_INDEX` with `TWILIO_EXPORT_SHARDS=N`, limits it to a share of the accounts.
//! Also the parts `schedule` shares: loading the jobs, the clock, building the scheduler, and
//! printing what a step did.

use anyhow::Context;
use chrono::{DateTime, Utc};

use super::backfill::{default_concurrency, exit_of, print_summary};
use super::{exporter, Exit};
use crate::cli::RunArgs;
use crate::config::Config;
use crate::scheduler::jobs::{self, Job};
use crate::scheduler::plan::Shard;
use crate::scheduler::{Clock, JobReport, Outcome, Scheduler, Selection, Settings, LEASE_TTL};
use crate::shutdown;

/// Hidden: pretend the clock reads this RFC 3339 instant at start (tests and demos against the
/// simulator, whose "today" is chosen by the test).
const NOW_ENV: &str = "TWILIO_EXPORT_NOW";
/// Set by Kubernetes in each pod of an Indexed Job: the pod's index, 0..completions.
const INDEX_ENV: &str = "JOB_COMPLETION_INDEX";
/// How many shards an Indexed Job's pods split the accounts into (its `completions`).
const SHARDS_ENV: &str = "TWILIO_EXPORT_SHARDS";

pub async fn run(config: &Config, args: RunArgs) -> anyhow::Result<Exit> {
    // Everything is checked before anything is opened.
    let jobs = load_jobs(config)?;
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
    let shard = shard(args.shard)?;
    let clock = clock()?;
    let selection = if args.jobs.is_empty() {
        Selection::Due
    } else {
        Selection::Named(args.jobs.clone())
    };

    let scheduler = build(config, jobs, shard, "run").await?;
    let outcome = scheduler.run_once(&selection, clock.now()).await?;
    print_outcome(&outcome);
    Ok(match &outcome {
        Outcome::Exported(reports) if reports.iter().any(|r| !r.succeeded()) => Exit::Failed,
        // A stop before the first job: nothing asked for was done.
        Outcome::Exported(reports) if reports.is_empty() => Exit::Failed,
        _ => Exit::Success,
    })
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

/// The validated job files of `--jobs-dir`; any bad file stops the command (exit 2).
pub(crate) fn load_jobs(config: &Config) -> anyhow::Result<Vec<Job>> {
    Ok(jobs::load_dir(&config.jobs_dir)?)
}

/// The system clock, or one that starts at `TWILIO_EXPORT_NOW`.
pub(crate) fn clock() -> anyhow::Result<Clock> {
    match std::env::var(NOW_ENV) {
        Ok(v) if !v.trim().is_empty() => {
            let start = DateTime::parse_from_rfc3339(v.trim())
                .with_context(|| format!("{NOW_ENV}: {v:?} is not an RFC 3339 instant"))?;
            Ok(Clock::starting_at(start.with_timezone(&Utc)))
        }
        _ => Ok(Clock::system()),
    }
}

/// A scheduler over the configured exporter, cancelled by SIGINT/SIGTERM.
pub(crate) async fn build(
    config: &Config,
    jobs: Vec<Job>,
    shard: Shard,
    command: &str,
) -> anyhow::Result<Scheduler> {
    let cancel = shutdown::on_signal();
    let exporter = exporter(config, cancel).await?;
    let cfg = config.clone();
    let settings = Settings {
        command: command.to_owned(),
        shard,
        lease_ttl: LEASE_TTL,
        default_concurrency: Box::new(move |accounts| default_concurrency(&cfg, accounts)),
    };
    Ok(Scheduler::new(exporter, jobs, settings))
}

/// Prints what a step did, job by job.
pub(crate) fn print_outcome(outcome: &Outcome) {
    match outcome {
        Outcome::NothingDue { next } => match next {
            Some((job, at)) => println!(
                "Nothing due; next: job {job} at {}",
                at.format("%Y-%m-%d %H:%M:%S UTC")
            ),
            None => println!("Nothing due"),
        },
        Outcome::Exported(reports) => {
            for r in reports {
                print_job(r);
            }
        }
    }
}

fn print_job(r: &JobReport) {
    println!("job {}:", r.job);
    match r.days {
        Some(days) => print_summary(r.resource, days, &r.summary),
        None => println!("{}: nothing to export", r.resource),
    }
    let mut by_checkpoint: std::collections::BTreeMap<String, usize> = Default::default();
    for a in &r.accounts {
        let at = a
            .checkpoint
            .map_or_else(|| "none yet".to_owned(), |d| d.to_string());
        *by_checkpoint.entry(at).or_default() += 1;
        if !a.retried.is_empty() {
            let days: Vec<String> = a.retried.iter().map(|d| d.to_string()).collect();
            println!("  {}: failed days retried: {}", a.account, days.join(", "));
        }
        if a.lease_lost {
            println!(
                "  {}: lease taken over during the run; checkpoint left to the other process",
                a.account
            );
        }
    }
    for (at, n) in &by_checkpoint {
        println!(
            "  checkpoint {at}: {n} account{}",
            if *n == 1 { "" } else { "s" }
        );
    }
    for sid in &r.busy {
        println!("  {sid}: skipped, another process is exporting it (still due)");
    }
    for (sid, from) in &r.taken_over {
        println!("  {sid}: lease taken over from {from}, whose process had died");
    }
    for sid in &r.deauthorized {
        println!("  {sid}: deauthorized, skipped");
    }
    for (sid, status) in &r.inactive {
        println!("  {sid}: {status} on Twilio, skipped");
    }
    for sid in &r.unregistered {
        println!("  {sid}: named by the job but not registered (add it with: twilio-export accounts add {sid})");
    }
    if exit_of(&r.summary) == Exit::Failed || !r.unregistered.is_empty() {
        println!(
            "  job {} did not finish everything; the next run retries",
            r.job
        );
    }
}
