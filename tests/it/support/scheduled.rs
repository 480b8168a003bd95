//! Scheduled runs from the outside: job files, the binary run at the simulator's clock
//! (`TWILIO_EXPORT_NOW`), `status --json`, shards, the registry the binary writes.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Output;

use chrono::{DateTime, Utc};
use twilio_export::domain::AccountSid;
use twilio_export::registry::Registry;
use twilio_export::scheduler::plan::Shard;

use super::app::{assert_success, TestApp};

/// An instant written in RFC 3339.
pub fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

/// A jobs directory inside the app's scratch directory with these files.
pub fn write_jobs(app: &TestApp, files: &[(&str, &str)]) -> PathBuf {
    let dir = app.dir.path().join("jobs");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    for (name, text) in files {
        std::fs::write(dir.join(name), text).unwrap();
    }
    dir
}

/// Runs the binary with its clock at the simulator's `now` and the given jobs directory.
pub async fn at_sim_now(app: &TestApp, jobs: &Path, args: &[&str]) -> Output {
    at_sim_now_with(app, jobs, args, &[]).await
}

/// [`at_sim_now`] with more environment.
pub async fn at_sim_now_with(
    app: &TestApp,
    jobs: &Path,
    args: &[&str],
    env: &[(&str, &str)],
) -> Output {
    let now = app.sim.now().to_rfc3339();
    let jobs = jobs.display().to_string();
    let mut all = vec![
        ("TWILIO_EXPORT_NOW", now.as_str()),
        ("TWILIO_EXPORT_JOBS", &jobs),
    ];
    all.extend_from_slice(env);
    app.cli_with(args, &all).await
}

/// Starts `schedule` with its clock at the simulator's `now`, output captured.
pub fn spawn_schedule(app: &TestApp, jobs: &Path) -> tokio::process::Child {
    app.command(&["schedule"])
        .env("TWILIO_EXPORT_JOBS", jobs)
        .env("TWILIO_EXPORT_NOW", app.sim.now().to_rfc3339())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap()
}

/// `status --json` at the simulator's clock, parsed.
pub async fn status_json(app: &TestApp, jobs: &Path) -> serde_json::Value {
    status_json_with(app, jobs, &[]).await
}

/// [`status_json`] with more environment.
pub async fn status_json_with(
    app: &TestApp,
    jobs: &Path,
    env: &[(&str, &str)],
) -> serde_json::Value {
    let out = at_sim_now_with(app, jobs, &["status", "--json"], env).await;
    assert_success(&out);
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Registers every simulated account in the database `env` names.
pub async fn add_accounts_with(app: &TestApp, env: &[(&str, &str)]) {
    app.add_all_accounts_with(env).await;
}

/// The simulator's accounts in shard `shard`.
pub fn shard_accounts(app: &TestApp, shard: &str) -> BTreeSet<String> {
    let shard = Shard::parse(shard).unwrap();
    let sids = app.sim.account_sids();
    sids.into_iter()
        .filter(|s| shard.contains(&AccountSid::parse(s).unwrap()))
        .collect()
}

/// The app's registry (SQLite), as the binary leaves it.
pub async fn registry(app: &TestApp) -> Registry {
    Registry::connect(&app.database_url()).await.unwrap()
}
