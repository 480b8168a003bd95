//! `status`: accounts, checkpoints of scheduled runs (with each pair's last success, rows and
//! last error), partitions exported, jobs and when they are next due, leases held, recent runs
//! and windows that failed (each retried by every scheduled run until it succeeds).
//! Read-only; a bad job file is shown, not fatal. A run whose process is provably dead shows
//! as abandoned.

use serde_json::json;

use super::{open_registry, Exit};
use crate::cli::JsonFlag;
use crate::config::Config;
use chrono::{DateTime, Utc};

use crate::registry::{Account, JobRunRecord, Registry, RunRecord};
use crate::scheduler::jobs::{self, Job};
use crate::scheduler::plan;

pub async fn run(config: &Config, args: JsonFlag) -> anyhow::Result<Exit> {
    let registry = open_registry(config).await?;
    let accounts = registry.accounts().await?;
    let checkpoints = registry.checkpoints().await?;
    let partitions = registry.partition_summary().await?;
    let job_runs = registry.job_runs().await?;
    let leases = registry.leases().await?;
    let runs = registry.recent_runs(10).await?;
    let failures = registry.failures().await?;
    let (jobs, jobs_error) = match jobs::load_dir(&config.jobs_dir) {
        Ok(jobs) => (jobs, None),
        Err(e) => (Vec::new(), Some(e.to_string())),
    };
    let now = super::run::clock()?.now();
    let mut job_rows: Vec<JobStatus<'_>> = Vec::new();
    for job in &jobs {
        let last = job_runs.iter().find(|r| r.job == job.name);
        let next = next_due(&registry, job, &accounts, now).await?;
        job_rows.push(JobStatus { job, last, next });
    }

    if args.json {
        let jobs_json: Vec<_> = job_rows
            .iter()
            .map(|s| {
                json!({
                    "name": s.job.name,
                    "resource": s.job.resource.cli_name(),
                    "schedule": s.job.schedule.as_str(),
                    "lookback_days": s.job.lookback_days,
                    "file": s.job.file.display().to_string(),
                    "last_run": s.last,
                    "next_due": s.next.map(|t| t.to_rfc3339()),
                })
            })
            .collect();
        let doc = json!({
            "accounts": accounts,
            "checkpoints": checkpoints,
            "partitions": partitions,
            "jobs": jobs_json,
            "jobs_error": jobs_error,
            "leases": leases,
            "runs": runs,
            "failures": failures,
        });
        println!("{}", serde_json::to_string_pretty(&doc)?);
        return Ok(Exit::Success);
    }
    println!("Accounts");
    super::accounts::print_table(&accounts);
    println!("\nCheckpoints (the last day fully exported by scheduled runs)");
    if checkpoints.is_empty() {
        println!("  none yet (run: twilio-export run)");
    }
    for c in &checkpoints {
        println!(
            "  {}  {:<14} {:<10}  last success {}  {:>8} rows last run{}",
            c.account_sid,
            c.resource,
            c.day.map_or_else(|| "none".to_owned(), |d| d.to_string()),
            c.last_success_at.as_deref().unwrap_or("never"),
            c.last_rows,
            match (&c.last_error, &c.last_error_at) {
                (Some(e), Some(at)) => format!("\n      last error {at}: {e}"),
                (Some(e), None) => format!("\n      last error: {e}"),
                _ => String::new(),
            }
        );
    }
    println!("\nExported");
    if partitions.is_empty() {
        println!("  nothing yet");
    }
    for p in &partitions {
        println!(
            "  {}  {:<14} {:>5} days {} .. {}  {:>10} rows  last {}",
            p.account_sid,
            p.resource,
            p.partitions,
            p.first_day
                .map_or_else(|| "-".to_owned(), |d| d.to_string()),
            p.last_day.map_or_else(|| "-".to_owned(), |d| d.to_string()),
            p.rows,
            p.last_exported_at.as_deref().unwrap_or("-")
        );
    }
    println!("\nJobs ({})", config.jobs_dir.display());
    if let Some(e) = &jobs_error {
        println!("  cannot load the job files: {e}");
    }
    for s in &job_rows {
        let last = s.last.map_or_else(
            || "never ran".to_owned(),
            |r| {
                format!(
                    "last ran for {} ({}{})",
                    r.last_due_at,
                    r.outcome,
                    r.run_id
                        .map(|id| format!(", run #{id}"))
                        .unwrap_or_default()
                )
            },
        );
        let next = match s.next {
            Some(t) if t <= now => "due now".to_owned(),
            Some(t) => format!("next {}", t.format("%Y-%m-%d %H:%M:%S UTC")),
            None => "never again".to_owned(),
        };
        println!(
            "  {:<16} {:<14} \"{}\" lookback {} days  {last}  {next}",
            s.job.name,
            s.job.resource.cli_name(),
            s.job.schedule,
            s.job.lookback_days
        );
    }
    if !leases.is_empty() {
        println!("\nLeases (an account being exported by a run or schedule process)");
        for l in &leases {
            let process = match (&l.host, l.pid) {
                (Some(host), Some(pid)) => format!(" (pid {pid} on {host})"),
                _ => String::new(),
            };
            println!(
                "  {}  {:<14} held by {}{process} since {} until {}{}",
                l.account_sid,
                l.resource,
                l.holder,
                l.acquired_at,
                l.expires_at,
                if l.holder_dead {
                    " (its process died: free to take over)"
                } else if l.expired {
                    " (expired: free to take over)"
                } else {
                    ""
                }
            );
        }
    }
    print_runs(&runs);
    if !failures.is_empty() {
        println!("\nFailed windows (retried by the next run)");
        for f in &failures {
            println!(
                "  {} {} {}  {}  {}",
                f.account_sid, f.resource, f.day, f.failed_at, f.error
            );
        }
    }
    Ok(Exit::Success)
}

/// When `job` is next due for one of its active accounts (any shard): `None` if it has none,
/// or its schedule never fires again for them.
async fn next_due(
    registry: &Registry,
    job: &Job,
    accounts: &[Account],
    now: DateTime<Utc>,
) -> anyhow::Result<Option<DateTime<Utc>>> {
    let last = registry.job_account_runs(&job.name).await?;
    Ok(accounts
        .iter()
        .filter(|a| a.skip().is_none())
        .filter(|a| job.accounts.is_empty() || job.accounts.contains(&a.sid))
        .map(|a| plan::due_at(&job.schedule, last.get(a.sid.as_str()).copied(), now))
        .min()
        .filter(|t| *t < DateTime::<Utc>::MAX_UTC))
}

/// A job with its last run and when it is next due.
struct JobStatus<'a> {
    job: &'a Job,
    last: Option<&'a JobRunRecord>,
    next: Option<DateTime<Utc>>,
}

/// The recent runs, newest first, with the records each left out when there were any.
fn print_runs(runs: &[RunRecord]) {
    println!("\nRecent runs");
    if runs.is_empty() {
        println!("  none yet");
    }
    for r in runs {
        let left_out = if r.outside_window > 0 || r.duplicates > 0 {
            format!(
                " ({} of other days, {} repeated: left out)",
                r.outside_window, r.duplicates
            )
        } else {
            String::new()
        };
        println!(
            "  #{:<5} {:<9} {:<12} {}  {} windows, {} failed, {} rows{left_out}  {}",
            r.id,
            r.command,
            r.outcome,
            r.started_at,
            r.windows_exported,
            r.windows_failed,
            r.rows,
            r.detail.as_deref().unwrap_or("")
        );
    }
}
