//! Object stores for real: S3 against moto's server and Azure Blob against Azurite, each
//! started here on loopback, driven by the real binary, and the result read back with pyarrow
//! through its own S3 and Azure filesystems (`object_stores.py`).
//!
//! Without an emulator (or python3 with pyarrow) a test prints why and returns; under
//! `CI=true` it fails instead (`.ci/run` installs them).
//!
//! GCS is not covered. `object_store` 0.12 speaks GCS's XML API: `PUT /{bucket}/{object}`
//! (and reads the new object's `ETag` header), `DELETE /{bucket}/{object}`,
//! `GET /{bucket}?list-type=2`, multipart with `?uploads`; `GOOGLE_SERVICE_ACCOUNT_KEY` with
//! `gcs_base_url` and `disable_oauth` would point it at an emulator. The one on PyPI,
//! `gcp-storage-emulator` (2026.7.19), serves the JSON API; of the XML API it has GET and a PUT
//! that answers 200 without an `ETag` (so `object_store` fails the put: "ETag Header missing
//! from response"), and DELETE and the listing answer 501. Neither the probe, nor a partition's
//! upload, nor an empty day's delete can run against it.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::sync::mpsc;
use twilio_export::domain::{AccountSid, Resource};
use twilio_export::registry::Registry;
use twilio_sim::{Faults, SimConfig};

use crate::support::*;

/// Where `.ci/run` installs Azurite (npm), outside the clone.
const NODE_PREFIX: &str = "/var/tmp/twilio-export-node";
const BUCKET: &str = "twilio-export-test";

#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Kind {
    S3,
    Azure,
}

/// An emulator process on a loopback port of its choosing, stopped on drop.
pub(crate) struct Emulator {
    kind: Kind,
    endpoint: String,
    _child: tokio::process::Child,
    _data: tempfile::TempDir,
}

fn pyarrow() -> Option<()> {
    let ok = std::process::Command::new("python3")
        .args(["-c", "import pyarrow.fs"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    ok.then_some(())
}

impl Emulator {
    /// Starts the emulator for `kind`, or explains why not (see [`required`]).
    pub(crate) async fn start(kind: Kind, test: &str) -> Option<Self> {
        required(pyarrow(), test, "python3 with pyarrow")?;
        let data = tempfile::tempdir().unwrap();
        let mut cmd = match kind {
            Kind::S3 => {
                let bin = required(
                    find_program("moto_server"),
                    test,
                    "moto_server (pip install 'moto[server]')",
                )?;
                let mut cmd = tokio::process::Command::new(bin);
                cmd.args(["-H", "127.0.0.1", "-p", "0"]);
                cmd
            }
            Kind::Azure => {
                let local = Path::new(NODE_PREFIX).join("node_modules/.bin/azurite-blob");
                let bin = find_program("azurite-blob").or_else(|| local.is_file().then_some(local));
                let bin = required(bin, test, "azurite-blob (npm install azurite)")?;
                let mut cmd = tokio::process::Command::new(bin);
                cmd.args(["--blobHost", "127.0.0.1", "--blobPort", "0", "--location"])
                    .arg(data.path())
                    .args(["--disableTelemetry", "--skipApiVersionCheck", "--silent"]);
                cmd
            }
        };
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        // Both streams are drained for the emulator's whole life (moto logs every request).
        let (lines, mut rx) = mpsc::unbounded_channel();
        drain(child.stdout.take().unwrap(), lines.clone());
        drain(child.stderr.take().unwrap(), lines);
        let mut seen = String::new();
        let endpoint = loop {
            let line = rx.recv().await;
            let Some(line) = line else {
                panic!("the {kind:?} emulator exited before listening:\n{seen}");
            };
            if let Some(at) = line.find("http://127.0.0.1:") {
                let url = &line[at..];
                let end = url[7..]
                    .find(|c: char| c.is_whitespace())
                    .map_or(url.len(), |e| e + 7);
                break url[..end].trim_end_matches('/').to_owned();
            }
            seen.push_str(&line);
            seen.push('\n');
        };
        let emulator = Emulator {
            kind,
            endpoint,
            _child: child,
            _data: data,
        };
        emulator.python(&["create"]).await;
        Some(emulator)
    }

    /// The output URL for `prefix`.
    pub(crate) fn url(&self, prefix: &str) -> String {
        match self.kind {
            Kind::S3 => format!("s3://{BUCKET}/{prefix}"),
            Kind::Azure => format!("az://{BUCKET}/{prefix}"),
        }
    }

    /// How `object_store` is pointed at this emulator (what the README documents).
    pub(crate) fn env(&self) -> Vec<(&'static str, String)> {
        match self.kind {
            Kind::S3 => vec![
                ("AWS_ENDPOINT", self.endpoint.clone()),
                ("AWS_ALLOW_HTTP", "true".into()),
                ("AWS_ACCESS_KEY_ID", "test".into()),
                ("AWS_SECRET_ACCESS_KEY", "test".into()),
                ("AWS_REGION", "us-east-1".into()),
            ],
            Kind::Azure => vec![
                ("AZURE_STORAGE_USE_EMULATOR", "true".into()),
                ("AZURITE_BLOB_STORAGE_URL", self.endpoint.clone()),
            ],
        }
    }

    pub(crate) async fn python(&self, args: &[&str]) -> String {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it/object_stores.py");
        let kind = match self.kind {
            Kind::S3 => "s3",
            Kind::Azure => "az",
        };
        let out = tokio::process::Command::new("python3")
            .arg(script)
            .args([kind, &self.endpoint, BUCKET])
            .args(args)
            .output()
            .await
            .unwrap();
        assert_success(&out);
        stdout(&out)
    }

    /// The export under `prefix` as pyarrow reads it.
    async fn read_back(&self, prefix: &str) -> ReadBack {
        let json: Value = serde_json::from_str(&self.python(&["read", prefix]).await).unwrap();
        ReadBack {
            files: json["files"]
                .as_array()
                .unwrap()
                .iter()
                .map(|f| f.as_str().unwrap().to_owned())
                .collect(),
            partitions: json["partitions"].as_object().unwrap().clone(),
        }
    }
}

fn drain(
    stream: impl tokio::io::AsyncRead + Unpin + Send + 'static,
    lines: mpsc::UnboundedSender<String>,
) {
    tokio::spawn(async move {
        let mut reader = BufReader::new(stream).lines();
        while let Ok(Some(line)) = reader.next_line().await {
            let _ = lines.send(line);
        }
    });
}

/// What pyarrow found under a prefix's `calls/`.
struct ReadBack {
    files: Vec<String>,
    partitions: serde_json::Map<String, Value>,
}

const DAYS: [&str; 3] = ["2026-02-28", "2026-03-01", "2026-03-02"];

impl ReadBack {
    /// Every day with calls has exactly one file holding each call once; no other files.
    fn assert_truth(&self, app: &TestApp, empty: &[(&str, &str)]) {
        let mut expected = Vec::new();
        for account in app.sim.account_sids() {
            for d in DAYS {
                let truth = app.sim.calls_on(&account, day(d));
                let key = format!("{account}/{d}");
                if truth.is_empty() || empty.contains(&(account.as_str(), d)) {
                    assert!(!self.partitions.contains_key(&key), "{key} should be empty");
                    continue;
                }
                expected.push(format!("account_sid={account}/date={d}/part-0.parquet"));
                let p = &self.partitions[&key];
                assert_eq!(p["rows"], truth.len(), "{key}");
                assert_eq!(p["distinct"], truth.len(), "{key}");
            }
        }
        expected.sort();
        assert_eq!(self.files, expected);
    }
}

fn sim(calls_per_day: u32, faults: Faults) -> SimConfig {
    SimConfig {
        seed: 23,
        accounts: 2,
        days: 3,
        calls_per_day,
        today: day("2026-03-02"),
        faults,
        ..SimConfig::default()
    }
}

/// The binary against the emulator, staging in the app's own TMPDIR.
async fn export(
    app: &TestApp,
    store: &Emulator,
    prefix: &str,
    args: &[&str],
) -> std::process::Output {
    let mut cmd = app.command(args);
    cmd.envs(store.env())
        .env("EXPORT_OUTPUT", store.url(prefix))
        .env("TMPDIR", tmpdir(app));
    cmd.output().await.unwrap()
}

pub(crate) fn tmpdir(app: &TestApp) -> PathBuf {
    let dir = app.dir.path().join("tmp");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A backfill; a re-run that replaces every object (same objects); a day that became empty
/// deletes its object; staging is private and left empty.
async fn backfill_rerun_and_empty_day(kind: Kind, test: &str) {
    let Some(store) = Emulator::start(kind, test).await else {
        return;
    };
    let app = spawn_app(sim(40, Faults::default())).await;
    app.add_all_accounts().await;
    let range = backfill("calls", DAYS[0], DAYS[2]);

    let out = export(&app, &store, "export", &range).await;
    assert_success(&out);
    let first = store.read_back("export").await;
    first.assert_truth(&app, &[]);

    let out = export(&app, &store, "export", &range).await;
    assert_success(&out);
    let again = store.read_back("export").await;
    assert_eq!(again.files, first.files, "a re-run replaces, never adds");
    again.assert_truth(&app, &[]);

    // The same accounts, now without calls: 2026-03-01 becomes empty and its objects go.
    let empty = spawn_app(sim(0, Faults::default())).await;
    assert_eq!(empty.sim.account_sids(), app.sim.account_sids());
    let mut cmd = app.command(&backfill("calls", DAYS[1], DAYS[1]));
    cmd.envs(store.env())
        .env("EXPORT_OUTPUT", store.url("export"))
        .env("TMPDIR", tmpdir(&app))
        .env("TWILIO_API_BASE", &empty.base);
    let out = cmd.output().await.unwrap();
    assert_success(&out);
    let sids = app.sim.account_sids();
    let emptied: Vec<(&str, &str)> = sids.iter().map(|a| (a.as_str(), DAYS[1])).collect();
    let after = store.read_back("export").await;
    after.assert_truth(&app, &emptied);
    assert!(after.files.len() < first.files.len());

    assert_private_and_empty(&app);
}

/// The staging directory is this user's alone (0700) and nothing was left in it.
pub(crate) fn assert_private_and_empty(app: &TestApp) {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let uid = std::fs::metadata("/proc/self").unwrap().uid();
    let dir = tmpdir(app).join(format!("twilio-export-{uid}"));
    let meta = std::fs::symlink_metadata(&dir).unwrap();
    assert!(meta.is_dir());
    assert_eq!(meta.permissions().mode() & 0o7777, 0o700);
    assert_eq!(files_below(&dir), Vec::<String>::new());
}

/// `kill -9` while partitions are being uploaded, then a clean re-run: the store holds
/// exactly the truth, every object reads back.
async fn killed_mid_upload_then_rerun(kind: Kind, test: &str) {
    let Some(store) = Emulator::start(kind, test).await else {
        return;
    };
    let app = spawn_app(sim(
        1200,
        Faults {
            latency: Duration::from_millis(30),
            ..Faults::default()
        },
    ))
    .await;
    app.add_all_accounts().await;
    let mut args = backfill("calls", DAYS[0], DAYS[2]);
    args.extend(["--concurrency", "1"]);
    let mut cmd = app.command(&args);
    cmd.envs(store.env())
        .env("EXPORT_OUTPUT", store.url("killed"))
        .env("TMPDIR", tmpdir(&app))
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let mut child = cmd.spawn().unwrap();
    // Kill once the first partition is uploaded and recorded, while the others are still to come.
    let registry = Registry::connect(&app.database_url()).await.unwrap();
    let accounts: Vec<AccountSid> = app
        .sim
        .account_sids()
        .iter()
        .map(|a| AccountSid::parse(a).unwrap())
        .collect();
    let mut recorded = 0;
    for _ in 0..12_000 {
        if recorded > 0 || child.try_wait().unwrap().is_some() {
            break;
        }
        for a in &accounts {
            recorded += registry.partitions(a, Resource::Calls).await.unwrap().len();
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert!(recorded > 0, "no partition was recorded within a minute");
    assert!(
        child.try_wait().unwrap().is_none(),
        "the run ended before it could be killed mid-way"
    );
    child.start_kill().unwrap(); // SIGKILL
    child.wait().await.unwrap();
    let partial = store.read_back("killed").await;
    let all = app
        .sim
        .account_sids()
        .iter()
        .flat_map(|a| DAYS.map(|d| app.sim.calls_on(a, day(d))))
        .filter(|calls| !calls.is_empty())
        .count();
    assert!(
        !partial.files.is_empty() && partial.files.len() < all,
        "{:?}",
        partial.files
    );

    let out = export(&app, &store, "killed", &backfill("calls", DAYS[0], DAYS[2])).await;
    assert_success(&out);
    store.read_back("killed").await.assert_truth(&app, &[]);
    assert_private_and_empty(&app);
}

/// A bucket that does not exist is found before any request to Twilio: exit 2, named.
async fn a_missing_bucket_is_refused_before_fetching(kind: Kind, test: &str) {
    let Some(store) = Emulator::start(kind, test).await else {
        return;
    };
    let app = spawn_app(sim(40, Faults::default())).await;
    app.add_all_accounts().await;
    let missing = match kind {
        Kind::S3 => "s3://no-such-bucket/export",
        Kind::Azure => "az://no-such-container/export",
    };
    let mut cmd = app.command(&backfill("calls", DAYS[0], DAYS[2]));
    cmd.envs(store.env())
        .env("EXPORT_OUTPUT", missing)
        .env("TMPDIR", tmpdir(&app));
    let out = cmd.output().await.unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains(missing), "{}", stderr(&out));
    assert!(stderr(&out).contains("not writable"), "{}", stderr(&out));
    assert!(app
        .sim
        .requests()
        .iter()
        .all(|r| !r.path.contains("/Calls")));
}

/// A staging directory another user could enter is refused, before any request to Twilio.
async fn a_shared_staging_directory_is_refused(kind: Kind, test: &str) {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let Some(store) = Emulator::start(kind, test).await else {
        return;
    };
    let app = spawn_app(sim(40, Faults::default())).await;
    app.add_all_accounts().await;
    let uid = std::fs::metadata("/proc/self").unwrap().uid();
    let shared = tmpdir(&app).join(format!("twilio-export-{uid}"));
    std::fs::create_dir(&shared).unwrap();
    std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o777)).unwrap();
    let out = export(&app, &store, "export", &backfill("calls", DAYS[0], DAYS[2])).await;
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(&shared.display().to_string()),
        "{}",
        stderr(&out)
    );
    assert!(stderr(&out).contains("0777"), "{}", stderr(&out));
    assert!(app
        .sim
        .requests()
        .iter()
        .all(|r| !r.path.contains("/Calls")));
    assert!(store.read_back("export").await.files.is_empty());
}

/// A multipart upload that a killed process journaled is aborted by the next run (S3 only:
/// Azure has no multipart uploads to abort, its uncommitted blocks expire on their own).
#[tokio::test]
async fn s3_a_killed_processs_multipart_upload_is_aborted_by_the_next_run() {
    use std::os::unix::fs::{DirBuilderExt, MetadataExt};
    let test = "s3_a_killed_processs_multipart_upload_is_aborted_by_the_next_run";
    let Some(store) = Emulator::start(Kind::S3, test).await else {
        return;
    };
    let app = spawn_app(sim(40, Faults::default())).await;
    app.add_all_accounts().await;
    let key = "export/calls/account_sid=AC0/date=2026-03-01/part-0.parquet";
    let id = store.python(&["start-multipart", key]).await;
    let uid = std::fs::metadata("/proc/self").unwrap().uid();
    let staging = tmpdir(&app).join(format!("twilio-export-{uid}"));
    std::fs::DirBuilder::new()
        .mode(0o700)
        .create(&staging)
        .unwrap();
    // The journal a killed process leaves: `{host}.{pid}.{uuid}.upload` holding id and path.
    let journal = staging.join(format!("{}.{}.0123abcd.upload", staging_host(), dead_pid()));
    std::fs::write(&journal, format!("{}\n{key}\n", id.trim())).unwrap();
    assert_eq!(store.python(&["multipart-uploads"]).await.trim(), "1");

    let out = export(&app, &store, "export", &backfill("calls", DAYS[0], DAYS[2])).await;
    assert_success(&out);
    assert!(!journal.exists());
    assert_eq!(store.python(&["multipart-uploads"]).await.trim(), "0");
    store.read_back("export").await.assert_truth(&app, &[]);
}

#[tokio::test]
async fn s3_backfill_rerun_and_empty_day() {
    backfill_rerun_and_empty_day(Kind::S3, "s3_backfill_rerun_and_empty_day").await;
}

#[tokio::test]
async fn s3_killed_mid_upload_then_rerun() {
    killed_mid_upload_then_rerun(Kind::S3, "s3_killed_mid_upload_then_rerun").await;
}

#[tokio::test]
async fn s3_missing_bucket_is_refused_before_fetching() {
    a_missing_bucket_is_refused_before_fetching(
        Kind::S3,
        "s3_missing_bucket_is_refused_before_fetching",
    )
    .await;
}

#[tokio::test]
async fn s3_shared_staging_directory_is_refused() {
    a_shared_staging_directory_is_refused(Kind::S3, "s3_shared_staging_directory_is_refused").await;
}

#[tokio::test]
async fn azure_backfill_rerun_and_empty_day() {
    backfill_rerun_and_empty_day(Kind::Azure, "azure_backfill_rerun_and_empty_day").await;
}

#[tokio::test]
async fn azure_killed_mid_upload_then_rerun() {
    killed_mid_upload_then_rerun(Kind::Azure, "azure_killed_mid_upload_then_rerun").await;
}

#[tokio::test]
async fn azure_missing_container_is_refused_before_fetching() {
    a_missing_bucket_is_refused_before_fetching(
        Kind::Azure,
        "azure_missing_container_is_refused_before_fetching",
    )
    .await;
}
