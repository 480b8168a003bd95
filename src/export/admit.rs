//! Which span a run starts next, and when: a window is opened while the API's latency, not
//! the CPU, is what the run waits on.
//!
//! A window reads one chain of pages (each link comes in the page before it), so it keeps at
//! most one request going, and it holds a day's batch, a page body and an open Parquet file
//! while it does. Against Twilio, whose pages take hundreds of milliseconds, windows spend
//! nearly all their time waiting, and it takes `--max-in-flight` of them per account to keep
//! that account's requests going. Against a server that answers at once, two windows keep
//! both cores busy, and every window more only adds its memory (BENCHMARKS.md: half the peak
//! memory and a tenth less CPU with two windows instead of sixteen).
//!
//! So a new window starts only when every window still fetching is waiting on Twilio (or when
//! fewer than [`MIN_FETCHING`] are fetching), and a span starts only if its account fetches
//! with fewer windows than it may have requests in flight (`--max-in-flight`, less what its
//! 429s took): another window could only wait for the account's own slots. The next span is
//! the first in the queue whose account has room. A window counts as fetching, for the run and
//! for its account, from its start until it has read its last page: finishing, publishing and
//! recording its files hold no request slot.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use tokio::sync::futures::Notified;
use tokio::sync::OwnedSemaphorePermit;

use super::spans::Span;
use crate::domain::AccountSid;
use crate::fetch::NetWaits;

/// Windows fetching at once whatever they wait on: one decodes while the other waits.
pub(super) const MIN_FETCHING: usize = 2;

/// The run's windows that are fetching, per account, and its requests that wait on Twilio.
#[derive(Debug)]
pub(super) struct Admission {
    waits: NetWaits,
    fetching: Mutex<Fetching>,
    min: usize,
}

/// Windows fetching, per account (an account with none has no entry).
type Fetching = HashMap<AccountSid, usize>;

impl Admission {
    pub(super) fn new(min: usize) -> Arc<Self> {
        Arc::new(Self {
            waits: NetWaits::default(),
            fetching: Mutex::default(),
            min,
        })
    }

    fn fetching(&self) -> std::sync::MutexGuard<'_, Fetching> {
        self.fetching.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether a window of `account`, which may have `allowed` requests in flight, may start:
    /// it fetches with fewer windows than that, or with none (a throttled account still gets
    /// one).
    pub(super) fn has_room(&self, account: &AccountSid, allowed: usize) -> bool {
        let fetching = self.fetching().get(account).copied();
        fetching.unwrap_or(0) < allowed.max(1)
    }

    /// Whether another window may start now.
    fn is_open(&self) -> bool {
        let fetching: usize = self.fetching().values().sum();
        fetching < self.min || self.waits.waiting() >= fetching
    }

    /// Completes at the next change that may let a window start, once enabled: a request
    /// starting to wait on Twilio, or a window that stops fetching.
    pub(super) fn changed(&self) -> Notified<'_> {
        self.waits.changed()
    }

    /// Returns once another window may start: at once, or at a change that opens the gate.
    pub(super) async fn open(&self) {
        loop {
            let changed = self.changed();
            tokio::pin!(changed);
            changed.as_mut().enable();
            if self.is_open() {
                return;
            }
            changed.await;
        }
    }

    /// A window of `account` starts fetching with `permit` (its place under `--concurrency`).
    pub(super) fn fetch_slot(
        self: &Arc<Self>,
        permit: OwnedSemaphorePermit,
        account: AccountSid,
    ) -> FetchSlot {
        *self.fetching().entry(account.clone()).or_default() += 1;
        FetchSlot {
            _permit: permit,
            account,
            admission: self.clone(),
        }
    }
}

/// Held by a window while it fetches; dropping it lets another window start.
#[derive(Debug)]
pub(super) struct FetchSlot {
    _permit: OwnedSemaphorePermit,
    account: AccountSid,
    admission: Arc<Admission>,
}

impl FetchSlot {
    /// Where the window's requests count their waits on Twilio.
    pub(super) fn waits(&self) -> &NetWaits {
        &self.admission.waits
    }
}

impl Drop for FetchSlot {
    fn drop(&mut self) {
        {
            let mut fetching = self.admission.fetching();
            if let Some(n) = fetching.get_mut(&self.account) {
                *n -= 1;
                if *n == 0 {
                    fetching.remove(&self.account);
                }
            }
        }
        self.admission.waits.wake();
    }
}

/// The spans of a run not yet started.
pub(super) struct Queue {
    spans: VecDeque<Span>,
}

impl Queue {
    /// `spans` in the order they are to start.
    pub(super) fn new(spans: Vec<Span>) -> Self {
        Self {
            spans: spans.into(),
        }
    }

    /// The first span whose account `has_room`, asked once per account: the spans before it
    /// are those of accounts without room, which are few (they fetch), however long the queue.
    pub(super) fn next(&mut self, has_room: impl Fn(&AccountSid) -> bool) -> Option<Span> {
        let mut full: Vec<&AccountSid> = Vec::new();
        let at = self.spans.iter().position(|s| {
            let account = &s.first().key.account;
            if full.contains(&account) {
                return false;
            }
            let room = has_room(account);
            if !room {
                full.push(account);
            }
            room
        })?;
        self.spans.remove(at)
    }

    /// Puts `span` first, to start before the others.
    pub(super) fn push_front(&mut self, span: Span) {
        self.spans.push_front(span);
    }

    pub(super) fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::super::{spans, Window};
    use super::*;
    use crate::domain::{PartitionKey, Resource};
    use chrono::{Datelike, NaiveDate};
    use futures::FutureExt;
    use tokio::sync::Semaphore;

    fn span(account: &str, day: u32) -> Span {
        let account = AccountSid::parse(&format!("AC{account:0>32}")).unwrap();
        let day = NaiveDate::from_ymd_opt(2026, 3, day).unwrap();
        let window = Window {
            key: PartitionKey {
                resource: Resource::Calls,
                account: account.clone(),
                day,
            },
            credential: account,
            page_size: 1000,
        };
        spans::plan(vec![window], |_| spans::Known::Dense).remove(0)
    }

    fn days(spans: &[Span]) -> Vec<(char, u32)> {
        let id = |s: &Span| s.first().key.account.as_str().chars().last().unwrap();
        spans
            .iter()
            .map(|s| (id(s), s.first().key.day.day()))
            .collect()
    }

    fn account(id: &str) -> AccountSid {
        span(id, 1).first().key.account.clone()
    }

    #[test]
    fn the_next_span_is_the_first_whose_account_has_room() {
        let mut queue = Queue::new(vec![span("a", 1), span("b", 1), span("a", 2)]);
        let not_b = |a: &AccountSid| *a != account("b");
        assert_eq!(days(&[queue.next(not_b).unwrap()]), [('a', 1)]);
        assert_eq!(days(&[queue.next(not_b).unwrap()]), [('a', 2)]);
        assert!(queue.next(not_b).is_none());
        assert!(!queue.is_empty());
        assert_eq!(days(&[queue.next(|_| true).unwrap()]), [('b', 1)]);
        assert!(queue.is_empty());
    }

    #[test]
    fn each_account_is_asked_for_room_once_per_pick() {
        let mut queue = Queue::new((1..=28).map(|d| span("a", d)).collect());
        queue.push_front(span("b", 1));
        let asked = std::cell::Cell::new(0);
        let none = |_: &AccountSid| {
            asked.set(asked.get() + 1);
            false
        };
        assert!(queue.next(none).is_none());
        assert_eq!(asked.get(), 2);
    }

    #[test]
    fn a_span_put_first_starts_first() {
        let mut queue = Queue::new(vec![span("a", 1)]);
        queue.push_front(span("b", 2));
        assert_eq!(days(&[queue.next(|_| true).unwrap()]), [('b', 2)]);
    }

    fn permit() -> OwnedSemaphorePermit {
        Arc::new(Semaphore::new(1)).try_acquire_owned().unwrap()
    }

    #[test]
    fn an_account_has_room_until_it_fetches_with_as_many_windows_as_it_may_send_requests() {
        let admission = Admission::new(2);
        let (a, b) = (account("a"), account("b"));
        let first = admission.fetch_slot(permit(), a.clone());
        assert!(admission.has_room(&a, 2));
        let second = admission.fetch_slot(permit(), a.clone());
        assert!(!admission.has_room(&a, 2));
        assert!(
            admission.has_room(&b, 2),
            "another account is not held back"
        );
        // Throttled to one request, or none left: still no more windows while one fetches,
        // and one once none does.
        drop(second);
        assert!(!admission.has_room(&a, 0));
        let changed = admission.changed();
        tokio::pin!(changed);
        changed.as_mut().enable();
        drop(first);
        assert!(
            changed.now_or_never().is_some(),
            "a window stopping wakes the run"
        );
        assert!(admission.has_room(&a, 0));
    }

    #[test]
    fn windows_below_the_minimum_start_whatever_they_wait_on() {
        let admission = Admission::new(2);
        assert!(admission.open().now_or_never().is_some());
        let _one = admission.fetch_slot(permit(), account("a"));
        assert!(admission.open().now_or_never().is_some());
        let _two = admission.fetch_slot(permit(), account("b"));
        assert!(admission.open().now_or_never().is_none(), "two decoding");
    }

    #[test]
    fn another_window_starts_once_every_window_waits_on_twilio() {
        let admission = Admission::new(1);
        let slot = admission.fetch_slot(permit(), account("a"));
        let open = admission.open();
        tokio::pin!(open);
        assert!(
            open.as_mut().now_or_never().is_none(),
            "one window decoding"
        );
        let waiting = slot.waits().enter();
        assert!(open.now_or_never().is_some());
        drop(waiting);
        let second = admission.fetch_slot(permit(), account("b"));
        let waiting = slot.waits().enter();
        assert!(
            admission.open().now_or_never().is_none(),
            "one of two windows waits on Twilio"
        );
        drop(waiting);
        drop(second);
        assert!(admission.open().now_or_never().is_none());
        let open = admission.open();
        tokio::pin!(open);
        assert!(open.as_mut().now_or_never().is_none());
        drop(slot);
        assert!(open.now_or_never().is_some(), "no window left fetching");
    }
}
