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
//! fewer than [`MIN_FETCHING`] are fetching), and never for an account that already has as
//! many windows as requests allowed in flight (`--max-in-flight`, less what its 429s took):
//! such a window could only wait for the account's own slots, and would hold back the windows
//! of other accounts meanwhile. The next span is the first in the queue whose account has room.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use tokio::sync::OwnedSemaphorePermit;

use super::spans::Span;
use crate::domain::AccountSid;
use crate::fetch::NetWaits;

/// Windows fetching at once whatever they wait on: one decodes while the other waits.
pub(super) const MIN_FETCHING: usize = 2;

/// The run's windows that are fetching, and its requests that wait on Twilio.
#[derive(Debug)]
pub(super) struct Admission {
    waits: NetWaits,
    fetching: AtomicUsize,
    min: usize,
}

impl Admission {
    pub(super) fn new(min: usize) -> Arc<Self> {
        Arc::new(Self {
            waits: NetWaits::default(),
            fetching: AtomicUsize::new(0),
            min,
        })
    }

    /// Whether another window may start now.
    fn is_open(&self) -> bool {
        let fetching = self.fetching.load(Ordering::SeqCst);
        fetching < self.min || self.waits.waiting() >= fetching
    }

    /// Returns once another window may start: at once, or when a window starts waiting on
    /// Twilio or stops fetching.
    pub(super) async fn open(&self) {
        loop {
            let changed = self.waits.changed();
            tokio::pin!(changed);
            changed.as_mut().enable();
            if self.is_open() {
                return;
            }
            changed.await;
        }
    }

    /// A window starts fetching with `permit` (its place under `--concurrency`).
    pub(super) fn fetch_slot(self: &Arc<Self>, permit: OwnedSemaphorePermit) -> FetchSlot {
        self.fetching.fetch_add(1, Ordering::SeqCst);
        FetchSlot {
            _permit: permit,
            admission: self.clone(),
        }
    }
}

/// Held by a window while it fetches; dropping it lets another window start.
#[derive(Debug)]
pub(super) struct FetchSlot {
    _permit: OwnedSemaphorePermit,
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
        self.admission.fetching.fetch_sub(1, Ordering::SeqCst);
        self.admission.waits.wake();
    }
}

/// The spans of a run not yet started, and each account's windows running.
pub(super) struct Queue {
    spans: VecDeque<Span>,
    running: HashMap<AccountSid, usize>,
}

impl Queue {
    /// `spans` in the order they are to start.
    pub(super) fn new(spans: Vec<Span>) -> Self {
        Self {
            spans: spans.into(),
            running: HashMap::new(),
        }
    }

    /// The first span whose account runs fewer windows than `room` allows it (at least one),
    /// counted as running until [`Queue::ended`].
    pub(super) fn next(&mut self, room: impl Fn(&AccountSid) -> usize) -> Option<Span> {
        let at = self.spans.iter().position(|s| {
            let account = &s.first().key.account;
            let running = self.running.get(account).copied().unwrap_or(0);
            running < room(account).max(1)
        })?;
        let span = self.spans.remove(at)?;
        *self
            .running
            .entry(span.first().key.account.clone())
            .or_default() += 1;
        Some(span)
    }

    /// A span that [`Queue::next`] gave has ended.
    pub(super) fn ended(&mut self, span: &Span) {
        let account = &span.first().key.account;
        if let Some(n) = self.running.get_mut(account) {
            *n -= 1;
            if *n == 0 {
                self.running.remove(account);
            }
        }
    }

    /// Puts `span` first, to start before the others.
    pub(super) fn push_front(&mut self, span: Span) {
        self.spans.push_front(span);
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

    #[test]
    fn the_next_span_is_the_first_whose_account_has_room() {
        let two = |_: &AccountSid| 2;
        let mut queue = Queue::new(vec![span("a", 1), span("a", 2), span("a", 3), span("b", 1)]);
        let first = queue.next(two).unwrap();
        let second = queue.next(two).unwrap();
        let third = queue.next(two).unwrap();
        assert_eq!(
            days(&[first, second.clone(), third]),
            [('a', 1), ('a', 2), ('b', 1)]
        );
        assert!(
            queue.next(two).is_none(),
            "a has two running and b none left"
        );
        queue.ended(&second);
        assert_eq!(days(&[queue.next(two).unwrap()]), [('a', 3)]);
        assert!(queue.next(two).is_none());
    }

    #[test]
    fn an_account_throttled_to_fewer_slots_gets_fewer_windows_but_always_one() {
        let a = span("a", 1).first().key.account.clone();
        let room = |account: &AccountSid| if *account == a { 0 } else { 4 };
        let mut queue = Queue::new(vec![span("a", 1), span("a", 2), span("b", 1)]);
        let started: Vec<Span> = std::iter::from_fn(|| queue.next(room)).collect();
        assert_eq!(days(&started), [('a', 1), ('b', 1)]);
    }

    #[test]
    fn a_span_put_first_starts_first() {
        let mut queue = Queue::new(vec![span("a", 1)]);
        queue.push_front(span("b", 2));
        assert_eq!(days(&[queue.next(|_| 4).unwrap()]), [('b', 2)]);
    }

    fn permit() -> OwnedSemaphorePermit {
        Arc::new(Semaphore::new(1)).try_acquire_owned().unwrap()
    }

    #[test]
    fn windows_below_the_minimum_start_whatever_they_wait_on() {
        let admission = Admission::new(2);
        assert!(admission.open().now_or_never().is_some());
        let _one = admission.fetch_slot(permit());
        assert!(admission.open().now_or_never().is_some());
        let _two = admission.fetch_slot(permit());
        assert!(admission.open().now_or_never().is_none(), "two decoding");
    }

    #[test]
    fn another_window_starts_once_every_window_waits_on_twilio() {
        let admission = Admission::new(1);
        let slot = admission.fetch_slot(permit());
        let open = admission.open();
        tokio::pin!(open);
        assert!(
            open.as_mut().now_or_never().is_none(),
            "one window decoding"
        );
        let waiting = slot.waits().enter();
        assert!(open.now_or_never().is_some());
        drop(waiting);
        let second = admission.fetch_slot(permit());
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
