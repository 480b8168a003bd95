//! A real Postgres for tests: `TEST_DATABASE_URL` when given, otherwise a throwaway cluster
//! started from the system's binaries (`initdb`, `postgres`) on a free port; each test gets a
//! fresh database. Without either, Postgres tests print why and return (in CI, where
//! `.ci/run` installs Postgres, a missing server fails them instead).

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

use sqlx::Connection;

use crate::helpers::*;

struct Cluster {
    /// URL of the maintenance database, without a database name.
    base: String,
    _dir: Option<tempfile::TempDir>,
}

static CLUSTER: OnceLock<Option<Cluster>> = OnceLock::new();

fn find_bin(name: &str) -> Option<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect())
        .unwrap_or_default();
    if let Ok(entries) = std::fs::read_dir("/usr/lib/postgresql") {
        let mut versions: Vec<PathBuf> = entries.flatten().map(|e| e.path().join("bin")).collect();
        versions.sort();
        dirs.extend(versions.into_iter().rev());
    }
    dirs.into_iter().map(|d| d.join(name)).find(|p| p.is_file())
}

fn start_cluster() -> Option<Cluster> {
    if let Ok(url) = std::env::var("TEST_DATABASE_URL") {
        return Some(Cluster {
            base: url.trim_end_matches('/').to_owned(),
            _dir: None,
        });
    }
    let (initdb, postgres) = (find_bin("initdb")?, find_bin("postgres")?);
    let dir = tempfile::tempdir().ok()?;
    let data = dir.path().join("data");
    // Postgres refuses to run as root; run it as the `postgres` user when we are root.
    let as_root = Command::new("id").arg("-u").output().ok()?.stdout == b"0\n";
    let run_as = |bin: &PathBuf| {
        let mut c = if as_root {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(bin);
            c
        } else {
            Command::new(bin)
        };
        c.current_dir("/");
        c
    };
    if as_root {
        Command::new("chown")
            .args(["postgres:", dir.path().to_str()?])
            .status()
            .ok()?;
        Command::new("chmod")
            .args(["700", dir.path().to_str()?])
            .status()
            .ok()?;
    }
    let ok = run_as(&initdb)
        .args([
            "-A",
            "trust",
            "-U",
            "postgres",
            "-E",
            "UTF8",
            "--no-sync",
            "-D",
        ])
        .arg(&data)
        .output()
        .ok()?
        .status
        .success();
    if !ok {
        eprintln!("initdb failed; skipping Postgres tests");
        return None;
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .ok()?
        .local_addr()
        .ok()?
        .port();
    // A watchdog stops the server when this test process is gone.
    let me = std::process::id();
    let mut server = run_as(&postgres);
    server
        .args(["-D"])
        .arg(&data)
        .args(["-p", &port.to_string(), "-k"])
        .arg(dir.path())
        .args(["-c", "listen_addresses=127.0.0.1", "-c", "fsync=off"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    server.spawn().ok()?;
    // The postmaster's own pid (runuser does not pass signals on), then its files.
    let pidfile = data.join("postmaster.pid");
    Command::new("sh")
        .arg("-c")
        .arg(format!(
            "while kill -0 {me} 2>/dev/null; do sleep 1; done; \
             kill -INT \"$(head -n 1 '{pidfile}')\" 2>/dev/null; sleep 2; rm -rf '{dir}'",
            pidfile = pidfile.display(),
            dir = dir.path().display(),
        ))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .ok()?;
    let base = format!("postgres://postgres@127.0.0.1:{port}");
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Some(Cluster {
                base,
                _dir: Some(dir),
            });
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    eprintln!("postgres did not start; skipping Postgres tests");
    None
}

/// A fresh, empty database's URL, or `None` (with a message) when no Postgres can be had.
pub async fn fresh_database() -> Option<String> {
    let cluster = CLUSTER.get_or_init(start_cluster).as_ref();
    let Some(cluster) = cluster else {
        assert!(
            std::env::var("CI").is_err(),
            "CI must run the Postgres tests: install postgresql or set TEST_DATABASE_URL"
        );
        eprintln!("no Postgres found (set TEST_DATABASE_URL or install postgresql); skipping");
        return None;
    };
    let name = format!("t{}", uuid::Uuid::new_v4().simple());
    // The port opens before the server accepts sessions ("the database system is starting
    // up"), so the first test to get here may have to wait a little.
    let admin_url = format!("{}/postgres", cluster.base);
    let mut attempts = 0;
    let mut admin = loop {
        match sqlx::PgConnection::connect(&admin_url).await {
            Ok(c) => break c,
            Err(e) if attempts < 100 => {
                attempts += 1;
                tracing::debug!(error = %e, "Postgres not ready yet");
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
            Err(e) => panic!("connect to the Postgres maintenance database: {e}"),
        }
    };
    sqlx::query(&format!("create database {name}"))
        .execute(&mut admin)
        .await
        .unwrap();
    Some(format!("{}/{name}", cluster.base))
}

#[tokio::test]
async fn the_whole_pipeline_runs_on_postgres() {
    let Some(url) = fresh_database().await else {
        return;
    };
    let app = spawn_app(small_sim()).await;
    let env = [("DATABASE_URL", url.as_str())];
    let sids = app.sim.account_sids();
    let mut add = vec!["accounts", "add"];
    add.extend(sids.iter().map(String::as_str));
    assert_success(&app.cli_with(&add, &env).await);

    for resource in ["calls", "usage-records"] {
        let out = app
            .cli_with(&backfill(resource, "2026-03-01", "2026-03-02"), &env)
            .await;
        assert_success(&out);
    }

    for account in &sids {
        let truth = app.sim.calls_on(account, day("2026-03-01"));
        let file = partition_file(&app.output(), "calls", account, day("2026-03-01"));
        if !truth.is_empty() {
            assert_rows_match(&rows_of(&read_parquet(&file)), &truth, CALL_COLUMNS, "sid");
        }
    }
    let status = app.cli_with(&["status", "--json"], &env).await;
    assert_success(&status);
    let doc: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    assert_eq!(doc["accounts"].as_array().unwrap().len(), sids.len());
    assert!(!doc["runs"].as_array().unwrap().is_empty());
    // Nothing was written to a SQLite file by mistake.
    assert!(!app.dir.path().join("registry.db").exists());
}

/// The registry reads rows into typed records (sids, resources, days), on SQLite and on
/// Postgres alike, shows them as before in `status --json`, and a stored value that does not
/// parse is reported as corrupt, naming what it is, instead of being passed on as text.
#[tokio::test]
async fn registry_reads_typed_records_and_names_a_corrupt_value() {
    use twilio_export::domain::{AccountSid, PartitionKey, Resource};
    use twilio_export::pseudonym::PseudonymMode;
    use twilio_export::registry::{NewAccount, Registry, RegistryError};

    let dir = tempfile::tempdir().unwrap();
    let mut urls = vec![format!("sqlite:{}", dir.path().join("typed.db").display())];
    match fresh_database().await {
        Some(url) => urls.push(url),
        None => eprintln!("registry_reads_typed_records: Postgres skipped, SQLite only"),
    }
    let sid = AccountSid::parse("AC3f9c2b7e8d1a4c5f9e0b6a7d2c1e4f80").unwrap();
    let (first, second) = (day("2026-03-01"), day("2026-03-02"));
    for url in urls {
        let reg = Registry::connect(&url).await.unwrap();
        reg.upsert_account(&NewAccount {
            sid: sid.clone(),
            credential_sid: sid.clone(),
            friendly_name: None,
            owner_account_sid: None,
            verified: true,
            twilio_status: None,
        })
        .await
        .unwrap();
        let run = reg.start_run("backfill", "typed").await.unwrap();
        let key = |day| PartitionKey {
            resource: Resource::UsageRecords,
            account: sid.clone(),
            day,
        };
        reg.record_partition(&key(first), 3, 100, Some("k"), &PseudonymMode::Clear, run)
            .await
            .unwrap();
        reg.record_failure(&key(second), "boom", run).await.unwrap();

        let p = reg.partitions(&sid, Resource::UsageRecords).await.unwrap();
        assert_eq!(p.len(), 1, "{url}");
        assert_eq!(
            (&p[0].account_sid, p[0].resource, p[0].day),
            (&sid, Resource::UsageRecords, first)
        );
        let f = reg.failures().await.unwrap();
        assert_eq!(
            (&f[0].account_sid, f[0].resource, f[0].day),
            (&sid, Resource::UsageRecords, second)
        );
        let s = reg.partition_summary().await.unwrap();
        assert_eq!(
            (s[0].first_day, s[0].last_day, s[0].rows),
            (Some(first), Some(first), 3)
        );
        assert_eq!(reg.accounts().await.unwrap()[0].sid, sid);
        let due: chrono::DateTime<chrono::Utc> = "2026-03-03T04:00:00Z".parse().unwrap();
        reg.record_job_accounts(
            "nightly",
            std::slice::from_ref(&sid),
            due,
            Some(run),
            "succeeded",
        )
        .await
        .unwrap();
        let done = reg.job_account_runs("nightly").await.unwrap();
        assert_eq!(done.get(&sid), Some(&due), "{url}");
        assert_eq!(done.get(sid.as_str()), Some(&due), "{url}");
        // The status document shows them as the database stores them.
        let shown = serde_json::to_value(&p[0]).unwrap();
        assert_eq!(shown["resource"], "usage_records");
        assert_eq!(shown["day"], "2026-03-01");
        assert_eq!(shown["account_sid"], sid.as_str());

        // Something else writes a day this version cannot read.
        let mut conn = <sqlx::AnyConnection as Connection>::connect(&url)
            .await
            .unwrap();
        sqlx::query("update partitions set day = 'yesterday'")
            .execute(&mut conn)
            .await
            .unwrap();
        match reg.partitions(&sid, Resource::UsageRecords).await {
            Err(RegistryError::Corrupt { what, value }) => {
                assert_eq!(
                    (what, value.as_str()),
                    ("partition day", "yesterday"),
                    "{url}"
                );
            }
            other => panic!("{url}: {other:?}"),
        }
        let err = reg.partition_summary().await.unwrap_err();
        assert!(err.to_string().contains("\"yesterday\""), "{url}: {err}");
        reg.close().await;
    }
}
