//! Purges interrupted (a pending journal row, `kill -9`) are completed; a purge racing an export wins.

use serde_json::Value;
use twilio_export::registry::{DeletionReason, DeletionRequest, LeaseHolder};

use super::*;
use crate::support::*;

/// The state a purge killed midway leaves (its journal row pending, some files gone) is
/// completed by the next export, whatever it exports.
#[tokio::test]
async fn an_interrupted_purge_is_completed_by_the_next_run() {
    let s = Setup::start(small_sim(), false, false, "purge interrupted")
        .await
        .unwrap();
    for resource in ["calls", "usage-records"] {
        assert_success(&s.cli(&backfill(resource, "2026-02-27", "2026-03-02")).await);
    }
    let sids = s.app.sim.account_sids();
    let victim = sids[0].as_str();
    let before = s.output.hashes().await;
    let registry = s.registry().await;
    let request = DeletionRequest::purge(victim.parse().unwrap(), DeletionReason::Purge);
    registry.request_deletion(&request).await.unwrap();
    registry.close().await;
    let Output::Local(dir) = &s.output else {
        unreachable!()
    };
    let mut gone = 0;
    for key in before
        .keys()
        .filter(|k| in_account(k, victim) && k.starts_with("calls/"))
    {
        std::fs::remove_file(dir.join(key)).unwrap();
        gone += 1;
    }
    assert!(gone > 0);
    assert_eq!(s.status().await["deletions"][0]["done_at"], Value::Null);

    // A backfill of another account completes it first.
    let out = s
        .cli(&[
            "backfill",
            "--resource",
            "calls",
            "--from",
            "2026-03-02",
            "--to",
            "2026-03-02",
            "--account",
            &sids[1],
        ])
        .await;
    assert_success(&out);
    assert!(
        stdout(&out).contains(&format!("{victim}: purged")),
        "{}",
        stdout(&out)
    );
    let after = s.output.hashes().await;
    assert!(!after.keys().any(|k| in_account(k, victim)), "{after:?}");
    let doc = s.status().await;
    assert!(doc["deletions"][0]["done_at"].is_string());
    assert!(rows_of_account(&doc, "partitions", victim).is_empty());
    for (key, hash) in before.iter().filter(|(k, _)| !in_account(k, victim)) {
        assert_eq!(after.get(key), Some(hash), "{key}");
    }
}

/// A real `kill -9` in the middle of a purge of many partitions; the next run finishes it.
#[tokio::test]
async fn a_purge_killed_with_sigkill_is_completed_by_the_next_run() {
    let s = Setup::start(small_sim(), false, false, "purge kill -9")
        .await
        .unwrap();
    assert_success(&s.cli(&backfill("calls", "2026-03-01", "2026-03-02")).await);
    let sids = s.app.sim.account_sids();
    let victim = sids[0].as_str();
    let Output::Local(dir) = &s.output else {
        unreachable!()
    };
    // Days a crashed run left (many, so that the purge takes a while), oldest first.
    let first = day("1990-01-01");
    let days = 12_000;
    for i in 0..days {
        let d = first + chrono::TimeDelta::days(i);
        let file = partition_file(dir, "calls", victim, d);
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(file, b"x").unwrap();
    }
    let others = s.output.hashes().await;
    let last = partition_file(
        dir,
        "calls",
        victim,
        first + chrono::TimeDelta::days(days - 1),
    );

    let mut child = s.app.command(&["accounts", "purge", victim, "--yes"]);
    for (k, v) in &s.env {
        child.env(k, v);
    }
    let mut child = child.spawn().unwrap();
    // Deletion goes in key order: once the first day is gone, it is under way.
    let oldest = partition_file(dir, "calls", victim, first);
    // Polled every millisecond for at most two minutes.
    for _ in 0..120_000 {
        if !oldest.exists() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(1)).await;
    }
    assert!(!oldest.exists(), "the purge did not start deleting");
    child.start_kill().unwrap();
    let status = child.wait().await.unwrap();
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(
        status.signal(),
        Some(9),
        "the purge ended before it was killed"
    );
    assert!(last.exists(), "the purge finished before it was killed");
    assert_eq!(s.status().await["deletions"][0]["done_at"], Value::Null);

    // Its lease is left behind (its process is dead, so it is taken over at once).
    let out = s
        .cli(&[
            "backfill",
            "--resource",
            "usage-records",
            "--from",
            "2026-03-02",
            "--to",
            "2026-03-02",
            "--account",
            &sids[1],
        ])
        .await;
    assert_success(&out);
    let after = s.output.hashes().await;
    assert!(!after.keys().any(|k| in_account(k, victim)));
    for (key, hash) in others.iter().filter(|(k, _)| !in_account(k, victim)) {
        assert_eq!(after.get(key), Some(hash), "{key}");
    }
    assert!(s.status().await["deletions"][0]["done_at"].is_string());
}

/// An export that selected an account before a purge of it does not export it after: once
/// its lease is taken, the account is found purged and left out (and its lease given back).
#[tokio::test]
async fn an_account_purged_after_it_was_selected_is_not_exported() {
    use twilio_export::domain::Resource;
    use twilio_export::erase::Eraser;
    use twilio_export::scheduler::leasing;
    use twilio_export::store::{OutputLocation, Store};

    let s = Setup::start(small_sim(), false, false, "purge race")
        .await
        .unwrap();
    let registry = s.registry().await;
    let selected = registry.accounts().await.unwrap();
    let victim = selected[0].sid.clone();
    let store = Store::open(&OutputLocation::Local(s.app.output())).unwrap();
    let purger = LeaseHolder::named("purger");
    let eraser = Eraser::new(&registry, &store, &purger);
    eraser.purge(&victim, DeletionReason::Purge).await.unwrap();

    let exporter = LeaseHolder::named("exporter");
    let ttl = std::time::Duration::from_secs(60);
    let leased = leasing::acquire(&registry, &exporter, Resource::Calls, selected, ttl)
        .await
        .unwrap();
    assert_eq!(leased.accounts.len(), s.app.sim.account_sids().len() - 1);
    assert!(!leased.sids().contains(&victim));
    let leases = registry.leases().await.unwrap();
    assert!(leases.iter().all(|l| l.account_sid != victim), "{leases:?}");
}
