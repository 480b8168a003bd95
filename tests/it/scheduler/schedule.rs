//! The `schedule` command: it runs a job again when its schedule fires and stops cleanly on
//! SIGTERM.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::NaiveDate;
use twilio_export::domain::{AccountSid, Resource};
use twilio_sim::{Faults, SimConfig};

use crate::support::*;

use super::*;

/// A month of history per account, each request slowed down, and an hourly calls job from
/// 2026-02-01: a run that takes a while. The clock at 2026-03-08 09:00.
async fn a_long_run() -> (TestApp, std::path::PathBuf) {
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
    (app, jobs)
}

/// Waits until `partitions` partitions are recorded, sends SIGTERM to `child` and waits for
/// it to stop (20 s at most).
async fn stopped_after(
    partitions: i64,
    reg: &twilio_export::registry::Registry,
    child: tokio::process::Child,
) -> std::process::Output {
    eventually("the run to record its partitions", || async move {
        let summary = reg.partition_summary().await.unwrap();
        (summary.iter().map(|p| p.partitions).sum::<i64>() >= partitions).then_some(())
    })
    .await;
    terminated(child).await
}

#[tokio::test]
async fn sigterm_stops_schedule_when_nothing_reads_its_stderr_any_more() {
    let (app, jobs) = a_long_run().await;
    let reg = registry(&app).await;
    // As `schedule 2>&1 | logger` once the logger has died: every write to stderr fails,
    // the log lines at info included.
    let mut child = app
        .command(&["schedule"])
        .env("TWILIO_EXPORT_JOBS", &jobs)
        .env("TWILIO_EXPORT_NOW", app.sim.now().to_rfc3339())
        .env("RUST_LOG", "info")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stderr.take());
    let out = stopped_after(1, &reg, child).await;
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    let status = status_json(&app, &jobs).await;
    assert_eq!(status["runs"][0]["outcome"], "interrupted");
}

#[tokio::test]
async fn sigterm_during_schedule_exits_0_and_leaves_registry_and_output_consistent() {
    let (app, jobs) = a_long_run().await;
    let reg = registry(&app).await;
    // A few partitions recorded, then it is asked to stop.
    let out = stopped_after(6, &reg, spawn_schedule(&app, &jobs)).await;

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
async fn schedule_runs_a_job_again_when_its_schedule_fires() {
    // The clock starts two seconds before the hour: the job runs at start (it never ran) and
    // again on the hour, without anything in between.
    let app = spawn_app(moving_sim()).await;
    app.add_all_accounts().await;
    let jobs = write_jobs(&app, &[("calls.toml", CALLS_JOB)]);
    app.sim.set_now(at("2026-03-08T09:59:58Z"));
    let reg = registry(&app).await;
    let child = spawn_schedule(&app, &jobs);
    let r = &reg;
    let runs = eventually("two finished runs", || async move {
        let runs = r.recent_runs(10).await.unwrap();
        (runs.len() >= 2 && runs.iter().all(|r| r.finished_at.is_some())).then_some(runs)
    })
    .await;
    let out = terminated(child).await;

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

/// An account another process is exporting stays due after a step; `schedule` holds its job
/// back a while, not stepping again as fast as the database answers, nor trying it at every
/// step of another job (here one due every second), which runs meanwhile.
#[tokio::test]
async fn schedule_holds_back_a_job_whose_account_another_process_is_exporting() {
    let (app, _) = calls_job_app(moving_sim()).await;
    let every_second = "name = \"usage\"\nresource = \"usage-records\"\nschedule = \"* * * * * *\"\nlookback_days = 1\nstart_date = \"2026-03-01\"\n";
    let jobs = write_jobs(
        &app,
        &[("calls.toml", CALLS_JOB), ("usage.toml", every_second)],
    );
    let busy = AccountSid::parse(&app.sim.account_sids()[0]).unwrap();
    let reg = registry(&app).await;
    let other = twilio_export::registry::LeaseHolder::named("another process");
    let ttl = Duration::from_secs(600);
    reg.try_lease(&busy, Resource::Calls, &other, ttl)
        .await
        .unwrap();
    let (out, log) = (app.dir.path().join("out"), app.dir.path().join("log"));
    let child = app
        .command(&["schedule"])
        .env("TWILIO_EXPORT_JOBS", &jobs)
        .env("TWILIO_EXPORT_NOW", app.sim.now().to_rfc3339())
        .env("RUST_LOG", "info")
        .stdout(std::fs::File::create(&out).unwrap())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();

    let (log, out_file) = (&log, &out);
    let said = eventually("the step after which the job is still due", || async move {
        let text = std::fs::read_to_string(log).ok()?;
        text.contains("trying it again later").then_some(text)
    })
    .await;
    eventually("three more steps of the other job", || async move {
        let text = std::fs::read_to_string(out_file).ok()?;
        (text.matches("job usage:").count() >= 4).then_some(())
    })
    .await;
    let status = terminated(child).await.status;

    assert_eq!(status.code(), Some(0));
    assert!(said.contains("retry_in_seconds=30"), "{said}");
    let printed = std::fs::read_to_string(&out).unwrap();
    let busy_line = format!("{busy}: skipped, another process is exporting it");
    assert_eq!(printed.matches(&busy_line).count(), 1, "{printed}");
}
