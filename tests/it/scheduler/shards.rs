//! Shards: each exports its accounts at every fire time; an Indexed Job's index and count
//! choose the shard.

use std::collections::BTreeSet;

use twilio_export::domain::Resource;

use crate::support::*;

use super::*;

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
    let Some(url) = fresh_database().await else {
        return;
    };
    let app = spawn_app(six_accounts()).await;
    let env = [("DATABASE_URL", url.as_str())];
    add_accounts_with(&app, &env).await;
    every_shard_exports_at_every_fire_time(&app, &env).await;
}

#[tokio::test]
async fn an_indexed_jobs_index_and_shard_count_choose_the_shard() {
    let (app, jobs) = calls_job_app(six_accounts()).await;
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
