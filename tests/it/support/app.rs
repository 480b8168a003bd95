//! The app under test: a simulator on port 0, a temporary SQLite file and output directory,
//! and the real binary run against them.

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

use chrono::NaiveDate;
use tokio_util::sync::CancellationToken;
use twilio_sim::{self as sim, Faults, SimConfig, Simulator};

pub const TOKEN: &str = "test-owner-token";

/// A running simulator plus a scratch directory for the database and the output.
pub struct TestApp {
    pub sim: Simulator,
    pub base: String,
    pub dir: tempfile::TempDir,
    stop: CancellationToken,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

/// Starts a simulator with `cfg` (its token replaced by [`TOKEN`]).
pub async fn spawn_app(mut cfg: SimConfig) -> TestApp {
    cfg.auth_token = TOKEN.to_owned();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let sim = Simulator::new(cfg);
    let stop = CancellationToken::new();
    tokio::spawn(sim::serve(listener, sim.clone(), stop.clone()));
    TestApp {
        sim,
        base,
        dir: tempfile::tempdir().unwrap(),
        stop,
    }
}

/// `backfill --resource R --from A --to B`.
pub fn backfill<'a>(resource: &'a str, from: &'a str, to: &'a str) -> Vec<&'a str> {
    vec![
        "backfill",
        "--resource",
        resource,
        "--from",
        from,
        "--to",
        to,
    ]
}

pub fn day(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

/// A small, fixed simulator: 3 accounts, 4 days ending 2026-03-02.
pub fn small_sim() -> SimConfig {
    SimConfig {
        seed: 7,
        accounts: 3,
        days: 4,
        calls_per_day: 30,
        today: day("2026-03-02"),
        ..SimConfig::default()
    }
}

/// `cfg` with every request taking `latency`: exports that outlast intervals or overlap.
pub fn slowed(latency: Duration, cfg: SimConfig) -> SimConfig {
    SimConfig {
        faults: Faults {
            latency,
            ..Faults::default()
        },
        ..cfg
    }
}

impl TestApp {
    pub fn output(&self) -> PathBuf {
        self.dir.path().join("export")
    }

    pub fn database_url(&self) -> String {
        format!("sqlite://{}", self.dir.path().join("registry.db").display())
    }

    /// Runs the real binary with this app's configuration in the environment.
    pub async fn cli(&self, args: &[&str]) -> Output {
        self.cli_with(args, &[]).await
    }

    pub async fn cli_with(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        let mut cmd = self.command(args);
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.output().await.unwrap()
    }

    /// The real binary with this app's configuration in a clean environment, not yet started.
    pub fn command(&self, args: &[&str]) -> tokio::process::Command {
        let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_twilio-export"));
        cmd.args(args)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("DATABASE_URL", self.database_url())
            .env("EXPORT_OUTPUT", self.output())
            .env("TWILIO_API_BASE", &self.base)
            .env("TWILIO_AUTH_TOKEN", TOKEN)
            .env("RUST_LOG", "warn")
            .current_dir(self.dir.path());
        cmd
    }

    /// `accounts list --json`, parsed.
    pub async fn accounts_json(&self) -> Vec<serde_json::Value> {
        let out = self.cli(&["accounts", "list", "--json"]).await;
        assert_success(&out);
        match serde_json::from_slice(&out.stdout).unwrap() {
            serde_json::Value::Array(a) => a,
            other => panic!("accounts list --json gave {other}"),
        }
    }

    /// Registers every simulated account.
    pub async fn add_all_accounts(&self) {
        self.add_all_accounts_with(&[]).await;
    }

    /// Registers every simulated account in the database `env` names.
    pub async fn add_all_accounts_with(&self, env: &[(&str, &str)]) {
        let sids = self.sim.account_sids();
        let mut args = vec!["accounts", "add"];
        args.extend(sids.iter().map(String::as_str));
        assert_success(&self.cli_with(&args, env).await);
    }
}

pub fn assert_success(out: &Output) {
    assert!(
        out.status.success(),
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Every file below `dir`, relative, sorted.
pub fn files_below(dir: &Path) -> Vec<String> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(root, &p, out);
            } else {
                out.push(p.strip_prefix(root).unwrap().display().to_string());
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

/// The partition file of one account, resource and day.
pub fn partition_file(output: &Path, table: &str, account: &str, day: NaiveDate) -> PathBuf {
    output
        .join(table)
        .join(format!("account_sid={account}"))
        .join(format!("date={day}"))
        .join("part-0.parquet")
}

/// This host's name as staging file names carry it (`{host}.{pid}.{uuid}…`).
pub fn staging_host() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .unwrap()
        .trim()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// The pid of a process that has exited: staging files named after it are a crash's leftovers.
pub fn dead_pid() -> u32 {
    let mut child = std::process::Command::new("true").spawn().unwrap();
    let pid = child.id();
    child.wait().unwrap();
    pid
}
