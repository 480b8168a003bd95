//! Request quotas: a rate per account, a cap on requests in flight per account, and an
//! optional global rate. Every request passes [`Quotas::acquire`] first, whatever job or
//! resource issues it, so that jobs hitting the same account share one budget
//! (`shared/twilio/README.md` §6: Twilio limits concurrent requests per account).

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};

use governor::clock::DefaultClock;
use governor::state::keyed::DefaultKeyedStateStore;
use governor::state::{InMemoryState, NotKeyed};
use governor::{Quota, RateLimiter};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::config::Limits;
use crate::domain::AccountSid;

type Keyed = RateLimiter<AccountSid, DefaultKeyedStateStore<AccountSid>, DefaultClock>;
type Direct = RateLimiter<NotKeyed, InMemoryState, DefaultClock>;

/// Shared quotas; cheap to clone.
#[derive(Clone)]
pub struct Quotas {
    inner: Arc<Inner>,
}

struct Inner {
    per_account: Keyed,
    global: Option<Direct>,
    in_flight: Mutex<HashMap<AccountSid, Arc<Semaphore>>>,
    max_in_flight: usize,
}

/// Held while a request is in flight.
pub struct Permit {
    _slot: OwnedSemaphorePermit,
}

/// A quota that never allows more than `n` requests in any one-second window: a burst of
/// one, so the requests are spaced evenly instead of bunched at the start of each second.
fn quota(n: u32) -> Quota {
    let n = NonZeroU32::new(n.max(1)).expect("at least 1");
    Quota::per_second(n).allow_burst(NonZeroU32::MIN)
}

impl Quotas {
    pub fn new(limits: Limits) -> Self {
        Self {
            inner: Arc::new(Inner {
                per_account: RateLimiter::keyed(quota(limits.rate_limit)),
                global: limits
                    .global_rate_limit
                    .map(|n| RateLimiter::direct(quota(n))),
                in_flight: Mutex::new(HashMap::new()),
                max_in_flight: limits.max_in_flight.max(1) as usize,
            }),
        }
    }

    /// Waits for a slot in the account's in-flight cap, then for both rates.
    pub async fn acquire(&self, account: &AccountSid) -> Permit {
        let sem = {
            let mut map = self.inner.in_flight.lock().expect("not poisoned");
            map.entry(account.clone())
                .or_insert_with(|| Arc::new(Semaphore::new(self.inner.max_in_flight)))
                .clone()
        };
        let slot = sem.acquire_owned().await.expect("never closed");
        self.inner.per_account.until_key_ready(account).await;
        if let Some(global) = &self.inner.global {
            global.until_ready().await;
        }
        Permit { _slot: slot }
    }
}
