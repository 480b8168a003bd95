//! Many accounts: a registry of 2,000 accounts, each with a year of partitions of both
//! resources, checkpoints, job runs, a few failed windows and a year of run history; then the
//! real binary answers `status` and `status --json`, decides that nothing is due (`run` between
//! fire times, as a cron line every 5 minutes mostly does), and plans a due `run`.
//!
//! Planning alone is timed by pointing `--api-base` at a listener that accepts connections and
//! never answers: the time from the process's start to its first connection is what `run`
//! spends before its first request (registry reads, leases, windows, spans), and its CPU
//! (`/proc/PID/stat`) is read at that moment; then the process is stopped with SIGTERM.
//! Wall times on a shared machine are pessimistic; CPU times are the robust figure.
//!
//! Run: `cargo bench --bench many_accounts` (SQLite in a temporary directory, or in
//! `MANY_ACCOUNTS_DIR`, kept).
//! `-- --accounts N --days D` changes the size. With `MANY_ACCOUNTS_PG=postgres://user@host:port`
//! (a server where that user may create databases) it also runs on a fresh Postgres database.
//! Prints figures; asserts nothing about speed.

use std::io::Read;
use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use chrono::{Days, NaiveDate};
use sqlx::{AnyConnection, Connection, Executor};
use twilio_export::registry::Registry;

const BIN: &str = env!("CARGO_BIN_EXE_twilio-export");
/// The instant every command runs at: 10:00 UTC, after the calls job fired at 09:07 and the
/// usage job at 02:30.
const NOW: &str = "2026-06-30T10:00:00Z";
const REPEATS: usize = 3;

struct Size {
    accounts: usize,
    days: u64,
}

fn main() {
    sqlx::any::install_default_drivers();
    let size = size_from_args();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    // MANY_ACCOUNTS_DIR keeps the SQLite registry there, to look into afterwards.
    let work = std::env::var_os("MANY_ACCOUNTS_DIR").map_or(dir.path().to_owned(), Into::into);
    let sqlite = format!("sqlite://{}", work.join("registry.db").display());
    println!(
        "{} accounts x {} days x 2 resources = {} partitions",
        size.accounts,
        size.days,
        size.accounts as u64 * size.days * 2
    );
    bench("sqlite", &sqlite, &size, &work, &rt);
    if let Ok(base) = std::env::var("MANY_ACCOUNTS_PG") {
        let base = base.trim_end_matches('/').to_owned();
        let db = format!("many_accounts_{}", std::process::id());
        rt.block_on(async {
            let mut c = AnyConnection::connect(&format!("{base}/postgres")).await?;
            c.execute(format!("create database {db}").as_str()).await?;
            c.close().await
        })
        .expect("create the Postgres database");
        bench("postgres", &format!("{base}/{db}"), &size, &work, &rt);
        rt.block_on(async {
            let mut c = AnyConnection::connect(&format!("{base}/postgres")).await?;
            c.execute(format!("drop database {db}").as_str()).await?;
            c.close().await
        })
        .expect("drop the Postgres database");
    }
}

fn size_from_args() -> Size {
    let mut size = Size {
        accounts: 2000,
        days: 365,
    };
    let args: Vec<String> = std::env::args().collect();
    for pair in args.windows(2) {
        match pair[0].as_str() {
            "--accounts" => size.accounts = pair[1].parse().expect("--accounts N"),
            "--days" => size.days = pair[1].parse().expect("--days D"),
            _ => {}
        }
    }
    size
}

fn bench(backend: &str, url: &str, size: &Size, work: &Path, rt: &tokio::runtime::Runtime) {
    let started = Instant::now();
    rt.block_on(fill(url, size)).expect("fill the registry");
    println!(
        "\n{backend}: filled in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let env = Env::new(url, work);
    println!("| command | wall (median of {REPEATS}) | CPU user+sys (median) |");
    println!("| --- | --- | --- |");
    report("`status`", (0..REPEATS).map(|_| env.timed(&["status"])));
    report(
        "`status --json`",
        (0..REPEATS).map(|_| env.timed(&["status", "--json"])),
    );
    rt.block_on(set_job_accounts(url, "2026-06-30T09:07:00.000Z"))
        .unwrap();
    report(
        "`run`, nothing due",
        (0..REPEATS).map(|_| env.timed(&["run"])),
    );
    rt.block_on(set_job_accounts(url, "2026-06-29T09:07:00.000Z"))
        .unwrap();
    report(
        "`run` (calls due), until its first request",
        (0..REPEATS).map(|_| env.until_first_request(&["run"])),
    );
    report(
        "`run --job usage_records`, until its first request",
        (0..REPEATS).map(|_| env.until_first_request(&["run", "--job", "usage_records"])),
    );
}

/// Median wall and CPU seconds of the runs.
fn report(what: &str, runs: impl Iterator<Item = (f64, f64)>) {
    let (mut wall, mut cpu): (Vec<f64>, Vec<f64>) = runs.unzip();
    wall.sort_by(f64::total_cmp);
    cpu.sort_by(f64::total_cmp);
    println!(
        "| {what} | {:.2} s | {:.2} s |",
        wall[wall.len() / 2],
        cpu[cpu.len() / 2]
    );
}

/// The environment every command runs in.
struct Env {
    vars: Vec<(&'static str, String)>,
}

impl Env {
    fn new(url: &str, work: &Path) -> Self {
        let jobs = Path::new(env!("CARGO_MANIFEST_DIR")).join("jobs");
        Self {
            vars: vec![
                ("DATABASE_URL", url.to_owned()),
                ("TWILIO_EXPORT_JOBS", jobs.display().to_string()),
                ("TWILIO_EXPORT_NOW", NOW.to_owned()),
                ("TWILIO_AUTH_TOKEN", "bench-token".to_owned()),
                ("EXPORT_OUTPUT", work.join("out").display().to_string()),
                ("RUST_LOG", "warn".to_owned()),
            ],
        }
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(BIN);
        c.args(args)
            .envs(self.vars.iter().map(|(k, v)| (k, v)))
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        c
    }

    /// Wall and CPU seconds of the whole command.
    #[allow(clippy::zombie_processes)] // reaped by `wait4`, which also gives its CPU time
    fn timed(&self, args: &[&str]) -> (f64, f64) {
        let started = Instant::now();
        let child = self.command(args).spawn().unwrap();
        // Reaped here, with its resource usage; `Child` never waits on its own.
        let mut status = 0;
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        let pid = unsafe { libc::wait4(child.id() as i32, &mut status, 0, &mut usage) };
        assert_eq!(pid, child.id() as i32, "wait4");
        let exited_0 = libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0;
        assert!(exited_0, "{args:?} failed (wait status {status})");
        let wall = started.elapsed().as_secs_f64();
        let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
        (wall, secs(usage.ru_utime) + secs(usage.ru_stime))
    }

    /// Wall and CPU seconds from the start of the command to its first API connection; then
    /// the command is stopped.
    fn until_first_request(&self, args: &[&str]) -> (f64, f64) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let started = Instant::now();
        let mut child = self
            .command(args)
            .env("TWILIO_API_BASE", base)
            .spawn()
            .unwrap();
        listener.set_nonblocking(true).unwrap();
        let mut conn = loop {
            match listener.accept() {
                Ok((conn, _)) => break conn,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    if let Some(status) = child.try_wait().unwrap() {
                        panic!("{args:?} ended ({status}) before its first request");
                    }
                    std::thread::sleep(Duration::from_millis(1));
                }
                Err(e) => panic!("accept: {e}"),
            }
        };
        let wall = started.elapsed().as_secs_f64();
        let cpu = cpu_ticks(child.id()).unwrap_or(0) as f64 / clock_ticks();
        // Read the request line so that the client sees a live server, then stop the run.
        let _ = conn.set_read_timeout(Some(Duration::from_millis(50)));
        let _ = conn.read(&mut [0u8; 256]);
        unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
        drop(conn);
        child.wait().unwrap();
        (wall, cpu)
    }
}

fn clock_ticks() -> f64 {
    (unsafe { libc::sysconf(libc::_SC_CLK_TCK) }) as f64
}

/// utime + stime of a live process (and its reaped threads), in clock ticks.
fn cpu_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = after.split(' ').collect();
    // Fields 14 and 15 of stat(5), counted from the state (field 3) here.
    Some(fields[11].parse::<u64>().ok()? + fields[12].parse::<u64>().ok()?)
}

/// Accounts, a year of partitions per (account, resource), checkpoints at yesterday, job runs,
/// a failed window for one account in 100, and a year of run history at 5-minute steps.
async fn fill(url: &str, size: &Size) -> sqlx::Result<()> {
    let registry = Registry::connect(url).await.expect("migrate");
    registry.close().await;
    let mut c = AnyConnection::connect(url).await?;
    let today = NaiveDate::from_ymd_opt(2026, 6, 30).unwrap();
    let mut tx = c.begin().await?;
    tx.execute("create table bench_days (day text not null)")
        .await?;
    tx.execute("create table bench_resources (resource text not null, per_day bigint not null)")
        .await?;
    tx.execute("insert into bench_resources values ('calls', 1500), ('usage_records', 40)")
        .await?;
    let days: Vec<String> = (1..=size.days)
        .map(|i| (today - Days::new(i)).to_string())
        .collect();
    insert_values(&mut tx, "insert into bench_days (day) values", &days).await?;
    let stamp = "'2026-06-29T09:10:00.000Z'";
    let accounts: Vec<String> = (0..size.accounts)
        .map(|i| format!("('AC{i:032x}', 'AC{i:032x}', 'active', 'active', {stamp}, {stamp}, {stamp}, {stamp})"))
        .collect();
    for chunk in accounts.chunks(500) {
        let q = format!(
            "insert into accounts (sid, credential_sid, status, twilio_status, connected_at, verified_at, created_at, updated_at) values {}",
            chunk.join(", ")
        );
        tx.execute(q.as_str()).await?;
    }
    tx.execute(format!(
        "insert into partitions (account_sid, resource, day, rows_exported, bytes, object_key, run_id, exported_at, created_at, updated_at)
         select a.sid, r.resource, d.day, r.per_day, r.per_day * 30,
                r.resource || '/account_sid=' || a.sid || '/day=' || d.day || '/part-0.parquet', 1, {stamp}, {stamp}, {stamp}
         from accounts a cross join bench_resources r cross join bench_days d").as_str()).await?;
    let yesterday = today - Days::new(1);
    tx.execute(format!(
        "insert into checkpoints (account_sid, resource, day, last_run_id, last_success_at, last_rows, created_at, updated_at)
         select a.sid, r.resource, '{yesterday}', 1, {stamp}, r.per_day, {stamp}, {stamp}
         from accounts a cross join bench_resources r").as_str()).await?;
    tx.execute(format!(
        "insert into window_failures (account_sid, resource, day, error, run_id, failed_at, created_at, updated_at)
         select a.sid, 'calls', '{}', 'giving up after 6 attempts', 1, {stamp}, {stamp}, {stamp}
         from accounts a where substr(a.sid, 33, 2) = '00'", today - Days::new(20)).as_str()).await?;
    for job in ["calls", "usage_records"] {
        tx.execute(
            format!(
                "insert into job_runs (job, last_due_at, run_id, outcome, created_at, updated_at)
             values ('{job}', {stamp}, 1, 'succeeded', {stamp}, {stamp})"
            )
            .as_str(),
        )
        .await?;
        tx.execute(format!(
            "insert into job_accounts (job, account_sid, last_due_at, run_id, outcome, created_at, updated_at)
             select '{job}', sid, {stamp}, 1, 'succeeded', {stamp}, {stamp} from accounts"
        ).as_str())
        .await?;
    }
    let runs = size.days * 24 * 12;
    tx.execute(format!(
        "insert into runs (command, detail, started_at, finished_at, outcome, windows_exported, rows_exported, files_written, created_at, updated_at)
         with recursive n(i) as (select 1 union all select i + 1 from n where i < {runs})
         select 'run', 'job calls', {stamp}, {stamp}, 'succeeded', 8000, 12000000, 8000, {stamp}, {stamp} from n").as_str()).await?;
    tx.execute("drop table bench_days").await?;
    tx.execute("drop table bench_resources").await?;
    tx.commit().await?;
    if url.starts_with("postgres") {
        c.execute("analyze").await?;
    }
    c.close().await
}

async fn insert_values(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    head: &str,
    values: &[String],
) -> sqlx::Result<()> {
    let list: Vec<String> = values.iter().map(|v| format!("('{v}')")).collect();
    tx.execute(format!("{head} {}", list.join(", ")).as_str())
        .await?;
    Ok(())
}

/// When every job last exported every account.
async fn set_job_accounts(url: &str, at: &str) -> sqlx::Result<()> {
    let mut c = AnyConnection::connect(url).await?;
    c.execute(format!("update job_accounts set last_due_at = '{at}'").as_str())
        .await?;
    c.execute(format!("update job_runs set last_due_at = '{at}'").as_str())
        .await?;
    c.close().await
}
