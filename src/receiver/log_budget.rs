//! Log lines that any client can cause at will: an authorization "declined on Twilio" (anyone
//! can open the Authorize URL with `error=`), a callback without a valid signature, a replay of
//! a recorded one. At most [`PER_MINUTE`] lines a minute of each kind are logged; the rest are
//! counted and the count is given with the next line, so a flood cannot fill the log (every
//! request stays counted in `/metrics`).

use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::LazyLock;

use governor::clock::DefaultClock;
use governor::state::{InMemoryState, NotKeyed};
use governor::{Quota, RateLimiter};

/// Lines of one kind logged a minute, at most (all at once at first).
pub(super) const PER_MINUTE: u32 = 10;

/// The budget of one kind of line.
pub(super) struct LogBudget {
    limiter: RateLimiter<NotKeyed, InMemoryState, DefaultClock>,
    left_out: AtomicU64,
}

impl LogBudget {
    fn new() -> Self {
        let per_minute = NonZeroU32::new(PER_MINUTE).expect("PER_MINUTE is not 0");
        LogBudget {
            limiter: RateLimiter::direct(Quota::per_minute(per_minute)),
            left_out: AtomicU64::new(0),
        }
    }

    /// `Some(n)` if a line may be logged now, `n` lines having been left out since the last
    /// one; `None` if this one is left out (and counted).
    pub(super) fn take(&self) -> Option<u64> {
        if self.limiter.check().is_ok() {
            Some(self.left_out.swap(0, Ordering::Relaxed))
        } else {
            self.left_out.fetch_add(1, Ordering::Relaxed);
            None
        }
    }
}

/// Authorizations declined on Twilio (`error=` on the Authorize URL).
pub(super) static DECLINED: LazyLock<LogBudget> = LazyLock::new(LogBudget::new);
/// Callbacks refused for their signature or their app.
pub(super) static UNSIGNED: LazyLock<LogBudget> = LazyLock::new(LogBudget::new);
/// Signed callbacks for a grant Twilio confirmed live moments ago (replays).
pub(super) static REPLAYED: LazyLock<LogBudget> = LazyLock::new(LogBudget::new);

#[cfg(test)]
mod tests {
    use super::*;

    /// A burst gets its lines up to the budget; the rest are counted, not logged.
    #[test]
    fn a_burst_is_logged_up_to_the_budget_and_the_rest_counted() {
        let budget = LogBudget::new();
        for _ in 0..PER_MINUTE {
            assert_eq!(budget.take(), Some(0));
        }
        for _ in 0..5 {
            assert_eq!(budget.take(), None);
        }
        assert_eq!(budget.left_out.load(Ordering::Relaxed), 5);
    }
}
