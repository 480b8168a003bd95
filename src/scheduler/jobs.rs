//! Job files: `jobs/*.toml`, one job a file, loaded and validated into typed [`Job`]s before
//! any work starts (README, "Scheduled runs").
//!
//! Every key is checked: an unknown key, a bad cron expression, an unknown resource or a
//! negative lookback is a [`JobFileError`] naming the file and the key. This module reads files
//! and nothing else: it does not touch the database or the clock.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use chrono::NaiveDate;

use crate::domain::{from_twilios_time, parse_day, AccountSid, Resource};

mod cron;
mod error;

pub use cron::{CronError, CronSpec};
pub use error::{JobFileError, KeyProblem};

/// The keys a job file may set.
const KEYS: [&str; 10] = [
    "name",
    "resource",
    "schedule",
    "lookback_days",
    "start_date",
    "accounts",
    "page_size",
    "concurrency",
    "pseudonymize",
    "retention_days",
];
/// The API's largest page (`docs/twilio-api.md` §3).
const MAX_PAGE_SIZE: i64 = 1000;
/// Ten years: more lookback than that is a typo, not a plan.
const MAX_LOOKBACK_DAYS: i64 = 3650;
const MAX_CONCURRENCY: i64 = 256;
/// A hundred years: the longest retention that is still a number of days someone meant.
const MAX_RETENTION_DAYS: i64 = 36_500;

/// A validated job.
#[derive(Clone, Debug)]
pub struct Job {
    pub name: String,
    pub resource: Resource,
    pub schedule: CronSpec,
    /// Days before the checkpoint that every run exports again (data that Twilio still changes).
    pub lookback_days: u32,
    /// Where an account's first export starts; without it, `lookback_days` before today.
    pub start_date: Option<NaiveDate>,
    /// Only these accounts (a job file's list is never empty); empty means every active account.
    pub accounts: Vec<AccountSid>,
    /// Records per page asked of the API (1-1000); the API's maximum, 1000, when unset.
    pub page_size: Option<u32>,
    /// Windows exported at the same time; default as `backfill`'s.
    pub concurrency: Option<usize>,
    /// Phone numbers and names as pseudonyms (true) or in clear (false) for this job, whatever
    /// `--pseudonymize` says; `None`: as it says.
    pub pseudonymize: Option<bool>,
    /// At the end of each run, the job's partitions of days before today minus this many
    /// days are deleted (never a day the run wrote); more than `lookback_days`. None: kept.
    pub retention_days: Option<u32>,
    /// The file it came from, for messages.
    pub file: PathBuf,
}

/// Loads and validates every `*.toml` file of `dir`, sorted by file name. Job names must be
/// unique; a directory without job files is an error too.
pub fn load_dir(dir: &Path) -> Result<Vec<Job>, JobFileError> {
    let entries = std::fs::read_dir(dir).map_err(|cause| JobFileError::ReadDir {
        path: dir.to_owned(),
        cause,
    })?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file() && p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(JobFileError::NoJobFiles {
            path: dir.to_owned(),
        });
    }
    let mut jobs: Vec<Job> = Vec::with_capacity(files.len());
    let mut seen: HashMap<String, PathBuf> = HashMap::new();
    for file in files {
        let job = load_file(&file)?;
        if let Some(other) = seen.insert(job.name.clone(), file.clone()) {
            return Err(JobFileError::DuplicateName {
                path: file,
                name: job.name,
                other,
            });
        }
        jobs.push(job);
    }
    Ok(jobs)
}

/// Checks that the jobs of a resource with phone numbers or names (calls) all write it in one
/// pseudonym mode, as an export's partitions must: each job comes with whether it writes
/// pseudonyms (its own `pseudonymize`, else `--pseudonymize`). The first job that differs from
/// an earlier one of its resource is an error naming both files. Usage records carry no such
/// columns: their jobs may differ.
pub fn one_mode_per_resource<'a>(
    jobs: impl IntoIterator<Item = (&'a Job, bool)>,
) -> Result<(), JobFileError> {
    let mut first: HashMap<Resource, (&Path, bool)> = HashMap::new();
    for (job, pseudonymized) in jobs {
        if !crate::batch::columns(job.resource)
            .iter()
            .any(|c| c.pseudonymized)
        {
            continue;
        }
        let (other, mode) = *first
            .entry(job.resource)
            .or_insert((&job.file, pseudonymized));
        if mode != pseudonymized {
            return Err(JobFileError::ModesDiffer {
                path: job.file.clone(),
                resource: job.resource,
                pseudonymized,
                other: other.to_owned(),
            });
        }
    }
    Ok(())
}

/// Loads and validates one job file.
pub fn load_file(path: &Path) -> Result<Job, JobFileError> {
    let text = std::fs::read_to_string(path).map_err(|cause| JobFileError::Read {
        path: path.to_owned(),
        cause,
    })?;
    parse(path, &text)
}

/// Validates the text of a job file; `path` only names it in messages.
pub fn parse(path: &Path, text: &str) -> Result<Job, JobFileError> {
    let table: toml::Table = text
        .parse()
        .map_err(|e: toml::de::Error| JobFileError::NotToml {
            path: path.to_owned(),
            message: e.message().to_owned(),
        })?;
    let file = JobTable { path, table };
    if let Some(key) = file.table.keys().find(|k| !KEYS.contains(&k.as_str())) {
        return Err(file.err(key, KeyProblem::Unknown));
    }
    let name = file.name()?;
    let resource = Resource::from_str(file.required_string("resource")?)
        .map_err(|e| file.err("resource", e.into()))?;
    let schedule = CronSpec::parse(file.required_string("schedule")?)
        .map_err(|e| file.err("schedule", e.into()))?;
    let lookback_days = file
        .integer("lookback_days", 0, MAX_LOOKBACK_DAYS)?
        .ok_or_else(|| file.required("lookback_days"))? as u32;
    Ok(Job {
        name,
        resource,
        schedule,
        lookback_days,
        start_date: file.start_date()?,
        accounts: file.accounts()?,
        page_size: file
            .integer("page_size", 1, MAX_PAGE_SIZE)?
            .map(|n| n as u32),
        concurrency: file
            .integer("concurrency", 1, MAX_CONCURRENCY)?
            .map(|n| n as usize),
        pseudonymize: file.boolean("pseudonymize")?,
        retention_days: file.retention_days(lookback_days)?,
        file: path.to_owned(),
    })
}

/// A job file's TOML table, read key by key with messages that name the file and the key.
struct JobTable<'a> {
    path: &'a Path,
    table: toml::Table,
}

impl JobTable<'_> {
    fn err(&self, key: &str, problem: KeyProblem) -> JobFileError {
        JobFileError::Key {
            path: self.path.to_owned(),
            key: key.to_owned(),
            problem,
        }
    }

    fn required(&self, key: &str) -> JobFileError {
        self.err(key, KeyProblem::Missing)
    }

    fn string(&self, key: &str) -> Result<Option<&str>, JobFileError> {
        match self.table.get(key) {
            None => Ok(None),
            Some(toml::Value::String(s)) => Ok(Some(s.as_str())),
            Some(other) => Err(self.err(
                key,
                KeyProblem::NotAString {
                    found: other.to_string(),
                },
            )),
        }
    }

    fn boolean(&self, key: &str) -> Result<Option<bool>, JobFileError> {
        match self.table.get(key) {
            None => Ok(None),
            Some(toml::Value::Boolean(b)) => Ok(Some(*b)),
            Some(other) => Err(self.err(
                key,
                KeyProblem::NotABool {
                    found: other.to_string(),
                },
            )),
        }
    }

    fn required_string(&self, key: &str) -> Result<&str, JobFileError> {
        self.string(key)?.ok_or_else(|| self.required(key))
    }

    fn integer(&self, key: &str, min: i64, max: i64) -> Result<Option<i64>, JobFileError> {
        match self.table.get(key) {
            None => Ok(None),
            Some(toml::Value::Integer(n)) if (min..=max).contains(n) => Ok(Some(*n)),
            Some(other) => Err(self.err(
                key,
                KeyProblem::OutOfRange {
                    min,
                    max,
                    found: other.to_string(),
                },
            )),
        }
    }

    /// `retention_days`: at least 1 and more than the lookback, whose days every run exports
    /// again (a retention inside them would delete what the next run re-exports).
    fn retention_days(&self, lookback_days: u32) -> Result<Option<u32>, JobFileError> {
        let Some(days) = self.integer("retention_days", 1, MAX_RETENTION_DAYS)? else {
            return Ok(None);
        };
        if days <= i64::from(lookback_days) {
            return Err(self.err(
                "retention_days",
                KeyProblem::WithinLookback {
                    days,
                    lookback_days,
                },
            ));
        }
        Ok(Some(days as u32))
    }

    fn name(&self) -> Result<String, JobFileError> {
        let name = self.required_string("name")?.trim();
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        {
            return Err(self.err(
                "name",
                KeyProblem::BadName {
                    name: name.to_owned(),
                },
            ));
        }
        Ok(name.to_owned())
    }

    fn start_date(&self) -> Result<Option<NaiveDate>, JobFileError> {
        let day = |s: &str| {
            let day = parse_day(s).map_err(|e| self.err("start_date", e.into()))?;
            from_twilios_time(day).map_err(|e| self.err("start_date", e.into()))
        };
        match self.table.get("start_date") {
            None => Ok(None),
            Some(toml::Value::String(s)) => day(s).map(Some),
            Some(toml::Value::Datetime(d)) if d.time.is_none() && d.offset.is_none() => {
                day(&d.to_string()).map(Some)
            }
            Some(other) => Err(self.err(
                "start_date",
                KeyProblem::NotADate {
                    found: other.to_string(),
                },
            )),
        }
    }

    /// `accounts`: a list of at least one sid; without the key, every active account.
    fn accounts(&self) -> Result<Vec<AccountSid>, JobFileError> {
        match self.table.get("accounts") {
            None => Ok(Vec::new()),
            Some(toml::Value::Array(items)) if items.is_empty() => {
                Err(self.err("accounts", KeyProblem::NoAccounts))
            }
            Some(toml::Value::Array(items)) => items
                .iter()
                .map(|v| match v {
                    toml::Value::String(s) => {
                        AccountSid::parse(s.trim()).map_err(|e| self.err("accounts", e.into()))
                    }
                    other => Err(self.err(
                        "accounts",
                        KeyProblem::NotAnAccount {
                            found: other.to_string(),
                        },
                    )),
                })
                .collect(),
            Some(other) => Err(self.err(
                "accounts",
                KeyProblem::NotAList {
                    found: other.to_string(),
                },
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, Utc};

    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn check(text: &str, expected: &str) {
        let e = parse(Path::new("jobs/x.toml"), text)
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("jobs/x.toml: ") && e.contains(expected),
            "{e:?} should contain {expected:?}"
        );
    }

    const GOOD: &str =
        "name = \"calls\"\nresource = \"calls\"\nschedule = \"0 7 * * * *\"\nlookback_days = 3\n";

    #[test]
    fn a_minimal_job_parses() {
        let job = parse(Path::new("jobs/calls.toml"), GOOD).unwrap();
        assert_eq!(job.name, "calls");
        assert_eq!(job.resource, Resource::Calls);
        assert_eq!(job.lookback_days, 3);
        assert!(job.accounts.is_empty() && job.start_date.is_none());
        assert!(job
            .schedule
            .fired_between(at("2026-03-01T10:00:00Z"), at("2026-03-01T10:07:00Z")));
        assert!(!job
            .schedule
            .fired_between(at("2026-03-01T10:07:00Z"), at("2026-03-01T11:06:59Z")));
    }

    #[test]
    fn every_optional_key_parses() {
        let text = format!(
            "{GOOD}start_date = 2026-01-01\naccounts = [\"AC3f9c2b7e8d1a4c5f9e0b6a7d2c1e4f80\"]\npage_size = 200\nconcurrency = 2\npseudonymize = true\n"
        );
        let job = parse(Path::new("x.toml"), &text).unwrap();
        assert_eq!(job.start_date, Some(parse_day("2026-01-01").unwrap()));
        assert_eq!(job.accounts.len(), 1);
        assert_eq!((job.page_size, job.concurrency), (Some(200), Some(2)));
        assert_eq!(job.pseudonymize, Some(true));
        assert_eq!(parse(Path::new("x.toml"), GOOD).unwrap().pseudonymize, None);
        let quoted = format!("{GOOD}start_date = \"2026-01-01\"\n");
        assert!(parse(Path::new("x.toml"), &quoted).is_ok());
    }

    #[test]
    fn bad_files_name_the_key() {
        check(
            &format!("{GOOD}lookbak_days = 3\n"),
            "lookbak_days: unknown key",
        );
        check(
            &GOOD.replace("0 7 * * * *", "every hour"),
            "schedule: \"every hour\"",
        );
        check(&GOOD.replace("0 7 * * * *", "0 99 * * * *"), "schedule:");
        check(
            &GOOD.replace("resource = \"calls\"", "resource = \"messages\""),
            "resource: unknown resource \"messages\"",
        );
        check(
            &GOOD.replace("lookback_days = 3", "lookback_days = -1"),
            "lookback_days: expected a whole number from 0",
        );
        check(
            &GOOD.replace("lookback_days = 3\n", ""),
            "lookback_days: missing",
        );
        check(&GOOD.replace("\"calls\"\nres", "\"my job\"\nres"), "name:");
        check(&format!("{GOOD}start_date = \"March\"\n"), "start_date:");
        check(
            &format!("{GOOD}start_date = 0001-01-01\n"),
            "start_date: 0001-01-01 is before 2008-01-01",
        );
        check(&format!("{GOOD}accounts = [\"AC12\"]\n"), "accounts:");
        check(
            &format!("{GOOD}accounts = []\n"),
            "accounts: the list is empty",
        );
        check(&format!("{GOOD}page_size = 5000\n"), "page_size:");
        check(&format!("{GOOD}concurrency = 0\n"), "concurrency:");
        check(
            &format!("{GOOD}pseudonymize = \"yes\"\n"),
            "pseudonymize: expected true or false",
        );
        check("name = ", "");
    }

    #[test]
    fn jobs_of_calls_must_agree_on_the_pseudonym_mode_usage_records_need_not() {
        let job = |file: &str, resource: &str| {
            let text = GOOD.replace(
                "resource = \"calls\"",
                &format!("resource = \"{resource}\""),
            );
            parse(Path::new(file), &text).unwrap()
        };
        let (a, b) = (job("jobs/a.toml", "calls"), job("jobs/b.toml", "calls"));
        let (u, v) = (
            job("jobs/u.toml", "usage-records"),
            job("jobs/v.toml", "usage-records"),
        );
        assert!(one_mode_per_resource([(&a, true), (&b, true), (&u, false)]).is_ok());
        assert!(one_mode_per_resource([(&a, false), (&u, true), (&v, false)]).is_ok());
        let e = one_mode_per_resource([(&u, true), (&a, true), (&v, false), (&b, false)])
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("jobs/b.toml: pseudonymize: this job writes calls in clear but jobs/a.toml writes it pseudonymized;"),
            "{e}"
        );
    }

    #[test]
    fn retention_is_at_least_a_day_and_beyond_the_lookback() {
        let job = parse(Path::new("x.toml"), &format!("{GOOD}retention_days = 4\n")).unwrap();
        assert_eq!(job.retention_days, Some(4));
        assert_eq!(
            parse(Path::new("x.toml"), GOOD).unwrap().retention_days,
            None
        );
        check(
            &format!("{GOOD}retention_days = 3\n"),
            "retention_days: 3 is within lookback_days (3)",
        );
        check(
            &format!("{GOOD}retention_days = 0\n"),
            "retention_days: expected a whole number from 1",
        );
        check(
            &format!("{GOOD}retention_days = \"30\"\n"),
            "retention_days: expected a whole number",
        );
    }

    /// The messages of `e` and of its sources, outermost first.
    fn chain(e: &dyn std::error::Error) -> Vec<String> {
        let mut messages = vec![e.to_string()];
        let mut cause = e.source();
        while let Some(c) = cause {
            messages.push(c.to_string());
            cause = c.source();
        }
        messages
    }

    #[test]
    fn errors_say_what_is_wrong_with_which_key_and_print_each_cause_once() {
        let path = Path::new("jobs/x.toml");
        let bad_cron = parse(path, &GOOD.replace("0 7 * * * *", "0 99 * * * *")).unwrap_err();
        assert!(
            matches!(
                &bad_cron,
                JobFileError::Key { key, problem: KeyProblem::Schedule(CronError::Invalid { .. }), .. }
                    if key == "schedule"
            ),
            "{bad_cron:?}"
        );
        let sunday_step = parse(path, &GOOD.replace("0 7 * * * *", "0 0 * * 1-7/2")).unwrap_err();
        assert!(matches!(
            sunday_step,
            JobFileError::Key {
                problem: KeyProblem::Schedule(CronError::WeekdaysToSundayWithStep { .. }),
                ..
            }
        ));
        let resource =
            parse(path, &GOOD.replace("= \"calls\"\nsch", "= \"sms\"\nsch")).unwrap_err();
        assert!(matches!(
            resource,
            JobFileError::Key {
                problem: KeyProblem::Resource(_),
                ..
            }
        ));
        let missing_dir = load_dir(Path::new("/nonexistent/jobs")).unwrap_err();
        assert!(matches!(missing_dir, JobFileError::ReadDir { .. }));
        let empty = tempfile::tempdir().unwrap();
        let no_files = load_dir(empty.path()).unwrap_err();
        assert!(matches!(no_files, JobFileError::NoJobFiles { .. }));
        for e in [&bad_cron, &missing_dir, &no_files] {
            let messages = chain(e);
            for (i, outer) in messages.iter().enumerate() {
                for inner in &messages[i + 1..] {
                    assert!(
                        !outer.contains(inner.as_str()),
                        "{inner:?} repeated in {outer:?}"
                    );
                }
            }
        }
        let said = bad_cron.to_string();
        assert_eq!(
            said.matches("is not a cron expression").count(),
            1,
            "{said}"
        );
        // The expression once, and the crate's reason on one line.
        assert_eq!(said.matches("0 99 * * * *").count(), 1, "{said}");
        assert!(
            !said.contains('\n') && said.contains("('99' specified.)"),
            "{said}"
        );
    }

    #[test]
    fn the_shipped_jobs_are_valid() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("jobs");
        let jobs = load_dir(&dir).unwrap();
        let names: Vec<&str> = jobs.iter().map(|j| j.name.as_str()).collect();
        assert_eq!(names, ["calls", "usage_records"]);
    }
}
