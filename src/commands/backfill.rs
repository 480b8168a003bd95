//! `backfill`: export an inclusive range of UTC days for some or all active accounts, under
//! the same (account, resource) leases as scheduled runs: an account another live process is
//! exporting is reported and not exported, and the command exits 1 naming it.

use anyhow::bail;
use chrono::NaiveDate;

use super::build::{default_concurrency, exporter};
use super::metrics_file::{self, RunMetrics};
use super::range::{complete_pending_deletions, export_range};
use super::{report, Exit};
use crate::cli::BackfillArgs;
use crate::config::Config;
use crate::domain::{from_twilios_time, AccountSid, DayRange};
use crate::registry::{Account, Registry};
use crate::scheduler::plan::{self, Shard};
use crate::shutdown;
use crate::telemetry::{self, Level};

pub async fn run(config: &Config, args: BackfillArgs) -> anyhow::Result<Exit> {
    // Every argument is checked before anything is opened.
    let resource = args.resource;
    let range =
        DayRange::new(args.from, args.to).map_err(|e| anyhow::anyhow!("--from/--to: {e}"))?;
    within_reach(range, super::build::clock()?.now().date_naive())?;
    let wanted = args.accounts;
    if args.concurrency == Some(0) {
        bail!("--concurrency: must be at least 1");
    }

    let started = std::time::Instant::now();
    let cancel = shutdown::on_signal(shutdown::EXPORT_STOPS);
    let exporter = exporter(config, cancel).await?;
    let accounts = select_accounts(&exporter.registry, &wanted).await?;
    // A purge or retention a killed process left half done is finished before anything else.
    let stuck = complete_pending_deletions(&exporter).await?;
    let stuck_exit = if stuck { Exit::Failed } else { Exit::Success };
    if accounts.is_empty() {
        println!("No active accounts to export. Add one with: twilio-export accounts add AC…");
        return Ok(stuck_exit);
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
    report::summary(resource, range, range.len(), &done.summary);
    report::left(&done.left);
    let mut metrics = RunMetrics::default();
    metrics.add(&done.summary);
    if done.exit() == Exit::Success {
        metrics.succeeded("backfill", resource, chrono::Utc::now());
    }
    metrics.finish(exporter.client.stats(), started.elapsed().as_secs_f64());
    metrics_file::write_if_asked(config.metrics_file.as_deref(), &metrics);
    Ok(if stuck { stuck_exit } else { done.exit() })
}

/// Refuses days no export can find anything on: before Twilio's time
/// ([`from_twilios_time`]), or after `today` (UTC), which have not begun and would be recorded
/// as exported with no rows.
fn within_reach(range: DayRange, today: NaiveDate) -> anyhow::Result<()> {
    from_twilios_time(range.first()).map_err(|e| anyhow::anyhow!("--from: {e}"))?;
    if range.last() > today {
        bail!(
            "--to: {} has not begun yet (today is {today}, UTC)",
            range.last()
        );
    }
    Ok(())
}

/// The accounts asked for (all exported ones when none are named). Named accounts must be
/// registered; deauthorized ones, and those Twilio reports suspended or closed, are reported
/// and skipped.
async fn select_accounts(
    registry: &Registry,
    wanted: &[AccountSid],
) -> anyhow::Result<Vec<Account>> {
    let selected = plan::select(&registry.accounts().await?, wanted, Shard::all());
    if let Some(sid) = selected.unregistered.first() {
        bail!("--account: {sid} is not registered (add it with: twilio-export accounts add {sid})");
    }
    for (sid, why) in &selected.skipped {
        telemetry::say(Level::WARN, format_args!("{sid}: {why}, skipped"));
    }
    Ok(selected.active)
}
