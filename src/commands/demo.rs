//! `demo`: the whole pipeline against the built-in simulator, on embedded defaults.
//!
//! Starts the simulator on a free local port, registers its accounts (verified through the
//! API like `accounts add`) in a fresh SQLite file under `{output}/_state/`, backfills calls
//! and usage records for the last days, and prints what to query.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use chrono::{Days, Utc};
use tokio_util::sync::CancellationToken;

use super::build::{default_concurrency, exporter};
use super::metrics_file::{self, RunMetrics};
use super::range::export_range;
use super::{report, Exit};
use crate::cli::DemoArgs;
use crate::config::Config;
use crate::domain::{AccountSid, AuthToken, DayRange, Resource};
use crate::export::Exporter;
use crate::registry::{Account, DatabaseUrl, NewAccount};
use crate::scheduler::plan::{self, Shard};
use crate::shutdown;
use crate::store::OutputLocation;
use twilio_sim::{self as sim, SimConfig, Simulator};

pub async fn run(config: &Config, args: DemoArgs) -> anyhow::Result<Exit> {
    let OutputLocation::Local(out) = &config.output else {
        bail!(
            "output: the demo writes to a local directory, not {}",
            config.output
        );
    };
    let started = std::time::Instant::now();
    let range = last_days(args.days)?;
    let sim_cfg = SimConfig {
        days: args.days,
        today: range.last(),
        ..SimConfig::default()
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .context("cannot open a local port for the simulator")?;
    let base = format!("http://{}", listener.local_addr()?);
    let simulator = Simulator::new(sim_cfg);
    let sim_stop = CancellationToken::new();
    let server = tokio::spawn(sim::serve(listener, simulator.clone(), sim_stop.clone()));

    let db = fresh_database(out)?;
    let mut demo_config = config
        .clone()
        .with_auth_token(AuthToken::new(simulator.config().auth_token.clone())?);
    demo_config.database_url = DatabaseUrl::sqlite_file(&db);
    demo_config.api_base = base.parse()?;

    println!(
        "Simulated Twilio API on {base}; exporting {range} to {}",
        out.display()
    );
    let exporter = exporter(&demo_config, shutdown::on_signal(shutdown::EXPORT_STOPS)).await?;
    let accounts = register(&exporter, &simulator.account_sids()).await?;
    let concurrency = default_concurrency(&demo_config, accounts.len());
    let mut exit = Exit::Success;
    let mut metrics = RunMetrics::default();
    for resource in Resource::ALL {
        let done = export_range(&exporter, "demo", resource, range, &accounts, concurrency).await?;
        report::summary(resource, range, range.len(), &done.summary);
        report::left(&done.left);
        metrics.add(&done.summary);
        if done.exit() == Exit::Failed {
            exit = Exit::Failed;
        } else {
            metrics.succeeded("demo", resource, Utc::now());
        }
    }
    metrics.finish(exporter.client.stats(), started.elapsed().as_secs_f64());
    metrics_file::write_if_asked(config.metrics_file.as_deref(), &metrics);
    sim_stop.cancel();
    let _ = server.await;

    print_rows(&exporter, &accounts).await?;
    print_queries(out, &db);
    Ok(exit)
}

/// The last `days` UTC days, through today.
fn last_days(days: u32) -> anyhow::Result<DayRange> {
    if days == 0 {
        bail!("--days: must be at least 1");
    }
    let today = Utc::now().date_naive();
    let first = today
        .checked_sub_days(Days::new(u64::from(days) - 1))
        .context("--days: too many")?;
    DayRange::new(first, today).map_err(anyhow::Error::msg)
}

/// `{out}/_state/demo.db`, emptied of an earlier demo, whose Parquet goes with it (a demo in
/// another pseudonym mode must not leave files beside the new ones). An output that holds
/// anything but an earlier demo's is refused: the demo deletes nothing it did not write.
fn fresh_database(out: &Path) -> anyhow::Result<PathBuf> {
    let state = out.join("_state");
    let db = state.join("demo.db");
    if db.is_file() {
        for resource in Resource::ALL {
            let dir = out.join(resource.table_name());
            if dir.exists() {
                std::fs::remove_dir_all(&dir).with_context(|| {
                    format!("output: cannot remove the earlier demo's {}", dir.display())
                })?;
            }
        }
    } else if let Some(name) = foreign_entry(out)? {
        bail!(
            "output: {} holds {name:?} but no earlier demo (no _state/demo.db); the demo writes to a new or empty directory, or to one an earlier demo wrote (whose files it replaces): give another with --output",
            out.display()
        );
    }
    std::fs::create_dir_all(&state)
        .with_context(|| format!("output: cannot create {}", state.display()))?;
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", db.display()));
    }
    Ok(db)
}

/// Something in `out` that is not an (interrupted) demo's state: an entry other than
/// `_state` and the store's `_staging`, or in `_state` one whose name does not start with
/// `demo.db`.
fn foreign_entry(out: &Path) -> anyhow::Result<Option<String>> {
    let names = |dir: &Path| -> anyhow::Result<Vec<String>> {
        match std::fs::read_dir(dir) {
            Ok(entries) => entries
                .map(|e| Ok(e?.file_name().to_string_lossy().into_owned()))
                .collect::<Result<_, std::io::Error>>()
                .with_context(|| format!("output: cannot read {}", dir.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
            Err(e) => Err(e).with_context(|| format!("output: cannot read {}", dir.display())),
        }
    };
    if let Some(other) = names(out)?
        .into_iter()
        .find(|n| n != "_state" && n != "_staging")
    {
        return Ok(Some(other));
    }
    let state = out.join("_state");
    Ok(names(&state)?
        .into_iter()
        .find(|n| !n.starts_with("demo.db"))
        .map(|n| format!("_state/{n}")))
}

/// Registers the simulator's accounts as `accounts add` does (each confirmed by the API), and
/// returns those an export selects.
async fn register(exporter: &Exporter, sids: &[String]) -> anyhow::Result<Vec<Account>> {
    for sid in sids {
        let sid = AccountSid::parse(sid.as_str())?;
        let info = exporter
            .client
            .fetch_account(&sid, &sid)
            .await
            .with_context(|| format!("the simulator refused {sid}"))?;
        let new = NewAccount::confirmed(sid.clone(), sid, info);
        exporter.registry.upsert_account(&new).await?;
    }
    let registered = exporter.registry.accounts().await?;
    Ok(plan::select(&registered, &[], Shard::all()).active)
}

/// Rows exported per account and resource.
async fn print_rows(exporter: &Exporter, accounts: &[Account]) -> anyhow::Result<()> {
    println!("\nRows per account:");
    for a in accounts {
        let mut line = format!("  {}", a.sid);
        for resource in Resource::ALL {
            let rows: i64 = exporter
                .registry
                .partitions(&a.sid, resource)
                .await?
                .iter()
                .map(|p| p.rows)
                .sum();
            line.push_str(&format!("  {rows:>6} {}", resource.table_name()));
        }
        println!("{line}");
    }
    Ok(())
}

/// DuckDB queries over what was exported, and how to see the demo's registry.
fn print_queries(out: &Path, db: &Path) {
    let root = out.display().to_string();
    let root = root.trim_end_matches('/');
    println!(
        "\nQuery it with DuckDB (https://duckdb.org):\n\n  duckdb -c \"select account_sid, date, count(*) as calls, sum(duration) as seconds, sum(price) as price from read_parquet('{root}/calls/**/*.parquet', hive_partitioning = true) group by all order by all\"\n"
    );
    println!(
        "  duckdb -c \"select c.account_sid, c.date, count(*) as calls_exported, any_value(u.count) as calls_billed, any_value(u.price) as billed_price from read_parquet('{root}/calls/**/*.parquet', hive_partitioning = true) c join read_parquet('{root}/usage_records/**/*.parquet', hive_partitioning = true) u on u.account_sid = c.account_sid and u.start_date = c.date and u.category = 'calls' group by all order by all\"\n"
    );
    println!(
        "The registry of this demo is {}; try: twilio-export status --database-url sqlite://{}",
        db.display(),
        db.display()
    );
}
