//! Runs converge on the truth, fetching only the windows they need; missed schedules are
//! caught up once; the step runs exactly the jobs that are due; a job's page size is asked for.

use tokio_util::sync::CancellationToken;
use twilio_export::domain::{AccountSid, Resource};
use twilio_export::scheduler::{Outcome, Selection};
use twilio_sim::LoggedRequest;

use crate::support::*;

use super::*;

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
async fn a_job_named_twice_runs_once() {
    let (app, jobs) = calls_job_app(moving_sim()).await;
    let out = at_sim_now(&app, &jobs, &["run", "--job", "calls", "--job", "calls"]).await;
    assert_success(&out);
    assert_eq!(
        stdout(&out).matches("job calls:").count(),
        1,
        "{}",
        stdout(&out)
    );
    let status = status_json(&app, &jobs).await;
    assert_eq!(status["runs"].as_array().unwrap().len(), 1, "{status}");
}

#[tokio::test]
async fn a_job_naming_only_unregistered_accounts_says_so_each_time_it_fires() {
    let app = spawn_app(moving_sim()).await;
    let unknown = "AC0000000000000000000000000000beef";
    let job = format!("{CALLS_JOB}accounts = [\"{unknown}\"]\n");
    let jobs = write_jobs(&app, &[("calls.toml", &job)]);
    let said = format!("{unknown}: named by the job but not registered");
    // The hourly job fires at 09:00 and 10:00; between fires it is not due.
    for (now, fires) in [
        ("2026-03-08T09:00:00Z", true),
        ("2026-03-08T09:20:00Z", false),
        ("2026-03-08T10:00:30Z", true),
    ] {
        app.sim.set_now(at(now));
        let out = at_sim_now(&app, &jobs, &["run"]).await;
        let code = if fires { 1 } else { 0 };
        assert_eq!(out.status.code(), Some(code), "{now}: {}", stdout(&out));
        assert_eq!(
            stdout(&out).contains(&said),
            fires,
            "{now}: {}",
            stdout(&out)
        );
    }
    let status = status_json(&app, &jobs).await;
    assert_eq!(
        status["jobs"][0]["last_run"]["outcome"], "incomplete",
        "{status}"
    );
    assert!(app.sim.requests().is_empty());
}

/// A registry that fails once a job has exported (here its table of job runs is gone, as a
/// full disk or a lost database would fail the write) ends the run with exit 1, not 2: what
/// was exported before stays published and recorded, and the message says so.
#[tokio::test]
async fn a_registry_failure_after_work_is_exit_1() {
    let (app, jobs) = calls_job_app(moving_sim()).await;
    let mut db = <sqlx::SqliteConnection as sqlx::Connection>::connect(&app.database_url())
        .await
        .unwrap();
    sqlx::query("alter table job_runs rename to job_runs_gone")
        .execute(&mut db)
        .await
        .unwrap();

    let out = at_sim_now(&app, &jobs, &["run", "--job", "calls"]).await;

    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("what was exported before it stays published and recorded"),
        "{}",
        stderr(&out)
    );
    let reg = registry(&app).await;
    let sid = twilio_export::domain::AccountSid::parse(&app.sim.account_sids()[0]).unwrap();
    assert!(!reg
        .partitions(&sid, Resource::Calls)
        .await
        .unwrap()
        .is_empty());
}

/// A run with nothing due touches no output (on a versioned bucket, each probe object leaves a
/// version and a delete marker behind, and a CronJob runs every five minutes): the output is
/// checked only once a job is due, and then before anything is fetched.
#[tokio::test]
async fn a_run_with_nothing_due_touches_no_output() {
    let (app, jobs) = calls_job_app(moving_sim()).await;
    assert_success(&at_sim_now(&app, &jobs, &["run"]).await);
    let output = app.output();
    std::fs::remove_dir_all(&output).unwrap();
    std::fs::write(&output, b"not a directory").unwrap();

    app.sim.set_now(at("2026-03-08T09:20:00Z"));
    let out = at_sim_now(&app, &jobs, &["run"]).await;
    assert_success(&out);
    assert!(stdout(&out).contains("Nothing due"), "{}", stdout(&out));
    assert_eq!(std::fs::read(&output).unwrap(), b"not a directory");

    app.sim.set_now(at("2026-03-08T10:05:00Z"));
    let before = app.sim.requests().len();
    let out = at_sim_now(&app, &jobs, &["run"]).await;
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("not writable"), "{}", stderr(&out));
    assert_eq!(app.sim.requests().len(), before, "nothing was fetched");
}

#[tokio::test]
async fn missed_schedules_are_caught_up_in_one_run_and_nothing_due_fetches_nothing() {
    let (app, jobs) = calls_job_app(moving_sim()).await;
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

#[tokio::test]
async fn a_machine_clock_ahead_of_the_apis_holds_checkpoints_at_the_apis_day() {
    // Answers to every request, and answers of nothing but 429s: the checkpoint stops before
    // the API's day either way (failed days are remembered, and count as covered).
    for faults in [
        Faults::default(),
        Faults {
            max_in_flight: Some(0),
            ..Faults::default()
        },
    ] {
        the_api_day_holds_checkpoints(faults).await;
    }
}

async fn the_api_day_holds_checkpoints(faults: Faults) {
    // The simulator's clock, which its answers' `Date` carries, reads 10 days before this
    // machine's; the run uses the machine's clock (no TWILIO_EXPORT_NOW).
    let api_today = chrono::Utc::now().date_naive() - chrono::Days::new(10);
    let app = spawn_app(SimConfig {
        accounts: 1,
        days: 5,
        calls_per_day: 5,
        today: api_today,
        faults,
        ..moving_sim()
    })
    .await;
    let sid = AccountSid::parse(&app.sim.account_sids()[0]).unwrap();
    assert_success(
        &app.cli(&["accounts", "add", "--no-verify", sid.as_str()])
            .await,
    );
    let start = api_today - chrono::Days::new(3);
    let job = format!("name = \"calls\"\nresource = \"calls\"\nschedule = \"0 0 * * * *\"\nlookback_days = 2\nstart_date = \"{start}\"\n");
    let jobs = write_jobs(&app, &[("calls.toml", &job)]);
    let jobs = jobs.display().to_string();

    let env = [
        ("TWILIO_EXPORT_JOBS", jobs.as_str()),
        ("TWILIO_EXPORT_RETRY_BUDGET", "1"),
    ];
    let out = app.cli_with(&["run"], &env).await;

    assert!(
        stderr(&out).contains("clock reads a later day than the API's Date header"),
        "{}",
        stderr(&out)
    );
    // The days through the API's yesterday are over; the machine's later days are not yet
    // (at the API), so the checkpoint stops before the API's today, not the machine's.
    let checkpoint = registry(&app).await.checkpoint(&sid, Resource::Calls).await;
    assert_eq!(checkpoint.unwrap(), Some(api_today - chrono::Days::new(1)));
}

#[tokio::test]
async fn jobs_a_stopped_run_did_not_start_are_reported_interrupted_and_stay_due() {
    let app = spawn_app(moving_sim()).await;
    app.add_all_accounts().await;
    let jobs = write_jobs(
        &app,
        &[("calls.toml", CALLS_JOB), ("usage.toml", USAGE_JOB)],
    );
    let now = app.sim.set_now(at("2026-03-08T09:00:00Z"));
    let cancel = CancellationToken::new();
    let s = scheduler(&app, &jobs, cancel.clone()).await;
    // One account is deauthorized: a job not started does not look at its accounts, so it
    // lists none as skipped.
    let revoked = AccountSid::parse(&app.sim.account_sids()[0]).unwrap();
    registry(&app)
        .await
        .deauthorize(&revoked, "revoked")
        .await
        .unwrap();
    // Stopped before the step begins: as if the signal came between two jobs, for each.
    cancel.cancel();
    let asked = app.sim.requests().len();

    let outcome = s.run_once(&Selection::Due, now).await.unwrap();

    let Outcome::Exported(reports) = outcome else {
        panic!("both jobs were due")
    };
    let named: Vec<&str> = reports.iter().map(|r| r.job.as_str()).collect();
    assert_eq!(named, ["calls", "usage"]);
    for r in &reports {
        assert!(r.summary.interrupted && !r.succeeded(), "{r:?}");
        assert!(r.days.is_none() && r.accounts.is_empty(), "{r:?}");
        assert!(r.deauthorized.is_empty(), "{r:?}");
    }
    assert_eq!(
        app.sim.requests().len(),
        asked,
        "nothing was asked of the API"
    );
    // Still due: a step that is not stopped runs both.
    let s = scheduler(&app, &jobs, CancellationToken::new()).await;
    assert_eq!(
        ran(&s.run_once(&Selection::Due, now).await.unwrap()),
        ["calls", "usage"]
    );
}
