//! A job's `retention_days`: at the end of each run the job's partitions of days before today
//! minus N go (never a day the run wrote), recorded in the deletion journal; the other
//! resource and the days from the cutoff on stay byte for byte (listed and hashed by
//! `purge_check.py`). On SQLite with a local output and on Postgres with S3 (moto). A
//! retention within the lookback is refused before anything runs.

use std::collections::BTreeMap;

use std::time::Duration;

use chrono::TimeDelta;
use serde_json::Value;
use twilio_export::domain::{AccountSid, Resource};
use twilio_export::registry::{DeletionRequest, LeaseHolder};
use twilio_export::scheduler::plan::Shard;

use crate::purge::{rows_of_account, Setup};
use crate::support::*;

/// Ten days of data, 2026-02-21 … 2026-03-02.
fn sim() -> twilio_sim::SimConfig {
    twilio_sim::SimConfig {
        days: 10,
        ..small_sim()
    }
}

const JOB: &str = "name = \"calls\"\nresource = \"calls\"\nschedule = \"0 0 3 * * *\"\nlookback_days = 1\nretention_days = 3\n";

/// The day in a key (`…/date=YYYY-MM-DD/…`).
fn day_of(key: &str) -> Option<chrono::NaiveDate> {
    let at = key.find("/date=")? + 6;
    key.get(at..at + 10)?.parse().ok()
}

async fn retention_deletes_exactly_the_days_before_the_cutoff(s3: bool, pg: bool, test: &str) {
    let Some(s) = Setup::start(sim(), s3, pg, test).await else {
        return;
    };
    for resource in ["calls", "usage-records"] {
        assert_success(&s.cli(&backfill(resource, "2026-02-21", "2026-03-02")).await);
    }
    s.job("calls", JOB);
    let before = s.output.hashes().await;

    let out = s.cli(&["run", "--job", "calls"]).await;
    assert_success(&out);
    assert!(
        stdout(&out).contains("retention of job calls: days before 2026-02-27 deleted"),
        "{}",
        stdout(&out)
    );

    // Today 2026-03-02 minus 3 days: 2026-02-27 is the first day kept.
    let cutoff = day("2026-02-27");
    let after = s.output.hashes().await;
    let gone = |k: &str| k.starts_with("calls/") && day_of(k).is_some_and(|d| d < cutoff);
    let expected: BTreeMap<String, String> = before
        .iter()
        .filter(|(k, _)| !gone(k))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    assert!(before.keys().any(|k| gone(k)));
    // The kept days of calls were written again by the run (today's data moves); the rest
    // is byte for byte what it was.
    assert_eq!(
        after.keys().collect::<Vec<_>>(),
        expected.keys().collect::<Vec<_>>()
    );
    for (key, hash) in &expected {
        if !key.starts_with("calls/") || day_of(key).is_some_and(|d| d < day("2026-03-01")) {
            assert_eq!(after.get(key), Some(hash), "{key}");
        }
    }

    let doc = s.status().await;
    let sids = s.app.sim.account_sids();
    let deletions = doc["deletions"].as_array().unwrap();
    assert_eq!(deletions.len(), sids.len(), "{deletions:?}");
    for d in deletions {
        assert_eq!(d["reason"], "retention");
        assert_eq!(d["job"], "calls");
        assert_eq!(d["resource"], "calls");
        assert_eq!(d["before_day"], "2026-02-27");
        assert_eq!(d["partitions"], 6, "{d}");
        assert!(d["done_at"].is_string());
    }
    for sid in &sids {
        let parts = rows_of_account(&doc, "partitions", sid);
        let calls: Vec<&Value> = parts.iter().filter(|p| p["resource"] == "calls").collect();
        assert_eq!(calls[0]["first_day"], "2026-02-27");
        let usage: Vec<&Value> = parts
            .iter()
            .filter(|p| p["resource"] == "usage_records")
            .collect();
        assert_eq!(usage[0]["first_day"], "2026-02-21");
    }

    // The next run has nothing older to delete and records nothing.
    assert_success(&s.cli(&["run", "--job", "calls"]).await);
    assert_eq!(
        s.status().await["deletions"].as_array().unwrap().len(),
        sids.len()
    );
}

#[tokio::test]
async fn retention_on_a_local_output_and_sqlite() {
    retention_deletes_exactly_the_days_before_the_cutoff(false, false, "retention local").await;
}

#[tokio::test]
async fn retention_on_s3_and_postgres() {
    retention_deletes_exactly_the_days_before_the_cutoff(true, true, "retention s3 postgres").await;
}

/// A day the run exports is never deleted, even when it is older than the cutoff (a failed
/// day retried, or a catch-up after downtime): here the checkpoint is far behind.
#[tokio::test]
async fn retention_never_deletes_a_day_the_run_wrote() {
    let s = Setup::start(sim(), false, false, "retention catch-up")
        .await
        .unwrap();
    // The job first ran on 2026-02-23; the next run, today, catches up from there.
    s.job("calls", JOB);
    let first = "2026-02-23T12:00:00Z";
    let env = [("TWILIO_EXPORT_NOW", first)];
    let env: Vec<(&str, &str)> = s
        .env
        .iter()
        .filter(|(k, _)| k != "TWILIO_EXPORT_NOW")
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .chain(env)
        .collect();
    assert_success(&s.app.cli_with(&["run", "--job", "calls"], &env).await);
    assert_success(&s.cli(&["run", "--job", "calls"]).await);
    let after = s.output.hashes().await;
    let days: std::collections::BTreeSet<_> = after.keys().filter_map(|k| day_of(k)).collect();
    // Exported by the second run from its checkpoint (2026-02-22) minus the lookback on.
    assert_eq!(days.first(), Some(&day("2026-02-21")), "{days:?}");
    // A third run deletes what the second wrote before the cutoff.
    assert_success(&s.cli(&["run", "--job", "calls"]).await);
    let after = s.output.hashes().await;
    let days: std::collections::BTreeSet<_> = after.keys().filter_map(|k| day_of(k)).collect();
    assert_eq!(days.first(), Some(&day("2026-02-27")), "{days:?}");
}

/// A retention inside the lookback would delete what every run exports again: exit 2, naming
/// the job file and the key, before anything is done.
#[tokio::test]
async fn a_retention_within_the_lookback_is_refused() {
    let s = Setup::start(sim(), false, false, "retention refused")
        .await
        .unwrap();
    let file = s.job(
        "calls",
        &JOB.replace("retention_days = 3", "retention_days = 1"),
    );
    let out = s.cli(&["run"]).await;
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains(&file.display().to_string())
            && err.contains("retention_days: 1 is within lookback_days (1)"),
        "{err}"
    );
    assert!(s.output.hashes().await.is_empty());
}

/// Ten days of usage records exported, a calls job without retention, and a retention
/// deletion of the first account's usage records before the day it returns recorded but not
/// carried out (as a killed process leaves it); the account's sid.
async fn pending_retention(test: &str) -> (Setup, String, chrono::NaiveDate) {
    let s = Setup::start(sim(), false, false, test).await.unwrap();
    assert_success(
        &s.cli(&backfill("usage-records", "2026-02-21", "2026-03-02"))
            .await,
    );
    s.job("calls", &JOB.replace("retention_days = 3\n", ""));
    let victim = s.app.sim.account_sids()[0].clone();
    let registry = s.registry().await;
    let before = day("2026-03-02") - TimeDelta::days(5);
    let request = DeletionRequest::retention(
        victim.parse().unwrap(),
        Resource::UsageRecords,
        before,
        "usage",
    );
    registry.request_deletion(&request).await.unwrap();
    registry.close().await;
    (s, victim, before)
}

/// A retention deletion recorded but not carried out (its process was killed) is completed by
/// the next run, whichever job it runs.
#[tokio::test]
async fn an_interrupted_retention_is_completed_by_the_next_run() {
    let (s, victim, before) = pending_retention("retention interrupted").await;
    let hashes = s.output.hashes().await;

    assert_success(&s.cli(&["run", "--job", "calls"]).await);
    let after = s.output.hashes().await;
    let prefix = format!("usage_records/account_sid={victim}/");
    for (key, hash) in &hashes {
        let deleted = key.starts_with(&prefix) && day_of(key).is_some_and(|d| d < before);
        if deleted {
            assert!(!after.contains_key(key), "{key}");
        } else if key.starts_with("usage_records/") {
            assert_eq!(after.get(key), Some(hash), "{key}");
        }
    }
    let doc = s.status().await;
    assert!(doc["deletions"][0]["done_at"].is_string());
    assert_eq!(doc["deletions"][0]["account_sid"], victim.as_str());
}

/// A deletion pending while another process holds its account (another shard of the same
/// Indexed Job doing its own retention at the same time) fails no run of another shard: it is
/// that process's to complete. The run exits 0, names nothing as still pending, and counts no
/// pending deletion in its metrics; the deletion stays pending for its holder.
#[tokio::test]
async fn a_deletion_another_process_holds_fails_no_other_shards_run() {
    let (s, victim, _) = pending_retention("retention held by another shard").await;
    let victim: AccountSid = victim.parse().unwrap();
    let registry = s.registry().await;
    let other_shard = LeaseHolder::named("another shard");
    for resource in Resource::ALL {
        let granted = registry
            .try_lease(&victim, resource, &other_shard, Duration::from_secs(600))
            .await
            .unwrap();
        assert!(granted.is_granted(), "{granted:?}");
    }
    registry.close().await;
    let shard = (0..2)
        .map(|i| format!("{i}/2"))
        .find(|s| !Shard::parse(s).unwrap().contains(&victim))
        .unwrap();
    let metrics = s.app.dir.path().join("metrics.prom");
    let metrics_path = metrics.display().to_string();

    let out = s
        .cli(&[
            "run",
            "--job",
            "calls",
            "--shard",
            &shard,
            "--metrics-file",
            &metrics_path,
        ])
        .await;

    assert_success(&out);
    assert!(!stderr(&out).contains("still pending"), "{}", stderr(&out));
    let text = std::fs::read_to_string(&metrics).unwrap();
    assert!(
        text.lines()
            .any(|l| l == format!("twilio_export_deletions_pending{{shard=\"{shard}\"}} 0")),
        "{text}"
    );
    let doc = s.status().await;
    assert!(doc["deletions"][0]["done_at"].is_null(), "{doc}");
}
