//! `status`: accounts, partitions exported, recent runs and windows that failed.

use serde_json::json;

use super::{open_registry, Exit};
use crate::cli::JsonFlag;
use crate::config::Config;

pub async fn run(config: &Config, args: JsonFlag) -> anyhow::Result<Exit> {
    let registry = open_registry(config).await?;
    let accounts = registry.accounts().await?;
    let partitions = registry.partition_summary().await?;
    let runs = registry.recent_runs(10).await?;
    let failures = registry.failures().await?;
    if args.json {
        let doc = json!({
            "accounts": accounts,
            "partitions": partitions,
            "runs": runs,
            "failures": failures,
        });
        println!("{}", serde_json::to_string_pretty(&doc)?);
        return Ok(Exit::Success);
    }
    println!("Accounts");
    super::accounts::print_table(&accounts);
    println!("\nExported");
    if partitions.is_empty() {
        println!("  nothing yet");
    }
    for p in &partitions {
        println!(
            "  {}  {:<14} {:>5} days {} .. {}  {:>10} rows  last {}",
            p.account_sid,
            p.resource,
            p.partitions,
            p.first_day.as_deref().unwrap_or("-"),
            p.last_day.as_deref().unwrap_or("-"),
            p.rows,
            p.last_exported_at.as_deref().unwrap_or("-")
        );
    }
    println!("\nRecent runs");
    if runs.is_empty() {
        println!("  none yet");
    }
    for r in &runs {
        println!(
            "  #{:<5} {:<9} {:<12} {}  {} windows, {} failed, {} rows  {}",
            r.id,
            r.command,
            r.outcome,
            r.started_at,
            r.windows_exported,
            r.windows_failed,
            r.rows,
            r.detail.as_deref().unwrap_or("")
        );
    }
    if !failures.is_empty() {
        println!("\nFailed windows (retried by the next run)");
        for f in &failures {
            println!(
                "  {} {} {}  {}  {}",
                f.account_sid, f.resource, f.day, f.failed_at, f.error
            );
        }
    }
    Ok(Exit::Success)
}
