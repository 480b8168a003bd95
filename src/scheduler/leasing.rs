//! Taking, renewing and giving back the leases of a set of accounts for one resource: what
//! `run`, `schedule`, `backfill` and `demo` all do around their windows.
//!
//! A pair held by a live process (or one not provably dead) is busy: it is not exported and
//! is reported. A pair whose holder is provably dead is taken over at once. While windows run,
//! [`Renewal`] extends the leases every third of their lifetime, each to `ttl` past the
//! registry's [`LeaseClock`](crate::registry::LeaseClock); a lease found taken over is marked
//! lost in the [`LeaseScope`], which stops that account's remaining windows.

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::domain::{AccountSid, Resource};
use crate::export::{LeaseScope, Stopped};
use crate::registry::{Account, AccountStatus, LeaseGrant, LeaseHolder, Registry, RegistryError};

/// The accounts whose lease was taken, and the others.
#[derive(Debug, Default)]
pub struct Leased {
    pub accounts: Vec<Account>,
    /// Held by another process, with its holder.
    pub busy: Vec<(AccountSid, String)>,
    /// Taken over from a holder whose process had died, with that holder.
    pub taken_over: Vec<(AccountSid, String)>,
}

impl Leased {
    pub fn sids(&self) -> Vec<AccountSid> {
        self.accounts.iter().map(|a| a.sid.clone()).collect()
    }
}

/// Takes the leases of `accounts` for `resource` (in one transaction, but for those another
/// holder has). On an error, gives back those it took.
pub async fn acquire(
    registry: &Registry,
    holder: &LeaseHolder,
    resource: Resource,
    accounts: Vec<Account>,
    ttl: Duration,
) -> Result<Leased, RegistryError> {
    let sids: Vec<AccountSid> = accounts.iter().map(|a| a.sid.clone()).collect();
    let grants = match registry.try_leases(&sids, resource, holder, ttl).await {
        Ok(grants) => grants,
        Err(e) => {
            release(registry, holder, resource, &sids).await;
            return Err(e);
        }
    };
    let mut leased = Leased::default();
    for (a, grant) in accounts.into_iter().zip(grants) {
        match grant {
            LeaseGrant::Granted => leased.accounts.push(a),
            LeaseGrant::TookOver { from } => {
                leased.taken_over.push((a.sid.clone(), from));
                leased.accounts.push(a);
            }
            LeaseGrant::Busy { holder: other } => {
                tracing::info!(account = %a.sid, %resource, holder = %other, "Another process is exporting this account; skipped");
                leased.busy.push((a.sid, other));
            }
        }
    }
    if let Err(e) = drop_purged(registry, holder, resource, &mut leased).await {
        release(registry, holder, resource, &leased.sids()).await;
        return Err(e);
    }
    Ok(leased)
}

/// Leaves out (and gives back) the accounts purged since they were selected: a purge marks
/// the account purged while it holds its leases, so once the lease is ours, the status read
/// now is final for this run.
async fn drop_purged(
    registry: &Registry,
    holder: &LeaseHolder,
    resource: Resource,
    leased: &mut Leased,
) -> Result<(), RegistryError> {
    if leased.accounts.is_empty() {
        return Ok(());
    }
    let now = registry.accounts().await?;
    let purged: Vec<AccountSid> = leased
        .sids()
        .into_iter()
        .filter(|sid| {
            now.iter()
                .any(|a| &a.sid == sid && a.status == AccountStatus::Purged)
        })
        .collect();
    if purged.is_empty() {
        return Ok(());
    }
    for sid in &purged {
        tracing::info!(account = %sid, %resource, "Purged since it was selected; skipped");
    }
    release(registry, holder, resource, &purged).await;
    leased.accounts.retain(|a| !purged.contains(&a.sid));
    Ok(())
}

/// Gives back `holder`'s leases of `sids`; those that cannot be given back expire by
/// themselves.
pub async fn release(
    registry: &Registry,
    holder: &LeaseHolder,
    resource: Resource,
    sids: &[AccountSid],
) {
    if let Err(e) = registry.release_leases(sids, resource, holder).await {
        tracing::warn!(%resource, error = %e, "Cannot release the leases; they expire by themselves");
    }
}

/// Renews leases in the background until [`Renewal::stop`].
pub struct Renewal {
    stop: CancellationToken,
    task: tokio::task::JoinHandle<()>,
}

impl Renewal {
    /// Starts renewing `scope`'s leases of `sids` every third of `ttl`.
    pub fn start(
        registry: Registry,
        scope: Arc<LeaseScope>,
        resource: Resource,
        sids: Vec<AccountSid>,
        ttl: Duration,
    ) -> Self {
        let stop = CancellationToken::new();
        let task = tokio::spawn(renew(registry, scope, resource, sids, ttl, stop.clone()));
        Self { stop, task }
    }

    pub async fn stop(self) {
        self.stop.cancel();
        let _ = self.task.await;
    }
}

/// A lease found taken over is marked lost in `scope` and not renewed again.
async fn renew(
    registry: Registry,
    scope: Arc<LeaseScope>,
    resource: Resource,
    sids: Vec<AccountSid>,
    ttl: Duration,
    stop: CancellationToken,
) {
    let every = (ttl / 3).max(Duration::from_millis(100));
    loop {
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = stop.cancelled() => return,
        }
        let held: Vec<AccountSid> = sids
            .iter()
            .filter(|sid| !scope.is_lost(sid))
            .cloned()
            .collect();
        match registry
            .renew_leases(&held, resource, scope.holder(), ttl)
            .await
        {
            Ok(lost) => {
                for sid in lost {
                    scope.lose(&sid, resource, Stopped::TakenOver);
                }
            }
            Err(e) => {
                tracing::warn!(%resource, error = %e, "Cannot renew the leases; trying again")
            }
        }
    }
}
