//! The leases a run's windows are exported under, and the accounts it stopped publishing.

use std::collections::HashMap;
use std::fmt;
use std::sync::Mutex;

use tokio_util::sync::CancellationToken;

use super::Summary;
use crate::domain::{AccountSid, Resource};
use crate::registry::LeaseHolder;

/// The leases a run's windows are exported under (see
/// [`Exporter::run_leased`](super::Exporter::run_leased)).
pub struct LeaseScope {
    holder: LeaseHolder,
    lost: Mutex<HashMap<AccountSid, Stopped>>,
    /// The cancellation of each account's windows in flight, cancelled once it is lost.
    watched: Mutex<HashMap<AccountSid, CancellationToken>>,
}

/// Why a run stopped publishing an account: in every case its remaining windows are
/// skipped, not failed, and its checkpoint is not moved over them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stopped {
    /// Another process took the lease over (this one stalled past its expiry): the account's
    /// remaining days, and its checkpoint, are left to it. The run is incomplete.
    TakenOver,
    /// The account was removed from the registry or purged during the run. The run is
    /// incomplete.
    Removed,
    /// The account was found deauthorized during the run: skipped like one whose 401 the
    /// run met itself, which is not a failure.
    Deauthorized,
}

impl Stopped {
    /// Whether the run is incomplete for it (recorded `incomplete`; `backfill` exits 1).
    pub fn leaves_run_incomplete(self) -> bool {
        !matches!(self, Stopped::Deauthorized)
    }
}

impl fmt::Display for Stopped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Stopped::TakenOver => "its lease was taken over by another process during the run",
            Stopped::Removed => "it was removed from the registry or purged during the run",
            Stopped::Deauthorized => "it was deauthorized during the run and skipped",
        })
    }
}

impl LeaseScope {
    pub fn new(holder: LeaseHolder) -> Self {
        Self {
            holder,
            lost: Mutex::new(HashMap::new()),
            watched: Mutex::new(HashMap::new()),
        }
    }

    /// Cancels `cancel`, the cancellation of `account`'s windows in flight, once the run stops
    /// publishing the account (at once if it has already): a process whose lease was taken
    /// over stops asking Twilio for days the new holder exports.
    pub fn watch(&self, account: &AccountSid, cancel: CancellationToken) {
        let mut watched = self.watched.lock().expect("not poisoned");
        watched.insert(account.clone(), cancel.clone());
        drop(watched);
        // Looked at after the token is in place: a loss in between cancels it either way.
        if self.is_lost(account) {
            cancel.cancel();
        }
    }

    pub fn holder(&self) -> &LeaseHolder {
        &self.holder
    }

    /// Stops publishing `account` for `why`: its remaining windows are skipped, and the first
    /// time (whose reason stays) it is logged, once whoever found it (the check before a
    /// window publishes, or the lease renewal).
    pub fn lose(&self, account: &AccountSid, resource: Resource, why: Stopped) {
        let mut lost = self.lost.lock().expect("not poisoned");
        if lost.contains_key(account) {
            return;
        }
        lost.insert(account.clone(), why);
        drop(lost);
        if let Some(cancel) = self.watched.lock().expect("not poisoned").get(account) {
            cancel.cancel();
        }
        match why {
            Stopped::TakenOver => {
                tracing::warn!(%account, %resource, "Lease taken over by another process; this account's remaining windows are left to it")
            }
            Stopped::Removed => {
                tracing::warn!(%account, %resource, "Account removed from the registry or purged during the run; the rest of it is not published")
            }
            Stopped::Deauthorized => {
                tracing::warn!(%account, %resource, "Account deauthorized during the run; the rest of it is not published")
            }
        }
    }

    pub fn is_lost(&self, account: &AccountSid) -> bool {
        self.why_lost(account).is_some()
    }

    /// Why the run stopped publishing `account`, if it did.
    pub fn why_lost(&self, account: &AccountSid) -> Option<Stopped> {
        self.lost
            .lock()
            .expect("not poisoned")
            .get(account)
            .copied()
    }

    /// Why the run stopped publishing `account`, for its report: an account the run itself
    /// found deauthorized (Twilio refused its credentials) is in `summary` as such, not here.
    pub fn stopped(&self, account: &AccountSid, summary: &Summary) -> Option<Stopped> {
        self.why_lost(account)
            .filter(|why| !(*why == Stopped::Deauthorized && summary.skipped(account)))
    }

    /// Every account [`LeaseScope::stopped`] gives a reason for, by sid.
    pub(super) fn all_stopped(&self, summary: &Summary) -> Vec<(AccountSid, Stopped)> {
        let lost: Vec<AccountSid> = {
            let lost = self.lost.lock().expect("not poisoned");
            lost.keys().cloned().collect()
        };
        let mut stopped: Vec<(AccountSid, Stopped)> = lost
            .into_iter()
            .filter_map(|sid| self.stopped(&sid, summary).map(|why| (sid, why)))
            .collect();
        stopped.sort_by(|a, b| a.0.as_str().cmp(b.0.as_str()));
        stopped
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A lost account's windows in flight are cancelled, whether they started before the loss
    /// or after; another account's are not.
    #[test]
    fn losing_an_account_cancels_its_windows_in_flight() {
        let scope = LeaseScope::new(LeaseHolder::named("this run"));
        let (a, b): (AccountSid, AccountSid) = (
            "AC00000000000000000000000000000001".parse().unwrap(),
            "AC00000000000000000000000000000002".parse().unwrap(),
        );
        let (in_flight, other) = (CancellationToken::new(), CancellationToken::new());
        scope.watch(&a, in_flight.clone());
        scope.watch(&b, other.clone());
        scope.lose(&a, Resource::Calls, Stopped::TakenOver);
        assert!(in_flight.is_cancelled());
        assert!(!other.is_cancelled());

        let later = CancellationToken::new();
        scope.watch(&a, later.clone());
        assert!(later.is_cancelled());
    }
}
