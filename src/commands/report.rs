//! What commands print about their work: an export's summary, the accounts another process
//! kept, a scheduler step job by job, the table of accounts, and an error as one line.
//! Printing only; what to print is decided by the commands.

use std::collections::BTreeMap;

use crate::domain::{AccountSid, DayRange, Resource};
use crate::erase::Erased;
use crate::export::{Stopped, Summary};
use crate::registry::{Account, AccountStatus, DeletionReason, TwilioStatus};
use crate::scheduler::{JobReport, Outcome};

/// An error as one line for people: the message and then each cause not already shown (a
/// library error whose message includes its source would otherwise show it twice), with
/// control characters escaped (messages may quote what a server sent).
pub fn error(error: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in error.chain() {
        let part = cause.to_string();
        if text.ends_with(&part) {
            continue;
        }
        if !text.is_empty() {
            text.push_str(": ");
        }
        text.push_str(&part);
    }
    crate::telemetry::escape_controls(&without_repeats(&text)).into_owned()
}

/// `a: b: b: c` → `a: b: c`: some libraries (sqlx's configuration errors) wrap an error in
/// one whose message repeats it.
fn without_repeats(text: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for part in text.split(": ") {
        if parts.last() != Some(&part) {
            parts.push(part);
        }
    }
    parts.join(": ")
}

/// An export of `days` days within `range` of `resource`: totals, records left out, accounts
/// skipped during the run, failed windows (the first 20) and whether it was interrupted.
pub(crate) fn summary(resource: Resource, range: DayRange, days: usize, s: &Summary) {
    let days = if days == range.len() {
        format!("{days} days ({range})")
    } else {
        format!("{days} days within {range}")
    };
    println!(
        "{resource}: {} accounts, {days}: {} rows in {} files ({:.1} MiB) in {:.1} s",
        s.accounts.len(),
        s.totals.rows,
        s.totals.files,
        s.bytes as f64 / (1024.0 * 1024.0),
        s.seconds
    );
    if s.totals.outside_window > 0 || s.totals.duplicates > 0 {
        println!(
            "  left out: {} records outside the days asked for (a record of another day is exported with its own day; one without a day, in none), {} records repeated while paging (kept once)",
            s.totals.outside_window, s.totals.duplicates
        );
    }
    if s.emptied_days > 0 {
        println!(
            "  emptied: {} days that held rows, for which the API now returns none (their files were removed; Twilio keeps call logs for a limited time)",
            s.emptied_days
        );
    }
    for (sid, why) in &s.deauthorized {
        println!("  {sid}: deauthorized during the run and skipped ({why})");
    }
    for (sid, status) in &s.inactive {
        println!("  {sid}: {status} on Twilio, found during the run and skipped");
    }
    for (sid, why) in &s.stopped {
        println!("  {sid}: {why}; the rest of it was not exported");
    }
    if s.published_mixed > 0 {
        println!(
            "  mixed: {} days were published in this export's pseudonym mode while another export recorded partitions in another; see status, and export every day again in one mode",
            s.published_mixed
        );
    }
    if s.totals.windows_failed > 0 {
        failures(s);
    }
    if s.interrupted {
        println!("  interrupted: windows not finished were left as they were");
    }
}

fn failures(s: &Summary) {
    let left = match s.published_mixed {
        0 => "their partitions were left as they were",
        _ => "their partitions were left as they were, but for the days published mixed",
    };
    println!(
        "  {} windows failed ({left}; re-run to retry):",
        s.totals.windows_failed
    );
    for (key, err) in s.failures.iter().take(20) {
        println!("    {key}: {err}");
    }
    if s.failures.len() > 20 {
        println!(
            "    … and {} more (see: twilio-export status)",
            s.failures.len() - 20
        );
    }
}

/// The accounts another process kept from being exported (exit 1).
pub(crate) fn left(left: &[AccountSid]) {
    if left.is_empty() {
        return;
    }
    let sids: Vec<&str> = left.iter().map(|s| s.as_str()).collect();
    println!(
        "  not exported, another process is exporting them (run again once it is done): {}",
        sids.join(", ")
    );
}

/// What a scheduler step did, job by job.
pub(crate) fn outcome(outcome: &Outcome) {
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
                job(r);
            }
        }
    }
}

fn job(r: &JobReport) {
    println!("job {}:", r.job);
    match r.days {
        Some(days) => summary(r.resource, days, r.day_count, &r.summary),
        None if r.summary.interrupted => println!(
            "{}: not started, the run was stopped before it (it stays due)",
            r.resource
        ),
        None => println!("{}: nothing to export", r.resource),
    }
    job_accounts(r);
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
    for line in next_steps(r) {
        println!("  {line}");
    }
}

/// What becomes of what a job's run did not finish: accounts interrupted stay due, so the next
/// run exports them; failed days wait for the job's next fire time.
fn next_steps(r: &JobReport) -> Vec<String> {
    let mut lines = Vec::new();
    // A job not started already said it stays due.
    let started = r.days.is_some() || !r.summary.interrupted;
    if started && r.summary.interrupted {
        lines.push(format!(
            "job {} was interrupted; the accounts it did not finish stay due: the next run exports them",
            r.job
        ));
    }
    if r.summary.totals.windows_failed > 0 || !r.unregistered.is_empty() {
        lines.push(format!(
            "job {} did not finish everything; its failed days are retried at its next fire time (or now: twilio-export run --job {})",
            r.job, r.job
        ));
    }
    lines
}

/// Failed days retried, leases lost, and how many accounts' checkpoints are at each day.
fn job_accounts(r: &JobReport) {
    let mut by_checkpoint: BTreeMap<String, usize> = BTreeMap::new();
    for a in &r.accounts {
        let at = a
            .checkpoint
            .map_or_else(|| "none yet".to_owned(), |d| d.to_string());
        *by_checkpoint.entry(at).or_default() += 1;
        if !a.retried.is_empty() {
            let days: Vec<String> = a.retried.iter().map(|d| d.to_string()).collect();
            println!("  {}: failed days retried: {}", a.account, days.join(", "));
        }
        // Why the run stopped exporting it is in the summary; a lease found taken over
        // only as the checkpoint was committed is said here.
        let in_summary = r.summary.stopped.iter().any(|(sid, _)| sid == &a.account);
        if a.stopped == Some(Stopped::TakenOver) && !in_summary {
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
}

/// The registered accounts, one a line, with both statuses.
pub(crate) fn accounts(accounts: &[Account]) {
    if accounts.is_empty() {
        println!("No accounts registered. Add one with: twilio-export accounts add AC…");
        return;
    }
    println!(
        "{:<34}  {:<12}  {:<10}  {:<34}  {:<24}  NAME / REASON",
        "ACCOUNT", "STATUS", "ON TWILIO", "VIA CREDENTIAL", "CONNECTED"
    );
    for a in accounts {
        let name = a.friendly_name.as_deref().unwrap_or("");
        let since = match (&a.status, &a.deauthorized_at) {
            (AccountStatus::Deauthorized, Some(at)) => format!(" since {at}"),
            _ => String::new(),
        };
        let note = match &a.status_reason {
            Some(r) => format!("{name} ({r}{since})"),
            None => name.to_owned(),
        };
        let twilio = a.twilio_status.as_ref().map_or("-", TwilioStatus::as_str);
        println!(
            "{:<34}  {:<12}  {:<10}  {:<34}  {:<24}  {}",
            a.sid, a.status, twilio, a.credential_sid, a.connected_at, note
        );
    }
}

/// Deletions done on purpose: purges and retention, one line each.
pub(crate) fn erased(done: &[Erased]) {
    for e in done {
        let d = &e.deletion;
        let what = match (d.reason, d.before_day) {
            (DeletionReason::Purge, _) => "purged (its purge had been interrupted)".to_owned(),
            (DeletionReason::Deauthorized, _) => {
                "purged (deauthorized longer than --purge-deauthorized-after)".to_owned()
            }
            (DeletionReason::Retention, before) => format!(
                "retention of job {}: days before {} deleted",
                d.job.as_deref().unwrap_or("-"),
                before.map_or_else(|| "-".to_owned(), |b| b.to_string())
            ),
        };
        println!(
            "{}: {what}: {} partitions, {} bytes",
            d.account_sid, d.partitions, d.bytes
        );
    }
}

/// Whether a run exported nothing and every window failed because another export recorded
/// partitions in another pseudonym mode meanwhile, none of them published: a configuration
/// conflict (exit 2, "nothing was exported"), not a partial run. A day that was published
/// before the conflict was found makes it a partial run (exit 1).
pub(crate) fn only_mode_conflicts(s: &Summary) -> bool {
    s.totals.windows_exported == 0
        && s.published_mixed == 0
        && !s.failures.is_empty()
        && (s.failures.iter()).all(|(_, e)| e.starts_with(crate::export::MODE_CONFLICT))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_that_published_a_day_before_finding_the_conflict_did_export_something() {
        let conflict = format!(
            "{}: partitions in another mode were recorded",
            crate::export::MODE_CONFLICT
        );
        let key = crate::domain::PartitionKey {
            account: "AC00000000000000000000000000000001".parse().unwrap(),
            resource: crate::domain::Resource::Calls,
            day: chrono::NaiveDate::from_ymd_opt(2026, 3, 1).unwrap(),
        };
        let mut s = Summary::default();
        s.totals.windows_failed = 1;
        s.failures.push((key, conflict));
        assert!(only_mode_conflicts(&s));
        s.published_mixed = 1;
        assert!(!only_mode_conflicts(&s));
    }

    /// An interrupted job is not said to wait for its next fire time: its accounts stay due;
    /// failed days do wait for it.
    #[test]
    fn an_interrupted_job_is_exported_by_the_next_run_and_failed_days_at_the_next_fire() {
        let day = chrono::NaiveDate::from_ymd_opt(2026, 3, 1).unwrap();
        let mut r = JobReport {
            job: "calls".into(),
            resource: crate::domain::Resource::Calls,
            days: crate::domain::DayRange::new(day, day).ok(),
            day_count: 1,
            summary: Summary::default(),
            accounts: Vec::new(),
            busy: Vec::new(),
            taken_over: Vec::new(),
            covered: Vec::new(),
            unregistered: Vec::new(),
            deauthorized: Vec::new(),
            inactive: Vec::new(),
        };
        assert!(next_steps(&r).is_empty());
        r.summary.interrupted = true;
        let said = next_steps(&r);
        assert_eq!(said.len(), 1, "{said:?}");
        assert!(said[0].contains("the next run exports them"), "{said:?}");
        r.summary.interrupted = false;
        r.summary.totals.windows_failed = 2;
        let said = next_steps(&r);
        assert_eq!(said.len(), 1, "{said:?}");
        assert!(said[0].contains("at its next fire time"), "{said:?}");
    }

    #[test]
    fn a_cause_repeated_by_a_wrapper_is_shown_once() {
        let err = anyhow::anyhow!("error with configuration: unknown value \"bogus\"")
            .context("error with configuration")
            .context("cannot open the database postgres://u:****@h/db");
        assert_eq!(
            error(&err),
            "cannot open the database postgres://u:****@h/db: error with configuration: unknown value \"bogus\""
        );
    }
}
