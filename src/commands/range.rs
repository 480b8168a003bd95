//! Exporting an inclusive range of days for chosen accounts as one run, under the same
//! (account, resource) leases as scheduled runs, its progress shown by `progress`: what
//! `backfill` and `demo` do. The windows come from the planning layer (`scheduler::plan`);
//! what an account another process holds is told on stderr.

use std::sync::Arc;

use super::progress::Progress;
use super::Exit;
use crate::domain::{AccountSid, DayRange, Resource};
use crate::erase::Eraser;
use crate::export::{Exporter, LeaseScope, Summary, WindowEvent};
use crate::registry::{Account, LeaseHolder};
use crate::scheduler::leasing::{self, Leased, Renewal};
use crate::scheduler::modes;
use crate::scheduler::plan::{self, AccountPlan};
use crate::scheduler::LEASE_TTL;
use crate::telemetry::{self, Level};

/// What [`export_range`] did.
pub(crate) struct RangeOutcome {
    pub summary: Summary,
    /// Accounts not exported because another process held their lease. (Those the run
    /// stopped exporting before their end are in the summary's `stopped`.)
    pub left: Vec<AccountSid>,
}

impl RangeOutcome {
    /// 0 only if every window of every account was exported.
    pub fn exit(&self) -> Exit {
        let incomplete = (self.summary.stopped.iter()).any(|(_, why)| why.leaves_run_incomplete());
        if self.left.is_empty() && !incomplete {
            Exit::of(&self.summary)
        } else {
            Exit::Failed
        }
    }
}

/// Exports `range` of `resource` for `accounts` as one run recorded as `command`: an account
/// whose (account, resource) another live process is exporting is not exported, and is
/// reported. Partitions of these accounts outside `range` written in another pseudonym mode
/// stop it before anything is done ([`modes::mixed`]).
pub(crate) async fn export_range(
    exporter: &Exporter,
    command: &str,
    resource: Resource,
    range: DayRange,
    accounts: &[Account],
    concurrency: usize,
) -> anyhow::Result<RangeOutcome> {
    let registry = &exporter.registry;
    let sids: Vec<AccountSid> = accounts.iter().map(|a| a.sid.clone()).collect();
    let mode = exporter.pseudonyms.mode();
    if let Some(mixed) = modes::mixed(registry, resource, &sids, &mode, Some(range)).await? {
        return Err(mixed.into());
    }
    // Its windows may replace partitions of another mode on these days of its accounts.
    let exporter = &Exporter {
        pseudonyms: exporter.pseudonyms.clone().replacing(range),
        ..exporter.clone()
    };
    if let Err(e) = registry.abandon_dead_runs().await {
        tracing::warn!(error = %e, "Cannot mark the runs of dead processes abandoned");
    }
    let holder = LeaseHolder::new();
    let leased =
        leasing::acquire(registry, &holder, resource, accounts.to_vec(), LEASE_TTL).await?;
    tell_leases(resource, &leased);
    if leased.accounts.is_empty() {
        // Nothing to export: no run is recorded (one of no windows would read as succeeded).
        let left = leased.busy.iter().map(|(sid, _)| sid.clone()).collect();
        return Ok(RangeOutcome {
            summary: Summary::default(),
            left,
        });
    }
    let scope = Arc::new(LeaseScope::new(holder.clone()));
    let renewal = Renewal::start(
        registry.clone(),
        scope.clone(),
        resource,
        leased.sids(),
        LEASE_TTL,
    );
    let plans: Vec<AccountPlan> = leased
        .accounts
        .iter()
        .map(|a| AccountPlan::range(a.clone(), range))
        .collect();
    let windows = plan::windows(resource, &plans, None);
    let progress = Progress::start(resource, windows.len(), &exporter.client);
    let on_event = |e: WindowEvent<'_>| progress.window(&e);
    let detail = format!("{resource} {range}");
    let summary = exporter
        .run_leased(command, &detail, windows, concurrency, &on_event, &scope)
        .await;
    renewal.stop().await;
    leasing::release(registry, &holder, resource, &leased.sids()).await;
    progress.finish(resource, summary.as_ref().ok(), &exporter.client);
    let summary = summary.map_err(super::PartlyDone)?;
    if super::report::only_mode_conflicts(&summary) {
        anyhow::bail!(
            "{resource}: nothing was exported: another export recorded partitions in another pseudonym mode meanwhile ({})",
            summary.failures[0].1
        );
    }
    let left = leased.busy.iter().map(|(sid, _)| sid.clone()).collect();
    Ok(RangeOutcome { summary, left })
}

/// Completes the purges and retention deletions a killed process left pending (what
/// `backfill` does before anything else), and prints them. Says whether one could not be
/// completed (it stays pending, its error in `status`; the command then exits 1).
pub(crate) async fn complete_pending_deletions(exporter: &Exporter) -> anyhow::Result<bool> {
    let holder = LeaseHolder::new();
    let eraser = Eraser::new(&exporter.registry, &exporter.store, &holder);
    let mut erased = Vec::new();
    let mut stuck = false;
    for done in eraser.complete_pending().await? {
        match done {
            Ok(e) => erased.push(e),
            Err(e) => {
                telemetry::say(
                    Level::ERROR,
                    format_args!(
                    "a pending deletion could not be completed (it stays pending; see status): {e}"
                ),
                );
                stuck = true;
            }
        }
    }
    super::report::erased(&erased);
    Ok(stuck)
}

/// The accounts another process holds, and the leases taken over from dead ones, on stderr.
fn tell_leases(resource: Resource, leased: &Leased) {
    for (sid, other) in &leased.busy {
        telemetry::say(Level::WARN, format_args!("{sid}: not exported: another process ({other}) is exporting its {resource}; run again once it is done"));
    }
    for (sid, from) in &leased.taken_over {
        telemetry::say(
            Level::WARN,
            format_args!(
                "{sid}: lease of {resource} taken over from {from}, whose process had died"
            ),
        );
    }
}
