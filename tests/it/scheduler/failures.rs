//! What fails: bad job files before any work, and a day that keeps failing, retried every run
//! without the range growing.

use std::collections::BTreeSet;

use chrono::NaiveDate;
use twilio_export::domain::{DayRange, Resource};

use crate::support::*;

use super::*;

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
async fn a_day_that_keeps_failing_is_retried_every_run_and_the_range_does_not_grow() {
    let app = spawn_app(moving_sim()).await;
    app.add_all_accounts().await;
    a_day_that_keeps_failing(&app, &[]).await;
}

#[tokio::test]
async fn a_day_that_keeps_failing_is_retried_every_run_on_postgres() {
    let Some(url) = fresh_database().await else {
        return;
    };
    let app = spawn_app(moving_sim()).await;
    let env = [("DATABASE_URL", url.as_str())];
    add_accounts_with(&app, &env).await;
    a_day_that_keeps_failing(&app, &env).await;
}

/// An account whose grant goes while it has a failed day to retry is reported skipped, not
/// as having retried the day.
#[tokio::test]
async fn an_account_skipped_during_the_run_is_not_said_to_retry_its_failed_day() {
    let (app, jobs) = calls_job_app(moving_sim()).await;
    assert_success(&at_sim_now(&app, &jobs, &["run"]).await);
    let sid = app.sim.account_sids()[1].clone();
    let blocked = partition_file(&app.output(), "calls", &sid, day("2026-03-08"));
    let _ = std::fs::remove_file(&blocked);
    std::fs::create_dir_all(blocked.join("obstacle")).unwrap();
    app.sim.set_now(at("2026-03-12T11:00:00Z"));
    assert_eq!(
        at_sim_now(&app, &jobs, &["run"]).await.status.code(),
        Some(1)
    );

    app.sim.revoke(&sid);
    app.sim.set_now(at("2026-03-14T11:00:00Z"));
    let text = stdout(&at_sim_now(&app, &jobs, &["run"]).await);
    assert!(
        text.contains(&format!("{sid}: deauthorized during the run and skipped")),
        "{text}"
    );
    assert!(
        !text.contains(&format!("{sid}: failed days retried")),
        "{text}"
    );
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
        (
            // The retried day is apart from the range: the days between are not exported.
            "2026-03-17T11:00:00Z",
            {
                let mut d = days("2026-03-11", "2026-03-17");
                d.insert(day("2026-03-08"));
                d
            },
            "2026-03-16",
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
        let all_asked: BTreeSet<NaiveDate> = asked.values().flatten().copied().collect();
        let (first, last) = (all_asked.first().unwrap(), all_asked.last().unwrap());
        let range = DayRange::new(*first, *last).unwrap();
        let line = if all_asked.len() == range.len() {
            format!("calls: 2 accounts, {} days ({range}): ", range.len())
        } else {
            format!(
                "calls: 2 accounts, {} days within {range}: ",
                all_asked.len()
            )
        };
        assert!(
            stdout(&out).contains(&line),
            "{now}: {line}\n{}",
            stdout(&out)
        );
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
    assert_eq!(status["jobs"][0]["next_due"], "2026-03-17T12:00:00.000Z");
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
    assert_eq!(retried["day"], "2026-03-16");
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
    app.sim.set_now(at("2026-03-17T12:00:00Z"));
    assert_success(&at_sim_now_with(app, &jobs, &["run"], env).await);
    let asked = requested_days(&app.sim.requests()[before..], Resource::Calls);
    assert_eq!(asked[&sids[1]], days("2026-03-14", "2026-03-17"));
}
