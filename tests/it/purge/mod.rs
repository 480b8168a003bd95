//! `accounts purge` and `--purge-deauthorized-after`: every partition of the account goes, from
//! a local output and from S3 (moto), with its registry rows, on SQLite and Postgres; nothing
//! else is touched — not an account whose sid differs only in its last character, nor
//! directories whose names start with the account's. What remains is listed and hashed by
//! `purge_check.py` (Python's own `os.walk`/boto3 and `hashlib`), not by our code. A purge
//! interrupted (its journal row pending, files half deleted, or the process killed with
//! SIGKILL) is completed by the next run.
//!
//! This file is the harness and the untouched-neighbours tests; `refusals`, `crashes` and
//! `deauthorized` hold the rest.

mod crashes;
mod deauthorized;
mod refusals;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::Value;
use twilio_export::registry::Registry;

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

pub(super) async fn check_script(args: &[String]) -> String {
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
pub(super) fn rows_not_of(doc: &Value, key: &str, sid: &str) -> Vec<Value> {
    doc[key]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["account_sid"] != sid && r["sid"] != sid)
        .cloned()
        .collect()
}

/// A sid equal to `sid` but for its last character.
pub(super) fn neighbor(sid: &str) -> String {
    let last = if sid.ends_with('0') { '1' } else { '0' };
    format!("{}{last}", &sid[..sid.len() - 1])
}

/// Whether `key` is in `sid`'s directory of either resource (whole segments).
pub(super) fn in_account(key: &str, sid: &str) -> bool {
    ["calls", "usage_records"]
        .iter()
        .any(|t| key.starts_with(&format!("{t}/account_sid={sid}/")))
}

/// Files beside the victim's: its neighbor's (sid differing in the last character), names that
/// start with its directory's, and a day of its own that no registry row knows (a crashed
/// run's).
pub(super) fn planted(victim: &str, sample: Vec<u8>) -> Vec<(String, Vec<u8>)> {
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

/// A journal row of `status --json` has exactly the keys README's "The deletion journal"
/// documents, of the documented types.
pub(super) fn assert_documented(deletion: &Value) {
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
