//! Many workers, one truth: three `run` processes started at once the way the pods of an
//! Indexed CronJob start — configured by the environment only (`JOB_COMPLETION_INDEX`,
//! `TWILIO_EXPORT_SHARDS`, `DATABASE_URL` on one Postgres, `EXPORT_OUTPUT` in one S3 bucket
//! served by moto), at the same fire time. One of them is killed with SIGKILL mid-run and run
//! again in its shard.
//!
//! "No partition is written by two workers" is checked where a write leaves a trace that
//! cannot be overwritten: the bucket is versioned, so every upload of a key is a version of
//! its own, and the registry records which run (and so which process) recorded each
//! partition. A key of the workers that were not killed has exactly one version, recorded by
//! that worker, before and after the killed worker's re-run; a key of the killed worker's shard
//! has at most one version per attempt, recorded by one of them. The simulator's request log
//! cannot tell workers apart (they share the API base), so it is used only for the re-run,
//! which runs alone: it asks for its own shard's accounts and no other.
//!
//! Without Postgres or moto the test prints why and returns; under `CI=true` it fails.

use std::collections::{BTreeMap, BTreeSet};
use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;
use sqlx::Connection;
use twilio_export::domain::{AccountSid, Resource};
use twilio_export::registry::Registry;
use twilio_sim::{Faults, SimConfig};

use crate::object_stores::{assert_private_and_empty, tmpdir, Emulator, Kind};
use crate::support::*;

const SHARDS: u32 = 3;
const PREFIX: &str = "workers";
const FIRST_DAY: &str = "2026-02-20";
const NOW: &str = "2026-03-08T09:00:00Z";
const TODAY: &str = "2026-03-08";
/// Two windows at a time, so that a worker is still running when it is killed.
const CALLS_JOB: &str = "name = \"calls\"\nresource = \"calls\"\nschedule = \"0 0 * * * *\"\nlookback_days = 2\nstart_date = \"2026-02-20\"\nconcurrency = 2\n";
const USAGE_JOB: &str = "name = \"usage\"\nresource = \"usage-records\"\nschedule = \"30 2 * * *\"\nlookback_days = 3\nstart_date = \"2026-02-20\"\nconcurrency = 2\n";

/// Nine accounts with 20 days of history and some latency: a few seconds of work per shard.
fn sim() -> SimConfig {
    SimConfig {
        seed: 23,
        accounts: 9,
        days: 20,
        calls_per_day: 10,
        today: day("2026-03-07"),
        faults: Faults {
            latency: Duration::from_millis(30),
            ..Faults::default()
        },
        ..SimConfig::default()
    }
}

/// What every worker shares: the simulator, the bucket, the database, the jobs and the clock.
struct Cluster {
    app: TestApp,
    store: Emulator,
    database_url: String,
    jobs: std::path::PathBuf,
}

impl Cluster {
    /// Worker `index` as the Indexed Job starts it: `run` with the environment only.
    fn worker(&self, index: u32) -> tokio::process::Command {
        let mut cmd = self.app.command(&["run"]);
        cmd.envs(self.store.env())
            .env("EXPORT_OUTPUT", self.store.url(PREFIX))
            .env("TMPDIR", tmpdir(&self.app))
            .env("DATABASE_URL", &self.database_url)
            .env("JOB_COMPLETION_INDEX", index.to_string())
            .env("TWILIO_EXPORT_SHARDS", SHARDS.to_string())
            .env("TWILIO_EXPORT_JOBS", &self.jobs)
            .env("TWILIO_EXPORT_NOW", at(NOW).to_rfc3339())
            .kill_on_drop(true);
        cmd
    }

    /// The worker whose shard holds `account`.
    fn shard_of(&self, account: &str) -> u32 {
        (0..SHARDS)
            .find(|i| shard_accounts(&self.app, &format!("{i}/{SHARDS}")).contains(account))
            .unwrap()
    }

    /// Per partition object in the bucket: its number of versions (uploads).
    async fn versions(&self) -> BTreeMap<String, u64> {
        let json: Value =
            serde_json::from_str(&self.store.python(&["versions", PREFIX]).await).unwrap();
        json.as_object()
            .unwrap()
            .iter()
            .filter(|(key, _)| key.ends_with("/part-0.parquet"))
            .map(|(key, v)| (key.clone(), v["versions"].as_u64().unwrap()))
            .filter(|(_, n)| *n > 0)
            .collect()
    }

    /// Per recorded partition (its object key, or the day's for an empty day), the pid of the
    /// process whose run recorded it last.
    async fn recorded_by(&self) -> BTreeMap<String, u32> {
        let mut db = sqlx::PgConnection::connect(&self.database_url)
            .await
            .unwrap();
        let rows: Vec<(String, String, String, Option<i64>)> = sqlx::query_as(
            "select p.account_sid, p.resource, p.day, r.pid
             from partitions p left join runs r on r.id = p.run_id",
        )
        .fetch_all(&mut db)
        .await
        .unwrap();
        rows.into_iter()
            .map(|(account, resource, day, pid)| {
                let key = object_key(&resource, &account, &day);
                let pid = pid.unwrap_or_else(|| panic!("{key} was recorded by no process"));
                (key, u32::try_from(pid).unwrap())
            })
            .collect()
    }

    /// Every recorded run: the pid of its process and its outcome.
    async fn runs(&self) -> Vec<(u32, String)> {
        let mut db = sqlx::PgConnection::connect(&self.database_url)
            .await
            .unwrap();
        let rows: Vec<(i64, String)> = sqlx::query_as("select pid, outcome from runs")
            .fetch_all(&mut db)
            .await
            .unwrap();
        rows.into_iter()
            .map(|(pid, outcome)| (u32::try_from(pid).unwrap(), outcome))
            .collect()
    }

    /// The key of every partition the simulator has records for, by the shard that owns it.
    fn truth_by_shard(&self) -> BTreeMap<String, u32> {
        let mut keys = BTreeMap::new();
        for account in self.app.sim.account_sids() {
            for d in days(FIRST_DAY, TODAY) {
                let shard = self.shard_of(&account);
                let day = d.to_string();
                if !self.app.sim.calls_on(&account, d).is_empty() {
                    keys.insert(object_key("calls", &account, &day), shard);
                }
                if !self.app.sim.daily_usage_on(&account, d).is_empty() {
                    keys.insert(object_key("usage_records", &account, &day), shard);
                }
            }
        }
        keys
    }
}

fn object_key(table: &str, account: &str, day: &str) -> String {
    format!("{PREFIX}/{table}/account_sid={account}/date={day}/part-0.parquet")
}

/// The shard an object key belongs to.
fn shard_of_key(cluster: &Cluster, key: &str) -> u32 {
    let account = key
        .split('/')
        .find_map(|p| p.strip_prefix("account_sid="))
        .unwrap();
    cluster.shard_of(account)
}

async fn start(test: &str) -> Option<Cluster> {
    let database_url = fresh_database().await?;
    let store = Emulator::start(Kind::S3, test).await?;
    store.python(&["versioning"]).await;
    let app = spawn_app(sim()).await;
    add_accounts_with(&app, &[("DATABASE_URL", database_url.as_str())]).await;
    let jobs = write_jobs(
        &app,
        &[("calls.toml", CALLS_JOB), ("usage.toml", USAGE_JOB)],
    );
    app.sim.set_now(at(NOW));
    for i in 0..SHARDS {
        let shard = format!("{i}/{SHARDS}");
        assert!(
            !shard_accounts(&app, &shard).is_empty(),
            "{shard} has no account"
        );
    }
    Some(Cluster {
        app,
        store,
        database_url,
        jobs,
    })
}

/// Waits until worker 1 has recorded a partition with a file, then kills it (SIGKILL) while
/// it runs.
async fn kill_mid_run(cluster: &Cluster, worker: &mut tokio::process::Child) {
    let registry = Registry::connect(&cluster.database_url).await.unwrap();
    let accounts: Vec<AccountSid> = shard_accounts(&cluster.app, &format!("1/{SHARDS}"))
        .iter()
        .map(|a| AccountSid::parse(a).unwrap())
        .collect();
    let mut recorded = 0;
    for _ in 0..3000 {
        recorded = 0;
        for a in &accounts {
            let partitions = registry.partitions(a, Resource::Calls).await.unwrap();
            recorded += partitions.iter().filter(|p| p.object_key.is_some()).count();
        }
        if recorded > 0 || worker.try_wait().unwrap().is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(recorded > 0, "worker 1 recorded no partition");
    assert!(
        worker.try_wait().unwrap().is_none(),
        "worker 1 ended before it could be killed mid-run"
    );
    worker.kill().await.unwrap();
    registry.close().await;
}

#[tokio::test]
async fn three_env_sharded_workers_on_postgres_and_s3_write_each_partition_once() {
    let test = "three_env_sharded_workers_on_postgres_and_s3_write_each_partition_once";
    let Some(cluster) = start(test).await else {
        return;
    };
    let truth = cluster.truth_by_shard();

    // Act 1: the three workers at once; worker 1 is killed once it has recorded a partition.
    let mut workers: Vec<_> = (0..SHARDS).map(|i| spawn(cluster.worker(i))).collect();
    let mut pids: Vec<u32> = workers.iter().map(|w| w.id().unwrap()).collect();
    kill_mid_run(&cluster, &mut workers[1]).await;
    drop(workers.remove(1));
    for (w, i) in workers.into_iter().zip([0, 2]) {
        let out = w.wait_with_output().await.unwrap();
        assert_success(&out);
        let text = stdout(&out);
        assert!(!text.contains("skipped"), "worker {i}: {text}");
    }
    let first = assert_each_key_written_by_its_shard_once(&cluster, &truth, &pids).await;

    // Act 2: worker 1 again, alone, with the same environment.
    let before = cluster.app.sim.requests().len();
    let rerun = spawn(cluster.worker(1));
    pids.push(rerun.id().unwrap());
    let out = rerun.wait_with_output().await.unwrap();
    assert_success(&out);
    let own = shard_accounts(&cluster.app, &format!("1/{SHARDS}"));
    let text = stdout(&out);
    assert_eq!(
        text.matches("lease taken over from").count(),
        own.len(),
        "the killed worker's leases are taken over at once: {text}"
    );
    assert!(!text.contains("skipped"), "{text}");
    let log = &cluster.app.sim.requests()[before..];
    for resource in Resource::ALL {
        let asked: BTreeSet<String> = requested_days(log, resource).into_keys().collect();
        assert_eq!(
            asked, own,
            "the re-run asked for {resource} of other shards"
        );
    }

    // Assert: the bucket holds exactly the simulator's truth, each key written by its own
    // shard only, and the runs tell what happened.
    assert_keys_after_the_rerun(&cluster, &truth, &pids, &first).await;
    assert_runs(&cluster, &pids).await;
    let _ = std::fs::remove_dir_all(cluster.app.output());
    let output = cluster.app.output().display().to_string();
    cluster.store.python(&["download", PREFIX, &output]).await;
    assert_output_is_truth(&cluster.app, &Resource::ALL, FIRST_DAY, TODAY);
    assert_eq!(files_below(&cluster.app.output()).len(), truth.len());
    assert_private_and_empty(&cluster.app);
}

fn spawn(mut cmd: tokio::process::Command) -> tokio::process::Child {
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    cmd.spawn().unwrap()
}

/// After the first round: each key of workers 0 and 2 was uploaded once and recorded by its
/// own worker; worker 1 uploaded some of its own keys, once each, and nothing else. Returns
/// the keys uploaded so far.
async fn assert_each_key_written_by_its_shard_once(
    cluster: &Cluster,
    truth: &BTreeMap<String, u32>,
    pids: &[u32],
) -> BTreeMap<String, u64> {
    let versions = cluster.versions().await;
    let recorded = cluster.recorded_by().await;
    for (key, n) in &versions {
        assert_eq!(*n, 1, "{key} was uploaded {n} times");
        // A killed worker may have uploaded a key it had no time to record.
        let shard = shard_of_key(cluster, key);
        if shard != 1 {
            assert_eq!(recorded.get(key), Some(&pids[shard as usize]), "{key}");
        }
    }
    for (key, shard) in truth {
        if *shard != 1 {
            assert!(versions.contains_key(key), "{key} missing");
        }
    }
    let partial = versions
        .keys()
        .filter(|k| shard_of_key(cluster, k) == 1)
        .count();
    let shard_1 = truth.values().filter(|s| **s == 1).count();
    assert!(partial > 0 && partial < shard_1, "{partial} of {shard_1}");
    for (key, pid) in &recorded {
        assert_eq!(*pid, pids[shard_of_key(cluster, key) as usize], "{key}");
    }
    versions
}

/// After the re-run (pid `pids[3]`): exactly the truth's keys; those of workers 0 and 2 still
/// uploaded once, worker 1's once more than before, and all of them recorded by the re-run.
async fn assert_keys_after_the_rerun(
    cluster: &Cluster,
    truth: &BTreeMap<String, u32>,
    pids: &[u32],
    first: &BTreeMap<String, u64>,
) {
    let after = cluster.versions().await;
    assert_eq!(
        after.keys().collect::<BTreeSet<_>>(),
        truth.keys().collect::<BTreeSet<_>>()
    );
    let recorded = cluster.recorded_by().await;
    for (key, n) in &after {
        let shard = truth[key];
        if shard == 1 {
            assert_eq!(*n, 1 + u64::from(first.contains_key(key)), "{key}");
            assert_eq!(recorded[key], pids[3], "{key}");
        } else {
            assert_eq!(*n, 1, "{key} was written again");
            assert_eq!(recorded[key], pids[shard as usize], "{key}");
        }
    }
}

/// Two runs (one per job) for each worker that ended, shown succeeded; one for the killed
/// worker, shown abandoned.
async fn assert_runs(cluster: &Cluster, pids: &[u32]) {
    let mut runs = cluster.runs().await;
    runs.sort();
    let mut expected: Vec<(u32, String)> = [pids[0], pids[2], pids[3]]
        .iter()
        .flat_map(|p| [(*p, "succeeded".to_owned()), (*p, "succeeded".to_owned())])
        .chain([(pids[1], "abandoned".to_owned())])
        .collect();
    expected.sort();
    assert_eq!(runs, expected);
}
