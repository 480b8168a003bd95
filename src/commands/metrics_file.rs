//! `--metrics-file`: what a batch run (`run`, `backfill`, `demo`) did, in the node_exporter
//! textfile format, so that Prometheus can alert on runs nobody watches.
//!
//! The file is replaced atomically: written to a temporary file in the same directory, then
//! renamed over the old one, so the collector never reads half a file. The last-success time of
//! a (job, resource) this run did not bring to success is carried over from the file it
//! replaces, so a failed run does not erase when the pair last succeeded.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;

use anyhow::Context;
use chrono::{DateTime, Utc};

use crate::domain::{AccountSid, Resource};
use crate::export::Summary;
use crate::fetch::FetchCounts;
use crate::registry::{Account, AccountStatus, WindowFailure};

/// The metric of the last success of a (job, resource).
const LAST_SUCCESS: &str = "twilio_export_last_success_timestamp_seconds";

/// What one invocation did, summed over its runs.
#[derive(Debug, Default)]
pub(crate) struct RunMetrics {
    rows: u64,
    bytes: u64,
    exported: u64,
    failed: u64,
    skipped: u64,
    deauthorized: Vec<AccountSid>,
    fetch: FetchCounts,
    seconds: f64,
    /// Deletions (purges, retention) still pending at the end.
    deletions_pending: usize,
    /// A signal stopped it before it finished what it was asked.
    interrupted: bool,
    /// (job, resource) → Unix seconds of its success in this invocation.
    last_success: BTreeMap<(String, &'static str), i64>,
    /// The shard (`I/N`) the invocation exported, a label of every sample: shards that write
    /// files side by side give their series apart (a collector refuses the same series twice).
    shard: Option<String>,
    /// What the registry holds at the end, whatever this invocation did: windows failed and
    /// not exported since, per resource, and deauthorized accounts (`run` only).
    registry: Option<RegistryState>,
}

/// The registry's standing problems, as `status` shows them: they stay in every file until
/// solved, where a run's own counts come and go with what the run happened to do.
#[derive(Debug, Default)]
struct RegistryState {
    failed_windows: BTreeMap<&'static str, usize>,
    deauthorized_accounts: usize,
}

impl RunMetrics {
    /// Adds a run's summary.
    pub fn add(&mut self, s: &Summary) {
        self.rows += s.totals.rows;
        self.bytes += s.bytes;
        self.exported += s.totals.windows_exported;
        self.failed += s.totals.windows_failed;
        self.skipped += s.skipped;
        self.interrupted |= s.interrupted;
        self.add_deauthorized(s.deauthorized.iter().map(|(sid, _)| sid));
    }

    /// Accounts found deauthorized (each counted once).
    pub fn add_deauthorized<'a>(&mut self, sids: impl IntoIterator<Item = &'a AccountSid>) {
        for sid in sids {
            if !self.deauthorized.contains(sid) {
                self.deauthorized.push(sid.clone());
            }
        }
    }

    /// `job` exported all of `resource` it was asked to, at `at`.
    pub fn succeeded(&mut self, job: &str, resource: Resource, at: DateTime<Utc>) {
        self.last_success
            .insert((job.to_owned(), resource.table_name()), at.timestamp());
    }

    /// The shard the invocation exported (unless it exported every account).
    pub fn shard(&mut self, shard: String) {
        self.shard = Some(shard);
    }

    /// The registry at the end: its failed windows and accounts.
    pub fn registry_state(&mut self, failures: &[WindowFailure], accounts: &[Account]) {
        let mut state = RegistryState::default();
        for resource in Resource::ALL {
            state.failed_windows.insert(resource.table_name(), 0);
        }
        for f in failures {
            *state
                .failed_windows
                .entry(f.resource.table_name())
                .or_default() += 1;
        }
        state.deauthorized_accounts = accounts
            .iter()
            .filter(|a| a.status == AccountStatus::Deauthorized)
            .count();
        self.registry = Some(state);
    }

    /// How many deletions are still pending at the end (one that cannot be completed).
    pub fn deletions_pending(&mut self, n: usize) {
        self.deletions_pending = n;
    }

    /// The client's counts and the invocation's duration, read at the end.
    pub fn finish(&mut self, fetch: FetchCounts, seconds: f64) {
        self.fetch = fetch;
        self.seconds = seconds;
    }

    /// The file's text; `old` is the file it replaces (its last-success lines are kept).
    fn render(&self, old: &str) -> String {
        let mut out = String::new();
        for (name, help, kind, value) in self.samples() {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}"
            );
        }
        let name = "twilio_export_run_windows";
        let _ = writeln!(
            out,
            "# HELP {name} Windows (account, day) of the run by outcome.\n# TYPE {name} gauge"
        );
        for (outcome, n) in [
            ("exported", self.exported),
            ("failed", self.failed),
            ("skipped", self.skipped),
        ] {
            let _ = writeln!(out, "{name}{{outcome=\"{outcome}\"}} {n}");
        }
        let _ = writeln!(out, "# HELP {LAST_SUCCESS} When a job last exported a resource with no failed window (Unix seconds).\n# TYPE {LAST_SUCCESS} gauge");
        let mut lines: BTreeMap<String, String> = carried(old);
        for ((job, resource), at) in &self.last_success {
            let labels = format!("{{export_job=\"{}\",resource=\"{resource}\"}}", escape(job));
            lines.insert(labels.clone(), format!("{LAST_SUCCESS}{labels} {at}"));
        }
        for line in lines.values() {
            let _ = writeln!(out, "{line}");
        }
        if let Some(state) = &self.registry {
            state.render(&mut out);
        }
        match &self.shard {
            Some(shard) => out.lines().map(|l| with_shard(l, shard) + "\n").collect(),
            None => out,
        }
    }

    /// The run's samples without labels: name, help, type and value.
    fn samples(&self) -> [(&'static str, &'static str, &'static str, String); 9] {
        [
            ("twilio_export_run_rows_total", "Rows exported by the run.", "counter", self.rows.to_string()),
            ("twilio_export_run_bytes_total", "Parquet bytes written by the run.", "counter", self.bytes.to_string()),
            ("twilio_export_run_requests_total", "HTTP requests sent to the Twilio API by the run (every attempt).", "counter", self.fetch.requests.to_string()),
            ("twilio_export_run_throttled_total", "Answers of the Twilio API that were HTTP 429.", "counter", self.fetch.throttled.to_string()),
            ("twilio_export_run_retries_total", "Requests repeated after a 429 or a transient failure.", "counter", self.fetch.retries.to_string()),
            ("twilio_export_run_duration_seconds", "How long the run took.", "gauge", format!("{:.3}", self.seconds)),
            ("twilio_export_run_deauthorized_accounts", "Accounts found deauthorized (their grant revoked).", "gauge", self.deauthorized.len().to_string()),
            ("twilio_export_run_interrupted", "1 if a signal stopped the run before it finished (its windows not started are not counted).", "gauge", u8::from(self.interrupted).to_string()),
            ("twilio_export_deletions_pending", "Purges and retention deletions still pending after the run (see status).", "gauge", self.deletions_pending.to_string()),
        ]
    }

    /// Writes the file at `path`, atomically: a temporary file beside it (a dot file, which
    /// node_exporter's collector ignores), renamed over it.
    pub fn write(&self, path: &Path) -> anyhow::Result<()> {
        let old = std::fs::read_to_string(path).unwrap_or_default();
        let name = path
            .file_name()
            .with_context(|| format!("metrics file: {} is not a file name", path.display()))?;
        let tmp = path.with_file_name(format!(
            ".{}.{}.tmp",
            name.to_string_lossy(),
            std::process::id()
        ));
        let written = std::fs::File::create(&tmp).and_then(|mut f| {
            f.write_all(self.render(&old).as_bytes())?;
            f.sync_all()
        });
        if let Err(e) = written.and_then(|()| std::fs::rename(&tmp, path)) {
            let _ = std::fs::remove_file(&tmp);
            return Err(e)
                .with_context(|| format!("metrics file: cannot write {}", path.display()));
        }
        Ok(())
    }
}

impl RegistryState {
    fn render(&self, out: &mut String) {
        let name = "twilio_export_failed_windows";
        let _ = writeln!(out, "# HELP {name} Windows (account, day) whose last export failed and that no run has exported since (status: Failed windows).\n# TYPE {name} gauge");
        for (resource, n) in &self.failed_windows {
            let _ = writeln!(out, "{name}{{resource=\"{resource}\"}} {n}");
        }
        let name = "twilio_export_deauthorized_accounts";
        let _ = writeln!(out, "# HELP {name} Registered accounts whose grant is revoked: they are no longer exported.\n# TYPE {name} gauge\n{name} {}", self.deauthorized_accounts);
    }
}

/// A sample line of the file with `shard="…"` first among its labels; other lines as they are.
fn with_shard(line: &str, shard: &str) -> String {
    if line.starts_with('#') {
        return line.to_owned();
    }
    match line.split_once('{') {
        Some((name, labels)) => format!("{name}{{shard=\"{shard}\",{labels}"),
        None => match line.split_once(' ') {
            Some((name, value)) => format!("{name}{{shard=\"{shard}\"}} {value}"),
            None => line.to_owned(),
        },
    }
}

/// The last-success lines of an earlier file, by their labels, without a shard label (the
/// file is given this invocation's).
fn carried(old: &str) -> BTreeMap<String, String> {
    old.lines()
        .filter_map(|l| l.strip_prefix(LAST_SUCCESS))
        .filter_map(|rest| {
            let rest = match rest.strip_prefix("{shard=\"") {
                Some(after) => format!("{{{}", after.split_once("\",")?.1),
                None => rest.to_owned(),
            };
            // Files of earlier versions named the label `job`, which Prometheus renames to
            // `exported_job` on scraping (the target's own `job` wins): carried renamed.
            let rest = match rest.strip_prefix("{job=") {
                Some(after) => format!("{{export_job={after}"),
                None => rest.strip_prefix('{').map(|r| format!("{{{r}"))?,
            };
            let (labels, _) = rest.rsplit_once(' ')?;
            Some((labels.to_owned(), format!("{LAST_SUCCESS}{rest}")))
        })
        .collect()
}

/// A label value as the format wants it.
fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Writes `metrics` to `path` when one was given; a failure is logged, not fatal: the run's
/// work is done and recorded, and its exit code stays what the work earned.
pub(crate) fn write_if_asked(path: Option<&Path>, metrics: &RunMetrics) {
    if let Some(path) = path {
        if let Err(e) = metrics.write(path) {
            tracing::error!(error = format!("{e:#}"), "Cannot write the metrics file");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The last-success lines of a file's text.
    fn success_lines(text: &str) -> Vec<&str> {
        text.lines()
            .filter(|l| l.starts_with(LAST_SUCCESS))
            .collect()
    }

    #[test]
    fn a_failed_run_keeps_the_last_success_of_an_earlier_file() {
        let mut m = RunMetrics::default();
        let at = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        m.succeeded("daily", Resource::Calls, at);
        let first = m.render("");
        let again = RunMetrics::default().render(&first);
        assert!(again.contains(
            "twilio_export_last_success_timestamp_seconds{export_job=\"daily\",resource=\"calls\"} 1700000000"
        ));
    }

    /// Shards writing files side by side give every sample their shard, so that a collector
    /// reading the files together never sees one series twice; a file's last-success lines
    /// are carried once, with the shard of the run that writes it.
    #[test]
    fn every_sample_of_a_shards_file_carries_its_shard() {
        let at = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        let file = |shard: &str, old: &str| {
            let mut m = RunMetrics::default();
            m.shard(shard.to_owned());
            m.succeeded("calls", Resource::Calls, at);
            m.render(old)
        };
        let first = file("0/3", "");
        let samples: Vec<&str> = first.lines().filter(|l| !l.starts_with('#')).collect();
        assert!(samples.len() > 10, "{first}");
        assert!(
            samples.iter().all(|l| l.contains("{shard=\"0/3\"")),
            "{first}"
        );
        let again = file("0/3", &first);
        assert_eq!(
            success_lines(&again),
            ["twilio_export_last_success_timestamp_seconds{shard=\"0/3\",export_job=\"calls\",resource=\"calls\"} 1700000000"]
        );
        let other = file("1/3", "");
        let series = |text: &str| -> std::collections::HashSet<String> {
            text.lines()
                .filter(|l| !l.starts_with('#'))
                .filter_map(|l| l.rsplit_once(' ').map(|(s, _)| s.to_owned()))
                .collect()
        };
        assert!(series(&first).is_disjoint(&series(&other)));
    }

    /// The registry's failed windows and deauthorized accounts are in the file of every run,
    /// one that did nothing included: an alert on them holds until they are solved.
    #[test]
    fn the_registrys_failed_windows_and_deauthorized_accounts_are_in_every_file() {
        let sid: AccountSid = "AC00000000000000000000000000000001".parse().unwrap();
        let failure = WindowFailure {
            account_sid: sid.clone(),
            resource: Resource::Calls,
            day: chrono::NaiveDate::from_ymd_opt(2026, 3, 1).unwrap(),
            error: "HTTP 500".into(),
            failed_at: "2026-03-01T00:00:00.000Z".into(),
        };
        let account = Account {
            sid: sid.clone(),
            credential_sid: sid,
            status: AccountStatus::Deauthorized,
            status_reason: None,
            twilio_status: None,
            friendly_name: None,
            owner_account_sid: None,
            connected_at: "2026-03-01T00:00:00.000Z".into(),
            verified_at: None,
            deauthorized_at: None,
        };
        let mut m = RunMetrics::default();
        m.registry_state(&[failure], &[account]);
        let text = m.render("");
        for line in [
            "twilio_export_failed_windows{resource=\"calls\"} 1",
            "twilio_export_failed_windows{resource=\"usage_records\"} 0",
            "twilio_export_deauthorized_accounts 1",
        ] {
            assert!(text.lines().any(|l| l == line), "{line}: {text}");
        }
    }

    /// A run a signal stopped says so: its window counts alone cannot.
    #[test]
    fn an_interrupted_run_says_so() {
        let mut m = RunMetrics::default();
        assert!(m.render("").contains("twilio_export_run_interrupted 0\n"));
        m.add(&Summary {
            interrupted: true,
            ..Summary::default()
        });
        assert!(m.render("").contains("twilio_export_run_interrupted 1\n"));
    }

    /// The label is not `job`, which Prometheus renames to `exported_job` when it scrapes
    /// a textfile (the target's own `job` label wins), so that rules on it would match
    /// nothing; an earlier file's `job` lines are carried renamed, once per job.
    #[test]
    fn the_job_label_is_export_job_and_old_files_are_carried_renamed() {
        let old = "twilio_export_last_success_timestamp_seconds{job=\"daily\",resource=\"calls\"} 1600000000\n\
                   twilio_export_last_success_timestamp_seconds{job=\"hourly\",resource=\"calls\"} 1600000000\n";
        let mut m = RunMetrics::default();
        m.succeeded(
            "daily",
            Resource::Calls,
            DateTime::from_timestamp(1_700_000_000, 0).unwrap(),
        );
        let text = m.render(old);
        assert_eq!(
            success_lines(&text),
            [
                "twilio_export_last_success_timestamp_seconds{export_job=\"daily\",resource=\"calls\"} 1700000000",
                "twilio_export_last_success_timestamp_seconds{export_job=\"hourly\",resource=\"calls\"} 1600000000",
            ]
        );
    }
}
