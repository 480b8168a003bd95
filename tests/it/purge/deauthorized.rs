//! `--purge-deauthorized-after`: `run` and `schedule` purge accounts deauthorized long ago.

use super::*;
use crate::support::*;

/// `--purge-deauthorized-after` (here its config key): accounts deauthorized longer ago than
/// that are purged by `run`; one deauthorized more recently is kept.
#[tokio::test]
async fn accounts_deauthorized_long_ago_are_purged_by_run() {
    let s = Setup::start(small_sim(), false, false, "purge deauthorized")
        .await
        .unwrap();
    assert_success(&s.cli(&backfill("calls", "2026-03-01", "2026-03-02")).await);
    s.job(
        "calls",
        "name = \"calls\"\nresource = \"calls\"\nschedule = \"0 0 3 * * *\"\nlookback_days = 1\n",
    );
    let sids = s.app.sim.account_sids();
    let (old, recent) = (sids[0].as_str(), sids[1].as_str());
    let mut db = <sqlx::SqliteConnection as sqlx::Connection>::connect(&s.database)
        .await
        .unwrap();
    for (sid, at) in [
        (old, "2026-01-30T11:00:00.000Z"),
        (recent, "2026-01-31T13:00:00.000Z"),
    ] {
        sqlx::query(
            "update accounts set status = 'deauthorized', deauthorized_at = $2 where sid = $1",
        )
        .bind(sid)
        .bind(at)
        .execute(&mut db)
        .await
        .unwrap();
    }
    let before = s.output.hashes().await;

    let out = s.cli(&["run", "--purge-deauthorized-after", "0"]).await;
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("purge-deauthorized-after: 0 is out of range"),
        "{}",
        stderr(&out)
    );

    let config = s.app.dir.path().join("config.toml");
    std::fs::write(&config, "purge_deauthorized_after = 31\n").unwrap();
    let config = config.display().to_string();
    let out = s.cli(&["run", "--config", &config, "--job", "calls"]).await;
    assert_success(&out);
    assert!(
        stdout(&out).contains(&format!("{old}: purged (deauthorized")),
        "{}",
        stdout(&out)
    );
    let after = s.output.hashes().await;
    assert!(!after.keys().any(|k| in_account(k, old)));
    for (key, hash) in before.iter().filter(|(k, _)| !in_account(k, old)) {
        assert_eq!(after.get(key), Some(hash), "{key}");
    }
    let doc = s.status().await;
    assert_eq!(
        rows_of_account(&doc, "accounts", old)[0]["status"],
        "purged"
    );
    assert_eq!(
        rows_of_account(&doc, "accounts", recent)[0]["status"],
        "deauthorized"
    );
    assert_eq!(doc["deletions"].as_array().unwrap().len(), 1);
    assert_eq!(doc["deletions"][0]["reason"], "deauthorized");
}

/// `schedule --purge-deauthorized-after` purges at its first tick, before any job is due.
#[tokio::test]
async fn schedule_purges_long_deauthorized_accounts_at_its_tick() {
    let s = Setup::start(small_sim(), false, false, "purge schedule")
        .await
        .unwrap();
    assert_success(&s.cli(&backfill("calls", "2026-03-01", "2026-03-02")).await);
    // Due only once a year: the tick has nothing to export.
    s.job(
        "calls",
        "name = \"calls\"\nresource = \"calls\"\nschedule = \"0 0 0 1 1 *\"\nlookback_days = 1\n",
    );
    let sids = s.app.sim.account_sids();
    let old = sids[0].as_str();
    let mut db = <sqlx::SqliteConnection as sqlx::Connection>::connect(&s.database)
        .await
        .unwrap();
    sqlx::query("update accounts set status = 'deauthorized', deauthorized_at = '2025-01-01T00:00:00.000Z' where sid = $1")
        .bind(old)
        .execute(&mut db)
        .await
        .unwrap();
    assert_success(&s.cli(&["run", "--job", "calls"]).await);
    let Output::Local(dir) = &s.output else {
        unreachable!()
    };
    let tree = dir.join(format!("calls/account_sid={old}"));
    assert!(tree.exists());

    let mut cmd = s
        .app
        .command(&["schedule", "--purge-deauthorized-after", "30"]);
    cmd.envs(s.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let child = cmd.spawn().unwrap();
    // Polled every 10 ms for at most two minutes.
    for _ in 0..12_000 {
        if !tree.exists() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let gone = !tree.exists();
    let out = terminated(child).await;
    assert!(gone, "schedule did not purge: {}", stderr(&out));
    assert_success(&out);
    assert!(
        stdout(&out).contains(&format!("{old}: purged (deauthorized")),
        "{}",
        stdout(&out)
    );
    let doc = s.status().await;
    assert_eq!(
        rows_of_account(&doc, "accounts", old)[0]["status"],
        "purged"
    );
}
