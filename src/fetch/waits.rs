//! [`NetWaits`]: how many of a run's requests are waiting on Twilio right now, for the
//! scheduler to tell a run bound by the API's latency (open more windows) from one bound by
//! the CPU (more windows only hold more memory).

use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::futures::Notified;
use tokio::sync::Notify;

/// Requests waiting on Twilio: for a slot of the account's in-flight cap and for the rates,
/// for the answer until its whole body is in, and before a retry (a 429's `Retry-After`, a
/// fault's back-off). Decoding a page is not waiting: the time a run's requests spend in
/// these waits is what other windows can use.
#[derive(Debug, Default)]
pub struct NetWaits {
    waiting: AtomicUsize,
    changed: Notify,
}

impl NetWaits {
    /// A request starts waiting until the guard is dropped; wakes whoever awaits
    /// [`NetWaits::changed`].
    pub fn enter(&self) -> NetWait<'_> {
        self.waiting.fetch_add(1, Ordering::SeqCst);
        self.changed.notify_waiters();
        NetWait(self)
    }

    /// Requests waiting now.
    pub fn waiting(&self) -> usize {
        self.waiting.load(Ordering::SeqCst)
    }

    /// Completes at the next [`NetWaits::enter`] or [`NetWaits::wake`] after it is enabled.
    pub fn changed(&self) -> Notified<'_> {
        self.changed.notified()
    }

    /// Wakes whoever awaits [`NetWaits::changed`] (something else they wait on changed).
    pub fn wake(&self) {
        self.changed.notify_waiters();
    }
}

/// A request waiting on Twilio; see [`NetWaits::enter`].
#[must_use]
pub struct NetWait<'a>(&'a NetWaits);

impl Drop for NetWait<'_> {
    fn drop(&mut self) {
        self.0.waiting.fetch_sub(1, Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::FutureExt;

    #[test]
    fn a_wait_is_counted_while_its_guard_lives() {
        let waits = NetWaits::default();
        let a = waits.enter();
        let b = waits.enter();
        assert_eq!(waits.waiting(), 2);
        drop(a);
        assert_eq!(waits.waiting(), 1);
        drop(b);
        assert_eq!(waits.waiting(), 0);
    }

    #[test]
    fn entering_or_waking_completes_an_enabled_change() {
        let waits = NetWaits::default();
        for wake in [true, false] {
            let changed = waits.changed();
            tokio::pin!(changed);
            changed.as_mut().enable();
            assert!(changed.as_mut().now_or_never().is_none());
            let _guard = (!wake).then(|| waits.enter());
            if wake {
                waits.wake();
            }
            assert!(changed.now_or_never().is_some());
        }
    }
}
