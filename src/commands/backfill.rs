//! `backfill`: export an inclusive range of UTC days for some or all active accounts, under
//! the same (account, resource) leases as scheduled runs: an account another live process is
//! exporting is reported and not exported, and the command exits 1 naming it.

use std::io::IsTerminal;
use std::sync::Arc;

use anyhow::bail;
use indicatif::{ProgressBar, ProgressStyle};

use super::{exporter, Exit};
use crate::cli::BackfillArgs;
use crate::config::Config;
use crate::domain::{AccountSid, DayRange, PartitionKey, Resource};
use crate::export::{Exporter, LeaseScope, Summary, Window, WindowEvent};
use crate::registry::{Account, LeaseHolder};
use crate::scheduler::leasing::{self, Renewal};
use crate::scheduler::LEASE_TTL;
use crate::shutdown;

pub async fn run(config: &Config, args: BackfillArgs) -> anyhow::Result<Exit> {
    // Every argument is checked before anything is opened.
    let resource = args.resource;
    let range =
        DayRange::new(args.from, args.to).map_err(|e| anyhow::anyhow!("--from/--to: {e}"))?;
    let wanted = args.accounts;
    if args.concurrency == Some(0) {
        bail!("--concurrency: must be at least 1");
    }

    let cancel = shutdown::on_signal();
    let exporter = exporter(config, cancel).await?;
    let accounts = select_accounts(&exporter, &wanted).await?;
    if accounts.is_empty() {
        println!("No active accounts to export. Add one with: twilio-export accounts add AC…");
        return Ok(Exit::Success);
    }
    let concurrency = args
        .concurrency
        .unwrap_or_else(|| default_concurrency(config, accounts.len()));
    let done = export_range(
        &exporter,
        "backfill",
        resource,
        range,
        &accounts,
        concurrency,
    )
    .await?;
    print_summary(resource, range, &done.summary);
    print_left(&done.left);
    Ok(done.exit())
}

/// Windows of every account at the same time, as far as each account's quota allows.
pub(crate) fn default_concurrency(config: &Config, accounts: usize) -> usize {
    (config.limits.max_in_flight as usize * accounts).clamp(1, 64)
}

/// The accounts asked for (all exported ones when none are named). Named accounts must be
/// registered; deauthorized ones, and those Twilio reports suspended or closed, are reported
/// and skipped.
pub(crate) async fn select_accounts(
    exporter: &Exporter,
    wanted: &[AccountSid],
) -> anyhow::Result<Vec<Account>> {
    let all = exporter.registry.accounts().await?;
    let mut chosen = Vec::new();
    if wanted.is_empty() {
        for a in all {
            match a.skip() {
                None => chosen.push(a),
                Some(why) => eprintln!("{}: {why}, skipped", a.sid),
            }
        }
        return Ok(chosen);
    }
    for sid in wanted {
        let Some(a) = all.iter().find(|a| &a.sid == sid) else {
            bail!("--account: {sid} is not registered (add it with: twilio-export accounts add {sid})");
        };
        match a.skip() {
            None => chosen.push(a.clone()),
            Some(why) => eprintln!("{sid}: {why}, skipped"),
        }
    }
    Ok(chosen)
}

/// What [`export_range`] did.
pub(crate) struct RangeOutcome {
    pub summary: Summary,
    /// Accounts not exported (or not to the end) because another process holds, or took
    /// over, their lease.
    pub left: Vec<AccountSid>,
}

impl RangeOutcome {
    /// 0 only if every window of every account was exported.
    pub fn exit(&self) -> Exit {
        if self.left.is_empty() {
            exit_of(&self.summary)
        } else {
            Exit::Failed
        }
    }
}

/// Exports `range` of `resource` for `accounts` as one run, with a progress bar on a terminal,
/// under the same leases as scheduled runs: an account whose (account, resource) another live
/// process is exporting is not exported, and is reported.
pub(crate) async fn export_range(
    exporter: &Exporter,
    command: &str,
    resource: Resource,
    range: DayRange,
    accounts: &[Account],
    concurrency: usize,
) -> anyhow::Result<RangeOutcome> {
    let registry = &exporter.registry;
    if let Err(e) = registry.abandon_dead_runs().await {
        tracing::warn!(error = %e, "Cannot mark the runs of dead processes abandoned");
    }
    let holder = LeaseHolder::new();
    let leased =
        leasing::acquire(registry, &holder, resource, accounts.to_vec(), LEASE_TTL).await?;
    for (sid, other) in &leased.busy {
        eprintln!("{sid}: not exported: another process ({other}) is exporting its {resource}; run again once it is done");
    }
    for (sid, from) in &leased.taken_over {
        eprintln!("{sid}: lease of {resource} taken over from {from}, whose process had died");
    }
    let scope = Arc::new(LeaseScope::new(holder.clone()));
    let renewal = Renewal::start(
        registry.clone(),
        scope.clone(),
        resource,
        leased.sids(),
        LEASE_TTL,
    );
    let windows = range_windows(resource, range, &leased.accounts);
    let bar = progress_bar(resource, windows.len());
    let rows = std::sync::atomic::AtomicU64::new(0);
    let on_event = |e: WindowEvent<'_>| {
        if let WindowEvent::Exported(_, r) = &e {
            let total = rows.fetch_add(r.rows, std::sync::atomic::Ordering::Relaxed) + r.rows;
            bar.set_message(format!("{total} rows"));
        }
        if let WindowEvent::Failed(w, err) = &e {
            bar.suspend(|| eprintln!("{}: failed: {err}", w.key));
        }
        bar.inc(1);
    };
    let detail = format!("{resource} {range}");
    let summary = exporter
        .run_leased(command, &detail, windows, concurrency, &on_event, &scope)
        .await;
    renewal.stop().await;
    leasing::release(registry, &holder, resource, &leased.sids()).await;
    bar.finish_and_clear();
    let mut left: Vec<AccountSid> = leased.busy.iter().map(|(sid, _)| sid.clone()).collect();
    for sid in leased.sids().into_iter().filter(|sid| scope.is_lost(sid)) {
        eprintln!("{sid}: its lease of {resource} was taken over by another process during the run; its remaining days were left to it");
        left.push(sid);
    }
    Ok(RangeOutcome {
        summary: summary?,
        left,
    })
}

/// Day by day across accounts, so that every account's quota is used at once.
fn range_windows(resource: Resource, range: DayRange, accounts: &[Account]) -> Vec<Window> {
    range
        .days()
        .flat_map(|day| {
            accounts.iter().map(move |a| Window {
                key: PartitionKey {
                    resource,
                    account: a.sid.clone(),
                    day,
                },
                credential: a.credential_sid.clone(),
                page_size: crate::export::PAGE_SIZE,
            })
        })
        .collect()
}

/// A progress bar over `windows` on a terminal; hidden otherwise.
fn progress_bar(resource: Resource, windows: usize) -> ProgressBar {
    let bar = if std::io::stderr().is_terminal() {
        ProgressBar::new(windows as u64)
    } else {
        ProgressBar::hidden()
    };
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} {prefix} [{bar:30}] {pos}/{len} days·accounts  {msg}  ({eta} left)",
        )
        .expect("valid template")
        .progress_chars("=> "),
    );
    bar.set_prefix(resource.table_name());
    bar
}

pub(crate) fn print_summary(resource: Resource, range: DayRange, s: &Summary) {
    println!(
        "{resource}: {} accounts, {} days ({range}): {} rows in {} files ({:.1} MiB) in {:.1} s",
        s.accounts.len(),
        range.len(),
        s.totals.rows,
        s.totals.files,
        s.bytes as f64 / (1024.0 * 1024.0),
        s.seconds
    );
    if s.totals.outside_window > 0 || s.totals.duplicates > 0 {
        println!(
            "  left out: {} records of other days (exported with their own day), {} records repeated while paging (kept once)",
            s.totals.outside_window, s.totals.duplicates
        );
    }
    for (sid, why) in &s.deauthorized {
        println!("  {sid}: deauthorized during the run and skipped ({why})");
    }
    for (sid, status) in &s.inactive {
        println!("  {sid}: {status} on Twilio, found during the run and skipped");
    }
    if s.totals.windows_failed > 0 {
        println!(
            "  {} windows failed (their partitions were left as they were; re-run to retry):",
            s.totals.windows_failed
        );
        for (key, err) in s.failures.iter().take(20) {
            println!("    {key}: {err}");
        }
        if s.failures.len() > 20 {
            println!(
                "    … and {} more (see: twilio-export status)",
                s.failures.len() - 20
            );
        }
    }
    if s.interrupted {
        println!("  interrupted: windows not finished were left as they were");
    }
}

/// The accounts another process kept from being exported, for stdout (exit 1).
pub(crate) fn print_left(left: &[AccountSid]) {
    if left.is_empty() {
        return;
    }
    let sids: Vec<&str> = left.iter().map(|s| s.as_str()).collect();
    println!(
        "  not exported, another process is exporting them (run again once it is done): {}",
        sids.join(", ")
    );
}

pub(crate) fn exit_of(s: &Summary) -> Exit {
    if s.totals.windows_failed > 0 || s.interrupted {
        Exit::Failed
    } else {
        Exit::Success
    }
}
