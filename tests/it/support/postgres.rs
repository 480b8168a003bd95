//! A real Postgres: `TEST_DATABASE_URL` when given, otherwise a throwaway cluster started from
//! the system's binaries (`initdb`, `postgres`) on a free port; each test gets a fresh
//! database. Without either, Postgres tests print why and return (in CI, where `.ci/run`
//! installs Postgres, a missing server fails them instead).

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

use sqlx::Connection;

use super::ci::in_ci;

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
            !in_ci(),
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
