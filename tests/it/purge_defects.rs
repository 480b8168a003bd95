//! Purges that must not lie or do harm: against the wrong `--output` nothing is forgotten,
//! only what was deleted is counted, links never lead a deletion elsewhere, a deletion that
//! cannot finish is shown and fails the run, and the journal stays visible in `status`.
//! What is on disk is checked by Python (`purge_check.py`) or `std::fs` directly, not by our
//! listing code.

use std::path::Path;

use twilio_export::domain::Resource;
use twilio_export::registry::{DeletionReason, DeletionRequest};

use crate::purge::{rows_of_account, Output, Setup};
use crate::support::*;

/// `s`'s CLI with `EXPORT_OUTPUT` set to `output`.
async fn cli_at(s: &Setup, output: &str, args: &[&str]) -> std::process::Output {
    let mut env: Vec<(&str, &str)> = s
        .env
        .iter()
        .filter(|(k, _)| k != "EXPORT_OUTPUT")
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    env.push(("EXPORT_OUTPUT", output));
    s.app.cli_with(args, &env).await
}

fn local(s: &Setup) -> &Path {
    match &s.output {
        Output::Local(dir) => dir,
        Output::S3 { .. } => unreachable!("a local output"),
    }
}

/// A purge against an output that holds none of the account's recorded files refuses (exit
/// 2), creates nothing and forgets nothing; `file://localhost/ABS` is the absolute directory.
#[tokio::test]
async fn a_purge_against_the_wrong_output_refuses_and_forgets_nothing() {
    let s = Setup::start(small_sim(), false, false, "purge wrong output")
        .await
        .unwrap();
    for resource in ["calls", "usage-records"] {
        assert_success(&s.cli(&backfill(resource, "2026-03-01", "2026-03-02")).await);
    }
    let victim = s.app.sim.account_sids()[0].clone();
    let before = s.output.hashes().await;
    let status_before = s.status().await;
    let elsewhere = s.app.dir.path().join("elsewhere");

    let out = cli_at(
        &s,
        &elsewhere.display().to_string(),
        &["accounts", "purge", &victim, "--yes"],
    )
    .await;
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("is --output right?"),
        "{}",
        stderr(&out)
    );
    assert!(!elsewhere.exists(), "a purge creates no output directory");
    assert_eq!(s.output.hashes().await, before);
    let doc = s.status().await;
    assert!(doc["deletions"].as_array().unwrap().is_empty());
    for key in ["partitions", "checkpoints", "accounts"] {
        assert_eq!(
            rows_of_account(&doc, key, &victim),
            rows_of_account(&status_before, key, &victim),
            "{key}"
        );
    }

    // Another host is a usage error; localhost is this one.
    let other = format!("file://otherhost{}", local(&s).display());
    let out = cli_at(&s, &other, &["accounts", "purge", &victim, "--yes"]).await;
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("otherhost"), "{}", stderr(&out));
    let here = format!("file://localhost{}", local(&s).display());
    let out = cli_at(&s, &here, &["accounts", "purge", &victim, "--yes"]).await;
    assert_success(&out);
    let after = s.output.hashes().await;
    let victims = before
        .keys()
        .filter(|k| k.contains(&format!("/account_sid={victim}/")))
        .count();
    assert!(victims > 0);
    assert_eq!(after.len(), before.len() - victims, "{after:?}");
    assert!(!after
        .keys()
        .any(|k| k.contains(&format!("/account_sid={victim}/"))));
}

/// A recorded partition whose file is not there is not counted as deleted.
#[tokio::test]
async fn a_purge_counts_only_what_it_deleted() {
    let s = Setup::start(small_sim(), false, false, "purge counts")
        .await
        .unwrap();
    for resource in ["calls", "usage-records"] {
        assert_success(&s.cli(&backfill(resource, "2026-02-27", "2026-03-02")).await);
    }
    let victim = s.app.sim.account_sids()[0].clone();
    let before = s.output.hashes().await;
    let mine = |k: &String| k.contains(&format!("/account_sid={victim}/"));
    let calls: Vec<&String> = before
        .keys()
        .filter(|k| mine(k) && k.starts_with("calls/"))
        .collect();
    for key in &calls {
        std::fs::remove_file(local(&s).join(key)).unwrap();
    }
    let left = before.keys().filter(|k| mine(k)).count() - calls.len();
    assert!(left > 0 && !calls.is_empty());
    let registry = s.registry().await;
    let sid = victim.parse().unwrap();
    let mut empty_days = 0;
    for resource in Resource::ALL {
        let recorded = registry.partitions(&sid, resource).await.unwrap();
        empty_days += recorded.iter().filter(|p| p.object_key.is_none()).count() as i64;
    }
    registry.close().await;

    let out = s.cli(&["accounts", "purge", &victim, "--yes"]).await;
    assert_success(&out);
    let deletion = &s.status().await["deletions"][0];
    assert_eq!(
        deletion["partitions"].as_i64().unwrap(),
        left as i64 + empty_days,
        "{deletion}"
    );
}

/// `accounts remove` says the data stays and how to delete it; the removed account is then
/// purged like any other (its partitions were still recorded).
#[tokio::test]
async fn a_removed_account_can_still_be_purged() {
    let s = Setup::start(small_sim(), false, false, "purge removed")
        .await
        .unwrap();
    assert_success(&s.cli(&backfill("calls", "2026-03-01", "2026-03-02")).await);
    let victim = s.app.sim.account_sids()[0].clone();
    let out = s.cli(&["accounts", "remove", &victim]).await;
    assert_success(&out);
    assert!(stdout(&out).contains("accounts purge"), "{}", stdout(&out));
    let mine = format!("/account_sid={victim}/");
    assert!(s.output.hashes().await.keys().any(|k| k.contains(&mine)));

    let out = s.cli(&["accounts", "purge", &victim, "--yes"]).await;
    assert_success(&out);
    let said = stdout(&out);
    assert!(said.contains("(it is not in the registry)"), "{said}");
    assert!(!said.contains("kept as purged"), "{said}");
    assert!(!s.output.hashes().await.keys().any(|k| k.contains(&mine)));
    let doc = s.status().await;
    assert!(rows_of_account(&doc, "partitions", &victim).is_empty());
    assert!(doc["deletions"][0]["done_at"].is_string());
}

/// A day before the retention cutoff that fails at every retry (here a file stands where its
/// directory should be) does not hold retention back: every day before the cutoff goes,
/// that one's failed window is forgotten, and the days from the cutoff on stay.
#[tokio::test]
async fn a_day_that_keeps_failing_does_not_block_retention() {
    let sim = twilio_sim::SimConfig {
        days: 10,
        ..small_sim()
    };
    let s = Setup::start(sim, false, false, "retention failing day")
        .await
        .unwrap();
    let victim = s.app.sim.account_sids()[0].clone();
    let blocker = format!("calls/account_sid={victim}/date=2026-02-22");
    s.output.plant(&[(blocker.clone(), b"x".to_vec())]).await;
    let out = s.cli(&backfill("calls", "2026-02-21", "2026-03-02")).await;
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let failed = rows_of_account(&s.status().await, "failures", &victim);
    assert_eq!(failed.len(), 1, "{failed:?}");
    s.job(
        "calls",
        "name = \"calls\"\nresource = \"calls\"\nschedule = \"0 0 3 * * *\"\nlookback_days = 1\nretention_days = 3\n",
    );

    let out = s.cli(&["run", "--job", "calls"]).await;
    assert_ne!(out.status.code(), Some(2), "{}", stderr(&out));
    let after = s.output.hashes().await;
    let cutoff = "2026-02-27";
    let old: Vec<&String> = after
        .keys()
        .filter(|k| {
            let at = k.find("/date=").map(|i| i + 6);
            k.starts_with("calls/") && at.is_some_and(|i| &k[i..i + 10] < cutoff)
        })
        .collect();
    assert!(old.is_empty(), "{old:?}");
    assert!(after.keys().any(|k| k.contains("/date=2026-02-27/")));
    let doc = s.status().await;
    let failed = rows_of_account(&doc, "failures", &victim);
    assert!(failed.is_empty(), "{failed:?}");
}

/// A symbolic link in the account's place is removed as a link, never followed: the copy it
/// points to stays byte for byte (Python lists and hashes it). A link in place of `calls/`
/// is not followed either: the purge stays pending and says why.
#[tokio::test]
async fn a_purge_never_follows_a_symbolic_link() {
    let s = Setup::start(small_sim(), false, false, "purge symlink")
        .await
        .unwrap();
    assert_success(&s.cli(&backfill("calls", "2026-03-01", "2026-03-02")).await);
    let sids = s.app.sim.account_sids();
    let (victim, other) = (&sids[0], &sids[1]);
    let root = local(&s).to_owned();
    let elsewhere = s.app.dir.path().join("elsewhere");
    let place = root.join(format!("calls/account_sid={victim}"));
    std::fs::create_dir_all(&elsewhere).unwrap();
    let copy = elsewhere.join("copy");
    std::fs::rename(&place, &copy).unwrap();
    std::os::unix::fs::symlink(&copy, &place).unwrap();
    let outside = Output::Local(elsewhere.clone());
    let kept = outside.hashes().await;
    assert!(!kept.is_empty());

    let out = s.cli(&["accounts", "purge", victim, "--yes"]).await;
    assert_success(&out);
    assert_eq!(outside.hashes().await, kept);
    assert!(
        std::fs::symlink_metadata(&place).is_err(),
        "the link is gone"
    );

    // `calls/` itself a link: nothing below it is deleted, the purge says why and stays pending.
    let calls = root.join("calls");
    let moved = elsewhere.join("calls");
    std::fs::rename(&calls, &moved).unwrap();
    std::os::unix::fs::symlink(&moved, &calls).unwrap();
    let kept = outside.hashes().await;
    let out = s.cli(&["accounts", "purge", other, "--yes"]).await;
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("symbolic link"), "{}", stderr(&out));
    assert_eq!(outside.hashes().await, kept);
}

/// Two days of calls exported, and a purge of the first account recorded but not carried out
/// (as a killed process leaves it); the account's sid.
async fn pending_purge(s: &Setup) -> String {
    assert_success(&s.cli(&backfill("calls", "2026-03-01", "2026-03-02")).await);
    let victim = s.app.sim.account_sids()[0].clone();
    let registry = s.registry().await;
    let request = DeletionRequest::purge(victim.parse().unwrap(), DeletionReason::Purge);
    registry.request_deletion(&request).await.unwrap();
    registry.close().await;
    victim
}

/// A backfill with nothing to export (only the purged account named) still completes the
/// pending purge first.
#[tokio::test]
async fn a_backfill_with_nothing_to_export_completes_a_pending_purge() {
    let s = Setup::start(small_sim(), false, false, "purge backfill order")
        .await
        .unwrap();
    let victim = pending_purge(&s).await;

    let mut args = backfill("calls", "2026-03-01", "2026-03-02");
    args.extend(["--account", victim.as_str()]);
    let out = s.cli(&args).await;
    assert_success(&out);
    assert!(
        stdout(&out).contains(&format!("{victim}: purged")),
        "{}",
        stdout(&out)
    );
    let mine = format!("/account_sid={victim}/");
    assert!(!s.output.hashes().await.keys().any(|k| k.contains(&mine)));
    assert!(s.status().await["deletions"][0]["done_at"].is_string());
}

/// A purge killed after it deleted the account's files, before it recorded them gone, is
/// completed by running the purge again: the check that the output holds the account's files
/// (against a wrong `--output`) does not blame the output for what the purge itself deleted.
#[tokio::test]
async fn a_purge_killed_after_deleting_the_files_is_completed_by_purging_again() {
    let s = Setup::start(small_sim(), false, false, "purge killed half way")
        .await
        .unwrap();
    let victim = pending_purge(&s).await;
    std::fs::remove_dir_all(local(&s).join(format!("calls/account_sid={victim}"))).unwrap();

    let out = s.cli(&["accounts", "purge", &victim, "--yes"]).await;

    assert_success(&out);
    let doc = s.status().await;
    assert!(doc["deletions"][0]["done_at"].is_string(), "{doc}");
    assert!(
        rows_of_account(&doc, "partitions", &victim).is_empty(),
        "{doc}"
    );
}

/// A file in place of the account's directory is its entry and goes. A deletion that cannot
/// be completed (here `calls/` is a link, which is not followed) still deletes the rest, keeps
/// its error for `status` (text and JSON), fails every later run (exit 1) and is counted by
/// the metrics file.
#[tokio::test]
async fn a_deletion_that_cannot_finish_is_shown_and_fails_the_run() {
    let s = Setup::start(small_sim(), false, false, "purge stuck")
        .await
        .unwrap();
    for resource in ["calls", "usage-records"] {
        assert_success(&s.cli(&backfill(resource, "2026-03-01", "2026-03-02")).await);
    }
    let sids = s.app.sim.account_sids();
    let (first, second) = (&sids[0], &sids[1]);
    let root = local(&s).to_owned();
    let place = root.join(format!("usage_records/account_sid={first}"));
    std::fs::remove_dir_all(&place).unwrap();
    std::fs::write(&place, b"x").unwrap();
    let out = s.cli(&["accounts", "purge", first, "--yes"]).await;
    assert_success(&out);
    assert!(
        std::fs::symlink_metadata(&place).is_err(),
        "the file is gone"
    );

    let calls = root.join("calls");
    let moved = s.app.dir.path().join("calls-elsewhere");
    std::fs::rename(&calls, &moved).unwrap();
    std::os::unix::fs::symlink(&moved, &calls).unwrap();
    let out = s.cli(&["accounts", "purge", second, "--yes"]).await;
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let mine = format!("usage_records/account_sid={second}/");
    assert!(!s.output.hashes().await.keys().any(|k| k.starts_with(&mine)));
    let doc = s.status().await;
    let pending = &doc["deletions"][0];
    assert!(pending["done_at"].is_null(), "{pending}");
    let error = pending["last_error"].as_str().unwrap_or_default();
    assert!(error.contains("symbolic link"), "{pending}");
    let text = stdout(&s.cli(&["status"]).await);
    assert!(text.contains("cannot be completed"), "{text}");

    s.job(
        "calls",
        "name = \"calls\"\nresource = \"calls\"\nschedule = \"0 0 3 * * *\"\nlookback_days = 1\n",
    );
    let metrics = s.app.dir.path().join("metrics.prom");
    let metrics_path = metrics.display().to_string();
    let out = s
        .cli(&["run", "--job", "calls", "--metrics-file", &metrics_path])
        .await;
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("still pending"), "{}", stderr(&out));
    let text = std::fs::read_to_string(&metrics).unwrap();
    assert!(
        text.lines()
            .any(|l| l == "twilio_export_deletions_pending 1"),
        "{text}"
    );
}

/// `status` keeps showing a purge after many retention deletions: each account's most recent
/// done deletion of each reason, on SQLite and Postgres.
async fn a_purge_stays_visible_after_many_retention_deletions(pg: bool) {
    let Some(s) = Setup::start(small_sim(), false, pg, "purge visible").await else {
        return;
    };
    assert_success(&s.cli(&backfill("calls", "2026-03-01", "2026-03-02")).await);
    let sids = s.app.sim.account_sids();
    assert_success(&s.cli(&["accounts", "purge", &sids[0], "--yes"]).await);
    let registry = s.registry().await;
    for i in 0..12 {
        let sid = &sids[1 + i % 2];
        let before = chrono::NaiveDate::from_ymd_opt(2026, 1, 1 + i as u32).unwrap();
        let request =
            DeletionRequest::retention(sid.parse().unwrap(), Resource::Calls, before, "calls");
        let d = registry.request_deletion(&request).await.unwrap();
        registry.finish_deletion(&d, 0, 0).await.unwrap();
    }
    registry.close().await;
    let doc = s.status().await;
    let rows = doc["deletions"].as_array().unwrap();
    let purge = rows_of_account(&doc, "deletions", &sids[0]);
    assert_eq!(purge.len(), 1, "{rows:?}");
    assert_eq!(purge[0]["reason"], "purge");
    // One (the latest) retention row for each of the two other accounts.
    assert_eq!(rows.len(), 3, "{rows:?}");
    assert_eq!(rows[0]["before_day"], "2026-01-12");
}

#[tokio::test]
async fn a_purge_stays_visible_after_many_retention_deletions_on_sqlite() {
    a_purge_stays_visible_after_many_retention_deletions(false).await;
}

#[tokio::test]
async fn a_purge_stays_visible_after_many_retention_deletions_on_postgres() {
    a_purge_stays_visible_after_many_retention_deletions(true).await;
}

/// `accounts list` shows why an account was purged without a meaningless "since ?", and a
/// deauthorized account's reason survives its purge.
#[tokio::test]
async fn a_purged_account_is_listed_with_its_reasons() {
    let s = Setup::start(small_sim(), false, false, "purge list")
        .await
        .unwrap();
    assert_success(&s.cli(&backfill("calls", "2026-03-01", "2026-03-02")).await);
    let sids = s.app.sim.account_sids();
    let registry = s.registry().await;
    let revoked = sids[1].parse().unwrap();
    assert_eq!(
        registry
            .deauthorize(&revoked, "grant revoked")
            .await
            .unwrap(),
        1
    );
    registry.close().await;
    for sid in &sids[..2] {
        assert_success(&s.cli(&["accounts", "purge", sid, "--yes"]).await);
    }
    let list = stdout(&s.cli(&["accounts", "list"]).await);
    let line = |sid: &str| {
        list.lines()
            .find(|l| l.starts_with(sid))
            .unwrap()
            .to_owned()
    };
    let plain = line(&sids[0]);
    assert!(
        plain.contains("purged at") && !plain.contains("since"),
        "{plain}"
    );
    let was = line(&sids[1]);
    assert!(
        was.contains("grant revoked") && !was.contains("since ?"),
        "{was}"
    );
}

/// `run` prints a job's retention lines after the job's heading.
#[tokio::test]
async fn run_prints_retention_after_the_job_heading() {
    let sim = twilio_sim::SimConfig {
        days: 10,
        ..small_sim()
    };
    let s = Setup::start(sim, false, false, "retention order")
        .await
        .unwrap();
    assert_success(&s.cli(&backfill("calls", "2026-02-21", "2026-03-02")).await);
    s.job(
        "calls",
        "name = \"calls\"\nresource = \"calls\"\nschedule = \"0 0 3 * * *\"\nlookback_days = 1\nretention_days = 3\n",
    );
    let out = s.cli(&["run", "--job", "calls"]).await;
    assert_success(&out);
    let text = stdout(&out);
    let heading = text.find("job calls").expect("a job heading");
    let retention = text
        .find("retention of job calls")
        .expect("a retention line");
    assert!(heading < retention, "{text}");
}

/// On S3, a key the object store client cannot name (an empty segment, as other tools can
/// write) makes the account's listing fail: the recorded files and the other resource go all
/// the same, and the purge stays pending with the error, shown by `status`.
#[tokio::test]
async fn an_unlistable_s3_key_leaves_the_purge_pending_with_its_error() {
    let Some(s) = Setup::start(small_sim(), true, false, "purge s3 bad key").await else {
        return;
    };
    for resource in ["calls", "usage-records"] {
        assert_success(&s.cli(&backfill(resource, "2026-03-01", "2026-03-02")).await);
    }
    let victim = s.app.sim.account_sids()[0].clone();
    let Output::S3 { emulator, prefix } = &s.output else {
        unreachable!()
    };
    let endpoint = emulator
        .env()
        .into_iter()
        .find(|(k, _)| *k == "AWS_ENDPOINT")
        .map(|(_, v)| v)
        .unwrap();
    let url = emulator.url(prefix);
    let bucket = url.trim_start_matches("s3://").split('/').next().unwrap();
    let bad = format!("calls/account_sid={victim}//x");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it/purge_check.py");
    let put = tokio::process::Command::new("python3")
        .arg(script)
        .args(["s3-put-key", &endpoint, bucket, prefix, &bad])
        .output()
        .await
        .unwrap();
    assert_success(&put);

    let out = s.cli(&["accounts", "purge", &victim, "--yes"]).await;
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let left: Vec<String> = s
        .output
        .hashes()
        .await
        .into_keys()
        .filter(|k| k.contains(&format!("/account_sid={victim}/")))
        .collect();
    assert_eq!(left, vec![bad], "only the key that cannot be named is left");
    let doc = s.status().await;
    let pending = &doc["deletions"][0];
    assert!(pending["done_at"].is_null(), "{pending}");
    assert!(pending["last_error"].is_string(), "{pending}");
}
