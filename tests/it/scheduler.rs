//! Scheduled incremental exports (issue 5): `run` and `schedule` against a simulator whose
//! clock moves and whose recent calls change between runs. Runs read their "now" from
//! `TWILIO_EXPORT_NOW`, set to the simulator's clock; the step function is also driven
//! directly, without sleeps.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use tokio_util::sync::CancellationToken;
use twilio_export::domain::AuthToken;
use twilio_export::domain::{AccountSid, Resource};
use twilio_export::export::Exporter;
use twilio_export::fetch::Limits;
use twilio_export::fetch::{Quotas, TwilioClient};
use twilio_export::process::ProcessId;
use twilio_export::registry::{LeaseGrant, LeaseHolder, Registry};
use twilio_export::scheduler::plan::Shard;
use twilio_export::scheduler::{jobs, Outcome, Scheduler, Selection, Settings};
use twilio_export::store::OutputLocation;
use twilio_sim::{Faults, LoggedRequest, SimConfig};

use crate::helpers::*;

const CALLS_JOB: &str = "name = \"calls\"\nresource = \"calls\"\nschedule = \"0 0 * * * *\"\nlookback_days = 2\nstart_date = \"2026-03-01\"\n";
const USAGE_JOB: &str = "name = \"usage\"\nresource = \"usage-records\"\nschedule = \"30 2 * * *\"\nlookback_days = 3\nstart_date = \"2026-03-01\"\n";

/// Three accounts with history from 2026-02-26; the clock starts at the end of 2026-03-07 and
/// the tests move it forward.
fn moving_sim() -> SimConfig {
    SimConfig {
        seed: 23,
        accounts: 3,
        days: 10,
        calls_per_day: 40,
        today: day("2026-03-07"),
        ..SimConfig::default()
    }
}

pub(crate) fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

/// A jobs directory inside the app's scratch directory with these files.
pub(crate) fn write_jobs(app: &TestApp, files: &[(&str, &str)]) -> PathBuf {
    let dir = app.dir.path().join("jobs");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    for (name, text) in files {
        std::fs::write(dir.join(name), text).unwrap();
    }
    dir
}

/// Runs the binary with its clock at the simulator's `now` and the given jobs directory.
async fn at_sim_now(app: &TestApp, jobs: &Path, args: &[&str]) -> Output {
    at_sim_now_with(app, jobs, args, &[]).await
}

async fn at_sim_now_with(
    app: &TestApp,
    jobs: &Path,
    args: &[&str],
    env: &[(&str, &str)],
) -> Output {
    let now = app.sim.now().to_rfc3339();
    let jobs = jobs.display().to_string();
    let mut all = vec![
        ("TWILIO_EXPORT_NOW", now.as_str()),
        ("TWILIO_EXPORT_JOBS", &jobs),
    ];
    all.extend_from_slice(env);
    app.cli_with(args, &all).await
}

/// Starts `schedule` with its clock at the simulator's `now`, output captured.
fn spawn_schedule(app: &TestApp, jobs: &Path) -> tokio::process::Child {
    app.command(&["schedule"])
        .env("TWILIO_EXPORT_JOBS", jobs)
        .env("TWILIO_EXPORT_NOW", app.sim.now().to_rfc3339())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap()
}

/// The days each account's windows asked for, from the simulator's request log.
pub(crate) fn requested_days(
    log: &[LoggedRequest],
    resource: Resource,
) -> BTreeMap<String, BTreeSet<NaiveDate>> {
    // The first day asked for, and the last: a span of days is read with one query.
    let (path_end, from, to, to_excluded) = match resource {
        Resource::Calls => ("/Calls.json", "StartTime%3E=", "StartTime%3C=", true),
        Resource::UsageRecords => ("/Usage/Records/Daily.json", "StartDate=", "EndDate=", false),
    };
    let mut out: BTreeMap<String, BTreeSet<NaiveDate>> = BTreeMap::new();
    for r in log.iter().filter(|r| r.path.ends_with(path_end)) {
        let account = r.path.split('/').nth(3).unwrap().to_owned();
        let param = |name: &str| {
            let value = r.query.split('&').find_map(|kv| kv.strip_prefix(name));
            day(value.unwrap_or_else(|| panic!("{} has no {name}", r.query)))
        };
        let (first, mut last) = (param(from), param(to));
        if to_excluded {
            last = last.pred_opt().unwrap();
        }
        let asked = first.iter_days().take_while(|d| *d <= last);
        out.entry(account).or_default().extend(asked);
    }
    out
}

pub(crate) fn days(first: &str, last: &str) -> BTreeSet<NaiveDate> {
    day(first)
        .iter_days()
        .take_while(|d| *d <= day(last))
        .collect()
}

/// Every partition of `resources` in `first..=last` equals the simulator's truth at its
/// current clock; a day without records has no file.
pub(crate) fn assert_output_is_truth(
    app: &TestApp,
    resources: &[Resource],
    first: &str,
    last: &str,
) {
    for account in app.sim.account_sids() {
        for d in days(first, last) {
            for resource in resources {
                let (table, truth, columns, key) = match resource {
                    Resource::Calls => {
                        ("calls", app.sim.calls_on(&account, d), CALL_COLUMNS, "sid")
                    }
                    Resource::UsageRecords => (
                        "usage_records",
                        app.sim.daily_usage_on(&account, d),
                        USAGE_COLUMNS,
                        "category",
                    ),
                };
                let file = partition_file(&app.output(), table, &account, d);
                if truth.is_empty() {
                    assert!(!file.exists(), "{}", file.display());
                    continue;
                }
                assert!(file.exists(), "{} missing", file.display());
                let rows = rows_of(&read_parquet(&file));
                assert_rows_match(&rows, &truth, columns, key);
            }
        }
    }
    assert!(files_below(&app.output())
        .iter()
        .filter(|f| !f.starts_with("_staging"))
        .all(|f| f.ends_with("part-0.parquet")));
}

async fn registry(app: &TestApp) -> Registry {
    Registry::connect(&app.database_url()).await.unwrap()
}

async fn status_json(app: &TestApp, jobs: &Path) -> serde_json::Value {
    let out = at_sim_now(app, jobs, &["status", "--json"]).await;
    assert_success(&out);
    serde_json::from_slice(&out.stdout).unwrap()
}

#[tokio::test]
async fn three_runs_with_changes_between_converge_and_fetch_only_the_windows_needed() {
    // Arrange: two jobs, history exported from 2026-03-01, the clock at 2026-03-08 09:00.
    let app = spawn_app(moving_sim()).await;
    app.add_all_accounts().await;
    let jobs = write_jobs(
        &app,
        &[("calls.toml", CALLS_JOB), ("usage.toml", USAGE_JOB)],
    );
    app.sim.set_now(at("2026-03-08T09:00:00Z"));
    let account = app.sim.account_sids()[0].clone();
    let today_at_first_run = app.sim.calls_on(&account, day("2026-03-08"));

    // Act 1: the first run starts at start_date.
    let out = at_sim_now(&app, &jobs, &["run"]).await;
    assert_success(&out);
    assert_output_is_truth(&app, &Resource::ALL, "2026-03-01", "2026-03-08");
    let first = app.sim.requests();
    for resource in Resource::ALL {
        for (acct, asked) in requested_days(&first, resource) {
            assert_eq!(asked, days("2026-03-01", "2026-03-08"), "{acct} {resource}");
        }
    }

    // Act 2: 30 hours later new calls exist and recent ones have settled.
    app.sim.set_now(at("2026-03-09T15:00:00Z"));
    let out = at_sim_now(&app, &jobs, &["run"]).await;
    assert_success(&out);
    let second = app.sim.requests()[first.len()..].to_vec();
    // The checkpoint is 2026-03-07 (yesterday at the first run): calls re-read from
    // 2026-03-05 (lookback 2), usage from 2026-03-04 (lookback 3), each through today.
    for (acct, asked) in requested_days(&second, Resource::Calls) {
        assert_eq!(asked, days("2026-03-05", "2026-03-09"), "{acct}");
    }
    for (acct, asked) in requested_days(&second, Resource::UsageRecords) {
        assert_eq!(asked, days("2026-03-04", "2026-03-09"), "{acct}");
    }
    assert_output_is_truth(&app, &Resource::ALL, "2026-03-01", "2026-03-09");

    // Act 3: a day and a half later.
    app.sim.set_now(at("2026-03-11T04:00:00Z"));
    let out = at_sim_now(&app, &jobs, &["run"]).await;
    assert_success(&out);
    let third = app.sim.requests()[first.len() + second.len()..].to_vec();
    for (acct, asked) in requested_days(&third, Resource::Calls) {
        assert_eq!(asked, days("2026-03-06", "2026-03-11"), "{acct}");
    }
    for (acct, asked) in requested_days(&third, Resource::UsageRecords) {
        assert_eq!(asked, days("2026-03-05", "2026-03-11"), "{acct}");
    }

    // Assert: the whole history equals the API now, although it changed under the runs.
    assert_output_is_truth(&app, &Resource::ALL, "2026-03-01", "2026-03-11");
    assert_ne!(
        app.sim.calls_on(&account, day("2026-03-08")),
        today_at_first_run,
        "the simulator should have changed the day exported first as today"
    );
    let status = status_json(&app, &jobs).await;
    for c in status["checkpoints"].as_array().unwrap() {
        assert_eq!(c["day"], "2026-03-10", "{c}");
        assert!(c["last_success_at"].is_string() && c["last_error"].is_null());
    }
    assert_eq!(status["checkpoints"].as_array().unwrap().len(), 6);
    assert!(status["leases"].as_array().unwrap().is_empty());
    let runs = status["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 6, "one recorded run per job and step");
    assert!(runs
        .iter()
        .all(|r| r["command"] == "run" && r["outcome"] == "succeeded"));
}

#[tokio::test]
async fn missed_schedules_are_caught_up_in_one_run_and_nothing_due_fetches_nothing() {
    let app = spawn_app(moving_sim()).await;
    app.add_all_accounts().await;
    let jobs = write_jobs(&app, &[("calls.toml", CALLS_JOB)]);
    app.sim.set_now(at("2026-03-08T09:00:00Z"));
    assert_success(&at_sim_now(&app, &jobs, &["run"]).await);

    // Minutes later the hourly job has not fired again: nothing is requested.
    app.sim.set_now(at("2026-03-08T09:20:00Z"));
    let before = app.sim.requests().len();
    let out = at_sim_now(&app, &jobs, &["run"]).await;
    assert_success(&out);
    assert!(
        stdout(&out).contains("Nothing due; next: job calls at 2026-03-08 10:00:00 UTC"),
        "{}",
        stdout(&out)
    );
    assert_eq!(app.sim.requests().len(), before);

    // Four days without a run: one run covers the whole gap, from checkpoint − lookback.
    app.sim.set_now(at("2026-03-12T18:00:00Z"));
    let out = at_sim_now(&app, &jobs, &["run"]).await;
    assert_success(&out);
    let asked = requested_days(&app.sim.requests()[before..], Resource::Calls);
    assert_eq!(asked.len(), 3);
    for days_asked in asked.values() {
        assert_eq!(*days_asked, days("2026-03-05", "2026-03-12"));
    }
    let status = status_json(&app, &jobs).await;
    assert_eq!(status["runs"].as_array().unwrap().len(), 2);
    assert_eq!(status["jobs"][0]["last_run"]["outcome"], "succeeded");
    for d in days("2026-03-05", "2026-03-12") {
        for account in app.sim.account_sids() {
            let truth = app.sim.calls_on(&account, d);
            let file = partition_file(&app.output(), "calls", &account, d);
            if !truth.is_empty() {
                assert_rows_match(&rows_of(&read_parquet(&file)), &truth, CALL_COLUMNS, "sid");
            }
        }
    }
}

/// A scheduler in this process, on the app's database, output and simulator.
async fn scheduler(app: &TestApp, jobs: &Path, cancel: CancellationToken) -> Scheduler {
    let client = TwilioClient::new(
        app.base.parse().unwrap(),
        AuthToken::new(TOKEN.to_owned()).unwrap(),
        Quotas::new(Limits::default()),
    )
    .unwrap();
    let store = twilio_export::store::Store::open(&OutputLocation::Local(app.output())).unwrap();
    store.check().await.unwrap();
    let exporter = Exporter {
        client,
        registry: registry(app).await,
        store,
        cancel,
        pseudonyms: Default::default(),
    };
    let settings = Settings {
        command: "test".to_owned(),
        shard: Shard::all(),
        lease_ttl: Duration::from_secs(60),
        default_concurrency: Box::new(|n| n * 2),
    };
    Scheduler::new(exporter, jobs::load_dir(jobs).unwrap(), settings)
}

/// The jobs a step ran, each of which must have exported everything it planned.
fn ran(outcome: &Outcome) -> Vec<String> {
    match outcome {
        Outcome::Exported(reports) => reports
            .iter()
            .map(|r| {
                assert!(r.succeeded() && r.busy.is_empty(), "{r:#?}");
                r.job.clone()
            })
            .collect(),
        Outcome::NothingDue { .. } => Vec::new(),
    }
}

#[tokio::test]
async fn the_step_runs_exactly_the_jobs_whose_schedule_fired() {
    let app = spawn_app(moving_sim()).await;
    app.add_all_accounts().await;
    let jobs = write_jobs(
        &app,
        &[("calls.toml", CALLS_JOB), ("usage.toml", USAGE_JOB)],
    );
    let s = scheduler(&app, &jobs, CancellationToken::new()).await;
    let step = |t: &str| {
        let now = app.sim.set_now(at(t));
        let s = &s;
        async move { s.run_once(&Selection::Due, now).await.unwrap() }
    };

    // Never ran: both are due.
    assert_eq!(ran(&step("2026-03-08T09:00:00Z").await), ["calls", "usage"]);
    // Ten minutes later neither has fired.
    match step("2026-03-08T09:10:00Z").await {
        Outcome::NothingDue { next } => {
            assert_eq!(next, Some(("calls".to_owned(), at("2026-03-08T10:00:00Z"))))
        }
        other => panic!("{other:?}"),
    }
    // Past the hour only the hourly job; past 02:30 the next day both.
    assert_eq!(ran(&step("2026-03-08T10:00:00Z").await), ["calls"]);
    assert_eq!(ran(&step("2026-03-08T23:59:00Z").await), ["calls"]);
    assert_eq!(ran(&step("2026-03-09T02:30:00Z").await), ["calls", "usage"]);
    // Named jobs run whatever their schedule.
    let now = app.sim.now();
    let named = s
        .run_once(&Selection::Named(vec!["usage".into()]), now)
        .await
        .unwrap();
    assert_eq!(ran(&named), ["usage"]);
    let Outcome::Exported(reports) = named else {
        unreachable!()
    };
    let r = &reports[0];
    for a in &r.accounts {
        assert_eq!(a.checkpoint, Some(day("2026-03-08")));
        assert_eq!(a.days.first(), day("2026-03-05"), "checkpoint 03-08 − 3");
    }
    assert_output_is_truth(&app, &Resource::ALL, "2026-03-05", "2026-03-09");
}

/// A holder whose process has died: a child that was started, killed and reaped.
fn dead_holder(name: &str) -> LeaseHolder {
    let mut child = std::process::Command::new("sleep")
        .arg("60")
        .spawn()
        .unwrap();
    let process = ProcessId::of_pid(child.id()).unwrap();
    child.kill().unwrap();
    child.wait().unwrap();
    LeaseHolder::in_process(name, process)
}

#[tokio::test]
async fn a_live_holders_pairs_are_skipped_and_stay_due_and_a_dead_holders_are_taken_over() {
    let app = spawn_app(moving_sim()).await;
    app.add_all_accounts().await;
    let jobs = write_jobs(&app, &[("calls.toml", CALLS_JOB)]);
    app.sim.set_now(at("2026-03-08T09:00:00Z"));
    let sids = app.sim.account_sids();
    let (busy, crashed) = (
        AccountSid::parse(&sids[0]).unwrap(),
        AccountSid::parse(&sids[1]).unwrap(),
    );
    let reg = registry(&app).await;
    let other = LeaseHolder::named("another process");
    let ttl = Duration::from_secs(600);
    let granted = reg.try_lease(&busy, Resource::Calls, &other, ttl).await;
    assert_eq!(granted.unwrap(), LeaseGrant::Granted);
    // A holder that crashed: its lease has not expired, but its process is gone.
    let dead = dead_holder("a crashed process");
    let granted = reg.try_lease(&crashed, Resource::Calls, &dead, ttl).await;
    assert_eq!(granted.unwrap(), LeaseGrant::Granted);
    assert!(reg.leases().await.unwrap().iter().any(|l| l.holder_dead));

    let out = at_sim_now(&app, &jobs, &["run"]).await;

    assert_success(&out);
    let text = stdout(&out);
    assert!(
        text.contains(&format!("{busy}: skipped, another process is exporting it")),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "{crashed}: lease taken over from a crashed process"
        )),
        "{text}"
    );
    let asked = requested_days(&app.sim.requests(), Resource::Calls);
    assert!(
        !asked.contains_key(busy.as_str()),
        "the leased account was not touched"
    );
    assert_eq!(asked[crashed.as_str()], days("2026-03-01", "2026-03-08"));
    assert_eq!(reg.checkpoint(&busy, Resource::Calls).await.unwrap(), None);
    assert_eq!(
        reg.checkpoint(&crashed, Resource::Calls).await.unwrap(),
        Some(day("2026-03-07"))
    );
    // Only the other process's live lease is left.
    let leases = reg.leases().await.unwrap();
    assert_eq!(leases.len(), 1);
    assert_eq!(leases[0].holder, "another process");
    let status = status_json(&app, &jobs).await;
    assert_eq!(status["jobs"][0]["last_run"]["outcome"], "incomplete");

    // The skipped account is still due at the same instant; the others are not.
    let before = app.sim.requests().len();
    reg.release_lease(&busy, Resource::Calls, &other)
        .await
        .unwrap();
    let out = at_sim_now(&app, &jobs, &["run"]).await;
    assert_success(&out);
    let asked = requested_days(&app.sim.requests()[before..], Resource::Calls);
    assert_eq!(asked.keys().collect::<Vec<_>>(), [busy.as_str()]);
    assert_eq!(asked[busy.as_str()], days("2026-03-01", "2026-03-08"));
    let out = at_sim_now(&app, &jobs, &["run"]).await;
    assert!(stdout(&out).contains("Nothing due"), "{}", stdout(&out));
    assert_output_is_truth(&app, &[Resource::Calls], "2026-03-01", "2026-03-08");
}

#[tokio::test]
async fn two_concurrent_runs_never_export_the_same_account_at_once() {
    // Every request takes 300 ms and the job exports two windows at a time, so the first run
    // is still working when the second starts.
    let app = spawn_app(SimConfig {
        faults: Faults {
            latency: Duration::from_millis(300),
            ..Faults::default()
        },
        ..moving_sim()
    })
    .await;
    app.add_all_accounts().await;
    let job = format!("{CALLS_JOB}concurrency = 2\n");
    let jobs = write_jobs(&app, &[("calls.toml", &job)]);
    app.sim.set_now(at("2026-03-08T09:00:00Z"));
    let reg = registry(&app).await;

    let first = at_sim_now(&app, &jobs, &["run", "--job", "calls"]);
    let second = async {
        // Start once the first holds its leases.
        for _ in 0..400 {
            if reg.leases().await.unwrap().len() == 3 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        at_sim_now(&app, &jobs, &["run", "--job", "calls"]).await
    };
    let (first, second) = tokio::join!(first, second);

    assert_success(&first);
    assert_success(&second);
    assert_eq!(
        stdout(&second)
            .matches("skipped, another process is exporting it")
            .count(),
        3,
        "{}",
        stdout(&second)
    );
    // Each day was fetched once: the second run requested nothing.
    let asked = requested_days(&app.sim.requests(), Resource::Calls);
    assert_eq!(asked.len(), 3);
    assert!(asked
        .values()
        .all(|d| *d == days("2026-03-01", "2026-03-08")));
    let lists = app.sim.requests();
    let lists = lists.iter().filter(|r| r.path.ends_with("/Calls.json"));
    assert_eq!(
        lists.count(),
        3,
        "the eight sparse days of each account, in one request"
    );
    assert!(reg.leases().await.unwrap().is_empty());
    assert_output_is_truth(&app, &[Resource::Calls], "2026-03-01", "2026-03-08");
}

#[tokio::test]
async fn bad_job_files_exit_2_naming_the_file_and_the_field_before_any_work() {
    let app = spawn_app(moving_sim()).await;
    app.add_all_accounts().await;
    let cases = [
        (
            CALLS_JOB.replace("lookback_days", "lookback"),
            "lookback: unknown key",
        ),
        (
            CALLS_JOB.replace("0 0 * * * *", "every hour"),
            "schedule: \"every hour\"",
        ),
        (
            CALLS_JOB.replace("resource = \"calls\"", "resource = \"messages\""),
            "resource: unknown resource \"messages\"",
        ),
        (
            CALLS_JOB.replace("lookback_days = 2", "lookback_days = -3"),
            "lookback_days: expected a whole number from 0",
        ),
    ];
    let requests = app.sim.requests().len();
    for (text, field) in cases {
        let jobs = write_jobs(&app, &[("usage.toml", USAGE_JOB), ("bad.toml", &text)]);
        for args in [&["run"][..], &["schedule"][..]] {
            let out = at_sim_now(&app, &jobs, args).await;
            assert_eq!(out.status.code(), Some(2), "{args:?} {}", stderr(&out));
            let err = stderr(&out);
            assert!(err.contains("bad.toml: ") && err.contains(field), "{err}");
        }
    }
    let jobs = write_jobs(&app, &[("calls.toml", CALLS_JOB)]);
    for (args, message) in [
        (
            &["run", "--job", "nope"][..],
            "--job: no job named \"nope\"",
        ),
        (
            &["run", "--shard", "4/4"][..],
            "'--shard <I/N>': not a shard",
        ),
    ] {
        let out = at_sim_now(&app, &jobs, args).await;
        assert_eq!(out.status.code(), Some(2));
        assert!(stderr(&out).contains(message), "{}", stderr(&out));
    }
    let empty = write_jobs(&app, &[]);
    let out = at_sim_now(&app, &empty, &["run"]).await;
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("no job files"), "{}", stderr(&out));
    assert_eq!(app.sim.requests().len(), requests, "nothing was fetched");
    assert!(!app.output().exists(), "nothing was written");
}

#[tokio::test]
async fn sigterm_during_schedule_exits_0_and_leaves_registry_and_output_consistent() {
    // A month of history per account, each request slowed down: the run takes a while.
    let app = spawn_app(SimConfig {
        days: 40,
        faults: Faults {
            latency: Duration::from_millis(60),
            ..Faults::default()
        },
        ..moving_sim()
    })
    .await;
    app.add_all_accounts().await;
    let job = CALLS_JOB.replace("2026-03-01", "2026-02-01") + "concurrency = 2\n";
    let jobs = write_jobs(&app, &[("calls.toml", &job)]);
    app.sim.set_now(at("2026-03-08T09:00:00Z"));
    let reg = registry(&app).await;

    let child = spawn_schedule(&app, &jobs);
    // Wait until a few partitions are recorded, then ask it to stop.
    let mut recorded = 0;
    for _ in 0..600 {
        recorded = reg
            .partition_summary()
            .await
            .unwrap()
            .iter()
            .map(|p| p.partitions)
            .sum();
        if recorded >= 6 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(recorded >= 6, "the run did not start");
    let pid = child.id().unwrap().to_string();
    assert!(std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    let out = tokio::time::timeout(Duration::from_secs(20), child.wait_with_output())
        .await
        .expect("stopped within 20 s")
        .unwrap();

    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let status = status_json(&app, &jobs).await;
    assert!(
        status["leases"].as_array().unwrap().is_empty(),
        "leases given back"
    );
    assert_eq!(status["runs"][0]["outcome"], "interrupted");
    assert!(
        status["jobs"][0]["last_run"].is_null(),
        "an interrupted job stays due"
    );
    // The run stopped early: some windows were never exported.
    assert!(status["runs"][0]["windows_exported"].as_i64().unwrap() < 3 * 36);
    for account in app.sim.account_sids() {
        let sid = AccountSid::parse(&account).unwrap();
        let recorded: BTreeMap<NaiveDate, Option<String>> = reg
            .partitions(&sid, Resource::Calls)
            .await
            .unwrap()
            .into_iter()
            .map(|p| (p.day, p.object_key))
            .collect();
        // Every recorded partition is durable and complete.
        for (d, key) in &recorded {
            let file = partition_file(&app.output(), "calls", &account, *d);
            assert_eq!(key.is_some(), file.exists(), "{d}");
            if key.is_some() {
                let truth = app.sim.calls_on(&account, *d);
                assert_rows_match(&rows_of(&read_parquet(&file)), &truth, CALL_COLUMNS, "sid");
            }
        }
        // The checkpoint covers only recorded days.
        if let Some(cp) = reg.checkpoint(&sid, Resource::Calls).await.unwrap() {
            for d in days("2026-02-01", &cp.to_string()) {
                assert!(
                    recorded.contains_key(&d),
                    "checkpoint {cp} past unrecorded {d}"
                );
            }
        }
    }
    assert!(files_below(&app.output())
        .iter()
        .filter(|f| !f.starts_with("_staging"))
        .all(|f| f.ends_with("part-0.parquet")));

    // The next run picks up where it stopped and completes the history.
    let out = at_sim_now(&app, &jobs, &["run"]).await;
    assert_success(&out);
    for account in app.sim.account_sids() {
        for d in days("2026-02-01", "2026-03-08") {
            let truth = app.sim.calls_on(&account, d);
            let file = partition_file(&app.output(), "calls", &account, d);
            assert_eq!(truth.is_empty(), !file.exists(), "{account} {d}");
            if !truth.is_empty() {
                assert_rows_match(&rows_of(&read_parquet(&file)), &truth, CALL_COLUMNS, "sid");
            }
        }
    }
}

#[tokio::test]
async fn a_day_that_keeps_failing_is_retried_every_run_and_the_range_does_not_grow() {
    let app = spawn_app(moving_sim()).await;
    app.add_all_accounts().await;
    a_day_that_keeps_failing(&app, &[]).await;
}

#[tokio::test]
async fn a_day_that_keeps_failing_is_retried_every_run_on_postgres() {
    let Some(url) = crate::postgres::fresh_database().await else {
        return;
    };
    let app = spawn_app(moving_sim()).await;
    let env = [("DATABASE_URL", url.as_str())];
    add_accounts_with(&app, &env).await;
    a_day_that_keeps_failing(&app, &env).await;
}

/// Registers every simulated account in the database `env` names.
pub(crate) async fn add_accounts_with(app: &TestApp, env: &[(&str, &str)]) {
    let sids = app.sim.account_sids();
    let mut add = vec!["accounts", "add"];
    add.extend(sids.iter().map(String::as_str));
    assert_success(&app.cli_with(&add, env).await);
}

async fn status_json_with(app: &TestApp, jobs: &Path, env: &[(&str, &str)]) -> serde_json::Value {
    let out = at_sim_now_with(app, jobs, &["status", "--json"], env).await;
    assert_success(&out);
    serde_json::from_slice(&out.stdout).unwrap()
}

/// One account's 2026-03-08 cannot be written (a directory stands where its file goes) for
/// several runs: each run exits 1, shows it and retries it, the checkpoint moves past it so
/// that the range re-exported stays lookback + today, and the day is exported once it can be.
async fn a_day_that_keeps_failing(app: &TestApp, env: &[(&str, &str)]) {
    let jobs = write_jobs(app, &[("calls.toml", CALLS_JOB)]);
    app.sim.set_now(at("2026-03-08T09:00:00Z"));
    assert_success(&at_sim_now_with(app, &jobs, &["run"], env).await);
    let sids = app.sim.account_sids();
    // Another account's grant goes: reported, skipped, not a failure.
    app.sim.revoke(&sids[0]);
    let blocked = partition_file(&app.output(), "calls", &sids[1], day("2026-03-08"));
    let _ = std::fs::remove_file(&blocked);
    std::fs::create_dir_all(blocked.join("obstacle")).unwrap();
    let checkpoint = |status: &serde_json::Value, sid: &str| {
        status["checkpoints"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["account_sid"] == sid && c["resource"] == "calls")
            .unwrap()
            .clone()
    };

    // (clock, days asked of the failing account, its checkpoint after the run)
    let steps = [
        (
            "2026-03-09T11:00:00Z",
            days("2026-03-05", "2026-03-09"),
            "2026-03-08",
        ),
        (
            "2026-03-12T11:00:00Z",
            days("2026-03-06", "2026-03-12"),
            "2026-03-11",
        ),
        (
            "2026-03-14T11:00:00Z",
            {
                let mut d = days("2026-03-09", "2026-03-14");
                d.insert(day("2026-03-08"));
                d
            },
            "2026-03-13",
        ),
    ];
    for (now, asked_days, after) in steps {
        app.sim.set_now(at(now));
        let before = app.sim.requests().len();
        let out = at_sim_now_with(app, &jobs, &["run"], env).await;

        assert_eq!(out.status.code(), Some(1), "{now}: {}", stdout(&out));
        assert!(
            stdout(&out).contains("1 windows failed"),
            "{}",
            stdout(&out)
        );
        let asked = requested_days(&app.sim.requests()[before..], Resource::Calls);
        assert_eq!(asked[&sids[1]], asked_days, "{now}");
        let status = status_json_with(app, &jobs, env).await;
        let failed = checkpoint(&status, &sids[1]);
        assert_eq!(
            failed["day"], after,
            "{now}: past the remembered failed day"
        );
        let error = failed["last_error"].as_str().unwrap();
        assert!(error.starts_with("2026-03-08: "), "{failed}");
        let failures = status["failures"].as_array().unwrap();
        assert_eq!(failures.len(), 1, "{failures:?}");
        assert_eq!(failures[0]["account_sid"], sids[1].as_str());
        assert_eq!(failures[0]["day"], "2026-03-08");
        assert_eq!(
            checkpoint(&status, &sids[0])["day"],
            "2026-03-07",
            "deauthorized: stays"
        );
        assert_eq!(status["jobs"][0]["last_run"]["outcome"], "partial");
    }
    let status = status_json_with(app, &jobs, env).await;
    assert_eq!(status["jobs"][0]["next_due"], "2026-03-14T12:00:00+00:00");
    let text = stdout(&at_sim_now_with(app, &jobs, &["status"], env).await);
    assert!(
        text.contains("last error") && text.contains("\"0 0 * * * *\" lookback 2 days"),
        "{text}"
    );

    // Once the obstacle is gone the retry succeeds, clears the error and the failure.
    std::fs::remove_dir_all(&blocked).unwrap();
    assert_success(&at_sim_now_with(app, &jobs, &["run", "--job", "calls"], env).await);
    let status = status_json_with(app, &jobs, env).await;
    let retried = checkpoint(&status, &sids[1]);
    assert_eq!(retried["day"], "2026-03-13");
    assert!(retried["last_error"].is_null(), "{retried}");
    assert!(status["failures"].as_array().unwrap().is_empty());
    let truth = app.sim.calls_on(&sids[1], day("2026-03-08"));
    assert_rows_match(
        &rows_of(&read_parquet(&blocked)),
        &truth,
        CALL_COLUMNS,
        "sid",
    );
    // Nothing is retried any more.
    let before = app.sim.requests().len();
    app.sim.set_now(at("2026-03-14T12:00:00Z"));
    assert_success(&at_sim_now_with(app, &jobs, &["run"], env).await);
    let asked = requested_days(&app.sim.requests()[before..], Resource::Calls);
    assert_eq!(asked[&sids[1]], days("2026-03-11", "2026-03-14"));
}

#[tokio::test]
async fn schedule_runs_a_job_again_when_its_schedule_fires() {
    // The clock starts two seconds before the hour: the job runs at start (it never ran) and
    // again on the hour, without anything in between.
    let app = spawn_app(moving_sim()).await;
    app.add_all_accounts().await;
    let jobs = write_jobs(&app, &[("calls.toml", CALLS_JOB)]);
    app.sim.set_now(at("2026-03-08T09:59:58Z"));
    let reg = registry(&app).await;
    let child = spawn_schedule(&app, &jobs);
    let mut runs = Vec::new();
    for _ in 0..300 {
        runs = reg.recent_runs(10).await.unwrap();
        if runs.len() >= 2 && runs.iter().all(|r| r.finished_at.is_some()) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let pid = child.id().unwrap().to_string();
    std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    let out = tokio::time::timeout(Duration::from_secs(20), child.wait_with_output())
        .await
        .expect("stopped")
        .unwrap();

    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(runs.len(), 2, "{runs:?}");
    assert!(runs
        .iter()
        .all(|r| r.command == "schedule" && r.outcome == "succeeded"));
    let job_runs = reg.job_runs().await.unwrap();
    assert!(
        job_runs[0].last_due_at.starts_with("2026-03-08T10:00:0"),
        "{job_runs:?}"
    );
    assert!(stdout(&out).contains("Stopped"), "{}", stdout(&out));
}

#[tokio::test]
async fn checkpoints_leases_and_job_runs_work_on_postgres() {
    let Some(url) = crate::postgres::fresh_database().await else {
        return;
    };
    let env = [("DATABASE_URL", url.as_str())];
    let app = spawn_app(moving_sim()).await;
    let sids = app.sim.account_sids();
    let mut add = vec!["accounts", "add"];
    add.extend(sids.iter().map(String::as_str));
    assert_success(&app.cli_with(&add, &env).await);
    let jobs = write_jobs(&app, &[("calls.toml", CALLS_JOB)]);
    let reg = Registry::connect(&url).await.unwrap();
    let busy = AccountSid::parse(&sids[2]).unwrap();

    app.sim.set_now(at("2026-03-08T09:00:00Z"));
    assert_success(&at_sim_now_with(&app, &jobs, &["run"], &env).await);
    let first = app.sim.requests().len();
    assert!(reg
        .try_lease(
            &busy,
            Resource::Calls,
            &LeaseHolder::named("other"),
            Duration::from_secs(600)
        )
        .await
        .unwrap()
        .is_granted());
    assert!(!reg
        .try_lease(
            &busy,
            Resource::Calls,
            &LeaseHolder::named("third"),
            Duration::from_secs(600)
        )
        .await
        .unwrap()
        .is_granted());
    app.sim.set_now(at("2026-03-09T15:00:00Z"));
    let out = at_sim_now_with(&app, &jobs, &["run"], &env).await;

    assert_success(&out);
    let asked = requested_days(&app.sim.requests()[first..], Resource::Calls);
    assert!(!asked.contains_key(busy.as_str()));
    for sid in &sids[..2] {
        assert_eq!(asked[sid], days("2026-03-05", "2026-03-09"));
        let sid = AccountSid::parse(sid).unwrap();
        assert_eq!(
            reg.checkpoint(&sid, Resource::Calls).await.unwrap(),
            Some(day("2026-03-08"))
        );
    }
    assert_eq!(
        reg.checkpoint(&busy, Resource::Calls).await.unwrap(),
        Some(day("2026-03-07"))
    );
    let job_runs = reg.job_runs().await.unwrap();
    assert!(
        job_runs[0].last_due_at.starts_with("2026-03-09T15:00:0"),
        "{job_runs:?}"
    );
    assert_eq!(reg.leases().await.unwrap().len(), 1);
    assert!(!app.dir.path().join("registry.db").exists());
}

#[tokio::test]
async fn a_jobs_page_size_is_what_the_api_is_asked_for() {
    let app = spawn_app(moving_sim()).await;
    app.add_all_accounts().await;
    let job = CALLS_JOB.replace("lookback_days = 2\n", "lookback_days = 2\npage_size = 7\n");
    let jobs = write_jobs(&app, &[("calls.toml", &job)]);

    let out = at_sim_now(&app, &jobs, &["run", "--job", "calls"]).await;

    assert_success(&out);
    let calls: Vec<LoggedRequest> = app
        .sim
        .requests()
        .into_iter()
        .filter(|r| r.path.ends_with("/Calls.json"))
        .collect();
    assert!(!calls.is_empty());
    assert!(
        calls.iter().all(|r| r.query.contains("PageSize=7")),
        "{calls:?}"
    );
    // Small pages are followed to the end all the same.
    assert_output_is_truth(&app, &[Resource::Calls], "2026-03-01", "2026-03-06");
}

/// Six accounts; the tests of shards split them in two.
fn six_accounts() -> SimConfig {
    SimConfig {
        accounts: 6,
        calls_per_day: 10,
        ..moving_sim()
    }
}

/// The simulator's accounts in shard `shard`.
pub(crate) fn shard_accounts(app: &TestApp, shard: &str) -> BTreeSet<String> {
    let shard = Shard::parse(shard).unwrap();
    let sids = app.sim.account_sids();
    sids.into_iter()
        .filter(|s| shard.contains(&AccountSid::parse(s).unwrap()))
        .collect()
}

/// Two shards run `run` at each of four fire times, one after the other (as the pods of an
/// Indexed Job do): each exports all of its accounts every time.
async fn every_shard_exports_at_every_fire_time(app: &TestApp, env: &[(&str, &str)]) {
    let jobs = write_jobs(app, &[("calls.toml", CALLS_JOB)]);
    let shards = ["0/2", "1/2"];
    for shard in shards {
        assert!(
            !shard_accounts(app, shard).is_empty(),
            "{shard} has no account"
        );
    }
    for now in ["09", "10", "11", "12"].map(|h| format!("2026-03-08T{h}:00:00Z")) {
        app.sim.set_now(at(&now));
        for shard in shards {
            let before = app.sim.requests().len();
            let out = at_sim_now_with(app, &jobs, &["run", "--shard", shard], env).await;
            assert_success(&out);
            let asked = requested_days(&app.sim.requests()[before..], Resource::Calls);
            let accounts: BTreeSet<String> = asked.keys().cloned().collect();
            assert_eq!(
                accounts,
                shard_accounts(app, shard),
                "{now} {shard}: {}",
                stdout(&out)
            );
            assert!(asked.values().all(|d| d.contains(&day("2026-03-08"))));
        }
    }
    assert_output_is_truth(app, &[Resource::Calls], "2026-03-01", "2026-03-08");
}

#[tokio::test]
async fn every_shard_exports_its_accounts_at_every_fire_time() {
    let app = spawn_app(six_accounts()).await;
    app.add_all_accounts().await;
    every_shard_exports_at_every_fire_time(&app, &[]).await;
}

#[tokio::test]
async fn every_shard_exports_its_accounts_at_every_fire_time_on_postgres() {
    let Some(url) = crate::postgres::fresh_database().await else {
        return;
    };
    let app = spawn_app(six_accounts()).await;
    let env = [("DATABASE_URL", url.as_str())];
    add_accounts_with(&app, &env).await;
    every_shard_exports_at_every_fire_time(&app, &env).await;
}

#[tokio::test]
async fn an_indexed_jobs_index_and_shard_count_choose_the_shard() {
    let app = spawn_app(six_accounts()).await;
    app.add_all_accounts().await;
    let jobs = write_jobs(&app, &[("calls.toml", CALLS_JOB)]);
    app.sim.set_now(at("2026-03-08T09:00:00Z"));
    let requests = app.sim.requests().len();
    let bad = [
        (
            vec![("JOB_COMPLETION_INDEX", "1")],
            "TWILIO_EXPORT_SHARDS is not set",
        ),
        (
            vec![("TWILIO_EXPORT_SHARDS", "2")],
            "JOB_COMPLETION_INDEX is not set",
        ),
        (
            vec![("JOB_COMPLETION_INDEX", "2"), ("TWILIO_EXPORT_SHARDS", "2")],
            "\"2/2\" is not a shard",
        ),
        (
            vec![("JOB_COMPLETION_INDEX", "x"), ("TWILIO_EXPORT_SHARDS", "2")],
            "JOB_COMPLETION_INDEX and TWILIO_EXPORT_SHARDS",
        ),
    ];
    for (env, message) in bad {
        let out = at_sim_now_with(&app, &jobs, &["run"], &env).await;
        assert_eq!(out.status.code(), Some(2), "{env:?}");
        assert!(stderr(&out).contains(message), "{env:?}: {}", stderr(&out));
    }
    assert_eq!(app.sim.requests().len(), requests, "nothing was fetched");

    for index in ["1", "0"] {
        let before = app.sim.requests().len();
        let env = [
            ("JOB_COMPLETION_INDEX", index),
            ("TWILIO_EXPORT_SHARDS", "2"),
        ];
        let out = at_sim_now_with(&app, &jobs, &["run"], &env).await;
        assert_success(&out);
        let asked = requested_days(&app.sim.requests()[before..], Resource::Calls);
        let accounts: BTreeSet<String> = asked.keys().cloned().collect();
        assert_eq!(accounts, shard_accounts(&app, &format!("{index}/2")));
    }
}

/// `run` is killed with SIGKILL while it exports; the next `run`, at once, takes the dead
/// process's leases over, exports everything, and `status` shows the killed run abandoned.
async fn a_killed_run_is_taken_over(app: &TestApp, env: &[(&str, &str)], reg: &Registry) {
    let job = CALLS_JOB.replace("2026-03-01", "2026-02-01") + "concurrency = 2\n";
    let jobs = write_jobs(app, &[("calls.toml", &job)]);
    app.sim.set_now(at("2026-03-08T09:00:00Z"));
    let mut cmd = app.command(&["run"]);
    cmd.env("TWILIO_EXPORT_JOBS", &jobs)
        .env("TWILIO_EXPORT_NOW", app.sim.now().to_rfc3339());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut recorded = 0;
    for _ in 0..600 {
        let summary = reg.partition_summary().await.unwrap();
        recorded = summary.iter().map(|p| p.partitions).sum();
        if recorded >= 4 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(recorded >= 4, "the run did not start");
    child.kill().await.unwrap();
    assert_eq!(
        reg.leases().await.unwrap().len(),
        3,
        "the dead run kept its leases"
    );

    let out = at_sim_now_with(app, &jobs, &["run"], env).await;

    assert_success(&out);
    let text = stdout(&out);
    assert_eq!(text.matches("lease taken over from").count(), 3, "{text}");
    assert!(!text.contains("skipped"), "{text}");
    assert_output_is_truth(app, &[Resource::Calls], "2026-02-01", "2026-03-08");
    let status = status_json_with(app, &jobs, env).await;
    assert!(status["leases"].as_array().unwrap().is_empty());
    assert_eq!(status["runs"][0]["outcome"], "succeeded");
    assert_eq!(status["runs"][1]["outcome"], "abandoned");
    assert_eq!(status["jobs"][0]["last_run"]["outcome"], "succeeded");
    for c in status["checkpoints"].as_array().unwrap() {
        assert_eq!(c["day"], "2026-03-07", "{c}");
    }
    let text = stdout(&at_sim_now_with(app, &jobs, &["status"], env).await);
    assert!(text.contains("abandoned"), "{text}");
}

fn slow_sim() -> SimConfig {
    SimConfig {
        days: 40,
        faults: Faults {
            latency: Duration::from_millis(40),
            ..Faults::default()
        },
        ..moving_sim()
    }
}

#[tokio::test]
async fn a_run_killed_with_sigkill_is_taken_over_at_once_by_the_next_run() {
    let app = spawn_app(slow_sim()).await;
    app.add_all_accounts().await;
    let reg = registry(&app).await;
    a_killed_run_is_taken_over(&app, &[], &reg).await;
}

#[tokio::test]
async fn a_run_killed_with_sigkill_is_taken_over_at_once_on_postgres() {
    let Some(url) = crate::postgres::fresh_database().await else {
        return;
    };
    let app = spawn_app(slow_sim()).await;
    let env = [("DATABASE_URL", url.as_str())];
    add_accounts_with(&app, &env).await;
    let reg = Registry::connect(&url).await.unwrap();
    a_killed_run_is_taken_over(&app, &env, &reg).await;
}

#[tokio::test]
async fn a_scheduler_that_loses_a_lease_stops_publishing_that_account() {
    let app = spawn_app(SimConfig {
        accounts: 1,
        ..slow_sim()
    })
    .await;
    app.add_all_accounts().await;
    // Pages of 20 make each day of about 40 calls dense: one window per day.
    let job = CALLS_JOB.replace("2026-03-01", "2026-02-01") + "concurrency = 1\npage_size = 20\n";
    let jobs = write_jobs(&app, &[("calls.toml", &job)]);
    let now = app.sim.set_now(at("2026-03-08T09:00:00Z"));
    let sid = AccountSid::parse(&app.sim.account_sids()[0]).unwrap();
    let s = scheduler(&app, &jobs, CancellationToken::new()).await;
    let reg = registry(&app).await;
    let count = || async {
        let p = reg.partitions(&sid, Resource::Calls).await.unwrap();
        p.len()
    };

    let step = s.run_once(&Selection::Due, now);
    let thief = async {
        for _ in 0..600 {
            if count().await >= 3 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        // Another process takes the pair over (as after this one stalled past its expiry).
        reg.release_lease(&sid, Resource::Calls, s.holder())
            .await
            .unwrap();
        let other = LeaseHolder::named("the new holder");
        let granted = reg
            .try_lease(&sid, Resource::Calls, &other, Duration::from_secs(600))
            .await
            .unwrap();
        assert_eq!(granted, LeaseGrant::Granted);
        count().await
    };
    let (outcome, at_theft) = tokio::join!(step, thief);

    assert!(at_theft >= 3, "the run did not start");
    let Outcome::Exported(reports) = outcome.unwrap() else {
        panic!("the job was due")
    };
    let account = &reports[0].accounts[0];
    assert!(account.lease_lost, "{account:?}");
    assert_eq!(
        account.checkpoint, None,
        "the checkpoint is left to the new holder"
    );
    // At most the one window in flight when the lease went was published after it.
    let after = count().await;
    assert!(
        after <= at_theft + 1,
        "{after} partitions, {at_theft} at the theft"
    );
    assert!(after < 30, "the remaining windows were skipped");
    let files = files_below(&app.output().join("calls")).len();
    assert!(files <= at_theft + 1, "{files} files");
    assert_eq!(reg.leases().await.unwrap()[0].holder, "the new holder");
    // The account stays due for the new holder's scheduler or the next step.
    assert!(matches!(
        s.run_once(&Selection::Due, now).await.unwrap(),
        Outcome::Exported(_)
    ));
}

#[tokio::test]
async fn backfill_takes_the_same_leases_and_exits_1_naming_a_busy_account() {
    let app = spawn_app(moving_sim()).await;
    app.add_all_accounts().await;
    let sids = app.sim.account_sids();
    let (busy, crashed) = (
        AccountSid::parse(&sids[0]).unwrap(),
        AccountSid::parse(&sids[1]).unwrap(),
    );
    let reg = registry(&app).await;
    let ttl = Duration::from_secs(600);
    let other = LeaseHolder::named("a scheduled run");
    assert!(reg
        .try_lease(&busy, Resource::Calls, &other, ttl)
        .await
        .unwrap()
        .is_granted());
    let dead = dead_holder("a killed backfill");
    assert!(reg
        .try_lease(&crashed, Resource::Calls, &dead, ttl)
        .await
        .unwrap()
        .is_granted());

    let out = app
        .cli(&backfill("calls", "2026-03-01", "2026-03-03"))
        .await;

    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert!(
        stdout(&out).contains(&format!(
            "not exported, another process is exporting them (run again once it is done): {busy}"
        )),
        "{}",
        stdout(&out)
    );
    assert!(
        stderr(&out).contains(&format!(
            "{busy}: not exported: another process (a scheduled run)"
        )),
        "{}",
        stderr(&out)
    );
    let asked = requested_days(&app.sim.requests(), Resource::Calls);
    assert!(!asked.contains_key(busy.as_str()));
    assert_eq!(asked[crashed.as_str()], days("2026-03-01", "2026-03-03"));
    assert_eq!(asked[&sids[2]], days("2026-03-01", "2026-03-03"));
    let leases = reg.leases().await.unwrap();
    assert_eq!(leases.len(), 1, "{leases:?}");
    assert_eq!(leases[0].holder, "a scheduled run");

    // Once the other process is done, the same backfill exports the account and exits 0.
    reg.release_lease(&busy, Resource::Calls, &other)
        .await
        .unwrap();
    let out = app
        .cli(&backfill("calls", "2026-03-01", "2026-03-03"))
        .await;
    assert_success(&out);
    for d in days("2026-03-01", "2026-03-03") {
        let truth = app.sim.calls_on(busy.as_str(), d);
        let file = partition_file(&app.output(), "calls", busy.as_str(), d);
        assert_rows_match(&rows_of(&read_parquet(&file)), &truth, CALL_COLUMNS, "sid");
    }
    assert!(reg.leases().await.unwrap().is_empty());
}

/// The keys README "What `status` shows" documents for `status --json`, with their types.
fn documented_status_keys() -> BTreeMap<String, String> {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let section = readme
        .split("### What `status` shows")
        .nth(1)
        .expect("README documents status --json");
    let section = section.split("\n#").next().unwrap();
    let keys: BTreeMap<String, String> = section
        .lines()
        .filter_map(|line| {
            let cells: Vec<&str> = line.split('|').map(str::trim).collect();
            let key = cells.get(1)?.strip_prefix('`')?.strip_suffix('`')?;
            Some((key.to_owned(), cells.get(2)?.to_string()))
        })
        .collect();
    assert!(keys.len() > 50, "{keys:?}");
    keys
}

/// Every path of `value` in the README's notation (`runs[].outcome`), with the JSON values
/// found there.
fn json_paths<'a>(
    prefix: &str,
    value: &'a serde_json::Value,
    out: &mut BTreeMap<String, Vec<&'a serde_json::Value>>,
) {
    match value {
        serde_json::Value::Object(map) => {
            for (k, v) in map {
                let path = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                out.entry(path.clone()).or_default().push(v);
                json_paths(&path, v, out);
            }
        }
        serde_json::Value::Array(items) => {
            for item in items {
                json_paths(&format!("{prefix}[]"), item, out);
            }
        }
        _ => {}
    }
}

fn has_type(value: &serde_json::Value, documented: &str) -> bool {
    documented.split(" or ").any(|t| match t {
        "string" => value.is_string(),
        "integer" => value.is_i64() || value.is_u64(),
        "boolean" => value.is_boolean(),
        "array" => value.is_array(),
        "object" => value.is_object(),
        "null" => value.is_null(),
        other => panic!("README documents an unknown type {other:?}"),
    })
}

#[tokio::test]
async fn status_json_has_the_documented_shape_and_shows_failures_and_records_left_out() {
    // Arrange: sloppy pages (a repeat on every page, a call of the day before on the last),
    // one window that cannot be written, a lease of a dead process.
    let app = spawn_app(SimConfig {
        sloppy_pages: true,
        ..moving_sim()
    })
    .await;
    app.add_all_accounts().await;
    let jobs = write_jobs(&app, &[("calls.toml", CALLS_JOB)]);
    app.sim.set_now(at("2026-03-08T09:00:00Z"));
    let sids = app.sim.account_sids();
    let blocked = partition_file(&app.output(), "calls", &sids[1], day("2026-03-08"));
    std::fs::create_dir_all(blocked.join("obstacle")).unwrap();
    let reg = registry(&app).await;
    let usage_of = AccountSid::parse(&sids[2]).unwrap();
    let ttl = Duration::from_secs(600);
    let mut child = std::process::Command::new("sleep")
        .arg("60")
        .spawn()
        .unwrap();
    let dead_pid = child.id();
    let process = ProcessId::of_pid(dead_pid).unwrap();
    child.kill().unwrap();
    child.wait().unwrap();
    let dead = LeaseHolder::in_process("a crashed run", process);
    assert!(reg
        .try_lease(&usage_of, Resource::UsageRecords, &dead, ttl)
        .await
        .unwrap()
        .is_granted());

    // Act
    let out = at_sim_now(&app, &jobs, &["run"]).await;
    let json = at_sim_now(&app, &jobs, &["status", "--json"]).await;
    let text = at_sim_now(&app, &jobs, &["status"]).await;

    // Assert: the run failed that window, and status says so, in the documented shape.
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert_success(&json);
    assert_success(&text);
    let doc: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    let documented = documented_status_keys();
    let mut found = BTreeMap::new();
    json_paths("", &doc, &mut found);
    for (key, ty) in &documented {
        let values = found
            .get(key)
            .unwrap_or_else(|| panic!("status --json has no {key}: {doc:#}"));
        for v in values {
            assert!(has_type(v, ty), "{key} is documented as {ty}, found {v}");
        }
    }
    let undocumented: Vec<&String> = found
        .keys()
        .filter(|k| !documented.contains_key(*k))
        .collect();
    assert!(undocumented.is_empty(), "not in README: {undocumented:?}");

    let failures = doc["failures"].as_array().unwrap();
    assert_eq!(failures.len(), 1, "{failures:?}");
    assert_eq!(failures[0]["account_sid"], sids[1].as_str());
    assert_eq!(failures[0]["resource"], "calls");
    assert_eq!(failures[0]["day"], "2026-03-08");
    let error = failures[0]["error"].as_str().unwrap();
    assert!(!error.is_empty());
    let run = &doc["runs"][0];
    assert_eq!(run["outcome"], "partial");
    assert_eq!(run["windows_failed"], 1);
    // The run's own summary counted what it left out (how many depends on how the days were
    // grouped into requests; `export::records_of_other_days…` checks the counts against the
    // simulator): status shows the same numbers.
    let printed = stdout(&out);
    let left_out = printed
        .lines()
        .find_map(|l| l.trim().strip_prefix("left out: "))
        .unwrap_or_else(|| panic!("no left-out line in:\n{printed}"));
    let numbers: Vec<u64> = left_out.split(' ').filter_map(|w| w.parse().ok()).collect();
    let (strays, repeated) = (numbers[0], numbers[1]);
    assert!(repeated > 0 && strays > 0, "{left_out}");
    assert_eq!(run["duplicates"], repeated);
    assert_eq!(run["outside_window"], strays);
    assert_eq!(doc["jobs"][0]["last_run"]["outcome"], "partial");
    let lease = &doc["leases"][0];
    assert_eq!(lease["holder_dead"], true);
    assert_eq!(lease["resource"], "usage_records");
    assert_eq!(lease["pid"], dead_pid);

    let text = stdout(&text);
    assert!(text.contains("Failed windows"), "{text}");
    assert!(
        text.contains(&format!("{} calls 2026-03-08", sids[1])) && text.contains(error),
        "{text}"
    );
    let left_out = format!("({strays} of other days, {repeated} repeated: left out)");
    assert!(text.contains(&left_out), "{text}");
    assert!(
        text.contains("its process died: free to take over"),
        "{text}"
    );
}
