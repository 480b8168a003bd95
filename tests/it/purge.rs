//! `accounts purge` and `--purge-deauthorized-after`: every partition of the account goes, from
//! a local output and from S3 (moto), with its registry rows, on SQLite and Postgres; nothing
//! else is touched — not an account whose sid differs only in its last character, nor
//! directories whose names start with the account's. What remains is listed and hashed by
//! `purge_check.py` (Python's own `os.walk`/boto3 and `hashlib`), not by our code. A purge
//! interrupted (its journal row pending, files half deleted, or the process killed with
//! SIGKILL) is completed by the next run.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::Value;
use twilio_export::registry::{DeletionReason, DeletionRequest, LeaseHolder, Registry};

use crate::object_stores::{Emulator, Kind};
use crate::support::*;

/// The instant scheduled runs in these tests are for (the simulator's last day).
pub(crate) const NOW: &str = "2026-03-02T12:00:00Z";

/// Where a test's export goes: the app's directory, or a prefix in a moto bucket.
pub(crate) enum Output {
    Local(PathBuf),
    S3 {
        emulator: Box<Emulator>,
        prefix: String,
    },
}

impl Output {
    /// The output of `kind`, or `None` (with a message) when its emulator cannot be had.
    pub(crate) async fn start(app: &TestApp, s3: bool, test: &str) -> Option<Self> {
        if !s3 {
            return Some(Output::Local(app.output()));
        }
        let emulator = Emulator::start(Kind::S3, test).await?;
        Some(Output::S3 {
            emulator: Box::new(emulator),
            prefix: format!("t{}", uuid::Uuid::new_v4().simple()),
        })
    }

    /// The environment that sends the export here.
    pub(crate) fn env(&self) -> Vec<(String, String)> {
        match self {
            Output::Local(dir) => vec![("EXPORT_OUTPUT".into(), dir.display().to_string())],
            Output::S3 { emulator, prefix } => {
                let mut env: Vec<(String, String)> = emulator
                    .env()
                    .into_iter()
                    .map(|(k, v)| (k.to_owned(), v))
                    .collect();
                env.push(("EXPORT_OUTPUT".into(), emulator.url(prefix)));
                env
            }
        }
    }

    fn s3_args(&self) -> Option<(String, String, String)> {
        let Output::S3 { emulator, prefix } = self else {
            return None;
        };
        let endpoint = emulator
            .env()
            .into_iter()
            .find(|(k, _)| *k == "AWS_ENDPOINT")
            .map(|(_, v)| v)
            .unwrap();
        let url = emulator.url(prefix);
        let bucket = url.trim_start_matches("s3://").split('/').next().unwrap();
        Some((endpoint, bucket.to_owned(), prefix.clone()))
    }

    /// Every file of the export with the SHA-256 of its bytes, as Python lists and hashes them.
    pub(crate) async fn hashes(&self) -> BTreeMap<String, String> {
        let args: Vec<String> = match (self, self.s3_args()) {
            (Output::Local(dir), _) => vec!["local".into(), dir.display().to_string()],
            (_, Some((endpoint, bucket, prefix))) => vec!["s3".into(), endpoint, bucket, prefix],
            _ => unreachable!(),
        };
        let json = check_script(&args).await;
        serde_json::from_str(&json).unwrap()
    }

    /// Puts `files` (key, bytes) into the export, as another tool (or an old run) would have.
    pub(crate) async fn plant(&self, files: &[(String, Vec<u8>)]) {
        let staged = tempfile::tempdir().unwrap();
        let root = match self {
            Output::Local(dir) => dir.clone(),
            Output::S3 { .. } => staged.path().to_owned(),
        };
        for (key, bytes) in files {
            let path = root.join(key);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, bytes).unwrap();
        }
        if let Some((endpoint, bucket, prefix)) = self.s3_args() {
            let dir = staged.path().display().to_string();
            check_script(&["s3-put".into(), endpoint, bucket, prefix, dir]).await;
        }
    }
}

async fn check_script(args: &[String]) -> String {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it/purge_check.py");
    let out = tokio::process::Command::new("python3")
        .arg(script)
        .args(args)
        .output()
        .await
        .unwrap();
    assert_success(&out);
    stdout(&out)
}

/// A test's simulator, registry and output, with every account added.
pub(crate) struct Setup {
    pub app: TestApp,
    pub output: Output,
    pub env: Vec<(String, String)>,
    /// The registry's URL (SQLite in the app's directory, or a fresh Postgres database).
    pub database: String,
}

impl Setup {
    /// `None` when the Postgres or the S3 emulator asked for cannot be had (the test returns).
    pub(crate) async fn start(
        sim: twilio_sim::SimConfig,
        s3: bool,
        pg: bool,
        test: &str,
    ) -> Option<Self> {
        let app = spawn_app(sim).await;
        let database = if pg {
            crate::support::fresh_database().await?
        } else {
            app.database_url()
        };
        let output = Output::start(&app, s3, test).await?;
        let jobs = app.dir.path().join("jobs");
        std::fs::create_dir_all(&jobs).unwrap();
        let mut env = output.env();
        env.push(("DATABASE_URL".into(), database.clone()));
        env.push(("TWILIO_EXPORT_JOBS".into(), jobs.display().to_string()));
        env.push(("TWILIO_EXPORT_NOW".into(), NOW.into()));
        let setup = Setup {
            app,
            output,
            env,
            database,
        };
        let mut add = vec!["accounts", "add"];
        let sids = setup.app.sim.account_sids();
        add.extend(sids.iter().map(String::as_str));
        assert_success(&setup.cli(&add).await);
        Some(setup)
    }

    pub(crate) async fn cli(&self, args: &[&str]) -> std::process::Output {
        let env: Vec<(&str, &str)> = self
            .env
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        self.app.cli_with(args, &env).await
    }

    /// Writes the job file `jobs/{name}.toml`.
    pub(crate) fn job(&self, name: &str, text: &str) -> PathBuf {
        let path = self
            .app
            .dir
            .path()
            .join("jobs")
            .join(format!("{name}.toml"));
        std::fs::write(&path, text).unwrap();
        path
    }

    pub(crate) async fn status(&self) -> Value {
        let out = self.cli(&["status", "--json"]).await;
        assert_success(&out);
        serde_json::from_slice(&out.stdout).unwrap()
    }

    pub(crate) async fn registry(&self) -> Registry {
        Registry::connect(&self.database).await.unwrap()
    }
}

/// `status --json`'s rows of `key` that belong to `sid` (by `account_sid` or `sid`).
pub(crate) fn rows_of_account(doc: &Value, key: &str, sid: &str) -> Vec<Value> {
    doc[key]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["account_sid"] == sid || r["sid"] == sid)
        .cloned()
        .collect()
}

/// `status --json`'s rows of `key` that do not belong to `sid`.
fn rows_not_of(doc: &Value, key: &str, sid: &str) -> Vec<Value> {
    doc[key]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["account_sid"] != sid && r["sid"] != sid)
        .cloned()
        .collect()
}

/// A sid equal to `sid` but for its last character.
fn neighbor(sid: &str) -> String {
    let last = if sid.ends_with('0') { '1' } else { '0' };
    format!("{}{last}", &sid[..sid.len() - 1])
}

/// Whether `key` is in `sid`'s directory of either resource (whole segments).
fn in_account(key: &str, sid: &str) -> bool {
    ["calls", "usage_records"]
        .iter()
        .any(|t| key.starts_with(&format!("{t}/account_sid={sid}/")))
}

/// Files beside the victim's: its neighbor's (sid differing in the last character), names that
/// start with its directory's, and a day of its own that no registry row knows (a crashed
/// run's).
fn planted(victim: &str, sample: Vec<u8>) -> Vec<(String, Vec<u8>)> {
    let n = neighbor(victim);
    vec![
        (
            format!("calls/account_sid={n}/date=2026-03-01/part-0.parquet"),
            sample.clone(),
        ),
        (
            format!("calls/account_sid={victim}x/date=2026-03-01/part-0.parquet"),
            sample.clone(),
        ),
        (
            format!("calls/account_sid={victim}.bak/notes.txt"),
            b"keep me".to_vec(),
        ),
        (
            format!("usage_records/account_sid={victim}0/date=2026-03-01/part-0.parquet"),
            sample.clone(),
        ),
        (
            format!("calls/account_sid={victim}/date=2019-12-31/part-0.parquet"),
            sample,
        ),
    ]
}

/// Exports, plants the neighbors, purges the first account and checks what stayed and went.
async fn purge_leaves_everything_else_untouched(s3: bool, pg: bool, test: &str) {
    let Some(s) = Setup::start(small_sim(), s3, pg, test).await else {
        return;
    };
    let sids = s.app.sim.account_sids();
    let victim = sids[0].as_str();
    s.job(
        "calls",
        "name = \"calls\"\nresource = \"calls\"\nschedule = \"0 0 3 * * *\"\nlookback_days = 1\n",
    );
    for resource in ["calls", "usage-records"] {
        assert_success(&s.cli(&backfill(resource, "2026-02-27", "2026-03-02")).await);
    }
    assert_success(&s.cli(&["run", "--job", "calls"]).await);
    assert_success(
        &s.cli(&["accounts", "add", "--no-verify", &neighbor(victim)])
            .await,
    );
    let sample = std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml")).unwrap();
    s.output.plant(&planted(victim, sample)).await;

    let before = s.output.hashes().await;
    let status_before = s.status().await;
    let victims: Vec<&String> = before.keys().filter(|k| in_account(k, victim)).collect();
    assert!(victims.len() >= 5, "{before:?}");
    assert!(!rows_of_account(&status_before, "checkpoints", victim).is_empty());

    let out = s.cli(&["accounts", "purge", victim, "--yes"]).await;
    assert_success(&out);
    assert!(
        stdout(&out).contains(&format!("{victim}: purged")),
        "{}",
        stdout(&out)
    );

    // Every file but the victim's is byte for byte what it was; none of the victim's is left.
    let after = s.output.hashes().await;
    let expected: BTreeMap<String, String> = before
        .iter()
        .filter(|(k, _)| !in_account(k, victim))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    assert_eq!(after, expected);
    if let Output::Local(dir) = &s.output {
        assert!(!dir.join(format!("calls/account_sid={victim}")).exists());
        assert!(!dir
            .join(format!("usage_records/account_sid={victim}"))
            .exists());
    }

    // The registry: the victim kept as purged without rows; every other row as it was.
    let doc = s.status().await;
    let account = &rows_of_account(&doc, "accounts", victim)[0];
    assert_eq!(account["status"], "purged");
    for key in ["checkpoints", "partitions", "failures"] {
        assert!(rows_of_account(&doc, key, victim).is_empty(), "{key}");
        assert_eq!(
            rows_not_of(&doc, key, victim),
            rows_not_of(&status_before, key, victim),
            "{key}"
        );
    }
    let others = |d: &Value| rows_not_of(d, "accounts", victim);
    assert_eq!(others(&doc), others(&status_before));
    let deletion = &doc["deletions"][0];
    assert_eq!(deletion["account_sid"], victim);
    assert_eq!(deletion["reason"], "purge");
    assert_eq!(deletion["resource"], "all");
    assert!(deletion["done_at"].is_string());
    // 4 days of each resource, and the crashed run's day.
    assert_eq!(deletion["partitions"], 9, "{deletion}");
    assert_documented(deletion);
    let text = stdout(&s.cli(&["status"]).await);
    assert!(
        text.contains("Deletions") && text.contains("purge"),
        "{text}"
    );

    // Runs leave it out, and re-checking the accounts does not bring it back; authorizing it
    // again starts it afresh (no checkpoint: the lookback).
    let out = s.cli(&["run", "--job", "calls"]).await;
    assert_success(&out);
    let out = s.cli(&["accounts", "verify"]).await;
    assert!(
        stdout(&out).contains(&format!("{victim}: purged, not checked")),
        "{}",
        stdout(&out)
    );
    let doc = s.status().await;
    assert_eq!(
        rows_of_account(&doc, "accounts", victim)[0]["status"],
        "purged"
    );
    assert!(!s
        .output
        .hashes()
        .await
        .keys()
        .any(|k| in_account(k, victim)));
    assert_success(&s.cli(&["accounts", "add", victim]).await);
    let doc = s.status().await;
    assert_eq!(
        rows_of_account(&doc, "accounts", victim)[0]["status"],
        "active"
    );
    assert!(rows_of_account(&doc, "checkpoints", victim).is_empty());
    assert_success(&s.cli(&["run", "--job", "calls"]).await);
    let mut days: Vec<String> = s
        .output
        .hashes()
        .await
        .into_keys()
        .filter(|k| in_account(k, victim))
        .collect();
    days.sort();
    let want: Vec<String> = ["2026-03-01", "2026-03-02"]
        .iter()
        .map(|d| format!("calls/account_sid={victim}/date={d}/part-0.parquet"))
        .collect();
    assert_eq!(days, want);
}

#[tokio::test]
async fn purge_on_a_local_output_and_sqlite_leaves_everything_else_untouched() {
    purge_leaves_everything_else_untouched(false, false, "purge local sqlite").await;
}

#[tokio::test]
async fn purge_on_a_local_output_and_postgres_leaves_everything_else_untouched() {
    purge_leaves_everything_else_untouched(false, true, "purge local postgres").await;
}

#[tokio::test]
async fn purge_on_s3_leaves_everything_else_untouched() {
    purge_leaves_everything_else_untouched(true, false, "purge s3 sqlite").await;
}

/// Without --yes and without a terminal, or for an unknown account, nothing is deleted: exit 2.
#[tokio::test]
async fn a_purge_needs_yes_without_a_terminal_and_a_registered_account() {
    let s = Setup::start(small_sim(), false, false, "purge refusals")
        .await
        .unwrap();
    assert_success(&s.cli(&backfill("calls", "2026-03-01", "2026-03-02")).await);
    let before = s.output.hashes().await;
    let victim = s.app.sim.account_sids()[0].clone();

    let out = s.cli(&["accounts", "purge", &victim]).await;
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("--yes"), "{}", stderr(&out));
    let unknown = neighbor(&victim);
    let out = s
        .cli(&["accounts", "purge", &victim, &unknown, "--yes"])
        .await;
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(&format!("{unknown} is not registered")),
        "{}",
        stderr(&out)
    );

    assert_eq!(s.output.hashes().await, before);
    let doc = s.status().await;
    assert_eq!(
        rows_of_account(&doc, "accounts", &victim)[0]["status"],
        "active"
    );
    assert!(doc["deletions"].as_array().unwrap().is_empty());
}

/// An account another process is exporting is not purged: its holder is named, exit 1.
#[tokio::test]
async fn a_purge_waits_for_no_one_and_names_the_holder() {
    let s = Setup::start(small_sim(), false, false, "purge busy")
        .await
        .unwrap();
    assert_success(
        &s.cli(&backfill("usage-records", "2026-03-01", "2026-03-02"))
            .await,
    );
    let before = s.output.hashes().await;
    let victim = s.app.sim.account_sids()[0].clone();
    let registry = s.registry().await;
    let sid = victim.parse().unwrap();
    let other = LeaseHolder::named("worker-7");
    let hour = std::time::Duration::from_secs(3600);
    let usage = twilio_export::domain::Resource::UsageRecords;
    assert!(registry
        .try_lease(&sid, usage, &other, hour)
        .await
        .unwrap()
        .is_granted());

    let out = s.cli(&["accounts", "purge", &victim, "--yes"]).await;
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("worker-7"), "{}", stderr(&out));
    assert_eq!(s.output.hashes().await, before);
    let doc = s.status().await;
    assert_eq!(
        rows_of_account(&doc, "accounts", &victim)[0]["status"],
        "active"
    );
    assert!(doc["deletions"].as_array().unwrap().is_empty());
    // The calls lease it took first was given back.
    assert_eq!(doc["leases"].as_array().unwrap().len(), 1);
}

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

/// A journal row of `status --json` has exactly the keys README's "The deletion journal"
/// documents, of the documented types.
fn assert_documented(deletion: &Value) {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let section = readme.split("### The deletion journal").nth(1).unwrap();
    let section = section.split("\n#").next().unwrap();
    let documented: BTreeMap<String, String> = section
        .lines()
        .filter_map(|line| {
            let cells: Vec<&str> = line.split('|').map(str::trim).collect();
            let key = cells
                .get(1)?
                .strip_prefix("`deletions[].")?
                .strip_suffix('`')?;
            Some((key.to_owned(), cells.get(2)?.to_string()))
        })
        .collect();
    let found = deletion.as_object().unwrap();
    let keys: Vec<&String> = found.keys().collect();
    assert_eq!(keys, documented.keys().collect::<Vec<_>>());
    for (key, ty) in &documented {
        let v = &found[key];
        let ok = ty.split(" or ").any(|t| match t {
            "string" => v.is_string(),
            "integer" => v.is_i64(),
            "null" => v.is_null(),
            other => panic!("README documents an unknown type {other:?}"),
        });
        assert!(ok, "{key} is documented as {ty}, found {v}");
    }
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

/// At a terminal (`script` gives the command one), a purge asks first: anything but yes
/// deletes nothing (exit 2); yes purges.
#[tokio::test]
async fn a_purge_at_a_terminal_asks_first() {
    use tokio::io::AsyncWriteExt;
    if std::process::Command::new("script")
        .arg("--version")
        .output()
        .is_err()
    {
        assert!(std::env::var("CI").is_err(), "CI needs script (util-linux)");
        eprintln!("SKIPPED: no `script` (util-linux) to give the command a terminal");
        return;
    }
    let s = Setup::start(small_sim(), false, false, "purge terminal")
        .await
        .unwrap();
    assert_success(&s.cli(&backfill("calls", "2026-03-01", "2026-03-02")).await);
    let victim = s.app.sim.account_sids()[0].clone();
    let before = s.output.hashes().await;
    let at_terminal = |answer: &'static str| {
        let line = format!(
            "{} accounts purge {victim}",
            env!("CARGO_BIN_EXE_twilio-export")
        );
        let mut cmd = tokio::process::Command::new("script");
        cmd.args(["-qec", &line, "/dev/null"])
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("RUST_LOG", "warn")
            .envs(s.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        async move {
            let mut child = cmd.spawn().unwrap();
            let mut stdin = child.stdin.take().unwrap();
            stdin.write_all(answer.as_bytes()).await.unwrap();
            drop(stdin);
            child.wait_with_output().await.unwrap()
        }
    };

    let out = at_terminal("n\n").await;
    let shown = stdout(&out);
    assert_eq!(out.status.code(), Some(2), "{shown}");
    assert!(
        shown.contains("Purge? [y/N]") && shown.contains("not confirmed"),
        "{shown}"
    );
    assert_eq!(s.output.hashes().await, before);

    let out = at_terminal("y\n").await;
    assert_success(&out);
    assert!(
        stdout(&out).contains(&format!("{victim}: purged")),
        "{}",
        stdout(&out)
    );
    assert!(!s
        .output
        .hashes()
        .await
        .keys()
        .any(|k| in_account(k, &victim)));
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
    let pid = child.id().unwrap().to_string();
    let term = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status();
    assert!(term.unwrap().success());
    let out = child.wait_with_output().await.unwrap();
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
