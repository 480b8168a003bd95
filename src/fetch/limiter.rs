//! Request quotas: a rate per account, a cap on requests in flight per account, and an
//! optional global rate. Every request passes [`Quotas::acquire`] first, whatever job or
//! resource issues it, so that jobs hitting the same account share one budget
//! (`docs/twilio-api.md` §6: Twilio limits concurrent requests per account).
//!
//! The in-flight cap adapts: each 429 takes one slot away from that account (down to one),
//! and every [`RECOVER_AFTER`] successful requests in a row give one back (up to the
//! configured cap). Rates never adapt upward past what is configured.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::ops::RangeInclusive;
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use governor::clock::DefaultClock;
use governor::state::keyed::DefaultKeyedStateStore;
use governor::state::{InMemoryState, NotKeyed};
use governor::{Quota, RateLimiter};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::domain::AccountSid;

/// Default per-account request rate. Twilio limits concurrency, not rate, and does not publish
/// the number; 25/s at 4 in flight stays far below it.
pub const DEFAULT_RATE_LIMIT: u32 = 25;
/// Default per-account requests in flight (4-8 is the usual advice for Twilio).
pub const DEFAULT_MAX_IN_FLIGHT: u32 = 4;
/// Default time one request may spend waiting out 429s: generous, since a 429 was not
/// processed and waiting costs nothing but time.
pub const DEFAULT_RETRY_BUDGET: Duration = Duration::from_secs(600);

/// Requests per second (`--rate-limit`, `--global-rate-limit`): far above anything Twilio
/// accepts, and low enough that the spacing between requests stays a positive time.
pub const RATE_LIMITS: RangeInclusive<u32> = 1..=10_000;
/// Requests in flight per account (`--max-in-flight`).
pub const MAX_IN_FLIGHT: RangeInclusive<u32> = 1..=1_000;
/// Seconds of waiting out 429s per request (`--retry-budget`): up to a day.
pub const RETRY_BUDGETS: RangeInclusive<u32> = 1..=86_400;

/// Request quotas (applied per account, and one global), and how long one request may wait
/// out 429s.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    pub rate_limit: u32,
    pub max_in_flight: u32,
    pub global_rate_limit: Option<u32>,
    /// Time one request may spend waiting out 429s.
    pub retry_budget: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            rate_limit: DEFAULT_RATE_LIMIT,
            max_in_flight: DEFAULT_MAX_IN_FLIGHT,
            global_rate_limit: None,
            retry_budget: DEFAULT_RETRY_BUDGET,
        }
    }
}

/// Successful requests in a row after which a throttled account gets one slot back.
pub const RECOVER_AFTER: u32 = 50;

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
    gates: Mutex<HashMap<AccountSid, Arc<Gate>>>,
    max_in_flight: usize,
}

/// One account's in-flight slots.
struct Gate {
    slots: Arc<Semaphore>,
    /// Slots currently allowed (≤ the configured cap).
    allowed: AtomicUsize,
    /// Slots to withdraw as soon as requests holding them finish.
    owed: AtomicUsize,
    successes: AtomicU32,
}

/// Held while a request is in flight.
pub struct Permit {
    slot: Option<OwnedSemaphorePermit>,
    gate: Arc<Gate>,
}

impl Drop for Permit {
    fn drop(&mut self) {
        let owed = self
            .gate
            .owed
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| n.checked_sub(1));
        if let (Ok(_), Some(slot)) = (owed, self.slot.take()) {
            slot.forget();
        }
    }
}

/// A quota that never allows more than `n` requests in any one-second window: a burst of
/// one, so requests are spaced evenly instead of bunched at the start of each second, and a
/// spacing 5 % wider than `1/n` so that network jitter cannot make the server count `n + 1`.
fn quota(n: u32) -> Quota {
    let spacing = Duration::from_secs(1).mul_f64(1.05) / n.max(1);
    Quota::with_period(spacing)
        .expect("a positive period")
        .allow_burst(NonZeroU32::MIN)
}

impl Quotas {
    pub fn new(limits: Limits) -> Self {
        Self {
            inner: Arc::new(Inner {
                per_account: RateLimiter::keyed(quota(limits.rate_limit)),
                global: limits
                    .global_rate_limit
                    .map(|n| RateLimiter::direct(quota(n))),
                gates: Mutex::new(HashMap::new()),
                max_in_flight: limits.max_in_flight.max(1) as usize,
            }),
        }
    }

    /// Requests of `account` allowed in flight now: the configured cap, less what its 429s
    /// took back.
    pub fn allowed(&self, account: &AccountSid) -> usize {
        let map = self.inner.gates.lock().expect("not poisoned");
        map.get(account).map_or(self.inner.max_in_flight, |g| {
            g.allowed.load(Ordering::Acquire)
        })
    }

    fn gate(&self, account: &AccountSid) -> Arc<Gate> {
        let mut map = self.inner.gates.lock().expect("not poisoned");
        map.entry(account.clone())
            .or_insert_with(|| {
                Arc::new(Gate {
                    slots: Arc::new(Semaphore::new(self.inner.max_in_flight)),
                    allowed: AtomicUsize::new(self.inner.max_in_flight),
                    owed: AtomicUsize::new(0),
                    successes: AtomicU32::new(0),
                })
            })
            .clone()
    }

    /// Waits for a slot in the account's in-flight cap, then for both rates.
    pub async fn acquire(&self, account: &AccountSid) -> Permit {
        let gate = self.gate(account);
        let slot = gate
            .slots
            .clone()
            .acquire_owned()
            .await
            .expect("never closed");
        self.inner.per_account.until_key_ready(account).await;
        if let Some(global) = &self.inner.global {
            global.until_ready().await;
        }
        Permit {
            slot: Some(slot),
            gate,
        }
    }

    /// Twilio answered 429 for this account: allow one request fewer in flight.
    pub fn throttled(&self, account: &AccountSid) {
        let gate = self.gate(account);
        gate.successes.store(0, Ordering::Release);
        let shrunk = gate
            .allowed
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n > 1).then(|| n - 1)
            })
            .is_ok();
        if shrunk && gate.slots.forget_permits(1) == 0 {
            gate.owed.fetch_add(1, Ordering::AcqRel);
        }
    }

    /// A request succeeded: after enough in a row, give a withdrawn slot back.
    pub fn succeeded(&self, account: &AccountSid) {
        let gate = self.gate(account);
        if gate.allowed.load(Ordering::Acquire) >= self.inner.max_in_flight {
            return;
        }
        if gate.successes.fetch_add(1, Ordering::AcqRel) + 1 < RECOVER_AFTER {
            return;
        }
        gate.successes.store(0, Ordering::Release);
        let max = self.inner.max_in_flight;
        if gate
            .allowed
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < max).then(|| n + 1)
            })
            .is_ok()
        {
            // Cancel a withdrawal still pending before adding a new slot.
            let paid = gate
                .owed
                .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| n.checked_sub(1))
                .is_ok();
            if !paid {
                gate.slots.add_permits(1);
            }
        }
    }

    /// Requests currently allowed in flight for `account` (for logs and tests).
    pub fn allowed_in_flight(&self, account: &AccountSid) -> usize {
        self.gate(account).allowed.load(Ordering::Acquire)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sid() -> AccountSid {
        AccountSid::parse("AC3f9c2b7e8d1a4c5f9e0b6a7d2c1e4f80").unwrap()
    }

    fn quotas(max_in_flight: u32) -> Quotas {
        Quotas::new(Limits {
            rate_limit: 1000,
            max_in_flight,
            ..Limits::default()
        })
    }

    #[tokio::test]
    async fn throttling_shrinks_the_cap_and_successes_restore_it() {
        let q = quotas(4);
        let a = sid();
        for _ in 0..10 {
            q.throttled(&a);
        }
        assert_eq!(q.allowed_in_flight(&a), 1);
        // Only one request fits now.
        let first = q.acquire(&a).await;
        let second =
            tokio::time::timeout(std::time::Duration::from_millis(50), q.acquire(&a)).await;
        assert!(second.is_err(), "a second request must wait");
        drop(first);
        for _ in 0..RECOVER_AFTER {
            q.succeeded(&a);
        }
        assert_eq!(q.allowed_in_flight(&a), 2);
        let _p1 = q.acquire(&a).await;
        let _p2 = q.acquire(&a).await;
    }

    #[tokio::test]
    async fn a_slot_in_use_is_withdrawn_when_it_is_returned() {
        let q = quotas(2);
        let a = sid();
        let p1 = q.acquire(&a).await;
        let p2 = q.acquire(&a).await;
        q.throttled(&a);
        drop(p1);
        drop(p2);
        let _held = q.acquire(&a).await;
        let more = tokio::time::timeout(std::time::Duration::from_millis(50), q.acquire(&a)).await;
        assert!(more.is_err(), "only one slot is left");
    }
}
