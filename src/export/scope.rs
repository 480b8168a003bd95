//! The leases a run's windows are exported under, and the accounts whose lease was lost.

use std::collections::HashSet;
use std::sync::Mutex;

use crate::domain::AccountSid;
use crate::registry::LeaseHolder;

/// The leases a run's windows are exported under (see [`Exporter::run_leased`]).
pub struct LeaseScope {
    holder: LeaseHolder,
    lost: Mutex<HashSet<AccountSid>>,
}

impl LeaseScope {
    pub fn new(holder: LeaseHolder) -> Self {
        Self {
            holder,
            lost: Mutex::new(HashSet::new()),
        }
    }

    pub fn holder(&self) -> &LeaseHolder {
        &self.holder
    }

    /// Marks `account`'s lease lost: its remaining windows are skipped. True the first time.
    pub fn lose(&self, account: &AccountSid) -> bool {
        self.lost
            .lock()
            .expect("not poisoned")
            .insert(account.clone())
    }

    pub fn is_lost(&self, account: &AccountSid) -> bool {
        self.lost.lock().expect("not poisoned").contains(account)
    }
}
