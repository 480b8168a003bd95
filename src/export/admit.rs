//! Which span a run starts next, and when: a window is opened while the API's latency, not
//! the CPU, is what the run waits on.
//!
//! A window reads one chain of pages (each link comes in the page before it), so it keeps at
//! most one request going, and it holds a day's batch, a page body and an open Parquet file
//! while it does. Against Twilio, whose pages take hundreds of milliseconds, windows spend
//! nearly all their time waiting, and it takes `--max-in-flight` of them per account to keep
//! that account's requests going. Against a server that answers at once, a few windows keep
//! the cores busy, and every window more only adds its memory (BENCHMARKS.md, "Windows kept
//! to the cores' worth": on two cores, three or four windows instead of seven to thirteen,
//! with batches kept across days, took 12 % less CPU and two fifths less peak memory).
//!
//! So a new window starts only when every window still fetching is waiting on Twilio (or when
//! fewer than [`MIN_FETCHING`] are fetching), and only while the windows fetching do not, by
//! what they did lately, already keep the cores busy: if windows spent a share `w` of their
//! time waiting lately, `n` of them are busy `n × (1 − w)` on average, and another window
//! starts only while that is below the runtime's worker threads (Little's law: at 200 ms a
//! page and 5 ms of work on it, about 40 windows per worker; at no latency, a few in all).
//!
//! A span starts only if its account fetches with fewer windows than it may have requests in
//! flight (`--max-in-flight`, less what its 429s took): another window could only wait for
//! the account's own slots. The next span is the first in the queue whose account has room.
//! A window counts as fetching, for the run and for its account, from its start until its
//! files are written and synced: publishing and recording them hold no request slot. Writing
//! a day's last batch, its footer and the sync count as busy, which they mostly are (giving
//! the slot up before them let more windows open, for more memory and no less CPU).

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::sync::futures::Notified;
use tokio::sync::OwnedSemaphorePermit;

use super::spans::Span;
use crate::domain::AccountSid;
use crate::fetch::{Lately, NetWaits};

/// Windows fetching at once whatever they wait on: one decodes while the other waits.
pub(super) const MIN_FETCHING: usize = 2;

/// How often a closed gate is looked at again when nothing else happens.
const RECHECK: Duration = Duration::from_millis(50);

/// The run's windows that are fetching, per account, and its requests that wait on Twilio.
#[derive(Debug)]
pub(super) struct Admission {
    waits: NetWaits,
    fetching: Mutex<Fetching>,
    gate: Gate,
}

/// Windows fetching, per account (an account with none has no entry), and in all lately.
#[derive(Debug, Default)]
struct Fetching {
    accounts: HashMap<AccountSid, usize>,
    lately: Lately,
}

impl Admission {
    /// At least `min` windows fetching, and more while fewer than `cores` are busy.
    pub(super) fn new(min: usize, cores: usize) -> Arc<Self> {
        Arc::new(Self {
            waits: NetWaits::default(),
            fetching: Mutex::default(),
            gate: Gate { min, cores },
        })
    }

    fn fetching(&self) -> MutexGuard<'_, Fetching> {
        self.fetching.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether a window of `account`, which may have `allowed` requests in flight, may start:
    /// it fetches with fewer windows than that, or with none (a throttled account still gets
    /// one).
    pub(super) fn has_room(&self, account: &AccountSid, allowed: usize) -> bool {
        let fetching = self.fetching().accounts.get(account).copied();
        fetching.unwrap_or(0) < allowed.max(1)
    }

    /// Whether another window may start now.
    fn is_open(&self) -> bool {
        let now = Instant::now();
        let (fetching, fetched) = {
            let f = self.fetching();
            (f.lately.count(), f.lately.at(now))
        };
        let waited = (fetched > 0.0).then(|| (self.waits.waited(now) / fetched).min(1.0));
        (self.gate).opens(fetching, self.waits.waiting(), waited)
    }

    /// Completes at the next change that may let a window start, once enabled: a request
    /// starting to wait on Twilio, or a window that stops fetching.
    pub(super) fn changed(&self) -> Notified<'_> {
        self.waits.changed()
    }

    /// Returns once another window may start: at once, or at a change that opens the gate,
    /// looked at again every [`RECHECK`] meanwhile (while every window waits, their share of
    /// time spent waiting grows with time alone).
    pub(super) async fn open(&self) {
        loop {
            let changed = self.changed();
            tokio::pin!(changed);
            changed.as_mut().enable();
            if self.is_open() {
                return;
            }
            tokio::select! {
                _ = changed => {}
                _ = tokio::time::sleep(RECHECK) => {}
            }
        }
    }

    /// A window of `account` starts fetching with `permit` (its place under `--concurrency`).
    pub(super) fn fetch_slot(
        self: &Arc<Self>,
        permit: OwnedSemaphorePermit,
        account: AccountSid,
    ) -> FetchSlot {
        {
            let mut f = self.fetching();
            *f.accounts.entry(account.clone()).or_default() += 1;
            f.lately.add(Instant::now(), 1);
        }
        FetchSlot {
            _permit: permit,
            account,
            admission: self.clone(),
        }
    }
}

/// When another window may start.
#[derive(Debug, Clone, Copy)]
struct Gate {
    /// Windows that start whatever they wait on.
    min: usize,
    /// Windows busy at once that keep the cores busy: the runtime's workers (which decode).
    cores: usize,
}

impl Gate {
    /// With `fetching` windows fetching, `waiting` of their requests waiting on Twilio now, and
    /// the share of the windows' time spent waiting lately (`None` before any window ran).
    fn opens(self, fetching: usize, waiting: usize, waited: Option<f64>) -> bool {
        if fetching < self.min {
            return true;
        }
        if waiting < fetching {
            return false;
        }
        let busy = waited.map_or(0.0, |w| fetching as f64 * (1.0 - w));
        busy < self.cores as f64
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
            let mut f = self.admission.fetching();
            if let Some(n) = f.accounts.get_mut(&self.account) {
                *n -= 1;
                if *n == 0 {
                    f.accounts.remove(&self.account);
                }
                f.lately.add(Instant::now(), -1);
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
        let admission = Admission::new(2, 64);
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
    fn windows_start_while_those_fetching_keep_fewer_busy_than_the_cores() {
        let gate = Gate { min: 2, cores: 2 };
        // Below the minimum, whatever they do.
        assert!(gate.opens(1, 0, Some(0.0)));
        // One of them decoding now: no.
        assert!(!gate.opens(3, 2, Some(0.99)));
        // All waiting, nothing measured yet: yes.
        assert!(gate.opens(3, 3, None));
        // Half their time waiting: three are busy 1.5 on average, four 2: the cores' worth.
        assert!(gate.opens(3, 3, Some(0.5)));
        assert!(!gate.opens(4, 4, Some(0.5)));
        // At Twilio's latency (a page 200 ms, its work 4 ms): many more.
        assert!(gate.opens(64, 64, Some(0.98)));
        assert!(!gate.opens(100, 100, Some(0.98)));
    }

    #[tokio::test]
    async fn windows_below_the_minimum_start_whatever_they_wait_on() {
        let admission = Admission::new(2, 64);
        assert!(admission.open().now_or_never().is_some());
        let _one = admission.fetch_slot(permit(), account("a"));
        assert!(admission.open().now_or_never().is_some());
        let _two = admission.fetch_slot(permit(), account("b"));
        assert!(admission.open().now_or_never().is_none(), "two decoding");
    }

    #[tokio::test]
    async fn another_window_starts_once_every_window_waits_on_twilio() {
        let admission = Admission::new(1, 64);
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
