//! `--metrics-file`: a batch run leaves its metrics in the node_exporter textfile format,
//! replaced atomically, with counts that match what the simulator saw.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use twilio_sim::{Faults, SimConfig};

use crate::support::*;

/// Every sample of a textfile, by `name{labels}`; panics on a line that is not a comment or
/// `name{labels} value`.
fn samples(text: &str) -> BTreeMap<String, f64> {
    let mut out = BTreeMap::new();
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let (key, value) = line
            .rsplit_once(' ')
            .unwrap_or_else(|| panic!("not a sample: {line:?}"));
        let name_ok = key.split('{').next().is_some_and(|n| {
            !n.is_empty() && n.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        });
        assert!(name_ok, "bad metric name in {line:?}");
        assert!(
            !key.contains('{') || key.ends_with('}'),
            "bad labels in {line:?}"
        );
        let value: f64 = value
            .parse()
            .unwrap_or_else(|_| panic!("bad value in {line:?}"));
        out.insert(key.to_owned(), value);
    }
    out
}

/// Files in `dir` other than `keep`: a temporary file left behind would be one.
fn others_in(dir: &Path, keep: &str) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n != keep)
        .collect()
}

#[tokio::test]
async fn backfill_writes_counts_that_match_the_simulator() {
    // Dense days (several pages each) of accounts that may have one request in flight.
    let app = spawn_app(SimConfig {
        accounts: 2,
        calls_per_day: 1200,
        faults: Faults {
            max_in_flight: Some(1),
            retry_after_share: 0.5,
            latency: Duration::from_millis(10),
            ..Faults::default()
        },
        ..small_sim()
    })
    .await;
    app.add_all_accounts().await;
    let dir = app.dir.path().join("textfile");
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("twilio_export.prom");
    std::fs::write(&file, "stale\n").unwrap();
    let before = app.sim.requests().len();

    let mut args = backfill("calls", "2026-02-27", "2026-03-02");
    let path = file.display().to_string();
    args.extend(["--metrics-file", &path]);
    let out = app.cli(&args).await;
    assert_success(&out);

    let requests = &app.sim.requests()[before..];
    let throttled = requests.iter().filter(|r| r.status == 429).count();
    assert!(throttled > 0, "the simulator answered no 429");
    let mut rows = 0;
    for sid in app.sim.account_sids() {
        for d in ["2026-02-27", "2026-02-28", "2026-03-01", "2026-03-02"] {
            rows += app.sim.calls_on(&sid, day(d)).len();
        }
    }
    let text = std::fs::read_to_string(&file).unwrap();
    let m = samples(&text);
    assert_eq!(m["twilio_export_run_rows_total"], rows as f64, "{text}");
    assert_eq!(
        m["twilio_export_run_requests_total"],
        requests.len() as f64,
        "{text}"
    );
    assert_eq!(
        m["twilio_export_run_throttled_total"], throttled as f64,
        "{text}"
    );
    assert!(
        m["twilio_export_run_retries_total"] >= throttled as f64,
        "{text}"
    );
    assert_eq!(
        m["twilio_export_run_windows{outcome=\"exported\"}"], 8.0,
        "{text}"
    );
    assert_eq!(
        m["twilio_export_run_windows{outcome=\"failed\"}"], 0.0,
        "{text}"
    );
    assert!(m["twilio_export_run_bytes_total"] > 0.0, "{text}");
    assert_eq!(m["twilio_export_run_deauthorized_accounts"], 0.0, "{text}");
    assert!(m.contains_key(
        "twilio_export_last_success_timestamp_seconds{export_job=\"backfill\",resource=\"calls\"}"
    ));
    for name in ["twilio_export_run_rows_total", "twilio_export_run_windows"] {
        assert!(text.contains(&format!("# HELP {name} ")), "{text}");
        assert!(text.contains(&format!("# TYPE {name} ")), "{text}");
    }
    assert_eq!(others_in(&dir, "twilio_export.prom"), Vec::<String>::new());
}

#[tokio::test]
async fn run_writes_the_last_success_of_each_job_and_keeps_it_through_a_failed_run() {
    let app = spawn_app(small_sim()).await;
    app.add_all_accounts().await;
    let calls = "name = \"calls\"\nresource = \"calls\"\nschedule = \"0 0 * * * *\"\nlookback_days = 1\nstart_date = \"2026-03-01\"\n";
    let usage = "name = \"usage\"\nresource = \"usage-records\"\nschedule = \"0 0 * * * *\"\nlookback_days = 1\nstart_date = \"2026-03-01\"\n";
    let jobs = write_jobs(&app, &[("calls.toml", calls), ("usage.toml", usage)]);
    let file = app.dir.path().join("run.prom");
    let now = app.sim.now();
    let env = [
        ("TWILIO_EXPORT_NOW", now.to_rfc3339()),
        ("TWILIO_EXPORT_JOBS", jobs.display().to_string()),
        ("TWILIO_EXPORT_METRICS_FILE", file.display().to_string()),
    ];
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let out = app
        .cli_with(&["run", "--job", "calls", "--job", "usage"], &env)
        .await;
    assert_success(&out);

    let text = std::fs::read_to_string(&file).unwrap();
    let m = samples(&text);
    for (job, resource) in [("calls", "calls"), ("usage", "usage_records")] {
        let key = format!(
            "twilio_export_last_success_timestamp_seconds{{export_job=\"{job}\",resource=\"{resource}\"}}"
        );
        let at = m.get(&key).unwrap_or_else(|| panic!("no {key} in\n{text}"));
        assert!(
            *at >= now.timestamp() as f64,
            "{key} = {at}, before the run's start"
        );
    }

    // A run of the other job, whose accounts have all lost their grant, keeps the time of
    // the first and counts them.
    for sid in app.sim.account_sids() {
        app.sim.revoke(&sid);
    }
    let out = app.cli_with(&["run", "--job", "usage"], &env).await;
    assert!(out.status.code().is_some(), "{}", stderr(&out));
    let again = samples(&std::fs::read_to_string(&file).unwrap());
    let key =
        "twilio_export_last_success_timestamp_seconds{export_job=\"calls\",resource=\"calls\"}";
    assert_eq!(again[key], m[key]);
    assert!(again["twilio_export_run_deauthorized_accounts"] >= 1.0);
}

/// A run that exported nothing because another process holds every account it was due for
/// does not move the job's last success (a holder stuck on them would keep it fresh).
#[tokio::test]
async fn a_run_whose_every_account_is_busy_is_not_a_last_success() {
    let app = spawn_app(small_sim()).await;
    app.add_all_accounts().await;
    let calls = "name = \"calls\"\nresource = \"calls\"\nschedule = \"0 0 * * * *\"\nlookback_days = 1\nstart_date = \"2026-03-01\"\n";
    let jobs = write_jobs(&app, &[("calls.toml", calls)]);
    let reg = registry(&app).await;
    let other = twilio_export::registry::LeaseHolder::named("another process");
    for sid in app.sim.account_sids() {
        let sid = twilio_export::domain::AccountSid::parse(&sid).unwrap();
        let ttl = Duration::from_secs(600);
        let resource = twilio_export::domain::Resource::Calls;
        reg.try_lease(&sid, resource, &other, ttl).await.unwrap();
    }
    let file = app.dir.path().join("run.prom");
    let env = [
        ("TWILIO_EXPORT_NOW", app.sim.now().to_rfc3339()),
        ("TWILIO_EXPORT_JOBS", jobs.display().to_string()),
        ("TWILIO_EXPORT_METRICS_FILE", file.display().to_string()),
    ];
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let out = app.cli_with(&["run", "--job", "calls"], &env).await;

    assert_success(&out);
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(
        !text.contains("twilio_export_last_success_timestamp_seconds{export_job=\"calls\""),
        "{text}"
    );
}

/// Not at a terminal (stderr is a pipe here), a backfill logs its progress every
/// `TWILIO_EXPORT_PROGRESS_SECS` instead of drawing a bar, and a summary line at the end.
#[tokio::test]
async fn without_a_terminal_progress_is_logged_periodically() {
    // Every request takes 1.5 s, so the export outlasts several 0.2 s intervals.
    let app = spawn_app(slowed(Duration::from_millis(1500), small_sim())).await;
    app.add_all_accounts().await;
    let out = app
        .cli_with(
            &backfill("calls", "2026-02-27", "2026-03-02"),
            &[("TWILIO_EXPORT_PROGRESS_SECS", "0.2"), ("RUST_LOG", "info")],
        )
        .await;
    assert_success(&out);
    let log = stderr(&out);
    let progress = log
        .lines()
        .find(|l| l.contains("Progress"))
        .unwrap_or_else(|| panic!("no progress line in\n{log}"));
    for field in [
        "windows_done=",
        "windows_total=12",
        "rows=",
        "requests_per_second=",
        "throttled=",
    ] {
        assert!(progress.contains(field), "{field} missing in {progress}");
    }
    let summary = log
        .lines()
        .find(|l| l.contains("Run finished"))
        .unwrap_or_else(|| panic!("no summary line in\n{log}"));
    assert!(summary.contains("windows_exported=12"), "{summary}");
}
