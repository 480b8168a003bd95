//! [`NetWaits`]: how many of a run's requests are waiting on Twilio right now, and how much
//! they waited lately, for the scheduler to tell a run bound by the API's latency (open more
//! windows) from one bound by the CPU (more windows only hold more memory).

use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::sync::futures::Notified;
use tokio::sync::Notify;

/// Requests waiting on Twilio: for a slot of the account's in-flight cap and for the rates,
/// for the answer until its whole body is in, and before a retry (a 429's `Retry-After`, a
/// fault's back-off). Decoding a page is not waiting: the time a run's requests spend in
/// these waits is what other windows can use.
#[derive(Debug, Default)]
pub struct NetWaits {
    waiting: Mutex<Lately>,
    changed: Notify,
}

impl NetWaits {
    fn lock(&self) -> MutexGuard<'_, Lately> {
        self.waiting.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A request starts waiting until the guard is dropped; wakes whoever awaits
    /// [`NetWaits::changed`].
    pub fn enter(&self) -> NetWait<'_> {
        self.lock().add(Instant::now(), 1);
        self.changed.notify_waiters();
        NetWait(self)
    }

    /// Requests waiting now.
    pub fn waiting(&self) -> usize {
        self.lock().count()
    }

    /// Requests waiting lately, as of `now` ([`Lately::at`]).
    pub fn waited(&self, now: Instant) -> f64 {
        self.lock().at(now)
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
        self.0.lock().add(Instant::now(), -1);
    }
}

/// A count (of requests waiting, of windows fetching) and how much of it there was lately:
/// its integral over time, each moment weighted by `exp(-age / LATELY)`, so the last
/// [`LATELY`] or so count most. Two of them read at the same instant give the share of the
/// one in the other, e.g. of the windows' time spent waiting.
#[derive(Debug, Clone, Copy)]
pub struct Lately {
    /// When `count` last changed, and the integral up to then.
    since: Instant,
    count: usize,
    integral: f64,
}

/// How far back [`Lately`] looks: several pages' round trips at Twilio's latency, a few
/// hundred pages at none.
pub const LATELY: Duration = Duration::from_millis(500);

impl Default for Lately {
    fn default() -> Self {
        Self {
            since: Instant::now(),
            count: 0,
            integral: 0.0,
        }
    }
}

impl Lately {
    pub fn count(&self) -> usize {
        self.count
    }

    /// The count changes by `delta` at `now`.
    pub fn add(&mut self, now: Instant, delta: isize) {
        self.integral = self.at(now);
        self.since = now;
        self.count = self.count.saturating_add_signed(delta);
    }

    /// The weighted integral as of `now` (count × seconds).
    pub fn at(&self, now: Instant) -> f64 {
        let age = now.saturating_duration_since(self.since).as_secs_f64();
        let tau = LATELY.as_secs_f64();
        let kept = (-age / tau).exp();
        self.integral * kept + self.count as f64 * tau * (1.0 - kept)
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
    fn lately_weighs_the_recent_past_most() {
        let t0 = Instant::now();
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        let mut waiting = Lately::default();
        waiting.add(t0, 0);
        assert_eq!(waiting.at(at(100)), 0.0);
        // One waiting for a time constant: 1 − 1/e of one time constant.
        waiting.add(at(0), 1);
        let tau = LATELY.as_secs_f64();
        let one = waiting.at(t0 + LATELY);
        assert!((one - tau * (1.0 - (-1.0f64).exp())).abs() < 1e-9, "{one}");
        // Two windows over the same time hold twice as much: the share is a half.
        let mut fetching = Lately::default();
        fetching.add(t0, 2);
        let share = waiting.at(t0 + LATELY) / fetching.at(t0 + LATELY);
        assert!((share - 0.5).abs() < 1e-9, "{share}");
        // What was long ago fades: after the wait ends, its weight decays.
        waiting.add(t0 + LATELY, -1);
        assert_eq!(waiting.count(), 0);
        assert!(waiting.at(t0 + LATELY * 3) < one * 0.2);
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
