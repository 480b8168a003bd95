//! Leases: live holders' pairs are skipped and stay due, dead holders' are taken over, two runs
//! never export one account at once, a lost lease stops publishing, `backfill` takes the same
//! leases; on SQLite and Postgres.

use std::time::Duration;

use tokio_util::sync::CancellationToken;
use twilio_export::domain::{AccountSid, Resource};
use twilio_export::export::Stopped;
use twilio_export::registry::{LeaseClock, LeaseGrant, LeaseHolder, Registry, Standing};
use twilio_export::scheduler::{Outcome, Selection};
use twilio_sim::SimConfig;

use crate::support::*;

use super::*;

#[tokio::test]
async fn a_live_holders_pairs_are_skipped_and_stay_due_and_a_dead_holders_are_taken_over() {
    let (app, jobs) = calls_job_app(moving_sim()).await;
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
    let app = spawn_app(slowed(Duration::from_millis(300), moving_sim())).await;
    app.add_all_accounts().await;
    let job = format!("{CALLS_JOB}concurrency = 2\n");
    let jobs = write_jobs(&app, &[("calls.toml", &job)]);
    app.sim.set_now(at("2026-03-08T09:00:00Z"));
    let reg = registry(&app).await;

    let first = at_sim_now(&app, &jobs, &["run", "--job", "calls"]);
    let second = async {
        // Start once the first holds its leases.
        let reg = &reg;
        eventually("the first run to hold the 3 leases", || async move {
            (reg.leases().await.unwrap().len() == 3).then_some(())
        })
        .await;
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
async fn checkpoints_leases_and_job_runs_work_on_postgres() {
    let Some(url) = fresh_database().await else {
        return;
    };
    let env = [("DATABASE_URL", url.as_str())];
    let app = spawn_app(moving_sim()).await;
    let sids = app.sim.account_sids();
    app.add_all_accounts_with(&env).await;
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
    // Whether a run may still publish, in the one query on Postgres too.
    let (other, us) = (LeaseHolder::named("other"), LeaseHolder::named("us"));
    let standing = || reg.standing(&busy, Resource::Calls, &other);
    assert_eq!(standing().await.unwrap(), Standing::Held);
    let taken = reg.standing(&busy, Resource::Calls, &us).await.unwrap();
    assert_eq!(taken, Standing::TakenOver);
    reg.deauthorize(&busy, "revoked").await.unwrap();
    assert_eq!(standing().await.unwrap(), Standing::Deauthorized);
    assert!(reg.remove_account(&busy).await.unwrap());
    assert_eq!(standing().await.unwrap(), Standing::Removed);
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
    let r = &reg;
    eventually("the run to record 4 partitions", || async move {
        let summary = r.partition_summary().await.unwrap();
        (summary.iter().map(|p| p.partitions).sum::<i64>() >= 4).then_some(())
    })
    .await;
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

#[tokio::test]
async fn a_run_killed_with_sigkill_is_taken_over_at_once_by_the_next_run() {
    let app = spawn_app(slow_sim()).await;
    app.add_all_accounts().await;
    let reg = registry(&app).await;
    a_killed_run_is_taken_over(&app, &[], &reg).await;
}

#[tokio::test]
async fn a_run_killed_with_sigkill_is_taken_over_at_once_on_postgres() {
    let Some(url) = fresh_database().await else {
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
    let OneWindowADay {
        app,
        now,
        sid,
        scheduler: s,
        reg,
    } = one_window_a_day().await;
    let count = || async {
        let p = reg.partitions(&sid, Resource::Calls).await.unwrap();
        p.len()
    };

    // Another process, whose clock reads past the lease's expiry (as when this one stalls
    // longer than its lease lasts), takes the pair over: no one waits for the expiry.
    let clock = LeaseClock::system();
    let other_process = registry(&app).await.with_lease_clock(clock.clone());
    let step = s.run_once(&Selection::Due, now);
    let thief = async {
        let count = &count;
        eventually("3 partitions recorded", || async move {
            (count().await >= 3).then_some(())
        })
        .await;
        let other = LeaseHolder::named("the new holder");
        let ttl = Duration::from_secs(600);
        let before = other_process.try_lease(&sid, Resource::Calls, &other, ttl);
        assert!(
            !before.await.unwrap().is_granted(),
            "taken over before it expired"
        );
        clock.advance(LEASE_TTL + Duration::from_secs(1));
        let granted = other_process.try_lease(&sid, Resource::Calls, &other, ttl);
        assert_eq!(granted.await.unwrap(), LeaseGrant::Granted);
        count().await
    };
    let (outcome, at_theft) = tokio::join!(step, thief);

    assert!(at_theft >= 3, "the run did not start");
    let Outcome::Exported(reports) = outcome.unwrap() else {
        panic!("the job was due")
    };
    let account = &reports[0].accounts[0];
    assert_eq!(account.stopped, Some(Stopped::TakenOver), "{account:?}");
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
async fn a_backfill_whose_every_account_is_busy_records_no_run() {
    let app = spawn_app(moving_sim()).await;
    app.add_all_accounts().await;
    let reg = registry(&app).await;
    let other = LeaseHolder::named("a scheduled run");
    for sid in app.sim.account_sids() {
        let sid = AccountSid::parse(&sid).unwrap();
        let lease = reg.try_lease(&sid, Resource::Calls, &other, Duration::from_secs(600));
        assert!(lease.await.unwrap().is_granted());
    }

    let out = app
        .cli(&backfill("calls", "2026-03-01", "2026-03-03"))
        .await;

    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert!(
        stdout(&out).contains("not exported, another process"),
        "{}",
        stdout(&out)
    );
    let runs = reg.recent_runs(10).await.unwrap();
    assert!(runs.is_empty(), "{runs:?}");
    assert!(requested_days(&app.sim.requests(), Resource::Calls).is_empty());
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

#[tokio::test]
async fn an_account_removed_during_a_backfill_is_published_no_further() {
    // One account, days of two pages each (one window a day), one window at a time.
    let app = spawn_app(SimConfig {
        accounts: 1,
        calls_per_day: 1200,
        ..slow_sim()
    })
    .await;
    app.add_all_accounts().await;
    let sid = AccountSid::parse(&app.sim.account_sids()[0]).unwrap();
    let reg = registry(&app).await;
    let count = || async { reg.partitions(&sid, Resource::Calls).await.unwrap().len() };
    let mut args = backfill("calls", "2026-02-20", "2026-03-07");
    args.extend(["--concurrency", "1"]);
    let backfill = app
        .command(&args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();

    eventually("3 days published", || async {
        (count().await >= 3).then_some(())
    })
    .await;
    let removed = app.cli(&["accounts", "remove", sid.as_str()]).await;
    assert_success(&removed);
    let at_removal = count().await;
    let out = tokio::time::timeout(Duration::from_secs(120), backfill.wait_with_output())
        .await
        .expect("the backfill ends")
        .unwrap();

    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let said = stdout(&out);
    assert!(
        said.contains(&format!(
            "{sid}: it was removed from the registry or purged during the run; the rest of it was not exported"
        )),
        "{said}"
    );
    assert!(!said.contains("another process"), "{said}");
    // The run is recorded as such: not every account was exported to its end.
    let runs = reg.recent_runs(1).await.unwrap();
    assert_eq!(runs[0].outcome, "incomplete", "{runs:?}");
    // At most the one window in flight when the account went was published after it.
    let after = count().await;
    assert!(
        after <= at_removal + 1,
        "{after} days, {at_removal} at the removal"
    );
    assert!(after < 16, "the remaining days were skipped");
    let files = files_below(&app.output().join("calls")).len();
    assert_eq!(files, after, "a file for each day recorded, none after");
}

#[tokio::test]
async fn a_scheduled_run_stops_publishing_an_account_deauthorized_meanwhile() {
    // The app (its simulator) lives to the end of the test.
    let OneWindowADay {
        app: _app,
        now,
        sid,
        scheduler: s,
        reg,
    } = one_window_a_day().await;
    let count = || async { reg.partitions(&sid, Resource::Calls).await.unwrap().len() };

    let step = s.run_once(&Selection::Due, now);
    let revoke = async {
        eventually("3 partitions recorded", || async {
            (count().await >= 3).then_some(())
        })
        .await;
        reg.deauthorize(&sid, "the customer revoked the grant")
            .await
            .unwrap();
        count().await
    };
    let (outcome, at_revoke) = tokio::join!(step, revoke);

    let Outcome::Exported(reports) = outcome.unwrap() else {
        panic!("the job was due")
    };
    let account = &reports[0].accounts[0];
    assert_eq!(account.stopped, Some(Stopped::Deauthorized), "{account:?}");
    let after = count().await;
    assert!(
        after <= at_revoke + 1,
        "{after} partitions, {at_revoke} at the revocation"
    );
    assert!(after < 30, "the remaining windows were skipped");
    // A deauthorized account is skipped, not a failure: the job's run succeeded, as when the
    // run meets the account's 401 itself.
    assert!(reports[0].succeeded(), "{:?}", reports[0]);
    let runs = reg.job_runs().await.unwrap();
    assert_eq!(runs[0].outcome, "succeeded", "{runs:?}");
}

/// One account of about 40 calls a day, exported from 2026-02-01 by the calls job in pages
/// of 20 (each day dense: one window a day), one window at a time, the clock at 2026-03-08.
struct OneWindowADay {
    app: TestApp,
    now: chrono::DateTime<chrono::Utc>,
    sid: AccountSid,
    scheduler: twilio_export::scheduler::Scheduler,
    reg: Registry,
}

async fn one_window_a_day() -> OneWindowADay {
    let app = spawn_app(SimConfig {
        accounts: 1,
        ..slow_sim()
    })
    .await;
    app.add_all_accounts().await;
    let job = CALLS_JOB.replace("2026-03-01", "2026-02-01") + "concurrency = 1\npage_size = 20\n";
    let jobs = write_jobs(&app, &[("calls.toml", &job)]);
    let now = app.sim.set_now(at("2026-03-08T09:00:00Z"));
    let sid = AccountSid::parse(&app.sim.account_sids()[0]).unwrap();
    let scheduler = scheduler(&app, &jobs, CancellationToken::new()).await;
    let reg = registry(&app).await;
    OneWindowADay {
        app,
        now,
        sid,
        scheduler,
        reg,
    }
}
