//! `status`: accounts, checkpoints of scheduled runs (with each pair's last success, rows and
//! last error), partitions exported, jobs and when they are next due, leases held, recent runs
//! (abandoned ones, and the records each left out) and windows that failed (each retried by
//! every scheduled run until it succeeds). Read-only; a bad job file is shown, not fatal.
//!
//! [`gather`] reads everything into one [`StatusDocument`]; `--json` prints it as JSON (its
//! keys are documented in the README, "status --json") and the text is rendered from it.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::build::{clock, open_registry};
use super::{report, Exit};
use crate::cli::JsonFlag;
use crate::config::Config;
use crate::registry::{
    instant_text, Account, CheckpointRecord, Deletion, JobRunRecord, LeaseRecord, PairMode,
    PairModes, PartitionSummary, Registry, RunRecord, WindowFailure,
};
use crate::scheduler::jobs::{self, Job};
use crate::scheduler::plan::{self, Shard};

/// How many of the most recent runs are shown.
const RECENT_RUNS: i64 = 10;

pub async fn run(config: &Config, args: JsonFlag) -> anyhow::Result<Exit> {
    let registry = open_registry(config).await?;
    let doc = gather(config, &registry, clock()?.now()).await?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&doc)?);
    } else {
        render(&doc);
    }
    Ok(Exit::Success)
}

/// Everything `status` shows, as `status --json` prints it.
#[derive(Debug, Serialize)]
pub struct StatusDocument {
    /// The instant the status is for (RFC 3339).
    pub now: String,
    pub accounts: Vec<Account>,
    pub checkpoints: Vec<CheckpointRecord>,
    pub partitions: Vec<PartitionSummary>,
    /// The directory the job files were read from.
    pub jobs_dir: String,
    pub jobs: Vec<JobStatus>,
    /// Why the job files could not be read, if they could not.
    pub jobs_error: Option<String>,
    pub leases: Vec<LeaseRecord>,
    /// The most recent runs, newest first.
    pub runs: Vec<RunRecord>,
    /// Windows whose last export failed, with the error.
    pub failures: Vec<WindowFailure>,
    /// Purges and retention deletions: every pending one and, for each account, its most
    /// recent done one of each reason (purge, deauthorized, retention), newest first.
    pub deletions: Vec<Deletion>,
    #[serde(skip)]
    now_at: DateTime<Utc>,
}

/// A job, its last run and when it is next due.
#[derive(Debug, Serialize)]
pub struct JobStatus {
    pub name: String,
    pub resource: &'static str,
    pub schedule: String,
    pub lookback_days: u32,
    pub file: String,
    pub last_run: Option<JobRunRecord>,
    /// When the job is next due for one of its accounts (RFC 3339; `now` or earlier when it is
    /// due already), or `None` when it has none or its schedule never fires again.
    pub next_due: Option<String>,
    /// The active accounts the job exports (in every shard): none, and it is never due.
    pub active_accounts: usize,
    #[serde(skip)]
    next_due_at: Option<DateTime<Utc>>,
}

/// Reads the registry and the job files as of `now`.
pub async fn gather(
    config: &Config,
    registry: &Registry,
    now: DateTime<Utc>,
) -> anyhow::Result<StatusDocument> {
    let accounts = registry.accounts().await?;
    let (jobs, jobs_error) = match jobs::load_dir(&config.jobs_dir) {
        Ok(jobs) => (jobs, None),
        Err(e) => (Vec::new(), Some(e.to_string())),
    };
    let job_runs = registry.job_runs().await?;
    let mut job_rows = Vec::new();
    for job in &jobs {
        let last_run = job_runs.iter().find(|r| r.job == job.name).cloned();
        job_rows.push(job_status(registry, job, &accounts, last_run, now).await?);
    }
    Ok(StatusDocument {
        now: instant_text(now),
        checkpoints: registry.checkpoints().await?,
        partitions: registry.partition_summary().await?,
        jobs_dir: config.jobs_dir.display().to_string(),
        jobs: job_rows,
        jobs_error,
        leases: registry.leases().await?,
        runs: registry.recent_runs(RECENT_RUNS).await?,
        failures: registry.failures().await?,
        deletions: registry.recent_deletions().await?,
        accounts,
        now_at: now,
    })
}

/// `job` with its last run and when it is next due for one of its accounts in any shard, as
/// the planning layer says.
async fn job_status(
    registry: &Registry,
    job: &Job,
    accounts: &[Account],
    last_run: Option<JobRunRecord>,
    now: DateTime<Utc>,
) -> anyhow::Result<JobStatus> {
    let selected = plan::select(accounts, &job.accounts, Shard::all());
    let last = registry.job_account_runs(&job.name).await?;
    let next = plan::next_due(job, &selected.active, &last, now);
    Ok(JobStatus {
        name: job.name.clone(),
        resource: job.resource.cli_name(),
        schedule: job.schedule.as_str().to_owned(),
        lookback_days: job.lookback_days,
        file: job.file.display().to_string(),
        last_run,
        next_due: next.map(instant_text),
        active_accounts: selected.active.len(),
        next_due_at: next,
    })
}

/// The document as text, section by section.
fn render(doc: &StatusDocument) {
    println!("Accounts");
    report::accounts(&doc.accounts);
    render_checkpoints(&doc.checkpoints);
    render_partitions(&doc.partitions);
    render_jobs(doc);
    render_leases(&doc.leases);
    render_runs(&doc.runs);
    render_failures(&doc.failures);
    render_deletions(&doc.deletions);
}

fn render_checkpoints(checkpoints: &[CheckpointRecord]) {
    println!("\nCheckpoints (the last day fully exported by scheduled runs)");
    if checkpoints.is_empty() {
        println!("  none yet (run: twilio-export run)");
    }
    for c in checkpoints {
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
}

fn render_partitions(partitions: &[PartitionSummary]) {
    println!("\nExported");
    if partitions.is_empty() {
        println!("  nothing yet");
    }
    for p in partitions {
        println!(
            "  {}  {:<14} {:>5} days {} .. {}  {:>10} rows  last {}  {}",
            p.account_sid,
            p.resource,
            p.partitions,
            p.first_day
                .map_or_else(|| "-".to_owned(), |d| d.to_string()),
            p.last_day.map_or_else(|| "-".to_owned(), |d| d.to_string()),
            p.rows,
            p.last_exported_at.as_deref().unwrap_or("-"),
            mode(&p.modes)
        );
    }
    for line in mixed_across_accounts(partitions) {
        println!("  {line}");
    }
}

/// A line per resource whose accounts were exported in different modes (some in clear, some
/// pseudonymized, or under different keys): one number would have several pseudonyms, or one
/// in some accounts and none in others. Each account's own line shows its mode.
fn mixed_across_accounts(partitions: &[PartitionSummary]) -> Vec<String> {
    let mut modes: std::collections::BTreeMap<String, std::collections::BTreeSet<String>> =
        Default::default();
    for p in partitions {
        // An account mixed in itself says so on its own line.
        if matches!(p.modes.pseudonym, PairMode::Clear | PairMode::Pseudonymized) {
            let set = modes.entry(p.resource.to_string()).or_default();
            set.insert(mode(&p.modes));
        }
    }
    modes
        .into_iter()
        .filter(|(_, set)| set.len() > 1)
        .map(|(resource, set)| {
            let all: Vec<String> = set.into_iter().collect();
            format!(
                "{resource}: MIXED across accounts ({}): export every account again in one mode",
                all.join("; ")
            )
        })
        .collect()
}

/// How a pair's phone numbers and names were written: `clear`, `pseudonymized (key F)`, or
/// `MIXED (…)` with the count in clear and each key; a resource without phone numbers or names
/// (usage records) is the same in every mode, so none is shown.
fn mode(m: &PairModes) -> String {
    let keys: Vec<String> = m
        .key_fingerprints
        .iter()
        .map(|k| format!("key {k}"))
        .collect();
    match m.pseudonym {
        PairMode::Clear => "clear".to_owned(),
        PairMode::Unaffected => "no phone numbers or names".to_owned(),
        PairMode::Pseudonymized => format!("pseudonymized ({})", keys.join(", ")),
        PairMode::Mixed => {
            let clear =
                (m.clear_partitions > 0).then(|| format!("{} days in clear", m.clear_partitions));
            let all: Vec<String> = clear.into_iter().chain(keys).collect();
            format!("MIXED ({}): export them again in one mode", all.join(", "))
        }
    }
}

fn render_jobs(doc: &StatusDocument) {
    println!("\nJobs ({})", doc.jobs_dir);
    if let Some(e) = &doc.jobs_error {
        println!("  cannot load the job files: {e}");
    }
    for s in &doc.jobs {
        let last = s.last_run.as_ref().map_or_else(
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
        let next = next_due_text(s, doc.now_at);
        println!(
            "  {:<16} {:<14} \"{}\" lookback {} days  {last}  {next}",
            s.name, s.resource, s.schedule, s.lookback_days
        );
    }
}

/// When `job` is next due, as `status` says it.
fn next_due_text(job: &JobStatus, now: DateTime<Utc>) -> String {
    match job.next_due_at {
        Some(t) if t <= now => "due now".to_owned(),
        Some(t) => format!("next {}", t.format("%Y-%m-%d %H:%M:%S UTC")),
        None if job.active_accounts == 0 => "no active account to export".to_owned(),
        None => "never again".to_owned(),
    }
}

fn render_leases(leases: &[LeaseRecord]) {
    if leases.is_empty() {
        return;
    }
    println!("\nLeases (an account being exported by a run or schedule process)");
    for l in leases {
        let process = match (&l.host, l.pid) {
            (Some(host), Some(pid)) => format!(" (pid {pid} on {host})"),
            _ => String::new(),
        };
        let free = if l.holder_dead {
            " (its process died: free to take over)"
        } else if l.expired {
            " (expired: free to take over)"
        } else {
            ""
        };
        println!(
            "  {}  {:<14} held by {}{process} since {} until {}{free}",
            l.account_sid, l.resource, l.holder, l.acquired_at, l.expires_at,
        );
    }
}

/// The recent runs, newest first, with the records each left out when there were any.
fn render_runs(runs: &[RunRecord]) {
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

fn render_failures(failures: &[WindowFailure]) {
    if failures.is_empty() {
        return;
    }
    println!("\nFailed windows (retried when a job covering the day next fires, or by run --job)");
    for f in failures {
        println!(
            "  {} {} {}  {}  {}",
            f.account_sid, f.resource, f.day, f.failed_at, f.error
        );
    }
}

/// Purges and retention deletions, newest first; a pending one is completed by the next
/// export.
fn render_deletions(deletions: &[Deletion]) {
    if deletions.is_empty() {
        return;
    }
    println!("\nDeletions (purges and retention)");
    for d in deletions {
        let what = match (d.resource, d.before_day) {
            (None, None) => "every partition".to_owned(),
            (Some(r), None) => format!("{r}"),
            (None, Some(day)) => format!("days before {day}"),
            (Some(r), Some(day)) => format!("{r} before {day}"),
        };
        let job = d
            .job
            .as_deref()
            .map(|j| format!(" (job {j})"))
            .unwrap_or_default();
        let done = match &d.done_at {
            Some(at) => format!("done {at}: {} partitions, {} bytes", d.partitions, d.bytes),
            None => match &d.last_error {
                Some(e) => format!("PENDING, cannot be completed: {e}"),
                None => "PENDING: completed by the next run".to_owned(),
            },
        };
        println!(
            "  #{:<5} {}  {:<12} {what}{job}  requested {}  {done}",
            d.id, d.account_sid, d.reason, d.requested_at
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Resource;
    use crate::pseudonym::Fingerprint;
    use crate::registry::PairModes;

    fn pair(
        sid: &str,
        resource: Resource,
        pseudonym: PairMode,
        key: Option<&str>,
    ) -> PartitionSummary {
        PartitionSummary {
            account_sid: sid.parse().unwrap(),
            resource,
            partitions: 1,
            rows: 1,
            first_day: None,
            last_day: None,
            last_exported_at: None,
            modes: PairModes {
                pseudonym,
                key_fingerprints: key
                    .map(|k| Fingerprint::parse(k).unwrap())
                    .into_iter()
                    .collect(),
                clear_partitions: i64::from(pseudonym == PairMode::Clear),
            },
        }
    }

    /// A job without an active account is not said never to run again: it runs once one is
    /// added; a schedule that never fires again is.
    #[test]
    fn a_job_without_accounts_is_not_said_never_to_run_again() {
        let now = Utc::now();
        let job = |active_accounts, next_due_at| JobStatus {
            name: "calls".into(),
            resource: "calls",
            schedule: "0 7 * * * *".into(),
            lookback_days: 3,
            file: "jobs/calls.toml".into(),
            last_run: None,
            next_due: None,
            active_accounts,
            next_due_at,
        };
        assert_eq!(
            next_due_text(&job(0, None), now),
            "no active account to export"
        );
        assert_eq!(next_due_text(&job(2, None), now), "never again");
        assert_eq!(next_due_text(&job(2, Some(now)), now), "due now");
    }

    /// Accounts each in one mode, but not the same one, make the export mixed: a line says so.
    #[test]
    fn accounts_exported_in_different_modes_are_called_mixed() {
        let (a, b) = (
            "AC00000000000000000000000000000001",
            "AC00000000000000000000000000000002",
        );
        let key = Some("0123456789abcdef");
        let same = [
            pair(a, Resource::Calls, PairMode::Pseudonymized, key),
            pair(b, Resource::Calls, PairMode::Pseudonymized, key),
            pair(a, Resource::UsageRecords, PairMode::Unaffected, None),
        ];
        assert_eq!(mixed_across_accounts(&same), Vec::<String>::new());
        let mixed = [
            pair(a, Resource::Calls, PairMode::Pseudonymized, key),
            pair(b, Resource::Calls, PairMode::Clear, None),
        ];
        let lines = mixed_across_accounts(&mixed);
        assert_eq!(lines.len(), 1, "{lines:?}");
        assert!(
            lines[0].starts_with(
                "calls: MIXED across accounts (clear; pseudonymized (key 0123456789abcdef))"
            ),
            "{lines:?}"
        );
    }
}
