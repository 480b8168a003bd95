//! Where lease expiry reads the time.
//!
//! Leases coordinate real processes, so their expiry is the wall clock of the processes that
//! share the database, never a planning `now`. A [`LeaseClock`] is that wall clock, shifted by
//! whatever [`LeaseClock::advance`] added: commands never advance it; tests do, so that a lease
//! expires without anyone waiting for it.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};

/// The system clock plus a shift that only grows. Clones share the shift.
#[derive(Clone, Debug, Default)]
pub struct LeaseClock {
    shift_ms: Arc<AtomicI64>,
}

impl LeaseClock {
    /// The system clock, unshifted.
    pub fn system() -> Self {
        Self::default()
    }

    pub fn now(&self) -> DateTime<Utc> {
        let shifted = Utc::now().checked_add_signed(TimeDelta::milliseconds(
            self.shift_ms.load(Ordering::Relaxed),
        ));
        shifted.unwrap_or(DateTime::<Utc>::MAX_UTC)
    }

    /// Moves this clock (and its clones) `by` ahead of the system clock's flow.
    pub fn advance(&self, by: Duration) {
        let ms = i64::try_from(by.as_millis()).unwrap_or(i64::MAX);
        self.shift_ms
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |s| {
                Some(s.saturating_add(ms))
            })
            .ok();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_advanced_clock_reads_later_and_its_clones_with_it() {
        let clock = LeaseClock::system();
        let clone = clock.clone();
        let before = Utc::now();
        clock.advance(Duration::from_secs(3600));
        assert!(clone.now() >= before + TimeDelta::hours(1));
        assert!(LeaseClock::system().now() < before + TimeDelta::minutes(30));
    }
}
