//! Job files: `jobs/*.toml`, one job a file, loaded and validated into typed [`Job`]s before
//! any work starts (README, "Scheduled runs").
//!
//! Every key is checked: an unknown key, a bad cron expression, an unknown resource or a
//! negative lookback is a [`JobFileError`] naming the file and the key. This module reads files
//! and nothing else: it does not touch the database or the clock.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use chrono::{DateTime, NaiveDate, Utc};

use crate::domain::{parse_day, AccountSid, Resource};

/// The keys a job file may set.
const KEYS: [&str; 9] = [
    "name",
    "resource",
    "schedule",
    "lookback_days",
    "start_date",
    "accounts",
    "page_size",
    "concurrency",
    "retention_days",
];
/// The API's largest page (`docs/twilio-api.md` §3).
const MAX_PAGE_SIZE: i64 = 1000;
/// Ten years: more lookback than that is a typo, not a plan.
const MAX_LOOKBACK_DAYS: i64 = 3650;
const MAX_CONCURRENCY: i64 = 256;
/// A hundred years: the longest retention that is still a number of days someone meant.
const MAX_RETENTION_DAYS: i64 = 36_500;

/// A job file that cannot be used; the message names the file and the key.
#[derive(Debug, thiserror::Error)]
#[error("{}: {message}", path.display())]
pub struct JobFileError {
    pub path: PathBuf,
    pub message: String,
}

impl JobFileError {
    fn new(path: &Path, message: impl Into<String>) -> Self {
        Self {
            path: path.to_owned(),
            message: message.into(),
        }
    }
}

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
    /// Only these accounts; empty means every active account.
    pub accounts: Vec<AccountSid>,
    /// Records per page asked of the API (1-1000); the API's maximum, 1000, when unset.
    pub page_size: Option<u32>,
    /// Windows exported at the same time; default as `backfill`'s.
    pub concurrency: Option<usize>,
    /// At the end of each run, the job's partitions of days before today minus this many
    /// days are deleted (never a day the run wrote); more than `lookback_days`. None: kept.
    pub retention_days: Option<u32>,
    /// The file it came from, for messages.
    pub file: PathBuf,
}

/// A cron expression, evaluated in UTC. Six fields (`sec min hour day month weekday`) or seven
/// (with a year) as the `cron` crate reads them, where weekdays count 1 = Sunday … 7 = Saturday;
/// or the five fields of crontab(5) (`min hour day month weekday`, 0 or 7 = Sunday), which are
/// read as firing at second 0 with their weekday numbers translated.
#[derive(Clone)]
pub struct CronSpec {
    source: String,
    schedule: cron::Schedule,
}

impl CronSpec {
    pub fn parse(text: &str) -> Result<Self, String> {
        let fields: Vec<&str> = text.split_whitespace().collect();
        let expr = match fields.len() {
            5 => format!(
                "0 {} {} {} {} {}",
                fields[0],
                fields[1],
                fields[2],
                fields[3],
                crontab_weekdays(fields[4])?
            ),
            6 | 7 => fields.join(" "),
            n => {
                return Err(format!(
                    "{text:?} has {n} fields: expected 5 (min hour day month weekday), or 6 or 7 with seconds first"
                ))
            }
        };
        let schedule = cron::Schedule::from_str(&expr)
            .map_err(|e| format!("{text:?} is not a cron expression: {e}"))?;
        if schedule.upcoming(Utc).next().is_none() {
            return Err(format!("{text:?} never fires again"));
        }
        Ok(Self {
            source: text.trim().to_owned(),
            schedule,
        })
    }

    /// The first fire time strictly after `t`.
    pub fn next_after(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.schedule.after(&t).next()
    }

    /// Whether the schedule fired in `(after, up_to]`.
    pub fn fired_between(&self, after: DateTime<Utc>, up_to: DateTime<Utc>) -> bool {
        self.next_after(after).is_some_and(|t| t <= up_to)
    }

    pub fn as_str(&self) -> &str {
        &self.source
    }
}

impl fmt::Debug for CronSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CronSpec({:?})", self.source)
    }
}

impl fmt::Display for CronSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

/// Translates a crontab(5) weekday field (0-7, 0 and 7 = Sunday) into names, which mean the
/// same to the `cron` crate (whose numbers start at 1 = Sunday).
fn crontab_weekdays(field: &str) -> Result<String, String> {
    const NAMES: [&str; 8] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN"];
    let day = |s: &str| -> Result<Option<usize>, String> {
        match s.parse::<usize>() {
            Ok(n) if n <= 7 => Ok(Some(n)),
            Ok(n) => Err(format!("weekday {n} is out of range 0-7")),
            Err(_) => Ok(None),
        }
    };
    let mut items = Vec::new();
    for item in field.split(',') {
        let (base, step) = match item.split_once('/') {
            Some((b, s)) => (b, Some(s)),
            None => (item, None),
        };
        let step_suffix = step.map(|s| format!("/{s}")).unwrap_or_default();
        let translated = match base.split_once('-') {
            Some((a, b)) => match (day(a)?, day(b)?) {
                (Some(a), Some(b)) if a > b => {
                    return Err(format!("weekday range {base:?} runs backwards"))
                }
                // Sunday as 7 closes the week: split the range, which cannot take a step then.
                (Some(a), Some(7)) if a > 0 => {
                    if step.is_some() {
                        return Err(format!(
                            "weekday range {base:?} with a step: write it with names (MON-SUN is not a range)"
                        ));
                    }
                    match a {
                        7 => "SUN".to_owned(),
                        6 => "SAT,SUN".to_owned(),
                        _ => format!("{}-SAT,SUN", NAMES[a]),
                    }
                }
                (Some(a), Some(b)) => format!("{}-{}{step_suffix}", NAMES[a], NAMES[b.min(6)]),
                (None, None) => item.to_owned(),
                _ => return Err(format!("weekday range {base:?} mixes numbers and names")),
            },
            None => match day(base)? {
                Some(n) => format!("{}{step_suffix}", NAMES[n]),
                None => item.to_owned(),
            },
        };
        items.push(translated);
    }
    Ok(items.join(","))
}

/// Loads and validates every `*.toml` file of `dir`, sorted by file name. Job names must be
/// unique; a directory without job files is an error too.
pub fn load_dir(dir: &Path) -> Result<Vec<Job>, JobFileError> {
    let entries = std::fs::read_dir(dir)
        .map_err(|e| JobFileError::new(dir, format!("cannot read the jobs directory: {e}")))?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file() && p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(JobFileError::new(
            dir,
            "no job files (*.toml); the repository's jobs/ has examples",
        ));
    }
    let mut jobs: Vec<Job> = Vec::with_capacity(files.len());
    let mut seen: HashMap<String, PathBuf> = HashMap::new();
    for file in files {
        let job = load_file(&file)?;
        if let Some(other) = seen.insert(job.name.clone(), file.clone()) {
            return Err(JobFileError::new(
                &file,
                format!(
                    "name: {:?} is also the name of {}",
                    job.name,
                    other.display()
                ),
            ));
        }
        jobs.push(job);
    }
    Ok(jobs)
}

/// Loads and validates one job file.
pub fn load_file(path: &Path) -> Result<Job, JobFileError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| JobFileError::new(path, format!("cannot read: {e}")))?;
    parse(path, &text)
}

/// Validates the text of a job file; `path` only names it in messages.
pub fn parse(path: &Path, text: &str) -> Result<Job, JobFileError> {
    let table: toml::Table = text
        .parse()
        .map_err(|e: toml::de::Error| JobFileError::new(path, e.message().to_owned()))?;
    let file = JobTable { path, table };
    if let Some(key) = file.table.keys().find(|k| !KEYS.contains(&k.as_str())) {
        return Err(file.err(
            key,
            format!("unknown key (expected one of: {})", KEYS.join(", ")),
        ));
    }
    let name = file.name()?;
    let resource = Resource::from_str(file.required_string("resource")?)
        .map_err(|e| file.err("resource", e))?;
    let schedule =
        CronSpec::parse(file.required_string("schedule")?).map_err(|e| file.err("schedule", e))?;
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
    fn err(&self, key: &str, msg: String) -> JobFileError {
        JobFileError::new(self.path, format!("{key}: {msg}"))
    }

    fn required(&self, key: &str) -> JobFileError {
        self.err(key, "missing (every job file sets it)".to_owned())
    }

    fn string(&self, key: &str) -> Result<Option<&str>, JobFileError> {
        match self.table.get(key) {
            None => Ok(None),
            Some(toml::Value::String(s)) => Ok(Some(s.as_str())),
            Some(other) => Err(self.err(key, format!("expected a string, got {other}"))),
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
                format!("expected a whole number from {min} to {max}, got {other}"),
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
                format!(
                    "{days} is within lookback_days ({lookback_days}): every run exports those days again; keep more than {lookback_days} days"
                ),
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
                format!("{name:?} is not a job name: use letters, digits, '-', '_' and '.'"),
            ));
        }
        Ok(name.to_owned())
    }

    fn start_date(&self) -> Result<Option<NaiveDate>, JobFileError> {
        let day = |s: &str| parse_day(s).map_err(|e| self.err("start_date", e));
        match self.table.get("start_date") {
            None => Ok(None),
            Some(toml::Value::String(s)) => day(s).map(Some),
            Some(toml::Value::Datetime(d)) if d.time.is_none() && d.offset.is_none() => {
                day(&d.to_string()).map(Some)
            }
            Some(other) => Err(self.err(
                "start_date",
                format!("expected a date (YYYY-MM-DD), got {other}"),
            )),
        }
    }

    fn accounts(&self) -> Result<Vec<AccountSid>, JobFileError> {
        match self.table.get("accounts") {
            None => Ok(Vec::new()),
            Some(toml::Value::Array(items)) => items
                .iter()
                .map(|v| match v {
                    toml::Value::String(s) => {
                        AccountSid::parse(s.trim()).map_err(|e| self.err("accounts", e.to_string()))
                    }
                    other => Err(self.err(
                        "accounts",
                        format!("expected account sids (AC…), got {other}"),
                    )),
                })
                .collect(),
            Some(other) => Err(self.err(
                "accounts",
                format!("expected a list of account sids, got {other}"),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
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
            "{GOOD}start_date = 2026-01-01\naccounts = [\"AC3f9c2b7e8d1a4c5f9e0b6a7d2c1e4f80\"]\npage_size = 200\nconcurrency = 2\n"
        );
        let job = parse(Path::new("x.toml"), &text).unwrap();
        assert_eq!(job.start_date, Some(parse_day("2026-01-01").unwrap()));
        assert_eq!(job.accounts.len(), 1);
        assert_eq!((job.page_size, job.concurrency), (Some(200), Some(2)));
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
        check(&format!("{GOOD}accounts = [\"AC12\"]\n"), "accounts:");
        check(&format!("{GOOD}page_size = 5000\n"), "page_size:");
        check(&format!("{GOOD}concurrency = 0\n"), "concurrency:");
        check("name = ", "");
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

    #[test]
    fn crontab_five_fields_fire_at_second_zero_with_crontab_weekdays() {
        // 2026-03-02 is a Monday.
        let monday_2am = CronSpec::parse("0 2 * * 1").unwrap();
        assert_eq!(
            monday_2am.next_after(at("2026-03-01T00:00:00Z")),
            Some(at("2026-03-02T02:00:00Z"))
        );
        let weekdays = CronSpec::parse("30 1 * * 1-5").unwrap();
        assert_eq!(
            weekdays.next_after(at("2026-03-06T02:00:00Z")),
            Some(at("2026-03-09T01:30:00Z")),
            "Friday's has passed; the next is Monday"
        );
        let sundays = [
            CronSpec::parse("0 0 * * 0").unwrap(),
            CronSpec::parse("0 0 * * 7").unwrap(),
            CronSpec::parse("0 0 * * 6-7").unwrap(),
        ];
        for s in &sundays {
            assert_eq!(
                s.next_after(at("2026-03-07T12:00:00Z")),
                Some(at("2026-03-08T00:00:00Z")),
                "{s}"
            );
        }
        let every_five = CronSpec::parse("*/5 * * * *").unwrap();
        assert_eq!(
            every_five.next_after(at("2026-03-01T10:02:30Z")),
            Some(at("2026-03-01T10:05:00Z"))
        );
        assert!(CronSpec::parse("0 0 * * 8").is_err());
        assert!(CronSpec::parse("* * *").is_err());
    }

    #[test]
    fn the_shipped_jobs_are_valid() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("jobs");
        let jobs = load_dir(&dir).unwrap();
        let names: Vec<&str> = jobs.iter().map(|j| j.name.as_str()).collect();
        assert_eq!(names, ["calls", "usage_records"]);
    }
}
